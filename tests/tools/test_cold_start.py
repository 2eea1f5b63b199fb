"""crossrank bench --cold-start: a fresh process's first rerank, by phase, with the real model."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from crossrank.benchmark.cold_start import COLD_START_PHASES, format_cold_starts, measure_cold_start


@pytest.mark.slow  # two fresh processes import torch and sentence-transformers; one exports to ONNX
def test_cold_starts_are_timed_by_phase_with_an_empty_then_a_filled_cache(model_path: str) -> None:
    empty, filled = measure_cold_start(model_path, threads=1)
    assert (empty.cache, filled.cache) == ("empty", "filled")
    for run in (empty, filled):
        assert list(run.phases) == list(COLD_START_PHASES)
        assert all(seconds >= 0 for seconds in run.phases.values())
        assert run.backend == "onnx"
        assert run.total_s >= sum(run.phases.values()) - 0.5
    # The first run exports the model; the second finds the export in the cache.
    assert empty.phases["onnx_export"] > filled.phases["onnx_export"]
    table = format_cold_starts([asdict(empty), asdict(filled)])
    assert "import_sentence_transformers" in table
    assert "empty cache" in table
    assert "filled cache" in table
