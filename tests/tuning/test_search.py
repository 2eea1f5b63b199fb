"""crossrank.tuning's search and selection, with a fake measure: seeded synthetic times and rankings."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from crossrank.evaluation.comparison import paired_bootstrap_interval
from crossrank.tuning import (
    Choice,
    Configuration,
    QueryRun,
    SearchResult,
    choose,
    format_table,
    search,
    top10_agreement,
)
from crossrank.tuning.estimates import pareto_flags
from crossrank.tuning.pruning import Resampler, faithful
from crossrank.tuning.search import base_order, query_order

REFERENCE = "torch fp32, 100 candidates"
ONNX = "onnx fp32, 100 candidates"
INT8 = "onnx int8, 100 candidates"
INT8_30 = "onnx int8, 30 candidates"
CASCADE = "slow cascade, 100 candidates"
BAD = "bad int8, 100 candidates"


@dataclass(frozen=True)
class Spec:
    """How a fake configuration behaves."""

    seconds: float
    # How many of the reference's top 10 it loses on the query of this index.
    lost: Callable[[int], int] = lambda index: 0
    exact: bool = True
    candidates: int = 100
    # Twins share a timing key, so their jitter, hence their seconds, are identical.
    timing_key: str | None = None


@dataclass
class FakeMeasure:
    """Seconds = base x the query's size factor x a seeded jitter of +-5%; rankings lose documents."""

    specs: dict[str, Spec]
    calls: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, configuration: Configuration, query_id: str) -> QueryRun:
        self.calls.append((configuration.name, query_id))
        spec = self.specs[configuration.name]
        size = random.Random(f"query|{query_id}").uniform(0.5, 2.0)
        jitter = random.Random(f"{spec.timing_key or configuration.name}|{query_id}").uniform(0.95, 1.05)
        reference = [f"{query_id}-d{rank}" for rank in range(30)]
        lost = spec.lost(int(query_id[1:]))
        # Swap the last `lost` of the top 10 with the documents just below it.
        ranking = (
            reference[: 10 - lost]
            + reference[10 : 10 + lost]
            + reference[10 - lost : 10]
            + reference[10 + lost :]
        )
        return QueryRun(seconds=spec.seconds * size * jitter, ranking=ranking)


def configurations(specs: dict[str, Spec]) -> list[Configuration]:
    return [
        Configuration(name, {"backend": name.split(",")[0]}, spec.candidates, spec.exact)
        for name, spec in specs.items()
    ]


def queries(count: int) -> list[str]:
    return [f"q{index:03d}" for index in range(count)]


def run(specs: dict[str, Spec], count: int = 40, **options: Any) -> tuple[SearchResult, FakeMeasure]:
    measure = FakeMeasure(specs)
    configs = configurations(specs)
    reference = next(config for config in configs if config.name == REFERENCE)
    options.setdefault("progress", False)
    result = search(configs, queries(count), measure, top10_agreement, reference=reference, **options)
    return result, measure


def scenario() -> dict[str, Spec]:
    return {
        REFERENCE: Spec(0.100),
        ONNX: Spec(0.060),
        INT8: Spec(0.030, lost=lambda i: 1 if i % 4 == 0 else 0, exact=False),
        INT8_30: Spec(0.015, lost=lambda i: 1 if i % 2 == 0 else 0, exact=False, candidates=30),
        CASCADE: Spec(0.120),  # exact but slower than ONNX: dominated
        # Slower than INT8 and INT8_30, and worse on every other query: confidently worse.
        BAD: Spec(0.040, lost=lambda i: 2 if i % 2 == 0 else 0, exact=False),
    }


# --- quality ---------------------------------------------------------------------------------


def test_top10_agreement_values() -> None:
    reference = [f"d{rank}" for rank in range(20)]
    assert top10_agreement("q", reference, reference) == 1.0
    assert top10_agreement("q", list(reversed(reference[:10])) + reference[10:], reference) == 1.0
    swapped = [*reference[:9], reference[10], reference[9], *reference[11:]]
    assert top10_agreement("q", swapped, reference) == pytest.approx(0.9)
    assert top10_agreement("q", reference[10:], reference) == 0.0
    # A reference shorter than 10 is read whole; an empty one is agreed with.
    assert top10_agreement("q", ["a", "b", "c"], ["c", "b", "a"]) == 1.0
    assert top10_agreement("q", ["a", "b"], ["a", "x"]) == 0.5
    assert top10_agreement("q", ["a"], []) == 1.0


# --- rotation --------------------------------------------------------------------------------


