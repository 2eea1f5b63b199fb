"""The bench's inputs: the first judged queries of a BEIR dataset, each with its BM25 candidates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crossrank.evaluation.beir import BeirDataset

__all__ = ["BenchInput", "bench_inputs"]


@dataclass(frozen=True)
class BenchInput:
    """One query and its candidates, as retrieved.

    Attributes:
        query_id: The query id.
        query: The query text.
        doc_ids: Candidate document ids, in retrieval order.
        texts: Candidate texts, one per id.
        retrieval_scores: The first stage's score per candidate.
    """

    query_id: str
    query: str
    doc_ids: tuple[str, ...]
    texts: tuple[str, ...]
    retrieval_scores: tuple[float, ...]

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> BenchInput:
        """Read back an input written as JSON from :func:`dataclasses.asdict`.

        Args:
            item: The decoded JSON object (its sequences are lists).

        Returns:
            The input.
        """
        return cls(
            query_id=item["query_id"],
            query=item["query"],
            doc_ids=tuple(item["doc_ids"]),
            texts=tuple(item["texts"]),
            retrieval_scores=tuple(item["retrieval_scores"]),
        )


def bench_inputs(dataset: BeirDataset, *, queries: int, candidates: int) -> list[BenchInput]:
    """The first ``queries`` judged queries by id, each with its top ``candidates`` by BM25.

    Args:
        dataset: A BEIR dataset (SciFact for the published numbers).
        queries: How many queries.
        candidates: Candidates per query.

    Returns:
        The inputs, with each candidate's title and text.
    """
    from crossrank.evaluation.evaluator import select_query_ids
    from crossrank.evaluation.first_stage import Bm25Search

    ids = list(dataset.corpus)
    search = Bm25Search(ids, [dataset.corpus[doc_id].full_text for doc_id in ids])
    inputs = []
    for query_id in select_query_ids(dataset, queries):
        query = dataset.queries[query_id]
        hits = search.search(query, candidates)
        inputs.append(
            BenchInput(
                query_id=query_id,
                query=query,
                doc_ids=tuple(hit.doc_id for hit in hits),
                texts=tuple(dataset.corpus[hit.doc_id].full_text for hit in hits),
                retrieval_scores=tuple(hit.score for hit in hits),
            )
        )
    return inputs
