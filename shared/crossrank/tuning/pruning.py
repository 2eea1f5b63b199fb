"""When the search may stop measuring a configuration: it is clearly dominated.

A configuration C is pruned when another configuration D, still measured, has on the
queries both have run so far:

1. a mean *and* a p95 latency at most C's,
2. a quality at least as good, in one of two ways:

   * D is *faithful* to C: D is exact and reranks at least C's candidates, and D's quality
     was at least C's on every query so far. For top-10 agreement this holds on every query
     by construction (D's ranking is the reference's restricted to a superset of C's
     candidates, so it keeps every reference top-10 document C keeps). This reads
     ``exact=True`` as "ranks its candidates exactly as the reference does": a configuration
     that caps windows or cascades through a coarse model should say ``exact=False``; or
   * the paired quality difference D - C has a bootstrap interval wholly above 0.

3. a per-query latency ratio D / C whose (log-scale) paired bootstrap interval lies wholly
   below 1.

Why identical qualities alone are not enough: an int8 model often keeps the top 10 on the
first ten queries and changes it on the twelfth; had it pruned a slower exact configuration
on that evidence, ``max_loss=0`` would later find the int8 one over the gate and fall back
to the reference. A bootstrap cannot see a rare event that has not happened yet, so
without structure a tie is not evidence; with structure (faithfulness) it needs none.

Why this does not remove a configuration that would have been chosen
(:func:`crossrank.tuning.selection.choose`), on the data measured so far:

* ``max_loss`` mode picks the lowest mean latency among configurations whose quality
  difference to the reference is at least ``-max_loss``. D's difference is C's plus a mean
  that is >= 0 (2), so D passes every loss gate C passes, and it is faster (1, 3): C loses.
* ``budget_ms`` mode picks the best quality among configurations whose p95 is within the
  budget. D's p95 is at most C's (1), so D fits every budget C fits, with a quality at least
  C's (2) and a lower mean latency for the tie-break (1): C loses.
* The relation is transitive, so pruning several configurations at once (D pruned by E
  while C is pruned by D) keeps the property: E beats C.

What remains is the chance that more queries would have reversed a difference. Conditions
2 and 3 ask for confidence intervals (99% by default, since the test is repeated after every
query and across every pair) over queries, which is where that chance lies; they are paired,
so slow drift of the machine cancels. A reversal is then only plausible between two
configurations that are nearly equal in both speed and quality, where choosing either
costs little. And a wrong prune can only cost speed, never a promise: the chosen
configuration's loss gate or budget is checked on its own full measurements. The reference
is never pruned, so ``max_loss`` always has an answer. The percentile bootstrap is too
narrow on a handful of queries: keep ``min_queries`` at 10 or more.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from crossrank.evaluation.comparison import paired_bootstrap_interval
from crossrank.evaluation.latency import percentile
from crossrank.log import logger
from crossrank.tuning.estimates import log_ratios
from crossrank.tuning.records import Configuration, Pruning

__all__ = ["PRUNE_SAMPLES", "Interval", "Resampler", "dominance", "faithful", "prune_dominated"]

PRUNE_SAMPLES = 4_000
"""Bootstrap resamples per pruning test: enough for a 99% interval's 0.5% tails."""

Interval = Callable[[Sequence[float]], tuple[float, float]]
"""Per-query values -> the bootstrap interval of their mean."""


class Resampler:
    """Bootstrap intervals of means that share one set of resamples of the queries.

    A pruning check tests every pair of configurations on the same queries: drawing the
    resamples once, as a matrix of how often each query is drawn, turns each interval into
    one matrix-vector product instead of a fresh draw per pair (the check runs after every
    query). Past :attr:`LIMIT` query draws it falls back to
    :func:`~crossrank.evaluation.comparison.paired_bootstrap_interval`, which works in chunks.
    """

    LIMIT = 8_000_000
    """Most ``samples x queries`` counts held in memory (32 MB of float32)."""

    def __init__(
        self, queries: int, *, samples: int = PRUNE_SAMPLES, seed: int = 0, confidence: float = 0.99
    ):
        self.queries = queries
        self.samples = samples
        self.seed = seed
        self.confidence = confidence
        self._counts: Any = None

    def __call__(self, values: Sequence[float]) -> tuple[float, float]:
        """The ``confidence`` bootstrap interval of the mean of ``values`` (one per query)."""
        import numpy as np

        if len(values) != self.queries:
            raise ValueError(f"expected {self.queries} values, got {len(values)}.")
        if self.samples * self.queries > self.LIMIT:
            return paired_bootstrap_interval(
                values, samples=self.samples, seed=self.seed, confidence=self.confidence
            )
        if self._counts is None:
            rng = np.random.default_rng(self.seed)
            drawn = rng.integers(0, self.queries, (self.samples, self.queries))
            drawn += np.arange(self.samples)[:, None] * self.queries
            flat = np.bincount(drawn.ravel(), minlength=self.samples * self.queries)
            counts = flat.reshape(self.samples, self.queries).T  # queries x samples
            self._counts = np.ascontiguousarray(counts, dtype=np.float32)
        # einsum, not `@`: BLAS would start threads that spin on, beside the next timed
        # rerank, and on a busy machine it was ten times slower for these small products.
        means = np.einsum("q,qs->s", np.asarray(values, dtype=np.float32), self._counts) / self.queries
        tail = (1.0 - self.confidence) / 2.0
        low, high = np.quantile(means, [tail, 1.0 - tail])
        return float(low), float(high)


