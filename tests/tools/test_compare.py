"""Paired comparison of two eval reports: the bootstrap interval and ``crossrank compare``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crossrank.cli.main import main
from crossrank.evaluation.comparison import compare_reports, paired_bootstrap_interval


def _report(model: str, per_query: dict[str, tuple[float, list[str]]], **protocol: Any) -> dict[str, Any]:
    rows = []
    for query_id, (ndcg, ranking) in per_query.items():
        variant = {"ndcg_at_10": ndcg, "top_10": ranking[:10], "top_30": ranking[:30]}
        rows.append(
            {
                "query_id": query_id,
                "variants": {name: variant for name in ("truncate", "chunk_max", "chunk_max_rrf")},
            }
        )
    mean = sum(ndcg for ndcg, _ in per_query.values()) / len(per_query)
    return {
        "dataset": "toy", "split": "test", "first_stage": "bm25", "k": 40, "long": False, "model": model,
        "variants": {"chunk_max": {"ndcg_at_10": mean}},
        "per_query": rows,
        **protocol,
    }  # fmt: skip


RANKING = [f"d{i}" for i in range(40)]
BASE = _report("base", {"1": (0.5, RANKING), "2": (0.7, RANKING), "3": (0.2, RANKING)})
# Query 1 improves, query 2 keeps its ranking, query 3 pushes two of the top 10 to ranks 31-32.
SWAPPED = RANKING[:8] + RANKING[30:32] + RANKING[10:30] + RANKING[8:10] + RANKING[32:]
CANDIDATE = _report("cand", {"1": (0.8, RANKING[1:] + RANKING[:1]), "2": (0.7, RANKING), "3": (0.1, SWAPPED)})


def test_the_interval_of_constant_differences_is_that_constant() -> None:
    assert paired_bootstrap_interval([0.02] * 50) == pytest.approx((0.02, 0.02))
    assert paired_bootstrap_interval([]) == (0.0, 0.0)


def test_the_interval_holds_the_mean_and_is_reproducible() -> None:
    differences = [((i * 37) % 17 - 6) / 97 + i / 1000 for i in range(40)]
    low, high = paired_bootstrap_interval(differences, samples=2000, seed=3)
    mean = sum(differences) / len(differences)
    assert low < mean < high
    assert (low, high) == paired_bootstrap_interval(differences, samples=2000, seed=3)
    assert (low, high) != paired_bootstrap_interval(differences, samples=2000, seed=4)
    with pytest.raises(ValueError, match="samples must be a positive integer"):
        paired_bootstrap_interval(differences, samples=0)


def test_compare_reports_pairs_queries() -> None:
    by_variant = {item.variant: item for item in compare_reports(BASE, CANDIDATE, samples=500)}
    chunk_max = by_variant["chunk_max"]
    assert chunk_max.queries == 3
    assert chunk_max.difference == pytest.approx((0.3 + 0.0 - 0.1) / 3)
    assert chunk_max.top_10_changed == pytest.approx(2 / 3)
    # Query 1 moves d0 to rank 40 (9 of 10 kept), query 2 keeps all 10, query 3 eight of 10.
    assert chunk_max.baseline_top_10_in_candidate_top_30 == pytest.approx((0.9 + 1.0 + 0.8) / 3)
    assert chunk_max.ci_low <= chunk_max.difference <= chunk_max.ci_high


def test_reports_of_different_protocols_or_queries_are_refused() -> None:
    with pytest.raises(ValueError, match="differ in first_stage: 'bm25' vs 'dense'"):
        compare_reports(BASE, {**CANDIDATE, "first_stage": "dense"})
    fewer = _report("cand", {"1": (0.8, RANKING), "2": (0.7, RANKING)})
    with pytest.raises(ValueError, match="different queries"):
        compare_reports(BASE, fewer)
    (shared,) = [
        c for c in compare_reports(BASE, fewer, samples=100, shared_only=True) if c.variant == "chunk_max"
    ]
    assert shared.queries == 2
    assert shared.baseline_ndcg == pytest.approx((0.5 + 0.7) / 2)
    with pytest.raises(ValueError, match="no per_query records"):
        compare_reports(BASE, {**CANDIDATE, "per_query": []})


def test_crossrank_compare_prints_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, cand = tmp_path / "base.json", tmp_path / "cand.json"
    base.write_text(json.dumps(BASE))
    cand.write_text(json.dumps(CANDIDATE))
    assert (
        main(["compare", str(base), str(cand), "--samples", "200", "--json", str(tmp_path / "c.json")]) == 0
    )
    out = capsys.readouterr().out
    assert "toy test, bm25 top-40; baseline base, candidate cand" in out
    assert "| chunk_max | 3 | 0.4667 | 0.5333 | +0.0667 |" in out
    written = json.loads((tmp_path / "c.json").read_text())
    assert written["bootstrap"] == {"samples": 200, "seed": 0, "confidence": 0.95}


def test_a_missing_baseline_fails_before_any_scoring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["eval", str(tmp_path / "no-data"), "--compare-to", str(tmp_path / "missing.json")])
    assert code == 1
    assert "no report at" in capsys.readouterr().err


def test_a_report_against_its_own_first_stage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The candidate's reranked rows, with a first stage that ranks worse on query 1 and better on 3.
    report = json.loads(json.dumps(CANDIDATE))
    first_stage = {"1": 0.4, "2": 0.7, "3": 0.3}
    for row in report["per_query"]:
        row["variants"]["first_stage"] = {"ndcg_at_10": first_stage[row["query_id"]], "top_10": RANKING[:10]}
    rows = compare_reports(report, report, baseline_variant="first_stage")
    compared = {item.variant: item for item in rows}
    assert compared["chunk_max"].baseline_ndcg == pytest.approx(1.4 / 3)
    assert compared["chunk_max"].difference == pytest.approx((0.4 + 0.0 - 0.2) / 3)
    assert compared["chunk_max"].top_10_changed == pytest.approx(2 / 3)  # query 2 kept the retriever's top 10
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    assert main(["compare", str(path), "--against-first-stage", "--samples", "200"]) == 0
    out = capsys.readouterr().out
    assert "baseline its own first_stage, candidate cand" in out
    assert "| chunk_max | 3 | 0.4667 | 0.5333 | +0.0667 |" in out
    # Exactly one of a candidate report and --against-first-stage.
    assert main(["compare", str(path)]) != 0
    assert main(["compare", str(path), str(path), "--against-first-stage"]) != 0
    assert "not both or neither" in capsys.readouterr().err
