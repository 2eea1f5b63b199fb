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
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crossrank.evaluation.latency import LatencySummary, summarize_latency
from crossrank.evaluation.metrics import evaluate_run, per_query_metrics, recall_at_k

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

VARIANT_LABELS = {
    "first_stage": "first stage",
    "truncate": "truncate",
    "chunk_max": "chunk-max",
    "chunk_max_rrf": "chunk-max + RRF",
}
"""Each variant, in report order, to its label in tables and charts."""
VARIANTS = tuple(VARIANT_LABELS)
RERANK_VARIANTS = ("truncate", "chunk_max", "chunk_max_rrf")
METRIC_CUTOFF = 10
# Ranking depth kept per query in the JSON report: what a cascade's cheap stage must keep.
RANKING_DEPTH = 30
# The scoring pass each reranking variant's ranking (and so its speed) comes from.
_PASS_OF = {"truncate": "truncate", "chunk_max": "chunk_max", "chunk_max_rrf": "chunk_max"}
# Bound of the cache that lets truncation reuse chunk-max's scores: every window of one query.
_PER_QUERY_CACHE_SIZE = 1_000_000


def _id_key(query_id: str) -> tuple[int, int, str]:
    """Numeric ids in numeric order, then the rest alphabetically."""
    return (0, int(query_id), "") if query_id.isdigit() else (1, 0, query_id)


