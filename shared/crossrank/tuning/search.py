"""The interleaved search over reranking configurations, with early pruning.

Query by query, every configuration still measured runs on the same query, in an order
that rotates from query to query (and reverses every other cycle), so slow drift of the
machine (thermal throttling, a background job, caches warming) and the carry-over from one
run to the next hit every configuration alike. Each configuration's quality on a query is
computed once all have run on it, against the reference's ranking of that query; so the
reference takes its turn in the rotation like the others instead of always running first.

After ``min_queries`` queries, and after every further one, a configuration that another
clearly dominates (faster with confidence and at least as good; see
:mod:`crossrank.tuning.pruning`) stops being measured. The reference is never pruned.

Quality needs every query; latency does not. With ``latency_queries`` and ``derive``, each
configuration runs, timed, on the first ``latency_queries`` queries; after that, one whose
ranking ``derive`` can compute without running it (a shallower depth ranks the scores of the
same model over every candidate; an exact backend ranks as the reference) is no longer run:
its ranking is derived. What derivation promises is checked, not assumed: on every timed
query the derived ranking's top 10 (all that NDCG@10 and top-10 agreement read) must equal
the configuration's own, or it keeps running, timed, on every query. The reference runs,
timed, on every query.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from crossrank.evaluation.metrics import top_k_agreement
from crossrank.log import logger
from crossrank.tuning.estimates import pareto_flags, summarize
from crossrank.tuning.pruning import prune_dominated
from crossrank.tuning.records import (
    Configuration,
    ConfigurationResult,
    Measure,
    Pruning,
    Quality,
    QueryRun,
    SearchResult,
)
from crossrank.tuning.rotation import base_order, query_order

__all__ = [
    "CHECKED_TOP",
    "Configuration",
    "ConfigurationResult",
    "Derive",
    "Measure",
    "Pruning",
    "Quality",
    "QueryRun",
    "SearchResult",
    "base_order",
    "query_order",
    "search",
    "top10_agreement",
]

Progress = Callable[[Iterable[str]], Iterable[str]]

Derive = Callable[[Configuration, str], "Sequence[str] | None"]
"""``(configuration, query_id) -> ranking``, derived without running the configuration, or
``None`` when it cannot be (see :meth:`crossrank.tuning.measure.Measurer.derive`)."""

CHECKED_TOP = 10
"""Leading ranks a derived ranking must match the configuration's own on each timed query."""


def top10_agreement(query_id: str, ranking: Sequence[str], reference_ranking: Sequence[str]) -> float:
    """Share of the reference's top 10 that ``ranking`` keeps in its own top 10.

    The quality for unlabeled traffic: 1.0 when the top 10 holds the same documents (in any
    order), 0.9 when one of them was swapped for another document.

    Args:
        query_id: The query (unused: agreement needs no judgements).
        ranking: The configuration's ranking, best first.
        reference_ranking: The reference's ranking of the same candidates, best first.

    Returns:
        A share in ``[0, 1]``; 1.0 when the reference ranking is empty.
    """
    del query_id
    return top_k_agreement(reference_ranking, ranking, reference_k=10, candidate_k=10)


def _progress(items: Sequence[str], progress: bool | Progress) -> Iterable[str]:
    if progress is False:
        return items
    if progress is True:
        from tqdm.auto import tqdm

        return tqdm(items, desc="Queries", unit="query")
    return progress(items)


def _checked_run(run: QueryRun, configuration: Configuration, query_id: str) -> QueryRun:
    seconds = run.seconds
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        raise ValueError(f"measuring {configuration.name!r} on query {query_id!r} gave seconds={seconds!r}.")
    if seconds < 0:
        raise ValueError(f"measuring {configuration.name!r} on query {query_id!r} gave {seconds} s (< 0).")
    if isinstance(run.ranking, str):
        raise TypeError(
            f"measuring {configuration.name!r} on query {query_id!r} gave the ranking {run.ranking!r}, "
            "a single string; return a sequence of document ids."
        )
    return run