def test_query_order_rotates_and_reverses_every_other_cycle() -> None:
    orders = [query_order(["a", "b", "c"], index) for index in range(6)]
    assert orders == [
        ["a", "b", "c"],
        ["b", "c", "a"],
        ["c", "a", "b"],
        ["c", "b", "a"],
        ["a", "c", "b"],
        ["b", "a", "c"],
    ]
    for name in "abc":
        assert sorted(order.index(name) for order in orders) == [0, 0, 1, 1, 2, 2]
    assert query_order(["a", "b", "c"], 1, first="c") == ["c", "b", "a"]


def test_base_order_is_seeded_and_ignores_the_given_order() -> None:
    names = [f"config {index}" for index in range(8)]
    assert base_order(names, 0) == base_order(list(reversed(names)), 0)
    assert sorted(base_order(names, 3)) == sorted(names)
    assert any(base_order(names, seed) != base_order(names, 0) for seed in range(1, 5))


def test_every_configuration_sees_every_query_until_pruned_in_a_rotating_order() -> None:
    result, measure = run(scenario())
    assert result.query_ids == tuple(queries(40))
    for index, query_id in enumerate(result.query_ids):
        ran = [name for name, query in measure.calls if query == query_id]
        assert list(result.orders[index]) == ran
        expected = {r.name for r in result.results if r.pruned is None or r.pruned.after_queries > index}
        assert set(ran) == expected
    for r in result.results:
        assert r.query_ids == tuple(queries(40))[: r.queries]
    # The reference takes its turn in the rotation; no configuration is always first.
    firsts = {order[0] for order in result.orders}
    assert len(firsts) > 1
    assert REFERENCE in firsts
    assert len(measure.calls) == sum(r.queries for r in result.results)


def test_reference_first_runs_the_reference_first_on_every_query() -> None:
    result, _ = run(scenario(), reference_first=True)
    assert all(order[0] == REFERENCE for order in result.orders)
    assert len({order[1] for order in result.orders}) > 1


def test_the_run_order_depends_on_the_seed_only() -> None:
    first, _ = run(scenario(), prune=False, seed=1)
    specs = scenario()
    shuffled = dict(reversed(list(specs.items())))
    second, _ = run(shuffled, prune=False, seed=1)
    other, _ = run(scenario(), prune=False, seed=2)
    assert first.orders == second.orders
    assert first.orders != other.orders


# --- pruning ---------------------------------------------------------------------------------


def test_a_dominated_configuration_is_pruned_after_min_queries_and_recorded() -> None:
    result, _ = run(scenario())
    cascade = result.result(CASCADE)
    assert cascade.pruned is not None
    assert cascade.pruned.after_queries == 10
    # ONNX is the fastest configuration that is faster and never worse.
    assert cascade.pruned.by == ONNX
    assert cascade.pruned.ratio < cascade.pruned.ratio_high < 1.0
    assert cascade.queries == 10
    bad = result.result(BAD)
    assert bad.pruned is not None
    assert bad.pruned.by == INT8_30
    assert not cascade.on_frontier
    assert not bad.on_frontier


def test_non_dominated_configurations_and_the_reference_are_never_pruned() -> None:
    result, _ = run(scenario(), min_queries=3)
    for name in (REFERENCE, ONNX, INT8, INT8_30):
        assert result.result(name).pruned is None
        assert result.result(name).queries == 40
    # The reference is dominated by ONNX (as fast-or-faster and as good) yet stays.
    assert not result.result(REFERENCE).on_frontier


def test_nothing_is_pruned_before_min_queries_or_without_prune() -> None:
    result, _ = run(scenario(), min_queries=40)
    assert all(r.pruned is None for r in result.results)
    result, _ = run(scenario(), prune=False)
    assert all(r.pruned is None and r.queries == 40 for r in result.results)


def test_twins_of_equal_speed_and_quality_are_not_pruned() -> None:
    specs = {
        REFERENCE: Spec(0.1),
        "twin a": Spec(0.05, timing_key="twin"),
        "twin b": Spec(0.05, timing_key="twin"),
    }
    result, _ = run(specs)
    assert all(r.pruned is None for r in result.results)


def test_a_faster_but_worse_configuration_does_not_prune_a_slower_better_one() -> None:
    # Slightly worse quality on a few queries: not "at least as good with confidence".
    specs = {
        REFERENCE: Spec(0.1),
        "fast lossy": Spec(0.02, lost=lambda i: 1 if i % 13 == 0 else 0, exact=False),
        "slow exact": Spec(0.05),
    }
    result, _ = run(specs)
    assert result.result("slow exact").pruned is None
    assert result.result("fast lossy").on_frontier
    assert result.result("slow exact").on_frontier


