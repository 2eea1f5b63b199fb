"""The search with derived rankings: latency on a timed prefix, quality on every query, checks first."""

from __future__ import annotations

import json
from typing import Any

import pytest

from crossrank.tuning import Configuration, SearchResult, choose, format_table, search, top10_agreement
from crossrank.tuning.records import ConfigurationResult
from tests.tuning.test_search import (
    CASCADE,
    INT8,
    INT8_30,
    ONNX,
    REFERENCE,
    FakeMeasure,
    Spec,
    configurations,
    queries,
    scenario,
)


class ReplayMeasure(FakeMeasure):
    """FakeMeasure whose rankings can be recomputed without recording a call."""

    def replay(self, configuration: Configuration, query_id: str) -> list[str]:
        calls = list(self.calls)
        ranking = list(self(configuration, query_id).ranking)
        self.calls[:] = calls
        return ranking


class FakeDerive:
    """Derives what FakeMeasure would rank, except for ``wrong`` names on ``wrong_query``."""

    def __init__(self, measure: ReplayMeasure, derivable: set[str], wrong: dict[str, str] | None = None):
        self.measure = measure
        self.derivable = derivable
        self.wrong = wrong or {}
        self.calls: list[tuple[str, str]] = []

    def __call__(self, configuration: Configuration, query_id: str) -> list[str] | None:
        if configuration.name not in self.derivable:
            return None
        self.calls.append((configuration.name, query_id))
        ranking = list(self.measure.replay(configuration, query_id))
        if self.wrong.get(configuration.name) == query_id:
            ranking[0], ranking[1] = ranking[1], ranking[0]
        return ranking


def run_derived(
    specs: dict[str, Spec],
    derivable: set[str],
    *,
    count: int = 40,
    wrong: dict[str, str] | None = None,
    **options: Any,
) -> tuple[SearchResult, ReplayMeasure, FakeDerive]:
    measure = ReplayMeasure(specs)
    derive = FakeDerive(measure, derivable, wrong)
    configs = configurations(specs)
    reference = next(config for config in configs if config.name == REFERENCE)
    options.setdefault("progress", False)
    result = search(
        configs, queries(count), measure, top10_agreement, reference=reference, derive=derive, **options
    )
    return result, measure, derive


def timed(measure: FakeMeasure, name: str) -> list[str]:
    return [query for ran, query in measure.calls if ran == name]


def test_derived_configurations_are_timed_on_the_prefix_and_ranked_on_every_query() -> None:
    result, measure, _ = run_derived(scenario(), {ONNX, INT8_30}, latency_queries=12, prune=False)
    for name in (ONNX, INT8_30):
        derived = result.result(name)
        assert timed(measure, name) == queries(12)
        assert derived.timed_queries == 12
        assert derived.derived_after == 12
        assert derived.queries == 40
        assert len(derived.qualities) == 40
        # Its speed-up pairs with the reference on the same 12 queries.
        assert len(derived.seconds) == 12
    # The others run, timed, on every query: the reference always.
    for name in (REFERENCE, INT8, CASCADE):
        assert timed(measure, name) == queries(40)
        assert result.result(name).derived_after is None
    # The same qualities as running everything on every query: derivation is exact here.
    everything, _, _ = run_derived(scenario(), set(), prune=False)
    for name in (ONNX, INT8_30):
        assert result.result(name).qualities == everything.result(name).qualities
    # Orders record what ran, timed, on each query.
    assert all(ONNX not in order for order in result.orders[12:])
    assert all(ONNX in order for order in result.orders[:12])


def test_a_derivation_that_differs_on_a_timed_query_is_not_trusted() -> None:
    result, measure, _ = run_derived(
        scenario(), {ONNX, INT8_30}, latency_queries=12, wrong={INT8_30: "q005"}, prune=False
    )
    assert timed(measure, INT8_30) == queries(40)
    assert result.result(INT8_30).derived_after is None
    assert result.result(ONNX).derived_after == 12
    # The last timed query is checked too.
    later, _, _ = run_derived(scenario(), {ONNX}, latency_queries=12, wrong={ONNX: "q011"}, prune=False)
    assert later.result(ONNX).derived_after is None


def test_without_latency_queries_nothing_is_derived() -> None:
    result, measure, derive = run_derived(scenario(), {ONNX, INT8_30}, prune=False)
    assert derive.calls == []
    assert all(r.timed_queries == r.queries == 40 for r in result.results)
    assert len(measure.calls) == 40 * len(result.results)


def test_pruning_pairs_latency_on_the_queries_both_were_timed_on() -> None:
    # CASCADE (exact, slower than ONNX) is still pruned by ONNX once ONNX is derived.
    result, _measure, _ = run_derived(scenario(), {ONNX}, latency_queries=10, min_queries=12)
    cascade = result.result(CASCADE)
    assert cascade.pruned is not None
    assert cascade.pruned.by == ONNX
    assert cascade.pruned.after_queries == 12
    assert cascade.timed_queries == 12
    assert result.result(ONNX).timed_queries == 10
    # A derived configuration can itself be pruned: its quality keeps accruing after its timing.
    slow_exact = {**scenario(), "slow exact, 100 candidates": Spec(0.090)}
    pruned, _, _ = run_derived(slow_exact, {"slow exact, 100 candidates"}, latency_queries=10)
    slow = pruned.result("slow exact, 100 candidates")
    assert slow.pruned is not None
    assert slow.pruned.by == ONNX
    assert slow.timed_queries == 10


def test_reports_say_what_was_timed(tmp_path: Any) -> None:
    result, _, _ = run_derived(scenario(), {ONNX, INT8_30}, latency_queries=12, prune=False)
    table = format_table(result)
    assert "40 (12 timed)" in table
    row = next(line for line in table.splitlines() if REFERENCE in line)
    assert "timed" not in row
    document = json.loads(json.dumps(result.to_json()))
    again = SearchResult.from_json(document)
    assert again == result
    onnx = next(entry for entry in document["results"] if entry["configuration"]["name"] == ONNX)
    assert onnx["timed_queries"] == 12
    assert onnx["derived_after"] == 12
    assert onnx["queries"] == 40
    choice = choose(result, max_loss=0.0)
    if choice.chosen.derived_after is not None:
        assert "on the 12 queries timed" in choice.reason


def test_a_result_from_before_derivation_reads_back() -> None:
    result, _, _ = run_derived(scenario(), set(), count=12, prune=False)
    data = result.result(ONNX).to_json()
    del data["timed_queries"], data["derived_after"]
    assert ConfigurationResult.from_json(data).derived_after is None


@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_latency_queries_must_be_a_positive_integer(value: Any) -> None:
    with pytest.raises(ValueError, match="latency_queries"):
        run_derived(scenario(), {ONNX}, latency_queries=value)
