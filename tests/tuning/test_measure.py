"""The measurer: one loaded model per backend, untimed preparation, honest skips, the right ids."""

from __future__ import annotations

from typing import Any

from crossrank import ModelLoadError, Reranker
from crossrank.tuning.configurations import reference_configuration
from crossrank.tuning.measure import Measurer, query_ids
from crossrank.tuning.records import Configuration
from crossrank.tuning.workload import TuneQuery, Workload
from tests.fake_scorer import FakeScorer

WORKLOAD = Workload(
    source="memory",
    queries=(
        TuneQuery(
            "q1", "apple banana", ("d1", "d2", "d3"), ("pear", "apple banana", "apple"), (3.0, 2.0, 1.0)
        ),
        TuneQuery(
            "q2", "cherry", ("d4", "d5"), ("cherry cherry tree and a very long text " * 3, "none"), None
        ),
    ),
    relevance=None,
    first_stage=None,
    k=3,
)


class Factory:
    """Builds fake-scored rerankers, noting what was asked; refuses the backends in ``broken``."""

    def __init__(self, broken: tuple[str, ...] = ()) -> None:
        self.calls: list[tuple[str, str]] = []
        self.broken = broken

    def __call__(self, model: Any, *, backend: str, precision: str, **options: Any) -> Reranker:
        self.calls.append((backend, precision))
        if backend in self.broken:
            raise ModelLoadError("Pass another backend", f"backend={backend!r} cannot run {model!r}")
        return Reranker(FakeScorer(), **options)


def test_configurations_share_one_load_per_backend_and_rank_by_document_ids() -> None:
    factory = Factory()
    measurer = Measurer("some-model", WORKLOAD, {"fusion": None}, reranker_factory=factory)
    depth = Configuration("onnx, 2 candidates", {"backend": "onnx", "rerank_depth": 2}, 2, exact=True)
    full = Configuration("onnx, 3 candidates", {"backend": "onnx"}, 3, exact=True)
    skipped = measurer.prepare([reference_configuration(3), depth, full])
    assert skipped == {}
    assert factory.calls == [("torch", "fp32"), ("onnx", "auto")]
    run = measurer(full, "q1")
    assert run.seconds >= 0
    assert list(run.ranking) == ["d2", "d3", "d1"]
    # The depth cut keeps the retriever's first two (by its scores) and names them by id.
    assert list(measurer(depth, "q1").ranking) == ["d2", "d1"]
    assert query_ids(WORKLOAD) == ["q1", "q2"]
    # The score cache is off: every timed call does its whole work.
    assert all(reranker.score_cache_size == 0 for reranker in measurer._rerankers.values())


def test_a_configuration_that_cannot_run_is_skipped_with_its_reason() -> None:
    measurer = Measurer("some-model", WORKLOAD, reranker_factory=Factory(broken=("onnx-int8",)))
    broken = Configuration("onnx-int8, 3 candidates", {"backend": "onnx-int8"}, 3, exact=False)
    skipped = measurer.prepare([reference_configuration(3), broken])
    assert list(skipped) == ["onnx-int8, 3 candidates"]
    assert "backend='onnx-int8' cannot run 'some-model'" in skipped["onnx-int8, 3 candidates"]


def test_windows_over_counts_the_candidates_chunk_max_splits() -> None:
    measurer = Measurer("some-model", WORKLOAD, reranker_factory=Factory())
    # FakeScorer: 16 tokens a pair, 3 special, the query (2 words) leaves 11: the 24-word text
    # needs 3 windows, every other candidate fits in one.
    assert measurer.windows_over((1, 2, 4)) == {1: 1 / 5, 2: 1 / 5, 4: 0.0}