def test_a_lossy_configuration_that_ties_so_far_does_not_prune_a_slower_exact_one() -> None:
    # The int8 model keeps every top 10 on the first 20 queries, then changes one in three.
    specs = {
        REFERENCE: Spec(0.1),
        ONNX: Spec(0.06),
        INT8: Spec(0.03, lost=lambda i: 1 if i >= 20 and i % 3 == 0 else 0, exact=False),
        "onnx fp32, 30 candidates": Spec(
            0.02, lost=lambda i: 1 if i >= 20 and i % 5 == 0 else 0, candidates=30
        ),
    }
    result, _ = run(specs)
    assert all(r.pruned is None for r in result.results)
    assert choose(result, max_loss=0).chosen.name == ONNX
    # Exact over as many candidates, equally good and faster: that prunes on a tie.
    specs["slow exact"] = Spec(0.09)
    result, _ = run(specs)
    slow = result.result("slow exact").pruned
    assert slow is not None
    assert slow.by == ONNX  # not the int8 nor the 30-candidate one


def test_faithful_means_exact_over_at_least_the_candidates() -> None:
    exact_100 = Configuration("a", {}, 100, True)
    assert faithful(exact_100, Configuration("b", {}, 100, False))
    assert faithful(exact_100, Configuration("c", {}, 30, True))
    assert not faithful(Configuration("d", {}, 30, True), exact_100)
    assert not faithful(Configuration("e", {}, 100, False), exact_100)


def test_the_shared_resampler_agrees_with_paired_bootstrap_interval() -> None:
    values = [random.Random(index).gauss(0.1, 1.0) for index in range(50)]
    shared = Resampler(50, samples=4000, seed=3, confidence=0.95)
    expected = paired_bootstrap_interval(values, samples=4000, seed=3, confidence=0.95)
    assert shared(values) == pytest.approx(expected, abs=1e-5)
    with pytest.raises(ValueError, match="expected 50 values"):
        shared(values[:10])


def random_scenario(seed: int) -> dict[str, Spec]:
    rng = random.Random(seed)
    speeds = rng.sample([0.010 * step for step in range(1, 25)], 9)
    specs = {REFERENCE: Spec(0.200)}
    for index, speed in enumerate(speeds):
        if index % 3 == 0:
            specs[f"exact {index}"] = Spec(speed)
        else:
            losses = {q: rng.choice([0, 0, 0, 1, 2]) for q in range(40)}
            specs[f"lossy {index}"] = Spec(speed, lost=losses.__getitem__, exact=False)
    return specs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pruning_never_changes_the_choice(seed: int) -> None:
    specs = random_scenario(seed)
    pruned, _ = run(specs, min_queries=5, seed=seed)
    full, _ = run(specs, prune=False, seed=seed)
    assert any(r.pruned is not None for r in pruned.results)
    for loss in (0.0, 0.01, 0.025, 0.05, 0.1, 0.2, 1.0):
        assert choose(pruned, max_loss=loss).chosen.name == choose(full, max_loss=loss).chosen.name
    p95s = sorted(r.p95_ms for r in full.results)
    for budget in p95s + [(low + high) / 2 for low, high in itertools.pairwise(p95s)] + [1e9]:
        assert choose(pruned, budget_ms=budget).chosen.name == choose(full, budget_ms=budget).chosen.name


# --- results ---------------------------------------------------------------------------------


def test_the_known_frontier_and_the_summaries() -> None:
    result, _ = run(scenario())
    assert [r.name for r in result.frontier] == [INT8_30, INT8, ONNX]
    reference = result.reference_result
    assert reference.is_reference
    assert reference.quality == 1.0
    assert reference.difference == 0.0
    assert reference.speedup == pytest.approx(1.0)
    int8 = result.result(INT8)
    assert int8.quality == pytest.approx(0.975)
    assert int8.difference == pytest.approx(-0.025)
    low, high = int8.difference_interval
    assert low <= -0.025 <= high <= 0.0
    assert int8.speedup == pytest.approx(100 / 30, rel=0.05)
    assert int8.speedup_interval[0] < int8.speedup < int8.speedup_interval[1]
    assert int8.p50_ms <= int8.p95_ms
    assert int8.p95_interval_ms[0] <= int8.p95_ms <= int8.p95_interval_ms[1]
    assert result.result(INT8_30).quality == pytest.approx(0.95)
    assert result.quality_name == "top-10 agreement"


