"""Retrieval quality of a first stage and three rerankings of its candidates.

For every query the first stage returns ``k`` candidates; the *same* candidates are
then reranked by truncation (first window only), chunk-max (every window, best
wins) and chunk-max fused with the first-stage ranking by RRF. Two scoring passes
run per query, each timed on its own: chunk-max, whose results carry both the
fused ranking and the cross-encoder scores the plain chunk-max ranking is sorted
by, then truncation. Both passes run with the reranker's score cache off, so each
is timed doing its own work; with ``reuse_scores`` they share a per-query cache
instead, and the truncation pass takes its scores from the chunk-max pass's first
windows (the same token pairs) instead of the model.

A cascade can also be compared with its own single stage in the same run
(``single_stage=True``): the fine model alone ranks each query's candidates first,
and the cascade's passes then read their fine-stage window scores from the same
cache. Both rankings rest on identical window scores, so the comparison is exact,
and the pair costs what the single stage costs; the cascade itself is not timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from crossrank.evaluation.latency import summarize_latency
from crossrank.evaluation.metrics import evaluate_run, per_query_metrics, recall_at_k
from crossrank.evaluation.report import (
    METRIC_CUTOFF,
    RANKING_DEPTH,
    RERANK_VARIANTS,
    VARIANT_LABELS,
    VARIANTS,
    EvalReport,
    query_id_order,
)

if TYPE_CHECKING:
    from crossrank.evaluation.beir import BeirDataset
    from crossrank.evaluation.first_stage import FirstStage
    from crossrank.reranker import Reranker
    from crossrank.results import RerankResult

__all__ = [
    "METRIC_CUTOFF",
    "RANKING_DEPTH",
    "RERANK_VARIANTS",
    "VARIANTS",
    "VARIANT_LABELS",
    "EvalReport",
    "evaluate",
    "select_query_ids",
]

# Bound of the cache that lets truncation reuse chunk-max's scores: every window of one query.
_PER_QUERY_CACHE_SIZE = 1_000_000
# The options that make a reranker a cascade; without them it is its fine model alone.
_SINGLE_STAGE = {
    "coarse_model": None,
    "coarse_backend": None,
    "coarse_max_length": None,
    "fine_windows_per_document": None,
    "fine_window_margin": None,
}
_UNTIMED = "not timed: its fine-stage window scores were read from the single stage's (same run)"


def select_query_ids(dataset: BeirDataset, limit: int | None = None, offset: int = 0) -> list[str]:
    """The judged queries in id order (numeric ids numerically): ``limit`` of them after ``offset``.

    Args:
        dataset: The loaded dataset.
        limit: How many queries to keep; ``None`` keeps all.
        offset: How many queries to skip first (a long evaluation run in parts).

    Returns:
        Query ids.

    Raises:
        ValueError: If ``limit`` is not a positive integer, ``offset`` is negative, or
            ``offset`` leaves no query.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive integer, got {limit!r}.")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"offset must be a non-negative integer, got {offset!r}.")
    ordered = sorted(dataset.qrels, key=query_id_order)
    if offset and offset >= len(ordered):
        raise ValueError(f"offset {offset} skips every one of the {len(ordered)} judged queries.")
    ordered = ordered[offset:]
    return ordered if limit is None else ordered[:limit]


@dataclass
class _Tally:
    """One reranker's rankings, timings and pair counts, gathered query by query."""

    scoring: Reranker
    runs: dict[str, dict[str, list[str]]] = field(default_factory=lambda: {n: {} for n in RERANK_VARIANTS})
    seconds: dict[str, list[float]] = field(default_factory=lambda: {"truncate": [], "chunk_max": []})
    pairs: dict[str, int] = field(default_factory=lambda: {"truncate": 0, "chunk_max": 0})
    candidates_scored: dict[str, int] = field(default_factory=lambda: {"truncate": 0, "chunk_max": 0})
    per_query_speed: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        plain = {"top_n": None, "score_threshold": None}
        self._fused = self.scoring.with_options(long_documents="chunk_max", fusion="rrf", **plain)
        self._truncate = self.scoring.with_options(long_documents="truncate", fusion=None, **plain)
        # A cascade prunes by its fused ranking when it fuses, so without fusion it keeps other
        # candidates: chunk-max is then a pass of its own (its scores partly cached with reuse).
        self._alone = (
            self.scoring.with_options(long_documents="chunk_max", fusion=None, **plain)
            if self.scoring.is_cascade
            else None
        )

    def rank(self, query_id: str, query: str, ids: list[str], texts: list[str], scores: list[float]) -> None:
        """Rank one query's candidates in every variant's scoring pass, timing each pass."""
        fused, chunk_max_s = _timed(self._fused, query, texts, scores)
        truncated, truncate_s = _timed(self._truncate, query, texts, scores)
        if self._alone is not None:
            by_cross_encoder, _ = _timed(self._alone, query, texts, scores)
        else:
            by_cross_encoder = sorted(fused, key=lambda result: (-result.cross_encoder_score, result.index))
        self.runs["truncate"][query_id] = [ids[result.index] for result in truncated]
        self.runs["chunk_max"][query_id] = [ids[result.index] for result in by_cross_encoder]
        self.runs["chunk_max_rrf"][query_id] = [ids[result.index] for result in fused]
        query_pairs = {
            "truncate": sum(result.num_windows for result in truncated),
            "chunk_max": sum(result.num_windows for result in fused),
        }
        for name, elapsed in (("truncate", truncate_s), ("chunk_max", chunk_max_s)):
            self.seconds[name].append(elapsed)
            self.pairs[name] += query_pairs[name]
            self.candidates_scored[name] += len(ids)
        self.per_query_speed[query_id] = {
            "latency_ms": {"chunk_max": 1000.0 * chunk_max_s, "truncate": 1000.0 * truncate_s},
            "pairs": query_pairs,
        }


