"""What ``crossrank tune`` measures on: queries with their candidates, and how quality is judged.

Two sources. A BEIR directory: its judged queries, each with the first stage's top ``k``
(BM25, dense, or a recorded run), and quality is NDCG@10 against the qrels. Or a JSONL of
the user's own traffic, one ``{"query": ..., "candidates": [...]}`` per line (a candidate is
a text or ``{"id", "text", "score"}``), with no labels: quality is then agreement with the
reference ranking (the share of its top 10 kept in the top 10).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossrank.evaluation.metrics import ndcg_at_k
from crossrank.tuning.records import Quality
from crossrank.tuning.search import top10_agreement

__all__ = ["TuneQuery", "Workload", "beir_workload", "load_workload", "traffic_workload"]

NDCG_NAME = "NDCG@10"
AGREEMENT_NAME = "top-10 agreement"


@dataclass(frozen=True)
class TuneQuery:
    """One query and its first-stage candidates, best first.

    Attributes:
        query_id: Its id (a BEIR query id, or ``line N`` of the traffic file).
        query: The query text.
        doc_ids: The candidates' ids, in the first stage's order.
        texts: The candidates' texts, in the same order.
        retrieval_scores: The first stage's scores, when known (they define its ranking).
    """

    query_id: str
    query: str
    doc_ids: tuple[str, ...]
    texts: tuple[str, ...]
    retrieval_scores: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Workload:
    """The queries a tune measures and how their rankings are judged.

    Attributes:
        source: The data it came from (a directory or file), for the profile.
        queries: The queries, in the order they are measured.
        relevance: Query id to graded relevance (BEIR qrels); ``None`` for unlabeled traffic.
        first_stage: The first stage that produced the candidates (``None`` for traffic).
        k: Candidates per query asked for.
    """

    source: str
    queries: tuple[TuneQuery, ...]
    relevance: Mapping[str, Mapping[str, int]] | None
    first_stage: str | None
    k: int

    @property
    def quality_name(self) -> str:
        """``"NDCG@10"`` with labels, ``"top-10 agreement"`` without."""
        return AGREEMENT_NAME if self.relevance is None else NDCG_NAME

    def quality(self) -> Quality:
        """The per-query quality the search compares: NDCG@10, or agreement with the reference."""
        relevance = self.relevance
        if relevance is None:
            return top10_agreement

        def ndcg(query_id: str, ranking: Sequence[str], reference_ranking: Sequence[str]) -> float:
            return ndcg_at_k(ranking, relevance.get(query_id, {}), 10)

        return ndcg

    def by_id(self) -> dict[str, TuneQuery]:
        """The queries keyed by id."""
        return {query.query_id: query for query in self.queries}


def load_workload(
    data: str | os.PathLike[str],
    *,
    k: int,
    queries: int,
    offset: int = 0,
    first_stage: str = "bm25",
    split: str = "test",
    show_progress: bool = False,
) -> Workload:
    """A BEIR directory or a traffic JSONL file, read as a :class:`Workload`.

    Raises:
        FileNotFoundError: If ``data`` does not exist.
        ValueError: If it is neither, or a traffic line is malformed (naming the line).
    """
    path = Path(data)
    if path.is_dir():
        return beir_workload(
            path,
            k=k,
            queries=queries,
            offset=offset,
            first_stage=first_stage,
            split=split,
            show_progress=show_progress,
        )
    if path.is_file():
        return traffic_workload(path, k=k, queries=queries, offset=offset)
    raise FileNotFoundError(
        f"no data at {path}: give a BEIR directory (corpus.jsonl, queries.jsonl, qrels/) or a JSONL "
        'file of {"query": ..., "candidates": [...]} rows'
    )


def beir_workload(
    data_dir: Path,
    *,
    k: int,
    queries: int,
    offset: int = 0,
    first_stage: str = "bm25",
    split: str = "test",
    show_progress: bool = False,
) -> Workload:
    """The first ``queries`` judged queries after ``offset``, each with the first stage's top ``k``."""
    from crossrank.evaluation.beir import load_beir
    from crossrank.evaluation.evaluator import select_query_ids
    from crossrank.evaluation.first_stage import build_first_stage

    dataset = load_beir(data_dir, split=split)
    query_ids = select_query_ids(dataset, queries, offset)
    search = build_first_stage(
        first_stage,
        dataset,
        data_dir=data_dir,
        show_progress=show_progress,
    )
    measured = []
    for query_id in query_ids:
        found = search.search(dataset.queries[query_id], k)
        measured.append(
            TuneQuery(
                query_id=query_id,
                query=dataset.queries[query_id],
                doc_ids=tuple(candidate.doc_id for candidate in found),
                texts=tuple(dataset.corpus[candidate.doc_id].full_text for candidate in found),
                retrieval_scores=tuple(float(candidate.score) for candidate in found),
            )
        )
    return Workload(
        source=str(data_dir),
        queries=tuple(measured),
        relevance={query_id: dataset.qrels[query_id] for query_id in query_ids},
        first_stage=first_stage,
        k=k,
    )


def traffic_workload(path: Path, *, k: int, queries: int, offset: int = 0) -> Workload:
    """The user's own traffic: ``queries`` rows after ``offset``, each cut to its first ``k`` candidates.

    Raises:
        ValueError: Naming the line and what is wrong with it.
    """
    rows: list[TuneQuery] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            if len(rows) >= offset + queries:
                break
            rows.append(_traffic_row(json_line(line, path, number), path, number, k))
    kept = rows[offset:]
    if not kept:
        raise ValueError(f"{path}: no query rows after skipping {offset} (it has {len(rows)})")
    return Workload(source=str(path), queries=tuple(kept), relevance=None, first_stage=None, k=k)


def json_line(line: str, path: Path, number: int) -> Any:
    """One JSONL line parsed, or a ``ValueError`` naming the file and line."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from None


def _traffic_row(row: Any, path: Path, number: int, k: int) -> TuneQuery:
    where = f"{path}:{number}"
    if not isinstance(row, dict):
        raise ValueError(f'{where}: a row must be {{"query": ..., "candidates": [...]}}, got {row!r:.80}')
    query = row.get("query")
    if not isinstance(query, str) or not query.strip():
        raise ValueError(f"{where}: 'query' must be a non-empty string, got {query!r:.80}")
    candidates = row.get("candidates")
    if not isinstance(candidates, list) or not candidates:
        raise ValueError(f"{where}: 'candidates' must be a non-empty list, got {candidates!r:.80}")
    ids: list[str] = []
    texts: list[str] = []
    scores: list[float] = []
    for position, candidate in enumerate(candidates[:k]):
        if isinstance(candidate, str):
            candidate = {"text": candidate}
        if not isinstance(candidate, dict) or not isinstance(candidate.get("text"), str):
            raise ValueError(
                f"{where}: candidates[{position}] must be a string or an object with a 'text' string, "
                f"got {candidate!r:.80}"
            )
        ids.append(str(candidate.get("id", position)))
        texts.append(candidate["text"])
        if "score" in candidate:
            scores.append(_finite(candidate["score"], f"{where}: candidates[{position}].score"))
    if len(set(ids)) != len(ids):
        raise ValueError(f"{where}: candidate ids repeat; give each candidate its own 'id'")
    if scores and len(scores) != len(texts):
        raise ValueError(f"{where}: give a 'score' to every candidate or to none")
    query_id = str(row.get("id", f"line {number}"))
    return TuneQuery(query_id, query, tuple(ids), tuple(texts), tuple(scores) if scores else None)


def _finite(value: Any, where: str) -> float:
    import math

    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where} must be a finite number, got {value!r}")
    return float(value)
