"""Final ordering of results: threshold, stable sort, top-n."""

from __future__ import annotations

from collections.abc import Sequence

from crossrank.results import RerankResult

__all__ = ["select_top"]


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
