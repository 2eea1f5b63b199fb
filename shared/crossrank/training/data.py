"""Training data for fine-tuning a cross-encoder reranker: judged queries and their corpus.

:class:`TrainingData` holds the queries, each with its judged documents, and the corpus they
come from; :func:`split_dev` holds some queries out. Reading it from files or Python records
is :mod:`crossrank.training.data_files`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from crossrank.evaluation.beir import BeirDataset, BeirDocument

__all__ = ["Judgement", "TrainingData", "TrainingQuery", "split_dev"]


@dataclass(frozen=True, slots=True)
class Judgement:
    """One judged document for a query.

    Attributes:
        document_id: The corpus id (BEIR), or ``"doc-"`` plus the first 16 hex digits of the text's SHA-256.
        text: The document text (for BEIR, title and body as in :attr:`BeirDocument.full_text`).
        label: Relevance: ``0`` is judged not relevant; above 0 is relevant (a grade or a soft label).
    """

    document_id: str
    text: str
    label: float


@dataclass(frozen=True, slots=True)
class TrainingQuery:
    """A query with its judgements, one per document, in first-seen order.

    Attributes:
        query_id: The BEIR query id, or ``"q-"`` plus the first 16 hex digits of the text's SHA-256.
        text: The query text.
        judgements: The judged documents.
    """

    query_id: str
    text: str
    judgements: tuple[Judgement, ...]

    @property
    def positives(self) -> tuple[Judgement, ...]:
        """The judgements with a label above 0."""
        return tuple(j for j in self.judgements if j.label > 0)

    @property
    def negatives(self) -> tuple[Judgement, ...]:
        """The judgements with label 0 (judged not relevant)."""
        return tuple(j for j in self.judgements if j.label == 0)


@dataclass(frozen=True)
class TrainingData:
    """Queries with judged documents, plus the corpus a first stage may search to mine negatives.

    Attributes:
        source: What the data was read from: the path, or ``"<sequence>"``.
        queries: The queries in first-seen order (BEIR: numeric ids in numeric order, then the others).
        corpus: Document id to text. BEIR: the whole corpus; otherwise every distinct document judged.
            Selections and splits share this mapping rather than copying it.
        duplicates_collapsed: How many exact repeats of a (query, document, label) record were merged.
            It describes how the source was read, so selections and splits keep it unchanged.
    """

    source: str
    queries: tuple[TrainingQuery, ...]
    corpus: dict[str, str]
    duplicates_collapsed: int

    @property
    def num_positives(self) -> int:
        """The number of judgements with a label above 0, over all queries."""
        return sum(len(q.positives) for q in self.queries)

    @property
    def num_negatives(self) -> int:
        """The number of judgements with label 0, over all queries."""
        return sum(len(q.negatives) for q in self.queries)

    @property
    def max_label(self) -> float:
        """The largest label, for scaling grades into [0, 1]; 1.0 when nothing is judged relevant."""
        return max((j.label for q in self.queries for j in q.positives), default=1.0)

    def summary(self) -> dict[str, object]:
        """Counts for logs and reports: source, queries, positives, negatives, duplicates_collapsed."""
        return {
            "source": self.source,
            "queries": len(self.queries),
            "positives": self.num_positives,
            "negatives": self.num_negatives,
            "duplicates_collapsed": self.duplicates_collapsed,
        }

    def describe(self) -> str:
        """One line for people, e.g. ``"3 queries, 4 positives, 2 judged negatives (0 duplicates ...``."""
        return (
            f"{len(self.queries)} queries, {self.num_positives} positives, {self.num_negatives} judged "
            f"negatives ({self.duplicates_collapsed} duplicates collapsed) from {self.source!r}"
        )

    def select(self, query_ids: Sequence[str]) -> TrainingData:
        """Keep only some queries, in the order given, with the same source and corpus.

        Raises:
            ValueError: If an id is unknown or listed twice.
        """
        if isinstance(query_ids, str):  # a str is a Sequence[str] of characters; never what is meant
            raise TypeError(f"select() takes a sequence of query ids, not the string {query_ids!r}.")
        by_id = {q.query_id: q for q in self.queries}
        seen: set[str] = set()
        for query_id in query_ids:
            if query_id not in by_id:
                raise ValueError(f"unknown query id {query_id!r}: {self.source!r} has no such query.")
            if query_id in seen:
                raise ValueError(f"query id {query_id!r} is listed twice; list each query once.")
            seen.add(query_id)
        chosen = tuple(by_id[query_id] for query_id in query_ids)
        return TrainingData(self.source, chosen, self.corpus, self.duplicates_collapsed)

    def to_beir(self, name: str) -> BeirDataset:
        """This data as a :class:`BeirDataset`, to evaluate a reranker on it (e.g. NDCG on a dev split).

        Labels become integer grades: 0 stays 0 and a positive label becomes ``max(1, round(label))``,
        so a soft label such as 0.3 still counts as relevant.
        """
        return BeirDataset(
            name=name,
            corpus={doc_id: BeirDocument(doc_id, "", text) for doc_id, text in self.corpus.items()},
            queries={q.query_id: q.text for q in self.queries},
            qrels={
                q.query_id: {
                    j.document_id: max(1, round(j.label)) if j.label > 0 else 0 for j in q.judgements
                }
                for q in self.queries
            },
        )


def split_dev(data: TrainingData, fraction: float, *, seed: int) -> tuple[TrainingData, TrainingData]:
    """Hold out a random share of the queries as a dev set; the same seed gives the same split.

    Args:
        data: The data to split.
        fraction: The share of queries to hold out, strictly between 0 and 1. ``round(fraction * n)``
            queries are held out, but at least one and at most ``n - 1``.
        seed: Seed for :class:`random.Random`.

    Returns:
        ``(train, dev)``, disjoint, each in the original query order, both with the full corpus.

    Raises:
        ValueError: If ``fraction`` is not in (0, 1) or ``data`` has fewer than two queries.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be between 0 and 1 (exclusive), got {fraction!r}; e.g. 0.1.")
    count = len(data.queries)
    if count < 2:
        raise ValueError(f"cannot split {count} query into train and dev; give at least 2 queries.")
    held = min(max(round(fraction * count), 1), count - 1)
    dev_indexes = set(random.Random(seed).sample(range(count), held))
    ids = [q.query_id for q in data.queries]
    return (
        data.select([qid for i, qid in enumerate(ids) if i not in dev_indexes]),
        data.select([qid for i, qid in enumerate(ids) if i in dev_indexes]),
    )
