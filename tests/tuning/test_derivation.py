"""Which configurations tune derives, from what, and that the derived rankings are the real ones."""

from __future__ import annotations

import pytest

from crossrank.tuning.configurations import (
    LOWER_PRECISION_MIN_SPEEDUP,
    reference_configuration,
    tuning_configurations,
    unaccelerated,
)
from crossrank.tuning.derivation import derivation, scores_key, text_scores_of
from crossrank.tuning.measure import Measurer, query_ids
from crossrank.tuning.records import Configuration
from tests.tuning.test_measure import WORKLOAD, Factory

REFERENCE = reference_configuration(50)
REFERENCE_KEY = scores_key({"backend": "torch", "precision": "fp32"})
LONG = {1: 0.5, 2: 0.3, 4: 0.2}


def grid(
    fastest_exact: str = "onnx", windows_over: dict[int, float] | None = None
) -> dict[str, Configuration]:
    configurations = tuning_configurations(
        50,
        native_bf16=False,
        windows_over=windows_over or {},
        openvino=True,
        fastest_exact=fastest_exact,
    )
    return {configuration.name: configuration for configuration in configurations}


def test_the_grid_derives_depths_exact_backends_and_self_cascades() -> None:
    configurations = grid(windows_over=LONG)
    plans = {name: derivation(configuration, REFERENCE) for name, configuration in configurations.items()}
    # Measured on every query: the reference, each lower precision over every candidate, and
    # whatever reads windows differently (caps, the lexical window cascade).
    assert sorted(name for name, plan in plans.items() if plan is None) == sorted(
        [
            REFERENCE.name,
            "onnx-int8, 50 candidates",
            "openvino-int8, 50 candidates",
            "lexical window cascade: 2 windows per candidate",
            "onnx, at most 4 windows",
            "onnx, at most 2 windows",
        ]
    )
    # An exact backend ranks as the reference, at any depth.
    for name in ("onnx, 50 candidates", "openvino, 50 candidates", "onnx, 20 candidates"):
        plan = plans[name]
        assert plan is not None
        assert plan.scores_from == REFERENCE_KEY
        assert plan.coarse_from is None
    assert plans["onnx, 20 candidates"].depth == 20  # type: ignore[union-attr]
    # A lower precision at a depth ranks its own scores over every candidate.
    int8_10 = plans["onnx-int8, 10 candidates"]
    assert int8_10 is not None
    assert int8_10.scores_from == scores_key({"backend": "onnx-int8"})
    assert int8_10.depth == 10
    # Cascades: the fine stage is the reference's scores; the coarse stage is int8's table, or
    # the cascade's own short-window stage.
    int8_cascade = plans["cascade: onnx-int8 keeps 20 for onnx"]
    assert int8_cascade is not None
    assert int8_cascade.scores_from == REFERENCE_KEY
    assert int8_cascade.coarse_from == scores_key({"backend": "onnx-int8"})
    short = plans["cascade: first 160 tokens keep 20 for onnx"]
    assert short is not None
    assert short.coarse_from == (
        "coarse stage of",
        "cascade: first 160 tokens keep 20 for onnx",
    )


def test_a_bf16_or_unknown_option_is_not_derived_from_the_reference() -> None:
    bf16 = Configuration(
        "torch-bf16, 20 candidates", {"backend": "torch-bf16", "rerank_depth": 20}, 20, False
    )
    plan = derivation(bf16, REFERENCE)
    assert plan is not None
    assert plan.scores_from == scores_key({"backend": "torch", "precision": "bf16"})
    other = Configuration("onnx, batch 8", {"backend": "onnx", "batch_size": 8}, 50, True)
    assert derivation(other, REFERENCE) is None
    # A cascade whose fine stage is not exact is not derived from the reference.
    int8_fine = Configuration(
        "int8 keeps 20 for int8",
        {"backend": "onnx-int8", "coarse_backend": "onnx-int8", "coarse_keep": 20},
        50,
        False,
    )
    assert derivation(int8_fine, REFERENCE) is None


