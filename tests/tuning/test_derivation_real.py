"""Derived rankings against the real model's own: depths, exact backends and both self-cascades."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossrank.tuning.configurations import reference_configuration
from crossrank.tuning.measure import Measurer, query_ids
from crossrank.tuning.records import Configuration
from crossrank.tuning.workload import load_workload


def test_every_derivable_configuration_ranks_as_derived(
    data_dir: Path, model_path: str, onnx_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CROSSRANK_CACHE_DIR", str(onnx_cache))
    workload = load_workload(
        data_dir / "scifact", k=12, queries=2, offset=0, first_stage="bm25", split="test", show_progress=False
    )
    reference = reference_configuration(12)
    derived = [
        Configuration("onnx, 12 candidates", {"backend": "onnx"}, 12, exact=True),
        Configuration("onnx, 5 candidates", {"backend": "onnx", "rerank_depth": 5}, 5, exact=True),
        Configuration("onnx-int8, 5 candidates", {"backend": "onnx-int8", "rerank_depth": 5}, 5, exact=False),
        Configuration(
            "cascade: onnx-int8 keeps 6 for onnx",
            {"backend": "onnx", "coarse_backend": "onnx-int8", "coarse_keep": 6},
            12,
            exact=False,
        ),
        Configuration(
            "cascade: first 160 tokens keep 6 for onnx",
            {"backend": "onnx", "coarse_backend": "onnx", "coarse_max_length": 160, "coarse_keep": 6},
            12,
            exact=False,
        ),
    ]
    int8 = Configuration("onnx-int8, 12 candidates", {"backend": "onnx-int8"}, 12, exact=False)
    configurations = [reference, int8, *derived]
    measurer = Measurer(model_path, workload)
    assert measurer.prepare(configurations, reference=reference) == {}
    first, second = query_ids(workload)
    # On the first query every source ran, timed: derivation reads their scores.
    own = {c.name: list(measurer(c, first).ranking) for c in configurations}
    for configuration in derived:
        assert measurer.derive(configuration, first) == own[configuration.name], configuration.name
    assert measurer.derive(int8, first) is None
    # On the second nothing ran first: the sources are scored untimed, then compared.
    derived_second = {c.name: measurer.derive(c, second) for c in derived}
    for configuration in derived:
        assert derived_second[configuration.name] == list(measurer(configuration, second).ranking)
    # The depth ranks only its candidates; the cascades rank them all.
    assert len(own["onnx, 5 candidates"]) == 5
    assert len(own["cascade: onnx-int8 keeps 6 for onnx"]) == 12
