"""Choosing one configuration from a search: the fastest within a quality loss, or the best within a budget.

Only configurations measured on every query (not pruned) are candidates; pruning removed
only configurations that another beats in both modes (see :mod:`crossrank.tuning.pruning`).

Both modes rank with a total order, so the same measurements always give the same choice,
whatever order the configurations were given in:

* ``max_loss``: mean latency ascending, then mean quality descending, then name.
* ``budget_ms``: mean quality descending, then mean latency ascending, then name.

``max_loss`` ranks by *mean* per-query latency: it is what the machine spends per query
(throughput, cost), and over tens of queries it is measured far more precisely than a p95,
which is then one of the two or three slowest queries. ``budget_ms`` checks the *p95*,
since a latency budget is a promise about the slow queries, not the typical one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crossrank.tuning.records import ConfigurationResult, SearchResult

__all__ = ["Choice", "budget_order", "choose", "loss_order"]

_ROUNDING = 1e-12
"""Slack of the loss gate for float rounding: an identical ranking's difference is 0 +- this."""


@dataclass(frozen=True)
class Choice:
    """The chosen configuration and why.

    Attributes:
        mode: ``"max_loss"`` or ``"budget"``.
        chosen: The chosen configuration's result.
        reason: One paragraph on why this one.
        gate: The check the chosen one passed, with its numbers
            (``"difference -0.0040 >= -0.0100"``, ``"p95 12.0 ms <= 20.0 ms"``).
        eligible: Names of the configurations that passed the gate, best first.
        max_loss: The allowed mean quality loss (``max_loss`` mode), else ``None``.
        budget_ms: The p95 budget in ms (``budget`` mode), else ``None``.
    """

    mode: str
    chosen: ConfigurationResult
    reason: str
    gate: str
    eligible: tuple[str, ...]
    max_loss: float | None = None
    budget_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The choice as a JSON-ready dict (the chosen result without its per-query series)."""
        return {
            "mode": self.mode,
            "max_loss": None if self.max_loss is None else float(self.max_loss),
            "budget_ms": None if self.budget_ms is None else float(self.budget_ms),
            "chosen": self.chosen.name,
            "result": self.chosen.summary_json(),
            "reason": self.reason,
            "gate": self.gate,
            "eligible": list(self.eligible),
        }


def loss_order(result: ConfigurationResult) -> tuple[float, float, str]:
    """Sort key of ``max_loss`` mode: faster first, then better, then by name."""
    return (result.mean_ms, -result.quality, result.name)


def budget_order(result: ConfigurationResult) -> tuple[float, float, str]:
    """Sort key of ``budget_ms`` mode: better first, then faster, then by name."""
    return (-result.quality, result.mean_ms, result.name)


def choose(result: SearchResult, *, budget_ms: float | None = None, max_loss: float | None = None) -> Choice:
    """Choose a configuration: the fastest within ``max_loss``, or the best within ``budget_ms``.

    Args:
        result: A search's result.
        budget_ms: The p95 latency budget in milliseconds: choose the best mean quality
            whose p95 is within it (ties: the faster).
        max_loss: The mean quality loss allowed against the reference: choose the fastest
            (mean latency) whose mean paired difference is at least ``-max_loss``. Every
            configuration passes this measured gate, the lower-precision ones included
            (nothing is assumed lossless); the reference always passes it.

    Returns:
        The choice.

    Raises:
        ValueError: Unless exactly one of ``budget_ms`` and ``max_loss`` is given, if it is
            negative (``max_loss``) or not positive (``budget_ms``), or if no configuration's
            p95 fits the budget (the message names the fastest p95 and the budget).
    """
    if (budget_ms is None) == (max_loss is None):
        raise ValueError(
            "give exactly one of budget_ms (a p95 latency budget) and max_loss (a quality loss)."
        )
    survivors = result.survivors
    if max_loss is not None:
        if not max_loss >= 0.0:
            raise ValueError(f"max_loss must be >= 0, got {max_loss!r}.")
        return _within_loss(result, survivors, max_loss)
    assert budget_ms is not None
    if not budget_ms > 0.0:
        raise ValueError(f"budget_ms must be > 0, got {budget_ms!r}.")
    return _within_budget(result, survivors, budget_ms)


def _within_loss(result: SearchResult, survivors: Sequence[ConfigurationResult], max_loss: float) -> Choice:
    eligible = sorted(
        (r for r in survivors if r.is_reference or r.difference >= -max_loss - _ROUNDING), key=loss_order
    )
    chosen = eligible[0]
    gate = f"difference {chosen.difference:+.4f} >= {-max_loss:+.4f}"
    what = f"mean {result.quality_name}"
    if chosen.is_reference:
        faster = [r for r in survivors if r.mean_ms < chosen.mean_ms]
        if faster:
            closest = max(faster, key=lambda r: (r.difference, -r.mean_ms, r.name))
            why = (
                f"none of the {len(faster)} faster configurations had a {what} {_within(max_loss)} "
                "its own; "
                f"the closest, {closest.name!r}, {_difference(closest)}"
            )
        else:
            why = "no other configuration was faster"
        reason = (
            f"{chosen.name!r}, the reference, over {chosen.queries} queries: {why}. "
            f"Mean {chosen.mean_ms:.1f} ms, p95 {chosen.p95_ms:.1f} ms per query."
        )
        gate = "the reference (loss 0)"
    else:
        reason = (
            f"{chosen.name!r}: the fastest of the {len(eligible)} of {len(survivors)} configurations "
            f"whose {what} is {_within(max_loss)} the reference's ({result.reference!r}): "
            f"{_difference(chosen)} "
            f"over {chosen.queries} queries, {_speed(chosen)} (mean {chosen.mean_ms:.1f} ms vs "
            f"{result.reference_result.mean_ms:.1f} ms, p95 {chosen.p95_ms:.1f} ms). {_precision(chosen)}"
        )
        if chosen.difference_interval[0] < -max_loss:
            reason += (
                f" Its interval reaches below -{max_loss:g}: more queries would tell whether the loss "
                "stays within it."
            )
    reason += _pruned(result)
    return Choice("max_loss", chosen, reason, gate, tuple(r.name for r in eligible), max_loss=max_loss)


def _within_budget(
    result: SearchResult, survivors: Sequence[ConfigurationResult], budget_ms: float
) -> Choice:
    eligible = sorted((r for r in survivors if r.p95_ms <= budget_ms), key=budget_order)
    if not eligible:
        fastest = min(survivors, key=lambda r: (r.p95_ms, r.name))
        raise ValueError(
            f"no configuration's p95 latency fits the budget of {budget_ms:g} ms: the fastest, "
            f"{fastest.name!r}, has a p95 of {fastest.p95_ms:.1f} ms over {fastest.queries} queries."
        )
    chosen = eligible[0]
    low, high = chosen.quality_interval
    p95_low, p95_high = chosen.p95_interval_ms
    reason = (
        f"{chosen.name!r}: the best mean {result.quality_name} of the {len(eligible)} of "
        f"{len(survivors)} configurations whose p95 latency fits {budget_ms:g} ms: "
        f"{chosen.quality:.4f} [{low:.4f}, {high:.4f}] over {chosen.queries} queries "
        f"({_difference(chosen)} vs the reference), p95 {chosen.p95_ms:.1f} ms "
        f"[{p95_low:.1f}, {p95_high:.1f}], {_speed(chosen)}. {_precision(chosen)}"
    )
    tied = [r.name for r in eligible[1:] if r.quality == chosen.quality]
    if tied:
        reason += f" Tied in quality with {', '.join(map(repr, tied))}; the faster was taken."
    if p95_high > budget_ms:
        reason += " Its p95 interval reaches above the budget: on other traffic it may not fit."
    reason += _pruned(result)
    gate = f"p95 {chosen.p95_ms:.1f} ms <= {budget_ms:g} ms"
    return Choice("budget", chosen, reason, gate, tuple(r.name for r in eligible), budget_ms=budget_ms)


def _within(max_loss: float) -> str:
    return "as high as" if max_loss == 0 else f"within {max_loss:g} of"


def _difference(result: ConfigurationResult) -> str:
    low, high = result.difference_interval
    return f"{result.difference:+.4f} [{low:+.4f}, {high:+.4f}]"


def _speed(result: ConfigurationResult) -> str:
    if result.is_reference:
        return "the reference itself"
    timed = "" if result.timed_queries == result.queries else f" on the {result.timed_queries} queries timed"
    if result.speedup >= 1.0:
        return f"{result.speedup:.2f}x faster than the reference{timed}"
    return f"{1.0 / result.speedup:.2f}x slower than the reference{timed}"


def _precision(result: ConfigurationResult) -> str:
    candidates = result.configuration.candidates
    if result.configuration.exact:
        return f"It computes the reference model's fp32 scores, over {candidates} candidates."
    return (
        f"It changes the scores' precision ({candidates} candidates): its loss was measured "
        "like the others', not assumed."
    )


def _pruned(result: SearchResult) -> str:
    count = len(result.results) - len(result.survivors)
    if not count:
        return ""
    return f" {count} configuration{'s were' if count > 1 else ' was'} pruned early as clearly dominated."
