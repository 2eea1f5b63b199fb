"""The final ranking: fusion with the retrieval ranking, threshold, stable sort, top-n."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from crossrank.ranking.fusion import ranks_by_score, reciprocal_rank_fusion
from crossrank.ranking.window_scoring import TextScore
from crossrank.results import RerankResult

__all__ = ["rank_documents", "retrieval_ranks", "select_top"]


def select_top(
    results: Sequence[RerankResult],
    top_n: int | None,
    score_threshold: float | None,
) -> list[RerankResult]:
    """Drop results under the threshold, sort by score, keep the best ``top_n``.

    Sorting is by descending ``score`` with ties broken by input ``index``, so equal
    scores keep the order the candidates came in.

    Args:
        results: Scored results, in any order.
        top_n: How many to keep, or ``None`` for all.
        score_threshold: Minimum final score to keep (inclusive), or ``None``.

    Returns:
        The selected results, best first.
    """
    kept = [r for r in results if score_threshold is None or r.score >= score_threshold]
    kept.sort(key=lambda r: (-r.score, r.index))
    return kept if top_n is None else kept[:top_n]


def retrieval_ranks(count: int, retrieval_scores: Sequence[float] | None) -> list[int]:
    """1-based retrieval rank of each of ``count`` candidates: by score, or input order without scores."""
    return list(range(1, count + 1)) if retrieval_scores is None else ranks_by_score(retrieval_scores)


def rank_documents(
    documents: Sequence[str],
    text_scores: Mapping[str, TextScore],
    retrieval_scores: Sequence[float] | None,
    *,
    fusion: str | None,
    rrf_k: float,
    rrf_weights: tuple[float, float],
    top_n: int | None,
    score_threshold: float | None,
) -> list[RerankResult]:
    """One result per document (fused with the retrieval ranking when asked), then selected.

    Args:
        documents: The candidates, in the retriever's order.
        text_scores: Each distinct text's best-window score.
        retrieval_scores: The retriever's scores (they define the retrieval rank), or ``None``
            for input order.
        fusion: ``"rrf"`` or ``None``.
        rrf_k: The RRF constant.
        rrf_weights: ``(cross_encoder, retrieval)`` RRF weights.
        top_n: How many to keep, or ``None``.
        score_threshold: Minimum final score, or ``None``.

    Returns:
        The results, best first.
    """
    ce_scores = [text_scores[text].score for text in documents]
    ranks = retrieval_ranks(len(documents), retrieval_scores)
    final_scores = (
        reciprocal_rank_fusion(ranks_by_score(ce_scores), ranks, k=rrf_k, weights=rrf_weights)
        if fusion == "rrf"
        else ce_scores
    )
    results = [
        RerankResult(
            index=index,
            score=float(final_scores[index]),
            cross_encoder_score=float(ce_scores[index]),
            retrieval_rank=ranks[index],
            retrieval_score=None if retrieval_scores is None else float(retrieval_scores[index]),
            num_windows=text_scores[text].num_windows,
            window_index=text_scores[text].window_index,
            window_span=text_scores[text].window_span,
        )
        for index, text in enumerate(documents)
    ]
    return select_top(results, top_n=top_n, score_threshold=score_threshold)