def test_pareto_flags_keeps_equal_points_and_drops_the_dominated() -> None:
    assert pareto_flags([(1.0, 0.5), (2.0, 0.9), (2.0, 0.8), (3.0, 0.9), (1.0, 0.5)]) == [
        True,
        True,
        False,
        False,
        True,
    ]


def test_a_labeled_quality_lets_a_configuration_beat_the_reference() -> None:
    # NDCG-like: the quality ignores the reference ranking; "better" ranks a relevant d12 in its top 10.
    def judged(query_id: str, ranking: Sequence[str], reference_ranking: Sequence[str]) -> float:
        return 0.5 + 0.5 * (f"{query_id}-d12" in ranking[:10])

    specs = {REFERENCE: Spec(0.1), "better": Spec(0.08, lost=lambda i: 3, exact=False)}
    measure = FakeMeasure(specs)
    configs = configurations(specs)
    result = search(
        configs, queries(12), measure, judged, reference=configs[0], progress=False, quality_name="NDCG@10"
    )
    assert result.reference_result.quality == 0.5
    assert result.result("better").difference == 0.5
    choice = choose(result, max_loss=0)
    assert choice.chosen.name == "better"
    assert "NDCG@10" in choice.reason


# --- selection -------------------------------------------------------------------------------


def test_max_loss_chooses_the_fastest_within_the_loss() -> None:
    result, _ = run(scenario())
    assert choose(result, max_loss=0).chosen.name == ONNX
    assert choose(result, max_loss=0.03).chosen.name == INT8
    choice = choose(result, max_loss=0.06)
    assert choice.chosen.name == INT8_30
    assert choice.mode == "max_loss"
    assert choice.max_loss == 0.06
    assert choice.budget_ms is None
    assert choice.gate.startswith("difference -0.05")
    assert choice.eligible[0] == INT8_30
    assert REFERENCE in choice.eligible
    assert "fastest" in choice.reason
    assert "x faster" in choice.reason
    assert "measured" in choice.reason
    assert "pruned early" in choice.reason


def test_max_loss_zero_chooses_the_reference_when_nothing_faster_is_exact() -> None:
    specs = {k: v for k, v in scenario().items() if k not in (ONNX, CASCADE)}
    result, _ = run(specs)
    choice = choose(result, max_loss=0)
    assert choice.chosen.name == REFERENCE
    assert "the reference" in choice.reason
    assert INT8 in choice.reason
    assert choice.gate == "the reference (loss 0)"


def test_budget_chooses_the_best_quality_within_the_p95_budget() -> None:
    result, _ = run(scenario())
    int8, int8_30 = result.result(INT8), result.result(INT8_30)
    assert choose(result, budget_ms=int8.p95_ms).chosen.name == INT8  # the bound counts as within
    assert choose(result, budget_ms=int8_30.p95_ms).chosen.name == INT8_30
    # Everything fits: ONNX and the reference tie at quality 1.0; the faster wins.
    choice = choose(result, budget_ms=1e6)
    assert choice.chosen.name == ONNX
    assert choice.mode == "budget"
    assert choice.budget_ms == 1e6
    assert "Tied in quality" in choice.reason
    assert REFERENCE in choice.reason
    assert choice.gate.startswith("p95 ")


def test_a_budget_nothing_fits_names_the_fastest_p95_and_the_budget() -> None:
    result, _ = run(scenario())
    fastest = result.result(INT8_30)
    with pytest.raises(ValueError, match="budget of 1 ms") as raised:
        choose(result, budget_ms=1.0)
    assert INT8_30 in str(raised.value)
    assert f"{fastest.p95_ms:.1f} ms" in str(raised.value)


@pytest.mark.parametrize(
    "arguments",
    [{}, {"budget_ms": 10.0, "max_loss": 0.01}, {"max_loss": -0.1}, {"budget_ms": 0.0}],
)
def test_choose_wants_exactly_one_valid_mode(arguments: dict[str, float]) -> None:
    result, _ = run(scenario(), count=12)
    with pytest.raises(ValueError, match=r"budget_ms|max_loss"):
        choose(result, **arguments)


