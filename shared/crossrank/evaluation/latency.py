"""Summarising timed reranking calls: median and p95 latency, pairs per second."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["LatencySummary", "percentile", "summarize_latency"]


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Speed of one configuration over many timed calls.

    Attributes:
        calls: How many calls were timed.
        pairs: (query, window) pairs the model scored over all those calls.
        total_s: Wall-clock seconds of all calls together.
        median_ms: Median latency of one call, in milliseconds.
        p95_ms: 95th-percentile latency of one call (nearest rank), in milliseconds.
        pairs_per_s: ``pairs / total_s``.
    """

    calls: int
    pairs: int
    total_s: float
    median_ms: float
    p95_ms: float
    pairs_per_s: float


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest value with ``fraction`` of values at or below it.

    Args:
        values: The samples, in any order.
        fraction: In ``(0, 1]``; ``0.95`` for p95.

    Returns:
        One of the samples.

    Raises:
        ValueError: If ``values`` is empty or ``fraction`` is outside ``(0, 1]``.

    Example:
        >>> percentile([4.0, 1.0, 3.0, 2.0], 0.5)
        2.0
    """
    if not values:
        raise ValueError("percentile needs at least one value, got an empty sequence.")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}.")
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


def summarize_latency(seconds: Sequence[float], pairs: int) -> LatencySummary:
    """Summarise per-call latencies and the pairs those calls scored.

    Args:
        seconds: Wall-clock seconds of each call.
        pairs: Total (query, window) pairs scored by all the calls.

    Returns:
        The summary; all zeros when no call was timed.

    Example:
        >>> summarize_latency([0.1, 0.3], pairs=8).pairs_per_s
        20.0
    """
    if not seconds:
        return LatencySummary(calls=0, pairs=pairs, total_s=0.0, median_ms=0.0, p95_ms=0.0, pairs_per_s=0.0)
    total = math.fsum(seconds)
    return LatencySummary(
        calls=len(seconds),
        pairs=pairs,
        total_s=total,
        median_ms=1000.0 * statistics.median(seconds),
        p95_ms=1000.0 * percentile(seconds, 0.95),
        pairs_per_s=pairs / total if total > 0 else 0.0,
    )
