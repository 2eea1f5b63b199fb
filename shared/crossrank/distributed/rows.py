"""One batch row in, its ranking out: the logic every batch runner shares (no Ray here).

A row is a JSON object with a ``query`` (text) and ``candidates``: texts, or objects with
``text`` and optionally ``id`` and ``score`` (the retriever's score, which then defines the
retrieval rank for RRF). Any other field rides along untouched. The output row is the input
row plus ``results``, best first: ``{index, score, cross_encoder_score, retrieval_rank,
retrieval_score, num_windows, window_index, window_span}`` and ``id`` when the candidate had
one (``coarse_score`` and ``cut_at_stage`` with a cascade). A row that cannot be reranked
raises :class:`RowError` with the reason; the runners write it to the errors output.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crossrank.serving.schemas import details_of

if TYPE_CHECKING:
    from crossrank.reranker import Reranker
    from crossrank.results import RerankResult

__all__ = [
    "RowError",
    "RowOutcome",
    "parse_row",
    "rerank_line",
    "rerank_row",
    "result_record",
]


class RowError(ValueError):
    """A row that cannot be reranked; the message says why and how to fix it."""


@dataclass(frozen=True)
class RowOutcome:
    """What became of one input row: its output row (JSON text) or the reason it failed.

    Attributes:
        line: The row's 1-based line (JSONL) or row number (Parquet) in the input.
        output: The output row as JSON text; ``None`` when the row failed.
        error: Why the row failed; ``None`` when it was reranked.
        pairs: (query, window) pairs scored for the row.
    """

    line: int
    output: str | None
    error: str | None
    pairs: int = 0


def parse_row(row: Any) -> tuple[str, list[str], list[float] | None]:
    """Check one row and take out its query, candidate texts and retrieval scores.

    Args:
        row: The decoded row.

    Returns:
        The query, the candidate texts in input order, and their retrieval scores (``None``
        when the candidates carry none).

    Raises:
        RowError: Naming the field, for anything that is not a reranking request.
    """
    if not isinstance(row, Mapping):
        raise RowError(f"a row must be a JSON object with query and candidates, got {type(row).__name__}")
    query = row.get("query")
    if not isinstance(query, str) or not query.strip():
        raise RowError(f"query must be a non-empty string, got {query!r}")
    candidates = row.get("candidates")
    if not isinstance(candidates, Sequence) or isinstance(candidates, (str, bytes)):
        raise RowError(
            f"candidates must be a list of texts or of {{text, id, score}}, got {candidates!r:.80}"
        )
    texts: list[str] = []
    scores: list[float] = []
    for position, candidate in enumerate(candidates):
        if isinstance(candidate, str):
            texts.append(candidate)
            continue
        if not isinstance(candidate, Mapping) or not isinstance(candidate.get("text"), str):
            raise RowError(
                f"candidates[{position}] must be a text or an object with a text, got {candidate!r:.80}"
            )
        texts.append(candidate["text"])
        if candidate.get("score") is not None:
            score = candidate["score"]
            if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
                raise RowError(f"candidates[{position}].score must be a finite number, got {score!r}")
            scores.append(float(score))
    if scores and len(scores) != len(texts):
        raise RowError(
            f"{len(scores)} of {len(texts)} candidates have a score: give every candidate a score or none"
        )
    return query, texts, scores or None


def result_record(result: RerankResult, candidate: Any) -> dict[str, Any]:
    """One result as plain JSON values, with the candidate's ``id`` when it had one."""
    # The same per-result details the server's ``crossrank`` object carries.
    record: dict[str, Any] = {"index": result.index, "score": result.score, **details_of(result)}
    if result.coarse_score is not None or result.cut_at_stage is not None:
        record["coarse_score"] = result.coarse_score
        record["cut_at_stage"] = result.cut_at_stage
    if isinstance(candidate, Mapping) and "id" in candidate:
        record["id"] = candidate["id"]
    return record


def rerank_row(reranker: Reranker, row: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """Rerank one row; return the output row (a new dict) and the pairs scored.

    Raises:
        RowError: For a bad row, or one the reranker refuses (the reason is its message).
    """
    query, texts, scores = parse_row(row)
    try:
        results = reranker.rerank(query, texts, retrieval_scores=scores)
    except (TypeError, ValueError) as exc:
        raise RowError(str(exc)) from exc
    candidates = row["candidates"]
    output = dict(row)
    output["results"] = [result_record(result, candidates[result.index]) for result in results]
    return output, sum(result.num_windows for result in results)


def rerank_line(reranker: Reranker, line: int, raw: str, error: str | None = None) -> RowOutcome:
    """Decode, rerank and encode one JSON row; a bad row becomes an outcome with its reason.

    Args:
        reranker: The reranker to use.
        line: The row's line (or row number) in the input, for the errors output.
        raw: The row as JSON text.
        error: Why the row could not be read (not UTF-8); it then fails with this reason.
    """
    if error is not None:
        return RowOutcome(line, None, error)
    try:
        row = json.loads(raw)
    except json.JSONDecodeError as exc:
        return RowOutcome(line, None, f"not valid JSON: {exc}")
    try:
        output, pairs = rerank_row(reranker, row)
    except RowError as exc:
        return RowOutcome(line, None, str(exc))
    return RowOutcome(line, json.dumps(output, ensure_ascii=False), None, pairs)