def _validated(
    configurations: Sequence[Configuration], query_ids: Sequence[str], reference: Configuration
) -> list[Configuration]:
    chosen = list(configurations)
    names = [configuration.name for configuration in chosen]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"configuration names must be unique; repeated: {duplicates}.")
    if reference.name in names:
        if chosen[names.index(reference.name)] != reference:
            raise ValueError(f"the reference differs from the configuration named {reference.name!r}.")
    else:
        chosen.insert(0, reference)
    if isinstance(query_ids, str) or not query_ids:
        raise ValueError("query_ids must be a non-empty sequence of query ids.")
    if len(set(query_ids)) != len(query_ids):
        raise ValueError("query_ids must be unique: each query is measured once per configuration.")
    return chosen


def search(
    configurations: Sequence[Configuration],
    query_ids: Sequence[str],
    measure: Measure,
    quality: Quality,
    *,
    reference: Configuration,
    min_queries: int = 10,
    progress: bool | Progress = True,
    seed: int = 0,
    prune: bool = True,
    prune_confidence: float = 0.99,
    reference_first: bool = False,
    quality_name: str | None = None,
    latency_queries: int | None = None,
    derive: Derive | None = None,
) -> SearchResult:
    """Measure configurations interleaved over queries, pruning the clearly dominated.

    Args:
        configurations: What to measure; names unique. The reference is added if missing.
        query_ids: The queries, measured in this order.
        measure: Reranks one query with one configuration, timed.
        quality: Per-query quality of a ranking given the reference's ranking; the reference's
            own is ``quality(query_id, its ranking, its ranking)``.
        reference: The model in fp32 over all candidates; measured on every query, never pruned.
        min_queries: Queries measured before pruning may start (then it is checked after each);
            keep it at 10 or more, the bootstrap intervals are too narrow on fewer.
        progress: Show a tqdm bar (``True``), none (``False``), or wrap the queries with this
            tqdm-like callable (its ``set_postfix_str`` is used if it has one).
        seed: Seed of the run order and of every bootstrap interval.
        prune: Stop measuring clearly dominated configurations.
        prune_confidence: Confidence of the intervals that pruning requires.
        reference_first: Run the reference first on every query instead of in the rotation.
        quality_name: What the quality is, for reports; ``"top-10 agreement"`` for
            :func:`top10_agreement`, else ``"quality"`` when not given.
        latency_queries: Queries every configuration runs on, timed, before the rankings of
            those ``derive`` can compute are derived instead; ``None`` runs every
            configuration on every query.
        derive: Computes a configuration's ranking without running it (only used with
            ``latency_queries``).

    Returns:
        Every configuration's result, with the Pareto frontier marked.

    Raises:
        ValueError: On repeated names or queries, no queries, a reference that differs from
            the configuration of its name, ``min_queries < 1``, a ``prune_confidence``
            outside (0, 1), ``latency_queries < 1``, a measurement with negative or non-finite
            seconds, or a derivation that fails after its checks passed.
        TypeError: If a measurement's ranking is a single string.
    """
    if isinstance(min_queries, bool) or not isinstance(min_queries, int) or min_queries < 1:
        raise ValueError(f"min_queries must be a positive integer, got {min_queries!r}.")
    if not 0.0 < prune_confidence < 1.0:
        raise ValueError(f"prune_confidence must be between 0 and 1, got {prune_confidence!r}.")
    if latency_queries is not None and (
        isinstance(latency_queries, bool) or not isinstance(latency_queries, int) or latency_queries < 1
    ):
        raise ValueError(f"latency_queries must be a positive integer or None, got {latency_queries!r}.")
    chosen = _validated(configurations, query_ids, reference)
    by_name = {configuration.name: configuration for configuration in chosen}
    seconds: dict[str, list[float]] = {name: [] for name in by_name}
    qualities: dict[str, list[float]] = {name: [] for name in by_name}
    pruned: dict[str, Pruning] = {}
    alive = base_order(list(by_name), seed)
    orders: list[tuple[str, ...]] = []
    measured: list[str] = []
    queries = _progress(query_ids, progress)
    # Derivable until a timed query shows otherwise; derived once the timed prefix is over.
    derivable = set(by_name) - {reference.name} if derive is not None and latency_queries else set()
    derived_after: dict[str, int] = {}
    for index, query_id in enumerate(queries):
        timing = latency_queries is None or index < latency_queries
        derived = [] if timing else [name for name in alive if name in derivable]
        timed = [name for name in alive if name not in derived]
        order = query_order(timed, index, first=reference.name if reference_first else None)
        rankings: dict[str, Sequence[str]] = {}
        for name in order:
            run = _checked_run(measure(by_name[name], query_id), by_name[name], query_id)
            seconds[name].append(float(run.seconds))
            rankings[name] = run.ranking
        for name in derived:
            derived_after.setdefault(name, len(seconds[name]))
            ranking = derive(by_name[name], query_id) if derive is not None else None
            if ranking is None:
                raise ValueError(f"{name!r} could not be derived on {query_id!r} after its checks passed.")
            rankings[name] = ranking
        if timing and derivable:
            derivable -= _underivable(derive, by_name, derivable & set(order), rankings, query_id)
        for name in alive:
            value = float(quality(query_id, rankings[name], rankings[reference.name]))
            if not math.isfinite(value):
                raise ValueError(f"quality of {name!r} on query {query_id!r} is {value}.")
            qualities[name].append(value)
        orders.append(tuple(order))
        measured.append(query_id)
        if prune and min_queries <= len(measured) < len(query_ids):
            pruned.update(
                prune_dominated(
                    by_name, alive, reference.name, seconds, qualities, confidence=prune_confidence, seed=seed
                )
            )
            alive = [name for name in alive if name not in pruned]
            if hasattr(queries, "set_postfix_str"):
                queries.set_postfix_str(f"{len(alive)} configurations left")
    return _result(
        chosen,
        reference,
        measured,
        orders,
        seconds,
        qualities,
        pruned,
        seed,
        min_queries,
        prune_confidence,
        quality_name or _quality_name(quality),
        derived_after,
    )


