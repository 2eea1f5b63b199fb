"""``rerank_depth``: rerank only the retriever's first candidates, as if it had returned fewer."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from crossrank.ranking.selection import retrieval_ranks
from crossrank.results import RerankResult

__all__ = ["depth_indices", "restore_indices"]


def depth_indices(
    count: int, retrieval_scores: Sequence[float] | None, depth: int | None
) -> list[int] | None:
    """The input positions of the first ``depth`` candidates by retrieval rank, in input order.

    Args:
        count: How many candidates came in.
        retrieval_scores: The retriever's scores (they define the retrieval rank), or
            ``None`` for input order.
        depth: The ``rerank_depth`` option; ``None`` keeps every candidate.

    Returns:
        ``None`` when every candidate is kept, else the kept positions, ascending.
    """
    if depth is None or count <= depth:
        return None
    ranks = retrieval_ranks(count, retrieval_scores)
    return [index for index in range(count) if ranks[index] <= depth]


def restore_indices(results: Sequence[RerankResult], kept: Sequence[int]) -> list[RerankResult]:
    """Results over the kept candidates, with ``index`` pointing into the caller's full list again.

    The kept candidates are the retriever's first ones, so their retrieval ranks within
    the kept list are their ranks in the full list: only ``index`` changes.
    """
    return [dataclasses.replace(result, index=kept[result.index]) for result in results]