def evaluate(
    dataset: BeirDataset,
    first_stage: FirstStage,
    reranker: Reranker,
    *,
    k: int = 100,
    query_ids: Sequence[str] | None = None,
    split: str = "test",
    document_text: Callable[[str], str] | None = None,
    long_protocol: Mapping[str, Any] | None = None,
    reuse_scores: bool = False,
    single_stage: bool = False,
    show_progress: bool = False,
    query_document_text: Callable[[str, str, Sequence[str]], str] | None = None,
) -> EvalReport:
    """Retrieve, rerank three ways, and score every ranking against the qrels.

    Args:
        dataset: The dataset; its qrels judge the rankings.
        first_stage: The retriever; its candidates are reranked.
        reranker: A reranker whose model, batching and window options are used; its
            ``long_documents``, ``fusion``, ``top_n`` and ``score_threshold`` are
            replaced per variant.
        k: Candidates per query.
        query_ids: The queries to run (default: all judged queries, in id order).
        split: The split name, for the report.
        document_text: The text reranked for a document id (default: its title and
            body); the long-document protocol passes its long versions here while the
            first stage still searches the original corpus.
        long_protocol: Settings recorded in the report when the texts are long versions.
        query_document_text: Instead of ``document_text``, the text reranked for a document
            as a candidate of one query: ``(query_id, doc_id, candidate_ids)`` (the on-topic
            long protocol buries each candidate under the query's other candidates).
        reuse_scores: Score each (query, window) pair once: the truncation ranking then
            reuses the first-window scores of the chunk-max pass (the same token pairs)
            instead of calling the model again, which halves the cost of a run on short
            documents; truncation's latency is then not measured.
        single_stage: For a cascade only: first rank each query's candidates with the
            cascade's fine model alone (timed, as a report of its own in
            ``EvalReport.single_stage``), then rank them with the cascade, whose fine
            stage reads the single stage's window scores from a shared cache. The two
            rankings rest on identical scores and the run costs the single stage's time;
            the cascade is not timed. Implies ``reuse_scores``.
        show_progress: Show a progress bar over queries.

    Returns:
        The report.

    Raises:
        ValueError: If ``k`` is not a positive integer, a query id is not judged, or
            ``single_stage`` is asked of a reranker that is not a cascade.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")
    if single_stage and not reranker.is_cascade:
        raise ValueError(
            "single_stage=True compares a cascade with its own fine model alone, but this reranker has "
            "no coarse stage; set coarse_model (or coarse_backend), or evaluate it without single_stage."
        )
    chosen = list(query_ids) if query_ids is not None else select_query_ids(dataset)
    unknown = [query_id for query_id in chosen if query_id not in dataset.qrels]
    if unknown:
        raise ValueError(f"query ids {unknown[:5]} have no judgements in split {split!r}.")
    text_of = document_text or (lambda doc_id: dataset.corpus[doc_id].full_text)
    reuse_scores = reuse_scores or single_stage
    # Off: each pass pays for its own windows. On: one cache per query, shared by every pass.
    scoring = reranker.with_options(score_cache_size=_PER_QUERY_CACHE_SIZE if reuse_scores else 0)
    if scoring.coarse is not None:
        # Loaded before the copies are made, so every pass shares one coarse model
        # (and, with reuse_scores, its cache) instead of loading its own.
        _ = scoring.coarse.scorer
    # The single stage shares the loaded fine model and its cache (no loading option changes).
    tallies: dict[str, _Tally] = {}
    if single_stage:
        tallies["single_stage"] = _Tally(scoring.with_options(**_SINGLE_STAGE))
    tallies["reranker"] = _Tally(scoring)

    first_stage_runs: dict[str, list[str]] = {}
    retrieval_s = 0.0
    for query_id in _progress(chosen, show_progress):
        query = dataset.queries[query_id]
        started = time.perf_counter()
        candidates = first_stage.search(query, k)
        retrieval_s += time.perf_counter() - started
        ids = [candidate.doc_id for candidate in candidates]
        if query_document_text is not None:
            texts = [query_document_text(query_id, doc_id, ids) for doc_id in ids]
        else:
            texts = [text_of(doc_id) for doc_id in ids]
        scores = [candidate.score for candidate in candidates]
        first_stage_runs[query_id] = ids
        scoring.clear_score_cache()
        for tally in tallies.values():  # the single stage first: it fills the cache
            tally.rank(query_id, query, ids, texts, scores)

    reports = {
        name: _report(
            tally,
            first_stage_runs,
            dataset=dataset,
            first_stage_name=first_stage.name,
            split=split,
            k=k,
            model=reranker.model_name,
            query_ids=chosen,
            retrieval_s=retrieval_s,
            long_protocol=long_protocol,
            reuse_scores=reuse_scores,
            untimed=_UNTIMED if single_stage and name == "reranker" else None,
        )
        for name, tally in tallies.items()
    }
    if single_stage:
        return replace(reports["reranker"], single_stage=reports["single_stage"])
    return reports["reranker"]


def _report(
    tally: _Tally,
    first_stage_runs: dict[str, list[str]],
    *,
    dataset: BeirDataset,
    first_stage_name: str,
    split: str,
    k: int,
    model: str,
    query_ids: list[str],
    retrieval_s: float,
    long_protocol: Mapping[str, Any] | None,
    reuse_scores: bool,
    untimed: str | None,
) -> EvalReport:
    """Score one reranker's rankings against the qrels and summarise its timings."""
    runs = {"first_stage": first_stage_runs, **tally.runs}
    qrels = {query_id: dataset.qrels[query_id] for query_id in query_ids}
    metrics = {name: evaluate_run(runs[name], qrels, METRIC_CUTOFF) for name in VARIANTS}
    first_stage_recall = {
        query_id: recall_at_k(first_stage_runs[query_id], qrels[query_id], k) for query_id in query_ids
    }
    per_variant = {name: per_query_metrics(runs[name], qrels, METRIC_CUTOFF) for name in VARIANTS}
    timed = {
        name: summarize_latency(tally.seconds[name], tally.pairs[name])
        for name in tally.seconds
        if untimed is None and not (reuse_scores and name == "truncate")
    }
    per_query = []
    for query_id in query_ids:
        speed = tally.per_query_speed[query_id]
        latency_ms = {name: value for name, value in speed["latency_ms"].items() if name in timed}
        per_query.append(
            {
                "query_id": query_id,
                "first_stage_recall_at_k": first_stage_recall[query_id],
                "candidates": len(first_stage_runs[query_id]),
                "variants": {
                    name: {
                        **per_variant[name][query_id],
                        f"top_{METRIC_CUTOFF}": runs[name][query_id][:METRIC_CUTOFF],
                        f"top_{RANKING_DEPTH}": runs[name][query_id][:RANKING_DEPTH],
                    }
                    for name in VARIANTS
                },
                "latency_ms": latency_ms,
                "pairs": speed["pairs"],
            }
        )
    return EvalReport(
        dataset=dataset.name,
        split=split,
        first_stage=first_stage_name,
        k=k,
        model=model,
        query_ids=query_ids,
        metrics=metrics,
        recall_at_k_first_stage=(sum(first_stage_recall.values()) / len(query_ids)) if query_ids else 0.0,
        speed=timed,
        candidates_scored=tally.candidates_scored,
        pairs_per_pass=tally.pairs,
        per_query=per_query,
        retrieval_s=retrieval_s,
        long_protocol=dict(long_protocol) if long_protocol is not None else None,
        untimed=untimed,
    )


def _timed(
    reranker: Reranker, query: str, texts: list[str], scores: list[float]
) -> tuple[list[RerankResult], float]:
    started = time.perf_counter()
    results = reranker.rerank(query, texts, retrieval_scores=scores)
    return results, time.perf_counter() - started


def _progress(items: list[str], show: bool) -> Iterable[str]:
    if not show:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc="Queries", unit="query")
