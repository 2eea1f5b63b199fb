"""Measuring a configuration on one query: a real :class:`~crossrank.Reranker`, timed.

Every configuration gets its reranker before anything is timed: models load, exports and
int8 calibrations run, and each reranks the first query once, untimed. Configurations on the
same backend share one loaded model (``with_options``); the score cache is off, so every
timed call does its whole work. One that cannot run here (an export that fails, a backend
the model does not support) is left out with its reason, never silently replaced.

It also derives rankings (:meth:`Measurer.derive`, see :mod:`crossrank.tuning.derivation`):
it keeps the per-candidate scores of every timed run that scores every candidate plainly
(the reference, a backend over every candidate), and scores a source untimed when no timed
run gave its scores for a query (a pruned one, a cascade's coarse stage).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from crossrank.errors import CrossrankError
from crossrank.tuning.configurations import configuration_options
from crossrank.tuning.derivation import (
    Derivation,
    ScoresKey,
    derivation,
    plain_scoring,
    rank_from_scores,
    scores_key,
    text_scores_of,
)
from crossrank.tuning.records import Configuration, QueryRun
from crossrank.tuning.workload import Workload

__all__ = ["Measurer", "query_ids"]


class Measurer:
    """Reranks a workload's queries with each configuration, timed (a :data:`Measure`).

    Args:
        model: The model's path or hub id.
        workload: The queries and their candidates.
        base_options: Options every configuration shares (``fusion``, ``instruction``...).
        reranker_factory: Builds a reranker (``crossrank.Reranker``; tests pass another).
    """

    def __init__(
        self,
        model: Any,
        workload: Workload,
        base_options: Mapping[str, Any] | None = None,
        reranker_factory: Callable[..., Any] | None = None,
    ) -> None:
        if reranker_factory is None:
            from crossrank.reranker import Reranker

            reranker_factory = Reranker
        self._model = model
        self._workload = workload
        self._queries = workload.by_id()
        self._base = {**(base_options or {}), "score_cache_size": 0}
        self._factory: Callable[..., Any] = reranker_factory
        self._by_backend: dict[tuple[str, str], Any] = {}
        self._rerankers: dict[str, Any] = {}
        self._plans: dict[str, Derivation] = {}
        self._keeps: dict[str, ScoresKey] = {}  # configurations whose timed runs are a source
        self._sources: dict[ScoresKey, Configuration] = {}
        self._scores: dict[tuple[ScoresKey, str], Any] = {}

    def windows_over(self, counts: tuple[int, ...] = (1, 2, 4)) -> dict[int, float]:
        """Share of the candidates that chunk-max splits into more than each of ``counts`` windows.

        Windows as the reranker plans them (its window of the model's length less the special
        tokens and the longest query, an eighth overlapping), without the ``max_windows`` cap.
        """
        from crossrank.ranking.windows import plan_windows

        scorer = self._loaded("torch", "fp32").scorer
        texts = [text for query in self._workload.queries for text in query.texts]
        if not texts:
            return dict.fromkeys(counts, 0.0)
        room = scorer.max_length - scorer.num_special_tokens
        longest_query = max(len(scorer.tokenize([q.query])[0].ids) for q in self._workload.queries)
        room -= min(longest_query, room // 2)
        windows = [len(plan_windows(len(t.ids), room, room // 8, None)) for t in scorer.tokenize(texts)]
        return {count: sum(1 for n in windows if n > count) / len(windows) for count in counts}

    def fastest_exact(self) -> str:
        """The exact backend ``backend="auto"`` chose here (its measured probe, cached)."""
        in_use = str(self._loaded("auto", "auto").backend_in_use)
        return "torch" if in_use.startswith("torch") else in_use

    def prepare(
        self,
        configurations: Sequence[Configuration],
        *,
        on_start: Callable[[Configuration], None] | None = None,
        reference: Configuration | None = None,
    ) -> dict[str, str]:
        """Build every configuration's reranker and run it once on the first query, untimed.

        Args:
            configurations: What will be measured.
            on_start: Called before each configuration is prepared (for progress lines).
            reference: The search's reference: with it, :meth:`derive` derives the rankings
                of the configurations :func:`~crossrank.tuning.derivation.derivation` allows.

        Returns:
            The configurations that cannot run here, by name, with the reason.
        """
        if reference is not None:
            self._plan(configurations, reference)
        skipped: dict[str, str] = {}
        first = self._workload.queries[0]
        for configuration in configurations:
            if on_start is not None:
                on_start(configuration)
            try:
                reranker = self._reranker(configuration)
                reranker.rerank(first.query, list(first.texts), retrieval_scores=first.retrieval_scores)
            except (CrossrankError, ImportError, OSError, ValueError) as exc:
                skipped[configuration.name] = f"{type(exc).__name__}: {exc}"
        return skipped

    def __call__(self, configuration: Configuration, query_id: str) -> QueryRun:
        """Rerank one query's candidates with one configuration, timed."""
        query = self._queries[query_id]
        reranker = self._reranker(configuration)
        documents = list(query.texts)
        start = time.perf_counter()
        results = reranker.rerank(query.query, documents, retrieval_scores=query.retrieval_scores)
        seconds = time.perf_counter() - start
        key = self._keeps.get(configuration.name)
        if key is not None:
            self._scores[(key, query_id)] = text_scores_of(documents, results)
        return QueryRun(seconds=seconds, ranking=[query.doc_ids[result.index] for result in results])

    def derive(self, configuration: Configuration, query_id: str) -> list[str] | None:
        """``configuration``'s ranking of a query, derived from other runs' scores (a :data:`Derive`).

        Returns:
            Document ids, best first; ``None`` when this configuration is not derivable.
        """
        plan = self._plans.get(configuration.name)
        if plan is None:
            return None
        query = self._queries[query_id]
        reranker = self._reranker(configuration)
        coarse = None if plan.coarse_from is None else self._source_scores(plan.coarse_from, query_id)
        results = rank_from_scores(
            list(query.texts),
            query.retrieval_scores,
            scores=self._source_scores(plan.scores_from, query_id),
            coarse_scores=coarse,
            depth=plan.depth,
            keep=reranker.coarse_keep,
            ranking={
                "fusion": reranker.fusion,
                "rrf_k": reranker.rrf_k,
                "rrf_weights": reranker.rrf_weights,
                "top_n": reranker.top_n,
                "score_threshold": reranker.score_threshold,
            },
        )
        return [query.doc_ids[result.index] for result in results]

    def _plan(self, configurations: Sequence[Configuration], reference: Configuration) -> None:
        by_key = {scores_key(configuration_options(reference)): reference}
        for configuration in configurations:
            if plain_scoring(configuration):
                by_key.setdefault(scores_key(configuration_options(configuration)), configuration)
        for configuration in configurations:
            plan = derivation(configuration, reference)
            if plan is None:
                continue
            for key in (plan.scores_from, plan.coarse_from):
                if key is None:
                    continue
                if key[:1] == ("coarse stage of",):
                    self._sources[key] = configuration
                elif key in by_key:
                    self._sources[key] = by_key[key]
                    self._keeps[by_key[key].name] = key
                else:
                    break  # no configuration scores this table: not derivable
            else:
                self._plans[configuration.name] = plan

    def _source_scores(self, key: ScoresKey, query_id: str) -> Any:
        table = self._scores.get((key, query_id))
        if table is None:
            # No timed run scored this table for this query (pruned, or a coarse stage): score it.
            query = self._queries[query_id]
            reranker = self._reranker(self._sources[key])
            if key[:1] == ("coarse stage of",):
                reranker = reranker.coarse
            documents = list(query.texts)
            results = reranker.rerank(query.query, documents, retrieval_scores=query.retrieval_scores)
            table = self._scores[(key, query_id)] = text_scores_of(documents, results)
        return table

    def time_first_query(
        self, configurations: Sequence[Configuration], *, candidates: int | None = None, rounds: int = 1
    ) -> dict[str, float]:
        """Median seconds of each configuration on the first query (or its first candidates), interleaved.

        A quick comparison of prepared backends (tune's check that a lower precision is
        accelerated here), not a measurement for the table.

        Args:
            configurations: Prepared configurations.
            candidates: How many of the first query's candidates each reranks (``None``: all;
                a slice of fewer, shorter inputs than the workload's shifts the ratios between
                backends: docs/tuning.md).
            rounds: Interleaved rounds (alternating order); the median is kept.

        Returns:
            Seconds by configuration name.
        """
        first = self._workload.queries[0]
        count = len(first.texts) if candidates is None else candidates
        documents = list(first.texts[:count])
        scores = None if first.retrieval_scores is None else list(first.retrieval_scores[:count])
        times: dict[str, list[float]] = {configuration.name: [] for configuration in configurations}
        for round_index in range(rounds):
            order = list(configurations) if round_index % 2 == 0 else list(reversed(configurations))
            for configuration in order:
                reranker = self._reranker(configuration)
                start = time.perf_counter()
                reranker.rerank(first.query, documents, retrieval_scores=scores)
                times[configuration.name].append(time.perf_counter() - start)
        return {name: statistics.median(values) for name, values in times.items()}

    def backends_in_use(self) -> dict[str, str]:
        """What each prepared configuration runs on (``backend_in_use``), by name."""
        return {name: str(reranker.backend_in_use) for name, reranker in self._rerankers.items()}

    def _reranker(self, configuration: Configuration) -> Any:
        reranker = self._rerankers.get(configuration.name)
        if reranker is None:
            options = configuration_options(configuration)
            backend, precision = options.pop("backend", "auto"), options.pop("precision", "auto")
            base = self._loaded(backend, precision)
            reranker = base.with_options(**options) if options else base
            self._rerankers[configuration.name] = reranker
        return reranker

    def _loaded(self, backend: str, precision: str) -> Any:
        key = (backend, precision)
        reranker = self._by_backend.get(key)
        if reranker is None:
            reranker = self._factory(self._model, backend=backend, precision=precision, **self._base)
            # Load now: a configuration that cannot run fails here, before anything is timed.
            _ = reranker.scorer
            self._by_backend[key] = reranker
        return reranker


def query_ids(workload: Workload) -> list[str]:
    """The workload's query ids, in order."""
    return [query.query_id for query in workload.queries]
