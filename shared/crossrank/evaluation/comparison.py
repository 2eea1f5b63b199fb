"""Paired comparison of two evaluations of the same queries and candidates.

Two ``crossrank eval`` reports over the same dataset, split, first stage, ``k`` and queries
(for example fp32 against a speed option, a teacher against its student, a base model
against its fine-tuned version) are compared query by query: the mean NDCG@10 difference
with a 95% paired bootstrap confidence interval, the share of queries whose top 10
changed, and how much of the baseline's top 10 the candidate keeps in its top 30 (what a
cascade's cheap first stage must keep).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from crossrank.evaluation.metrics import top_k_agreement

__all__ = ["COMPARED_FIELDS", "PairedDifference", "compare_reports", "paired_bootstrap_interval"]

COMPARED_FIELDS = ("dataset", "split", "first_stage", "k", "long")
"""Report fields that must match for a paired comparison to mean anything."""


@dataclass(frozen=True)
class PairedDifference:
    """One variant's paired comparison.

    Attributes:
        variant: ``"truncate"``, ``"chunk_max"`` or ``"chunk_max_rrf"``.
        queries: Queries compared.
        baseline_ndcg: Mean NDCG@10 of the baseline.
        candidate_ndcg: Mean NDCG@10 of the candidate.
        difference: Mean per-query difference, candidate minus baseline.
        ci_low: Lower end of the 95% paired bootstrap interval of ``difference``.
        ci_high: Upper end of that interval.
        top_10_changed: Share of queries whose ordered top 10 differs.
        baseline_top_10_in_candidate_top_30: Mean share of the baseline's top 10 that the
            candidate ranks within its top 30; ``None`` when a report predates the top-30
            records.
    """

    variant: str
    queries: int
    baseline_ndcg: float
    candidate_ndcg: float
    difference: float
    ci_low: float
    ci_high: float
    top_10_changed: float
    baseline_top_10_in_candidate_top_30: float | None

    def to_json(self) -> dict[str, Any]:
        """The comparison as a JSON-ready dict."""
        return asdict(self)


def paired_bootstrap_interval(
    differences: Sequence[float], *, samples: int = 10_000, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of paired per-query differences.

    Args:
        differences: One difference per query.
        samples: Bootstrap resamples of the queries.
        seed: Seed of the resampling, so a report is reproducible.
        confidence: Coverage of the interval.

    Returns:
        ``(low, high)``; ``(0.0, 0.0)`` for no queries.

    Raises:
        ValueError: If ``samples`` is not positive or ``confidence`` not in (0, 1).
    """
    import numpy as np

    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be a positive integer, got {samples!r}.")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}.")
    values = np.asarray(differences, dtype=np.float64)
    if values.size == 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = np.empty(samples)
    # In chunks: 10,000 resamples of 300 queries is 3 million draws, fine; of 30,000 it is not.
    chunk = max(1, 2_000_000 // values.size)
    for start in range(0, samples, chunk):
        size = min(chunk, samples - start)
        means[start : start + size] = values[rng.integers(0, values.size, (size, values.size))].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def compare_reports(
    baseline: Mapping[str, Any],
    candidate: Mapping[str, Any],
    *,
    variants: Sequence[str] = ("truncate", "chunk_max", "chunk_max_rrf"),
    samples: int = 10_000,
    seed: int = 0,
    shared_only: bool = False,
    baseline_variant: str | None = None,
) -> list[PairedDifference]:
    """Compare two ``crossrank eval --json`` reports query by query.

    Args:
        baseline: The reference report (its ``per_query`` records are needed).
        candidate: The report compared with it.
        variants: The reranking variants to compare.
        samples: Bootstrap resamples.
        seed: Bootstrap seed.
        shared_only: Compare the queries both reports hold (a ``--limit`` run against a
            full one) instead of refusing reports of different queries.
        baseline_variant: Compare every variant with this one of the baseline (for
            example ``"first_stage"``: a report against its own retriever) instead of
            with the same variant.

    Returns:
        One comparison per variant.

    Raises:
        ValueError: If the reports differ in dataset, split, first stage, ``k`` or
            protocol, lack per-query records, or do not hold the same queries.
    """
    for name in COMPARED_FIELDS:
        if baseline.get(name) != candidate.get(name):
            raise ValueError(
                f"the reports differ in {name}: {baseline.get(name)!r} vs {candidate.get(name)!r}; "
                "compare runs of the same dataset, split, first stage, k and protocol."
            )
    rows = {}
    for label, report in (("baseline", baseline), ("candidate", candidate)):
        if not report.get("per_query"):
            raise ValueError(
                f"the {label} report has no per_query records; write it with crossrank eval --json."
            )
        rows[label] = {row["query_id"]: row for row in report["per_query"]}
    if shared_only:
        shared = set(rows["baseline"]) & set(rows["candidate"])
        if not shared:
            raise ValueError("the reports hold no query in common.")
        rows = {label: {q: row for q, row in table.items() if q in shared} for label, table in rows.items()}
    if set(rows["baseline"]) != set(rows["candidate"]):
        only = sorted(set(rows["baseline"]) ^ set(rows["candidate"]))
        raise ValueError(
            f"the reports hold different queries ({len(only)} in one only, e.g. {only[:3]}); "
            "run both with the same --limit, or compare the shared ones (shared_only=True, --shared-queries)."
        )
    query_ids = list(rows["baseline"])
    comparisons = []
    for variant in variants:
        reference = baseline_variant or variant
        base = [rows["baseline"][query_id]["variants"][reference] for query_id in query_ids]
        cand = [rows["candidate"][query_id]["variants"][variant] for query_id in query_ids]
        differences = [c["ndcg_at_10"] - b["ndcg_at_10"] for b, c in zip(base, cand, strict=True)]
        low, high = paired_bootstrap_interval(differences, samples=samples, seed=seed)
        count = len(query_ids) or 1
        deep = all("top_30" in row for row in base + cand)
        kept = (
            sum(top_k_agreement(b["top_30"], c["top_30"]) for b, c in zip(base, cand, strict=True)) / count
            if deep
            else None
        )
        comparisons.append(
            PairedDifference(
                variant=variant,
                queries=len(query_ids),
                baseline_ndcg=sum(b["ndcg_at_10"] for b in base) / count,
                candidate_ndcg=sum(c["ndcg_at_10"] for c in cand) / count,
                difference=sum(differences) / count,
                ci_low=low,
                ci_high=high,
                top_10_changed=sum(b["top_10"] != c["top_10"] for b, c in zip(base, cand, strict=True))
                / count,
                baseline_top_10_in_candidate_top_30=kept,
            )
        )
    return comparisons
