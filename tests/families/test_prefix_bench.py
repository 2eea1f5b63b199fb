"""crossrank bench --prefix-sharing on a causal zoo model: a report that could only come from a real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossrank.cli.main import main


@pytest.mark.slow  # two fresh processes import torch and sentence-transformers for the memory figures
def test_the_prefix_sharing_bench_reports_both_modes_and_memory(zoo: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "prefix.json"
    model = str(zoo["qwen3-reranker"])
    assert (
        main(["bench", "--prefix-sharing", "--model", model, "--repeat", "2", "--json", str(out), "--quiet"])
        == 0
    )
    report = json.loads(out.read_text(encoding="utf-8"))
    sharing = report["prefix_sharing"]
    assert sharing["candidates"] == 20
    assert sharing["document_tokens"] == 200
    assert 90 <= sharing["head_tokens"] <= 110
    assert sharing["shared_ms"] > 0
    assert sharing["full_ms"] > 0
    assert sharing["speedup"] == pytest.approx(sharing["full_ms"] / sharing["shared_ms"])
    assert sharing["max_difference"] < 1e-5
    assert set(report["scoring_memory_mib"]) == {"crossrank", "sentence_transformers"}
    assert report["machine"]["cpu"]


def test_the_bench_without_data_says_what_it_needs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--model", "x/y"]) == 1
    assert "needs --data DATA_DIR" in capsys.readouterr().err
