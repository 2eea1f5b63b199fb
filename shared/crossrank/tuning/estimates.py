"""Summaries of one configuration's per-query measurements, and the Pareto frontier.

Intervals are percentile bootstraps over queries (the unit that varies between a user's
traffic and the sample measured): :func:`crossrank.evaluation.comparison.paired_bootstrap_interval`
for means and paired differences, a resampled nearest-rank percentile for p95. Speed-ups are
geometric means of per-query ratios: a ratio's average should not depend on which side is
the numerator, and one slow outlier query should not dominate it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from crossrank.evaluation.comparison import paired_bootstrap_interval
from crossrank.evaluation.latency import percentile
from crossrank.tuning.records import Configuration, ConfigurationResult, Pruning

__all__ = [
    "BOOTSTRAP_SAMPLES",
    "MIN_SECONDS",
    "log_ratios",
    "pareto_flags",
    "percentile_interval",
    "summarize",
]

BOOTSTRAP_SAMPLES = 10_000
"""Resamples of the reported intervals (pruning uses fewer: it runs after every query)."""

MIN_SECONDS = 1e-9
"""Floor of a measured time in a ratio, so a clock that reads 0 cannot divide by zero."""


def log_ratios(numerator: Sequence[float], denominator: Sequence[float]) -> list[float]:
    """Per-query ``log(numerator / denominator)`` of paired times.

    Args:
        numerator: Seconds per query.
        denominator: Seconds per query, same queries in the same order.

    Returns:
        One log ratio per query; below 0 where the numerator was faster.
    """
    return [
        math.log(max(top, MIN_SECONDS) / max(bottom, MIN_SECONDS))
        for top, bottom in zip(numerator, denominator, strict=True)
    ]


def percentile_interval(
    values: Sequence[float],
    fraction: float,
    *,
    samples: int = 2_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the nearest-rank ``fraction`` percentile.

    Args:
        values: One value per query.
        fraction: In ``(0, 1]``; ``0.95`` for p95.
        samples: Bootstrap resamples.
        seed: Seed of the resampling.
        confidence: Coverage of the interval.

    Returns:
        ``(low, high)``; both the percentile itself when there is one value, ``(0, 0)`` for none.
    """
    import numpy as np

    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return 0.0, 0.0
    rank = max(math.ceil(fraction * data.size) - 1, 0)
    rng = np.random.default_rng(seed)
    estimates = np.empty(samples)
    chunk = max(1, 2_000_000 // data.size)
    for start in range(0, samples, chunk):
        size = min(chunk, samples - start)
        drawn = data[rng.integers(0, data.size, (size, data.size))]
        # The nearest rank of each resample, as crossrank.evaluation.latency.percentile takes it.
        estimates[start : start + size] = np.partition(drawn, rank, axis=1)[:, rank]
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(estimates, [tail, 1.0 - tail])
    return float(low), float(high)


def summarize(
    configuration: Configuration,
    query_ids: Sequence[str],
    seconds: Sequence[float],
    qualities: Sequence[float],
    *,
    reference_seconds: Sequence[float],
    reference_qualities: Sequence[float],
    pruned: Pruning | None,
    is_reference: bool,
    seed: int = 0,
    samples: int = BOOTSTRAP_SAMPLES,
    derived_after: int | None = None,
) -> ConfigurationResult:
    """Summarise one configuration's measurements (``on_frontier`` left False).

    Args:
        configuration: What was measured.
        query_ids: Its queries, in measurement order.
        seconds: Its per-query seconds on the first of them (all, or a timed prefix).
        qualities: Its per-query qualities, one per query.
        reference_seconds: The reference's seconds on the queries ``seconds`` covers, same order.
        reference_qualities: The reference's qualities on the same queries, same order.
        pruned: Its pruning record, if any.
        is_reference: It is the reference.
        seed: Bootstrap seed.
        samples: Bootstrap resamples of the mean intervals.
        derived_after: Timed queries before its rankings were derived (``None``: never).

    Returns:
        The result.

    Raises:
        ValueError: If it has no measured query, no timed one, more timings than queries,
            or qualities not one per query.
    """
    if not query_ids:
        raise ValueError(f"configuration {configuration.name!r} was measured on no query.")
    if not seconds or len(seconds) > len(query_ids) or len(qualities) != len(query_ids):
        raise ValueError(
            f"configuration {configuration.name!r}: {len(seconds)} timings and {len(qualities)} "
            f"qualities for {len(query_ids)} queries; expected 1 to {len(query_ids)} and {len(query_ids)}."
        )
    differences = [mine - theirs for mine, theirs in zip(qualities, reference_qualities, strict=True)]
    speed = log_ratios(reference_seconds, seconds)
    speed_low, speed_high = paired_bootstrap_interval(speed, samples=samples, seed=seed)
    p95_low, p95_high = percentile_interval(seconds, 0.95, seed=seed)
    return ConfigurationResult(
        configuration=configuration,
        query_ids=tuple(query_ids),
        seconds=tuple(float(value) for value in seconds),
        qualities=tuple(float(value) for value in qualities),
        mean_ms=1000.0 * math.fsum(seconds) / len(seconds),
        p50_ms=1000.0 * percentile(seconds, 0.5),
        p95_ms=1000.0 * percentile(seconds, 0.95),
        p95_interval_ms=(1000.0 * p95_low, 1000.0 * p95_high),
        quality=math.fsum(qualities) / len(qualities),
        quality_interval=paired_bootstrap_interval(qualities, samples=samples, seed=seed),
        difference=math.fsum(differences) / len(differences),
        difference_interval=paired_bootstrap_interval(differences, samples=samples, seed=seed),
        speedup=math.exp(statistics.fmean(speed)),
        speedup_interval=(math.exp(speed_low), math.exp(speed_high)),
        pruned=pruned,
        on_frontier=False,
        is_reference=is_reference,
        derived_after=derived_after,
    )


def pareto_flags(points: Sequence[tuple[float, float]]) -> list[bool]:
    """Which ``(latency, quality)`` points are on the Pareto frontier.

    A point is on it when no other point has a latency at most as high and a quality at
    least as good with one of the two strictly better; equal points are all on it.

    Args:
        points: ``(latency, quality)`` pairs; lower latency and higher quality are better.

    Returns:
        One flag per point, in order.
    """
    return [
        not any(
            other_latency <= latency
            and other_quality >= quality
            and (other_latency < latency or other_quality > quality)
            for other_latency, other_quality in points
        )
        for latency, quality in points
    ]
