"""Grouping scoring pairs into length-sorted batches under a token budget."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["plan_batches"]


def plan_batches(
    lengths: Sequence[int],
    batch_size: int,
    max_tokens_per_batch: int,
) -> list[list[int]]:
    """Group items into batches, longest first, bounded by count and padded tokens.

    Sorting by length keeps padding small (each batch pads to its own longest item).
    A batch holds at most ``batch_size`` items and at most ``max_tokens_per_batch``
    padded tokens (items x longest item), except that one item alone always forms a
    batch, whatever its length.

    Args:
        lengths: Token length of each item.
        batch_size: Maximum items per batch.
        max_tokens_per_batch: Maximum padded tokens per batch.

    Returns:
        Batches of item indices; every index appears exactly once.

    Raises:
        ValueError: If ``batch_size`` or ``max_tokens_per_batch`` is below 1.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}.")
    if max_tokens_per_batch < 1:
        raise ValueError(f"max_tokens_per_batch must be a positive integer, got {max_tokens_per_batch}.")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for item in order:
        # Sorted descending, so the batch's first item fixes its padded length.
        candidate_longest = max(longest, lengths[item])
        fits = len(current) < batch_size and (len(current) + 1) * candidate_longest <= max_tokens_per_batch
        if current and not fits:
            batches.append(current)
            current, candidate_longest = [], lengths[item]
        current.append(item)
        longest = candidate_longest
    if current:
        batches.append(current)
    return batches
