"""What ``crossrank eval`` reports: the variants, their metrics and speed, as JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crossrank.evaluation.latency import LatencySummary

__all__ = [
    "METRIC_CUTOFF",
    "RANKING_DEPTH",
    "RERANK_VARIANTS",
    "SCORING_PASS_OF",
    "VARIANTS",
    "VARIANT_LABELS",
    "EvalReport",
    "query_id_order",
]

VARIANT_LABELS = {
    "first_stage": "first stage",
    "truncate": "truncate",
    "chunk_max": "chunk-max",
    "chunk_max_rrf": "chunk-max + RRF",
}
"""Each variant, in report order, to its label in tables and charts."""
VARIANTS = tuple(VARIANT_LABELS)
RERANK_VARIANTS = ("truncate", "chunk_max", "chunk_max_rrf")
METRIC_CUTOFF = 10
# Ranking depth kept per query in the JSON report: what a cascade's cheap stage must keep.
RANKING_DEPTH = 30
SCORING_PASS_OF = {"truncate": "truncate", "chunk_max": "chunk_max", "chunk_max_rrf": "chunk_max"}
"""The scoring pass each reranking variant's ranking (and so its speed) comes from."""
_REUSED = "chunk_max (first-window scores reused)"


def query_id_order(query_id: str) -> tuple[int, int, str]:
    """Sort key of query ids in reports: numeric ids in numeric order, then the rest alphabetically."""
    return (0, int(query_id), "") if query_id.isdigit() else (1, 0, query_id)


@dataclass(frozen=True)
class EvalReport:
    """The outcome of :func:`~crossrank.evaluation.evaluator.evaluate`.

    Attributes:
        dataset: Dataset name.
        split: The qrels split.
        first_stage: ``"dense"`` or ``"bm25"``.
        k: Candidates per query.
        model: The cross-encoder's name or path.
        query_ids: The evaluated queries, in order.
        metrics: Variant name to mean ``ndcg_at_10``, ``recall_at_10``, ``mrr_at_10``.
        recall_at_k_first_stage: Mean Recall@k of the candidates.
        speed: Scoring pass (``"truncate"``, ``"chunk_max"``) to its latency summary; the
            truncate pass is missing when it reused the chunk-max pass's scores, and both
            are missing when ``untimed`` says why.
        candidates_scored: Scoring pass to the number of candidate documents it reranked.
        pairs_per_pass: Scoring pass to the (query, window) pairs its rankings rest on.
        per_query: One JSON-ready record per query.
        retrieval_s: Seconds spent in the first stage.
        long_protocol: Settings of the long-document protocol, or ``None``.
        untimed: Why no pass of this report was timed (a cascade ranked from its single
            stage's cached window scores), or ``None``.
        single_stage: The same candidates ranked by the cascade's fine model alone, in the
            same run, when it was asked for; ``None`` otherwise.
    """

    dataset: str
    split: str
    first_stage: str
    k: int
    model: str
    query_ids: list[str]
    metrics: dict[str, dict[str, float]]
    recall_at_k_first_stage: float
    speed: dict[str, LatencySummary]
    candidates_scored: dict[str, int]
    pairs_per_pass: dict[str, int]
    per_query: list[dict[str, Any]] = field(repr=False)
    retrieval_s: float = 0.0
    long_protocol: dict[str, Any] | None = None
    untimed: str | None = None
    single_stage: EvalReport | None = field(default=None, repr=False)

    def to_json(self, *, include_per_query: bool = True) -> dict[str, Any]:
        """The report as the JSON document ``crossrank eval --json`` writes.

        Args:
            include_per_query: Add the ``"per_query"`` list.

        Returns:
            ``{"dataset", "split", "first_stage", "k", "queries", "model", "long",
            "variants": {name: {...}}, "recall_at_k_first_stage", ...}``, with
            ``"single_stage"`` (the same document for the single stage) when it was run.
        """
        variants: dict[str, dict[str, Any]] = {
            "first_stage": {**self.metrics["first_stage"], "recall_at_k": self.recall_at_k_first_stage}
        }
        for name in RERANK_VARIANTS:
            scoring_pass = SCORING_PASS_OF[name]
            speed = self.speed.get(scoring_pass)
            candidates = self.candidates_scored[scoring_pass]
            pairs = self.pairs_per_pass[scoring_pass]
            variants[name] = {
                **self.metrics[name],
                "median_latency_ms": speed.median_ms if speed else None,
                "p95_latency_ms": speed.p95_ms if speed else None,
                "pairs_per_s": speed.pairs_per_s if speed else None,
                "pairs_scored": pairs,
                "windows_per_document": pairs / candidates if candidates else 0.0,
                "scoring_pass": scoring_pass if speed else (self.untimed or _REUSED),
            }
        document: dict[str, Any] = {
            "dataset": self.dataset,
            "split": self.split,
            "first_stage": self.first_stage,
            "k": self.k,
            "queries": len(self.query_ids),
            "model": self.model,
            "long": self.long_protocol is not None,
            "variants": variants,
            "recall_at_k_first_stage": self.recall_at_k_first_stage,
            "long_protocol": self.long_protocol,
            "seconds": {
                "retrieval": self.retrieval_s,
                **{f"rerank_{name}": summary.total_s for name, summary in self.speed.items()},
            },
        }
        if self.untimed is not None:
            document["untimed"] = self.untimed
        if self.single_stage is not None:
            document["single_stage"] = self.single_stage.to_json(include_per_query=include_per_query)
        if include_per_query:
            document["per_query"] = self.per_query
        return document