def select_query_ids(dataset: BeirDataset, limit: int | None = None) -> list[str]:
    """The judged queries in id order (numeric ids numerically), the first ``limit`` of them.

    Args:
        dataset: The loaded dataset.
        limit: How many queries to keep; ``None`` keeps all.

    Returns:
        Query ids.

    Raises:
        ValueError: If ``limit`` is not a positive integer.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive integer, got {limit!r}.")
    ordered = sorted(dataset.qrels, key=_id_key)
    return ordered if limit is None else ordered[:limit]


@dataclass(frozen=True)
class EvalReport:
    """The outcome of :func:`evaluate`.

    Attributes:
        dataset: Dataset name.
        split: The qrels split.
        first_stage: ``"dense"`` or ``"bm25"``.
        k: Candidates per query.
        model: The cross-encoder's name or path.
        query_ids: The evaluated queries, in order.
        metrics: Variant name to mean ``ndcg_at_10``, ``recall_at_10``, ``mrr_at_10``.
        recall_at_k_first_stage: Mean Recall@k of the candidates.
        speed: Scoring pass (``"truncate"``, ``"chunk_max"``) to its latency summary; the
            truncate pass is missing when it reused the chunk-max pass's scores.
        candidates_scored: Scoring pass to the number of candidate documents it reranked.
        pairs_per_pass: Scoring pass to the (query, window) pairs its rankings rest on.
        per_query: One JSON-ready record per query.
        retrieval_s: Seconds spent in the first stage.
        long_protocol: Settings of the long-document protocol, or ``None``.
    """

    dataset: str
    split: str
    first_stage: str
    k: int
    model: str
    query_ids: list[str]
    metrics: dict[str, dict[str, float]]
    recall_at_k_first_stage: float
    speed: dict[str, LatencySummary]
    candidates_scored: dict[str, int]
    pairs_per_pass: dict[str, int]
    per_query: list[dict[str, Any]] = field(repr=False)
    retrieval_s: float = 0.0
    long_protocol: dict[str, Any] | None = None

    def to_json(self, *, include_per_query: bool = True) -> dict[str, Any]:
        """The report as the JSON document ``crossrank eval --json`` writes.

        Args:
            include_per_query: Add the ``"per_query"`` list.

        Returns:
            ``{"dataset", "split", "first_stage", "k", "queries", "model", "long",
            "variants": {name: {...}}, "recall_at_k_first_stage", ...}``.
        """
        variants: dict[str, dict[str, Any]] = {
            "first_stage": {**self.metrics["first_stage"], "recall_at_k": self.recall_at_k_first_stage}
        }
        for name in RERANK_VARIANTS:
            scoring_pass = _PASS_OF[name]
            speed = self.speed.get(scoring_pass)
            candidates = self.candidates_scored[scoring_pass]
            pairs = self.pairs_per_pass[scoring_pass]
            variants[name] = {
                **self.metrics[name],
                "median_latency_ms": speed.median_ms if speed else None,
                "p95_latency_ms": speed.p95_ms if speed else None,
                "pairs_per_s": speed.pairs_per_s if speed else None,
                "pairs_scored": pairs,
                "windows_per_document": pairs / candidates if candidates else 0.0,
                "scoring_pass": scoring_pass if speed else "chunk_max (first-window scores reused)",
            }
        document: dict[str, Any] = {
            "dataset": self.dataset,
            "split": self.split,
            "first_stage": self.first_stage,
            "k": self.k,
            "queries": len(self.query_ids),
            "model": self.model,
            "long": self.long_protocol is not None,
            "variants": variants,
            "recall_at_k_first_stage": self.recall_at_k_first_stage,
            "long_protocol": self.long_protocol,
            "seconds": {
                "retrieval": self.retrieval_s,
                **{f"rerank_{name}": summary.total_s for name, summary in self.speed.items()},
            },
        }
        if include_per_query:
            document["per_query"] = self.per_query
        return document


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
        show_progress: Show a progress bar over queries.

    Returns:
        The report.

    Raises:
        ValueError: If ``k`` is not a positive integer or a query id is not judged.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")
    chosen = list(query_ids) if query_ids is not None else select_query_ids(dataset)
    unknown = [query_id for query_id in chosen if query_id not in dataset.qrels]
    if unknown:
        raise ValueError(f"query ids {unknown[:5]} have no judgements in split {split!r}.")
    text_of = document_text or (lambda doc_id: dataset.corpus[doc_id].full_text)
    # Off: each pass pays for its own windows. On: one cache per query, shared by both passes.
    scoring = reranker.with_options(score_cache_size=_PER_QUERY_CACHE_SIZE if reuse_scores else 0)
    if scoring.coarse is not None:
        # Loaded before the copies below are made, so every pass shares one coarse model
        # (and, with reuse_scores, its cache) instead of loading its own.
        _ = scoring.coarse.scorer
    plain = {"top_n": None, "score_threshold": None}
    truncate = scoring.with_options(long_documents="truncate", fusion=None, **plain)
    chunk_max_rrf = scoring.with_options(long_documents="chunk_max", fusion="rrf", **plain)
    # A cascade prunes by its fused ranking when it fuses, so without fusion it keeps other
    # candidates: chunk-max is then a pass of its own (its scores partly cached with reuse).
    chunk_max_alone = (
        scoring.with_options(long_documents="chunk_max", fusion=None, **plain)
        if reranker.is_cascade
        else None
    )

    runs: dict[str, dict[str, list[str]]] = {name: {} for name in VARIANTS}
    seconds: dict[str, list[float]] = {"truncate": [], "chunk_max": []}
    pairs = {"truncate": 0, "chunk_max": 0}
    candidates_scored = {"truncate": 0, "chunk_max": 0}
    per_query_speed: dict[str, dict[str, Any]] = {}
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
        runs["first_stage"][query_id] = ids

        scoring.clear_score_cache()
        fused, chunk_max_s = _timed(chunk_max_rrf, query, texts, scores)
        truncated, truncate_s = _timed(truncate, query, texts, scores)
        if chunk_max_alone is not None:
            by_cross_encoder, _ = _timed(chunk_max_alone, query, texts, scores)
        else:
            by_cross_encoder = sorted(fused, key=lambda result: (-result.cross_encoder_score, result.index))
        runs["truncate"][query_id] = [ids[result.index] for result in truncated]
        runs["chunk_max"][query_id] = [ids[result.index] for result in by_cross_encoder]
        runs["chunk_max_rrf"][query_id] = [ids[result.index] for result in fused]

        query_pairs = {
            "truncate": sum(result.num_windows for result in truncated),
            "chunk_max": sum(result.num_windows for result in fused),
        }
        for name, elapsed in (("truncate", truncate_s), ("chunk_max", chunk_max_s)):
            seconds[name].append(elapsed)
            pairs[name] += query_pairs[name]
            candidates_scored[name] += len(ids)
        latency_ms = {"chunk_max": 1000.0 * chunk_max_s}
        if not reuse_scores:
            latency_ms["truncate"] = 1000.0 * truncate_s
        per_query_speed[query_id] = {"latency_ms": latency_ms, "pairs": query_pairs}

    qrels = {query_id: dataset.qrels[query_id] for query_id in chosen}
    metrics = {name: evaluate_run(runs[name], qrels, METRIC_CUTOFF) for name in VARIANTS}
    first_stage_recall = {
        query_id: recall_at_k(runs["first_stage"][query_id], qrels[query_id], k) for query_id in chosen
    }
    per_variant = {name: per_query_metrics(runs[name], qrels, METRIC_CUTOFF) for name in VARIANTS}
    per_query = [
        {
            "query_id": query_id,
            "first_stage_recall_at_k": first_stage_recall[query_id],
            "candidates": len(runs["first_stage"][query_id]),
            "variants": {
                name: {
                    **per_variant[name][query_id],
                    f"top_{METRIC_CUTOFF}": runs[name][query_id][:METRIC_CUTOFF],
                    f"top_{RANKING_DEPTH}": runs[name][query_id][:RANKING_DEPTH],
                }
                for name in VARIANTS
            },
            **per_query_speed[query_id],
        }
        for query_id in chosen
    ]
    return EvalReport(
        dataset=dataset.name,
        split=split,
        first_stage=first_stage.name,
        k=k,
        model=reranker.model_name,
        query_ids=chosen,
        metrics=metrics,
        recall_at_k_first_stage=(sum(first_stage_recall.values()) / len(chosen)) if chosen else 0.0,
        speed={
            name: summarize_latency(seconds[name], pairs[name])
            for name in seconds
            if not (reuse_scores and name == "truncate")
        },
        candidates_scored=candidates_scored,
        pairs_per_pass=pairs,
        per_query=per_query,
        retrieval_s=retrieval_s,
        long_protocol=dict(long_protocol) if long_protocol is not None else None,
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
