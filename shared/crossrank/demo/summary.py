"""What the demo's reranking did: each built-in query's verdict, and their totals over the run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from crossrank.demo.runner import DemoQueryReport

__all__ = ["DemoSummary", "QueryOutcome", "Verdict", "query_verdict", "summarize", "verdict"]

Verdict = Literal["helped", "hurt", "unchanged"]

# NDCG is a float sum: two orders of the same documents may differ in the last bits.
_TOLERANCE = 1e-9


def verdict(before: float, after: float) -> Verdict:
    """Whether the final ranking beat the first stage, by a metric where higher is better.

    Args:
        before: The first stage's value (vector search).
        after: The final ranking's value.
    """
    if after > before + _TOLERANCE:
        return "helped"
    if after < before - _TOLERANCE:
        return "hurt"
    return "unchanged"


def query_verdict(report: DemoQueryReport) -> Verdict | None:
    """A query's verdict by its NDCG before and after (``None``: a query without labels)."""
    if report.ndcg_vector is None or report.ndcg_reranked is None:
        return None
    return verdict(report.ndcg_vector, report.ndcg_reranked)


@dataclass(frozen=True)
class QueryOutcome:
    """One labelled query's NDCG before and after, and the verdict they give."""

    query: str
    ndcg_vector: float
    ndcg_reranked: float
    verdict: Verdict


@dataclass(frozen=True)
class DemoSummary:
    """The demo's run over its labelled (built-in) queries, as one verdict per query and means.

    Attributes:
        k: The NDCG cut-off (the results shown per query).
        outcomes: One per labelled query, in run order.
    """

    k: int
    outcomes: tuple[QueryOutcome, ...]

    def count(self, which: Verdict) -> int:
        """How many queries got the verdict ``which``."""
        return sum(1 for outcome in self.outcomes if outcome.verdict == which)

    def queries_that(self, which: Verdict) -> list[QueryOutcome]:
        """The queries with the verdict ``which``, in run order."""
        return [outcome for outcome in self.outcomes if outcome.verdict == which]

    @property
    def ndcg_vector(self) -> float:
        """Mean NDCG@k of the vector-search order."""
        return sum(outcome.ndcg_vector for outcome in self.outcomes) / len(self.outcomes)

    @property
    def ndcg_reranked(self) -> float:
        """Mean NDCG@k of the final (reranked, and fused where RRF is on) order."""
        return sum(outcome.ndcg_reranked for outcome in self.outcomes) / len(self.outcomes)

    @property
    def verdict(self) -> Verdict:
        """The verdict of the means."""
        return verdict(self.ndcg_vector, self.ndcg_reranked)


def summarize(reports: Sequence[DemoQueryReport], k: int) -> DemoSummary | None:
    """The verdicts and mean NDCG@k over the labelled queries (``None``: no labelled query ran).

    Args:
        reports: The demo's reports; queries of the user's own (no labels) are left out.
        k: The NDCG cut-off the reports were measured at.
    """
    outcomes = tuple(
        QueryOutcome(report.query, before, after, verdict(before, after))
        for report in reports
        if (before := report.ndcg_vector) is not None and (after := report.ndcg_reranked) is not None
    )
    return DemoSummary(k=k, outcomes=outcomes) if outcomes else None
