"""When the search may stop measuring a configuration: it is clearly dominated.

A configuration C is pruned when another configuration D, still measured, has on the
queries both have run so far:

1. a mean *and* a p95 latency at most C's,
2. a quality at least C's on every query, or a paired quality difference D - C whose
   bootstrap interval lies wholly at or above 0, and
3. a per-query latency ratio D / C whose (log-scale) paired bootstrap interval lies wholly
   below 1.

Why this cannot remove a configuration that would have been chosen
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
costs little. The reference is never pruned, so ``max_loss`` always has an answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from crossrank.evaluation.comparison import paired_bootstrap_interval
from crossrank.evaluation.latency import percentile
from crossrank.tuning.estimates import log_ratios

__all__ = ["PRUNE_SAMPLES", "dominance"]

PRUNE_SAMPLES = 4_000
"""Bootstrap resamples per pruning test: enough for a 99% interval's 0.5% tails."""


def dominance(
    candidate_seconds: Sequence[float],
    candidate_qualities: Sequence[float],
    other_seconds: Sequence[float],
    other_qualities: Sequence[float],
    *,
    confidence: float = 0.99,
    seed: int = 0,
    samples: int = PRUNE_SAMPLES,
) -> tuple[float, float] | None:
    """Whether ``other`` clearly dominates ``candidate`` (see the module's rule).

    Args:
        candidate_seconds: The candidate's per-query seconds.
        candidate_qualities: The candidate's per-query qualities, same queries.
        other_seconds: The other configuration's seconds on the same queries, same order.
        other_qualities: Its qualities on the same queries.
        confidence: Coverage of the bootstrap intervals.
        seed: Bootstrap seed.
        samples: Bootstrap resamples.

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
    differences = [mine - theirs for mine, theirs in zip(other_qualities, candidate_qualities, strict=True)]
    if min(differences) < 0.0:
        quality_low, _ = paired_bootstrap_interval(
            differences, samples=samples, seed=seed, confidence=confidence
        )
        if quality_low < 0.0:
            return None
    _, ratio_high = paired_bootstrap_interval(ratios, samples=samples, seed=seed, confidence=confidence)
    if ratio_high >= 0.0:
        return None
    return math.exp(mean_ratio), math.exp(ratio_high)