def _underivable(
    derive: Derive | None,
    by_name: dict[str, Configuration],
    names: Iterable[str],
    rankings: dict[str, Sequence[str]],
    query_id: str,
) -> set[str]:
    """Of ``names``, those whose derived ranking is missing or differs from their own here."""
    failed: set[str] = set()
    for name in sorted(names):
        derived = derive(by_name[name], query_id) if derive is not None else None
        if derived is None or list(derived[:CHECKED_TOP]) != list(rankings[name][:CHECKED_TOP]):
            if derived is not None:
                logger.info(
                    "tune: %r is measured on every query: its derived ranking differed from its own on %r.",
                    name,
                    query_id,
                )
            failed.add(name)
    return failed


def _quality_name(quality: Quality) -> str:
    return "top-10 agreement" if quality is top10_agreement else "quality"


def _result(
    chosen: Sequence[Configuration],
    reference: Configuration,
    measured: Sequence[str],
    orders: Sequence[tuple[str, ...]],
    seconds: dict[str, list[float]],
    qualities: dict[str, list[float]],
    pruned: dict[str, Pruning],
    seed: int,
    min_queries: int,
    prune_confidence: float,
    quality_name: str,
    derived_after: dict[str, int],
) -> SearchResult:
    results: list[ConfigurationResult] = []
    for configuration in chosen:
        name = configuration.name
        count = len(qualities[name])  # a pruned configuration ranked a prefix of the queries
        results.append(
            summarize(
                configuration,
                measured[:count],
                seconds[name],
                qualities[name],
                reference_seconds=seconds[reference.name][: len(seconds[name])],
                reference_qualities=qualities[reference.name][:count],
                pruned=pruned.get(name),
                is_reference=name == reference.name,
                seed=seed,
                derived_after=derived_after.get(name),
            )
        )
    survivors = [result for result in results if result.pruned is None]
    flags = dict(
        zip(
            [result.name for result in survivors],
            pareto_flags([(result.p95_ms, result.quality) for result in survivors]),
            strict=True,
        )
    )
    return SearchResult(
        results=tuple(replace(result, on_frontier=flags.get(result.name, False)) for result in results),
        reference=reference.name,
        query_ids=tuple(measured),
        orders=tuple(orders),
        quality_name=quality_name,
        seed=seed,
        min_queries=min_queries,
        prune_confidence=prune_confidence,
    )