def dominance(
    candidate_seconds: Sequence[float],
    candidate_qualities: Sequence[float],
    other_seconds: Sequence[float],
    other_qualities: Sequence[float],
    *,
    faithful: bool,
    confidence: float = 0.99,
    seed: int = 0,
    samples: int = PRUNE_SAMPLES,
    interval: Interval | None = None,
) -> tuple[float, float] | None:
    """Whether ``other`` clearly dominates ``candidate`` (see the module's rule).

    Args:
        candidate_seconds: The candidate's per-query seconds.
        candidate_qualities: The candidate's per-query qualities, same queries.
        other_seconds: The other configuration's seconds on the same queries, same order.
        other_qualities: Its qualities on the same queries.
        faithful: The other configuration is exact and reranks at least the candidate's
            candidates, so a quality at least the candidate's on every query counts.
        confidence: Coverage of the bootstrap intervals.
        seed: Bootstrap seed.
        samples: Bootstrap resamples.
        interval: Computes the bootstrap interval of a mean instead (a :class:`Resampler`
            shared by all pairs of one check); by default
            :func:`~crossrank.evaluation.comparison.paired_bootstrap_interval`.

    Returns:
        ``(ratio, ratio_high)``, the geometric mean of the latency ratio other / candidate
        and its interval's upper end, when ``other`` dominates; ``None`` when it does not.
    """
    if not candidate_seconds:
        return None
    # Cheap, observed conditions first: most pairs fail here, without a bootstrap.
    if math.fsum(other_seconds) > math.fsum(candidate_seconds):
        return None
    if percentile(other_seconds, 0.95) > percentile(candidate_seconds, 0.95):
        return None
    ratios = log_ratios(other_seconds, candidate_seconds)
    mean_ratio = math.fsum(ratios) / len(ratios)
    if mean_ratio >= 0.0:
        return None
    if interval is None:
        interval = partial(paired_bootstrap_interval, samples=samples, seed=seed, confidence=confidence)
    differences = [mine - theirs for mine, theirs in zip(other_qualities, candidate_qualities, strict=True)]
    if not (faithful and min(differences) >= 0.0):
        if math.fsum(differences) <= 0.0:
            return None  # an interval wholly above 0 needs a mean above 0
        quality_low, _ = interval(differences)
        if quality_low <= 0.0:
            return None
    _, ratio_high = interval(ratios)
    if ratio_high >= 0.0:
        return None
    return math.exp(mean_ratio), math.exp(ratio_high)


def faithful(other: Configuration, candidate: Configuration) -> bool:
    """``other`` is exact and reranks at least ``candidate``'s candidates.

    Then ``other``'s ranking is the reference's restricted to a superset of ``candidate``'s
    candidates: its top-10 agreement with the reference is at least ``candidate``'s on every
    query, so a tie observed so far is a tie by construction, not by luck.
    """
    return other.exact and other.candidates >= candidate.candidates


def prune_dominated(
    configurations: Mapping[str, Configuration],
    alive: Sequence[str],
    reference: str,
    seconds: Mapping[str, Sequence[float]],
    qualities: Mapping[str, Sequence[float]],
    *,
    confidence: float = 0.99,
    seed: int = 0,
) -> dict[str, Pruning]:
    """The configurations alive now that another alive one clearly dominates.

    Args:
        configurations: Every configuration by name.
        alive: The names still measured; all have a quality on the same queries, and a
            latency on a prefix of them (the timed ones).
        reference: The reference's name, never pruned.
        seconds: Per-query seconds by name, on the queries each was timed on (first ones).
        qualities: Per-query qualities by name, on every query so far.
        confidence: Coverage of the bootstrap intervals.
        seed: Bootstrap seed.

    Returns:
        The pruned names, each with its record; the fastest dominating configuration is
        the one named.
    """
    # Against the survivors at the start of this check: dominance is transitive on the
    # measured data, so pruning several at once is as safe as one by one. Latency is per
    # query timed (a configuration whose rankings are derived was timed on a prefix only).
    fastest_first = sorted(alive, key=lambda name: (statistics.fmean(seconds[name]), name))
    pruned: dict[str, Pruning] = {}
    resamplers: dict[int, Resampler] = {}

    def interval(values: Sequence[float]) -> tuple[float, float]:
        # One set of resamples per sample size: qualities cover every query so far, latency
        # ratios the queries both configurations were timed on.
        resampler = resamplers.get(len(values))
        if resampler is None:
            resampler = resamplers[len(values)] = Resampler(len(values), seed=seed, confidence=confidence)
        return resampler(values)

    for name in sorted(alive):
        if name == reference:
            continue
        for other in fastest_first:
            if other == name:
                continue
            timed = min(len(seconds[name]), len(seconds[other]))
            found = dominance(
                seconds[name][:timed],
                qualities[name],
                seconds[other][:timed],
                qualities[other],
                faithful=faithful(configurations[other], configurations[name]),
                interval=interval,
            )
            if found is not None:
                pruned[name] = Pruning(len(qualities[name]), other, found[0], found[1])
                logger.info(
                    "tune: pruned %r after %d queries: dominated by %r (latency ratio %.2f).",
                    name,
                    len(qualities[name]),
                    other,
                    found[0],
                )
                break
    return pruned
