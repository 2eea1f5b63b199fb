"""One ``crossrank eval`` report from the reports of its parts (``--offset``/``--limit`` runs).

A long evaluation (all 300 SciFact claims on the long-document protocol take hours on a
small CPU) can run in parts, each a report of its own queries. Every mean in the joined
report is recomputed from the per-query records, so it equals what one run over all the
queries reports; parts that differ in anything that shapes the numbers are refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from crossrank.evaluation.latency import summarize_latency
from crossrank.evaluation.metrics import metric_names
from crossrank.evaluation.report import (
    METRIC_CUTOFF,
    RERANK_VARIANTS,
    SCORING_PASS_OF,
    VARIANTS,
    query_id_order,
)

__all__ = ["SAME_IN_EVERY_PART", "merge_reports"]

SAME_IN_EVERY_PART = (
    "dataset",
    "split",
    "first_stage",
    "k",
    "model",
    "long",
    "long_protocol",
    "backend",
    "options",
    "untimed",
)
"""Report fields every part must share: they decide what the numbers mean."""
# What the machine record may differ in between parts without the timings meaning something else.
_MACHINE_MAY_DIFFER = ("load_average_1m", "load_average_1m_end")
_METRICS = metric_names(METRIC_CUTOFF)


def merge_reports(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Join the reports of disjoint sets of queries into the report of all of them.

    Args:
        parts: ``crossrank eval --json`` documents with ``per_query`` records, each of
            other queries; a part's ``single_stage`` report (``--against-single-stage``)
            is joined too.

    Returns:
        One report: per-query records in query order, every mean, pair count and
        latency recomputed over all queries, ``seconds`` summed, and ``parts`` saying
        how many were joined. A part's ``comparison`` is not carried over (it covers
        that part only); compare the joined reports again.

    Raises:
        ValueError: If fewer than two parts are given, a part lacks per-query records,
            the parts differ in a field of :data:`SAME_IN_EVERY_PART` or in the machine
            they were timed on, or two parts hold the same query.
    """
    if len(parts) < 2:
        raise ValueError(f"merging needs at least two reports, got {len(parts)}.")
    for index, part in enumerate(parts):
        if not part.get("per_query"):
            raise ValueError(
                f"report {index + 1} has no per_query records; write it with crossrank eval --json."
            )
    for name in SAME_IN_EVERY_PART:
        values = [part.get(name) for part in parts]
        other = next((value for value in values if value != values[0]), values[0])
        if other != values[0]:
            raise ValueError(
                f"the reports differ in {name} ({values[0]!r} vs {other!r}); "
                "only parts of one evaluation, run with the same settings, can be merged."
            )
    machine = _same_machine(parts)
    rows = _joined_rows(parts)
    document: dict[str, Any] = {name: parts[0].get(name) for name in SAME_IN_EVERY_PART if name in parts[0]}
    document["queries"] = len(rows)
    document["variants"] = _variants(parts, rows)
    document["recall_at_k_first_stage"] = document["variants"]["first_stage"]["recall_at_k"]
    document["seconds"] = _summed_seconds(parts)
    if machine is not None:
        document["machine"] = machine
    document["parts"] = len(parts)
    singles = [part.get("single_stage") for part in parts]
    if any(single is not None for single in singles):
        if not all(single is not None for single in singles):
            raise ValueError(
                "some reports carry a single_stage report (--against-single-stage) and some do not; "
                "merge parts run the same way."
            )
        document["single_stage"] = merge_reports([single for single in singles if single is not None])
        del document["single_stage"]["parts"]
    document["per_query"] = rows
    return document


def _same_machine(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    machines = [part.get("machine") for part in parts]
    if all(machine is None for machine in machines):
        return None
    kept = [
        {key: value for key, value in (machine or {}).items() if key not in _MACHINE_MAY_DIFFER}
        for machine in machines
    ]
    if any(machine != kept[0] for machine in kept[1:]):
        raise ValueError(
            "the reports were timed on different machines (or with different threads or versions), so "
            "their latencies do not add up; run every part on one machine."
        )
    return kept[0]


def _joined_rows(parts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, int] = {}
    rows = []
    for index, part in enumerate(parts):
        for row in part["per_query"]:
            query_id = row["query_id"]
            if query_id in seen:
                raise ValueError(
                    f"query {query_id!r} is in report {seen[query_id] + 1} and report {index + 1}; "
                    "merge parts of disjoint queries (crossrank eval --offset/--limit)."
                )
            seen[query_id] = index
            rows.append(dict(row))
    return sorted(rows, key=lambda row: query_id_order(row["query_id"]))


def _variants(parts: Sequence[Mapping[str, Any]], rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    count = len(rows)
    variants: dict[str, dict[str, Any]] = {}
    for name in VARIANTS:
        variants[name] = {
            metric: sum(row["variants"][name][metric] for row in rows) / count for metric in _METRICS
        }
    variants["first_stage"]["recall_at_k"] = sum(row["first_stage_recall_at_k"] for row in rows) / count
    candidates = sum(row["candidates"] for row in rows)
    for name in RERANK_VARIANTS:
        scoring_pass = SCORING_PASS_OF[name]
        pairs = sum(part["variants"][name]["pairs_scored"] for part in parts)
        latencies = [row["latency_ms"].get(scoring_pass) for row in rows]
        timed = all(latency is not None for latency in latencies)
        speed = summarize_latency([latency / 1000.0 for latency in latencies if latency is not None], pairs)
        variants[name].update(
            {
                "median_latency_ms": speed.median_ms if timed else None,
                "p95_latency_ms": speed.p95_ms if timed else None,
                "pairs_per_s": speed.pairs_per_s if timed else None,
                "pairs_scored": pairs,
                "windows_per_document": pairs / candidates if candidates else 0.0,
                "scoring_pass": parts[0]["variants"][name]["scoring_pass"],
            }
        )
    return variants


def _summed_seconds(parts: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    summed: dict[str, float] = {}
    for part in parts:
        for name, value in (part.get("seconds") or {}).items():
            summed[name] = summed.get(name, 0.0) + float(value)
    return summed
