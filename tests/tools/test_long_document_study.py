"""The long-document study's paired comparisons and its pass selection (pure logic, no model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossrank.benchmark.long_document_comparisons import compare_rows, load_rows, main
from crossrank.benchmark.long_documents import main as study_main


def _row(
    texts: str, windows: str, aggregation: str, alone: list[float], rrf: list[float]
) -> dict[str, object]:
    return {
        "texts": texts,
        "windows": windows,
        "aggregation": aggregation,
        "per_query": {"alone": alone, "rrf": rrf},
    }


def _write(path: Path, rows: list[dict[str, object]], query_ids: list[str] | None = None) -> Path:
    document = {"query_ids": query_ids or ["1", "2"], "first_stage_per_query": [0.5, 0.5], "rows": rows}
    path.write_text(json.dumps(document))
    return path


def test_comparisons_are_paired_differences_of_the_rows(tmp_path: Path) -> None:
    first = _write(
        tmp_path / "a.json",
        [
            _row("random", "tokens", "max", [0.2, 0.4], [0.6, 0.6]),
            _row("random", "tokens", "top2_mean", [0.1, 0.1], [0.6, 0.5]),
        ],
    )
    second = _write(tmp_path / "b.json", [_row("random", "sentences", "max", [0.4, 0.4], [0.6, 0.8])])
    rows, first_stage = load_rows([first, second])
    found = {(c["comparison"], c["variant"]): c for c in compare_rows(rows, first_stage)}
    assert found[("random: sentences - tokens (max)", "alone")]["mean"] == pytest.approx(0.1)
    assert found[("random: sentences - tokens (max)", "rrf")]["mean"] == pytest.approx(0.1)
    assert found[("random: top2_mean - max (tokens)", "alone")]["mean"] == pytest.approx(-0.2)
    assert found[("random: max + RRF (tokens) - first stage", "rrf")]["mean"] == pytest.approx(0.1)
    # Every query moved the same way: the bootstrap interval cannot include 0.
    interval = found[("random: top2_mean - max (tokens)", "alone")]
    assert interval["low"] <= interval["mean"] <= interval["high"] < 0


def test_files_of_other_queries_or_other_scores_are_refused(tmp_path: Path) -> None:
    row = _row("random", "tokens", "max", [0.2, 0.4], [0.6, 0.6])
    first = _write(tmp_path / "a.json", [row])
    other_queries = _write(tmp_path / "b.json", [row], query_ids=["1", "3"])
    with pytest.raises(ValueError, match="ranks other queries"):
        load_rows([first, other_queries])
    other_scores = _write(tmp_path / "c.json", [_row("random", "tokens", "max", [0.3, 0.4], [0.6, 0.6])])
    with pytest.raises(ValueError, match="disagree on row"):
        load_rows([first, other_scores])


def test_the_command_prints_and_writes_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = _write(
        tmp_path / "a.json",
        [
            _row("original", "tokens", "max", [0.5, 0.7], [0.5, 0.7]),
            _row("original", "sentences", "max", [0.5, 0.9], [0.5, 0.7]),
        ],
    )
    assert main([str(first), "--json", str(tmp_path / "out.json")]) == 0
    assert "| original: sentences - tokens (max) | alone | +0.1000 |" in capsys.readouterr().out
    assert json.loads((tmp_path / "out.json").read_text())[0]["mean"] == pytest.approx(0.1)


@pytest.mark.parametrize(("flag", "value"), [("--texts", "random,offtopic"), ("--windows", "paragraphs")])
def test_the_study_refuses_an_unknown_pass(tmp_path: Path, flag: str, value: str) -> None:
    # An unknown name would silently score nothing for it: an error naming the choices instead.
    with pytest.raises(SystemExit):
        study_main(["--model", "m", "--data", str(tmp_path), flag, value])
