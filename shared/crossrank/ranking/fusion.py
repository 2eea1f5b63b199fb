"""Reciprocal Rank Fusion of two rankings (Cormack, Clarke and Buettcher, 2009)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["ranks_by_score", "reciprocal_rank_fusion"]


def ranks_by_score(scores: Sequence[float]) -> list[int]:
    """1-based ranks by descending score; ties keep input order.

    Args:
        scores: One score per item.

    Returns:
        ``ranks[i]`` is the rank of item ``i`` (1 = best).
    """
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    ranks = [0] * len(scores)
    for position, item in enumerate(order, start=1):
        ranks[item] = position
    return ranks


def reciprocal_rank_fusion(
    cross_encoder_ranks: Sequence[int],
    retrieval_ranks: Sequence[int],
    k: float = 60.0,
    weights: tuple[float, float] = (1.0, 1.0),
) -> list[float]:
    """Fuse two 1-based rankings: ``w_ce / (k + rank_ce) + w_ret / (k + rank_ret)``.

    Args:
        cross_encoder_ranks: 1-based rank of each item by the cross-encoder.
        retrieval_ranks: 1-based rank of each item by the first stage.
        k: The RRF constant; 60 in the original paper.
        weights: ``(cross_encoder_weight, retrieval_weight)``.

    Returns:
        The fused score of each item (higher is better).

    Raises:
        ValueError: If the rankings differ in length, ``k`` is negative or a weight
            is negative.
    """
    if len(cross_encoder_ranks) != len(retrieval_ranks):
        raise ValueError(
            f"Both rankings must have one rank per item, got {len(cross_encoder_ranks)} "
            f"and {len(retrieval_ranks)}."
        )
    if k < 0:
        raise ValueError(f"rrf_k must be >= 0, got {k}.")
    cross_encoder_weight, retrieval_weight = weights
    if cross_encoder_weight < 0 or retrieval_weight < 0:
        raise ValueError(f"rrf_weights must both be >= 0, got {weights}.")
    return [
        cross_encoder_weight / (k + ce_rank) + retrieval_weight / (k + ret_rank)
        for ce_rank, ret_rank in zip(cross_encoder_ranks, retrieval_ranks, strict=True)
    ]