def test_the_measurer_derives_what_the_configuration_itself_ranks() -> None:
    measurer = Measurer("some-model", WORKLOAD, {"fusion": None}, reranker_factory=Factory())
    reference = reference_configuration(3)
    full = Configuration("onnx, 3 candidates", {"backend": "onnx"}, 3, exact=True)
    depth = Configuration("onnx, 2 candidates", {"backend": "onnx", "rerank_depth": 2}, 2, exact=True)
    int8 = Configuration("onnx-int8, 3 candidates", {"backend": "onnx-int8"}, 3, exact=False)
    int8_depth = Configuration(
        "onnx-int8, 1 candidates", {"backend": "onnx-int8", "rerank_depth": 1}, 1, False
    )
    configurations = [reference, full, depth, int8, int8_depth]
    assert measurer.prepare(configurations, reference=reference) == {}
    assert measurer.derive(reference, "q1") is None
    assert measurer.derive(int8, "q1") is None
    for query_id in query_ids(WORKLOAD):
        own = {
            configuration.name: list(measurer(configuration, query_id).ranking)
            for configuration in configurations
        }
        for configuration in (full, depth, int8_depth):
            assert measurer.derive(configuration, query_id) == own[configuration.name]


def test_a_source_that_did_not_run_is_scored_untimed() -> None:
    measurer = Measurer("some-model", WORKLOAD, reranker_factory=Factory())
    reference = reference_configuration(3)
    int8 = Configuration("onnx-int8, 3 candidates", {"backend": "onnx-int8"}, 3, exact=False)
    int8_depth = Configuration(
        "onnx-int8, 2 candidates", {"backend": "onnx-int8", "rerank_depth": 2}, 2, False
    )
    measurer.prepare([reference, int8, int8_depth], reference=reference)
    # Neither the reference nor int8 ran on q2: derive scores int8 itself.
    assert measurer.derive(int8_depth, "q2") == list(measurer(int8_depth, "q2").ranking)


def test_a_depth_whose_source_is_not_measured_is_not_derived() -> None:
    measurer = Measurer("some-model", WORKLOAD, reranker_factory=Factory())
    reference = reference_configuration(3)
    int8_depth = Configuration(
        "onnx-int8, 2 candidates", {"backend": "onnx-int8", "rerank_depth": 2}, 2, False
    )
    measurer.prepare([reference, int8_depth], reference=reference)
    assert measurer.derive(int8_depth, "q1") is None


def test_text_scores_need_every_candidate() -> None:
    measurer = Measurer("some-model", WORKLOAD, reranker_factory=Factory())
    reranker = measurer._loaded("onnx", "auto")
    query = WORKLOAD.queries[0]
    results = reranker.rerank(query.query, list(query.texts))
    table = text_scores_of(list(query.texts), results)
    assert set(table) == set(query.texts)
    with pytest.raises(ValueError, match="no score"):
        text_scores_of(list(query.texts), results[:1])


def test_a_lower_precision_barely_faster_than_exact_is_left_out_with_its_cascades() -> None:
    configurations = list(grid().values())
    seconds = {
        "onnx, 50 candidates": 1.0,
        "onnx-int8, 50 candidates": 0.6,  # 1.67x: measured
        "openvino-int8, 50 candidates": 0.95,  # 1.05x: not accelerated
    }
    exact = ["onnx, 50 candidates", REFERENCE.name]
    seconds[REFERENCE.name] = 1.3  # slower than ONNX Runtime: the comparison is with the fastest
    reasons = unaccelerated(configurations, seconds, exact)
    assert sorted(reasons) == [
        "openvino-int8, 10 candidates",
        "openvino-int8, 20 candidates",
        "openvino-int8, 50 candidates",
    ]
    assert "1.05x" in reasons["openvino-int8, 20 candidates"]
    assert "--backends openvino-int8" in reasons["openvino-int8, 20 candidates"]
    # The int8 cascade goes with its coarse backend.
    slow_int8 = {**seconds, "onnx-int8, 50 candidates": 1.0 / (LOWER_PRECISION_MIN_SPEEDUP - 0.01)}
    reasons = unaccelerated(configurations, slow_int8, exact)
    assert "cascade: onnx-int8 keeps 20 for onnx" in reasons
    assert "cascade: first 160 tokens keep 20 for onnx" not in reasons


def test_time_first_query_times_each_configuration() -> None:
    measurer = Measurer("some-model", WORKLOAD, reranker_factory=Factory())
    reference = reference_configuration(3)
    int8 = Configuration("onnx-int8, 3 candidates", {"backend": "onnx-int8"}, 3, exact=False)
    measurer.prepare([reference, int8])
    seconds = measurer.time_first_query([reference, int8], candidates=2, rounds=3)
    assert set(seconds) == {reference.name, int8.name}
    assert all(value > 0 for value in seconds.values())