def test_ties_are_resolved_the_same_way_every_run_and_for_any_order() -> None:
    specs = {
        REFERENCE: Spec(0.1),
        "twin b": Spec(0.05, timing_key="twin"),
        "twin a": Spec(0.05, timing_key="twin"),
        "lossy": Spec(0.02, lost=lambda i: 1 if i % 3 == 0 else 0, exact=False),
    }
    first, _ = run(specs)
    again, _ = run(specs)
    permuted, _ = run(dict(reversed(list(specs.items()))))
    assert json.dumps(first.to_json()) == json.dumps(again.to_json())
    by_name = {r["configuration"]["name"]: r for r in permuted.to_json()["results"]}
    assert all(by_name[r["configuration"]["name"]] == r for r in first.to_json()["results"])
    for mode in ({"max_loss": 0.0}, {"budget_ms": 1e6}):
        choices = [choose(result, **mode) for result in (first, again, permuted)]
        assert {choice.chosen.name for choice in choices} == {"twin a"}
        assert len({choice.reason for choice in choices}) == 1


# --- output ----------------------------------------------------------------------------------


def plain_only(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(key, str) and plain_only(item) for key, item in value.items())
    if isinstance(value, list):
        return all(plain_only(item) for item in value)
    return value is None or type(value) in (str, int, float, bool)


def test_results_and_choice_round_trip_through_json() -> None:
    specs = scenario()
    measure = FakeMeasure(specs)
    configs = [
        Configuration(
            c.name,
            {"coarse_model": Path("/models/student"), "sizes": (1, 2), "cap": None},
            c.candidates,
            c.exact,
        )
        for c in configurations(specs)
    ]
    result = search(configs, queries(20), measure, top10_agreement, reference=configs[0], progress=False)
    choice = choose(result, max_loss=0.03)
    for document in (result.to_json(), choice.to_json()):
        assert plain_only(document)
        assert json.loads(json.dumps(document)) == document
    assert result.to_json()["results"][0]["configuration"]["options"] == {
        "coarse_model": "/models/student",
        "sizes": [1, 2],
        "cap": None,
    }
    assert choice.to_json()["chosen"] == INT8
    assert "seconds" not in choice.to_json()["result"]


def test_a_search_read_back_from_json_is_the_same_search() -> None:
    result, _ = run(scenario())
    again = SearchResult.from_json(json.loads(json.dumps(result.to_json())))
    assert again == result
    assert choose(again, max_loss=0.03) == choose(result, max_loss=0.03)


def test_format_table_has_a_row_per_configuration_and_marks() -> None:
    result, _ = run(scenario())
    choice: Choice = choose(result, max_loss=0.03)
    table = format_table(result, choice)
    lines = table.splitlines()
    assert len(lines) == 1 + len(result.results)
    assert "top-10 agreement" in lines[0]
    assert "p95 ms" in lines[0]
    chosen = next(line for line in lines if INT8 + " " in line)
    assert chosen.startswith("*")
    assert "frontier" in chosen
    assert f"pruned after 10 by {ONNX}" in next(line for line in lines if CASCADE in line)
    assert "reference" in next(line for line in lines if REFERENCE in line)
    assert "*" not in format_table(result)


# --- arguments and progress ------------------------------------------------------------------


def test_progress_wraps_the_queries_and_hears_how_many_are_left() -> None:
    class Bar:
        def __init__(self, items: Iterable[str]) -> None:
            self.items = list(items)
            self.postfixes: list[str] = []

        def __iter__(self) -> Any:
            return iter(self.items)

        def set_postfix_str(self, text: str) -> None:
            self.postfixes.append(text)

    bars: list[Bar] = []

    def progress(items: Iterable[str]) -> Bar:
        bars.append(Bar(items))
        return bars[-1]

    run(scenario(), progress=progress)
    assert len(bars) == 1
    assert bars[0].postfixes[-1] == "4 configurations left"


def test_a_missing_reference_is_added_and_bad_arguments_are_refused() -> None:
    specs = scenario()
    configs = configurations(specs)
    measure = FakeMeasure(specs)
    result = search(configs[1:], queries(12), measure, top10_agreement, reference=configs[0], progress=False)
    assert result.results[0].name == REFERENCE
    assert len(result.results) == len(configs)
    with pytest.raises(ValueError, match="unique"):
        search(
            configs + configs[:1], queries(12), measure, top10_agreement, reference=configs[0], progress=False
        )
    with pytest.raises(ValueError, match="query_ids"):
        search(configs, ["q001", "q001"], measure, top10_agreement, reference=configs[0], progress=False)
    with pytest.raises(ValueError, match="min_queries"):
        search(
            configs,
            queries(12),
            measure,
            top10_agreement,
            reference=configs[0],
            min_queries=0,
            progress=False,
        )

    def negative(configuration: Configuration, query_id: str) -> QueryRun:
        return QueryRun(-1.0, ["d"])

    with pytest.raises(ValueError, match="< 0"):
        search(configs, queries(12), negative, top10_agreement, reference=configs[0], progress=False)
