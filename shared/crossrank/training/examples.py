"""Training examples in the column layout each sentence-transformers loss expects.

* ``bce``: ``(query, document, label)`` rows, the label scaled to 0..1 (grade / top grade).
* ``mnrl``: ``(query, positive, negative_1..negative_n)`` rows, one per positive.
* ``lambda``: ``(query, [documents], [grades])`` rows, one per query.
* ``mse`` (distillation): ``(query, document, teacher score)`` rows.
* ``margin_mse`` (distillation): ``(query, positive, negative_1..n, [teacher scores])`` rows.
* ``listnet`` (distillation): ``(query, [documents], [teacher scores])`` rows, one per query:
  the student learns the teacher's whole ordering of the query's scored candidates (softmax
  cross-entropy against the softmax of the teacher's logits).

MNRL and Margin-MSE need the same number of negatives in every row; a query the first
stage could not give enough unjudged documents is topped up with random unjudged
corpus documents (seeded), and the count is reported, never hidden.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crossrank.training.data import Judgement, TrainingData
from crossrank.training.mining import MinedQuery

__all__ = ["ExampleSet", "build_examples"]


@dataclass(frozen=True)
class ExampleSet:
    """Rows for one loss, as columns.

    Attributes:
        columns: Column name to values, in the order the loss reads them (``label`` last).
        rows: Number of rows.
        pairs: (query, document) pairs the rows hold.
        random_fill: Negatives drawn at random to give every row the same width.
        skipped_queries: Queries that gave no row (no positive, or too few scored negatives
            for a fixed-width row), reported so nothing vanishes unseen.
    """

    columns: dict[str, list[Any]]
    rows: int
    pairs: int
    random_fill: int
    skipped_queries: int = 0

    def to_dataset(self) -> Any:
        """The rows as a Hugging Face ``datasets.Dataset``.

        Raises:
            ImportError: If ``datasets`` is missing; names the extra to install.
        """
        try:
            from datasets import Dataset
        except ImportError as exc:
            raise ImportError('Training needs datasets: run `pip install "crossrank[train]"`.') from exc
        return Dataset.from_dict(self.columns)


def build_examples(
    loss: str,
    mined: Sequence[MinedQuery],
    data: TrainingData,
    *,
    negatives: int,
    seed: int,
    teacher_scores: Mapping[tuple[str, str], float] | None = None,
) -> ExampleSet:
    """The examples of ``loss`` from mined queries.

    Args:
        loss: ``"bce"``, ``"mnrl"``, ``"lambda"``, ``"mse"``, ``"margin_mse"`` or ``"listnet"``.
        mined: The queries with their negatives.
        data: The data they came from (its corpus tops up short rows).
        negatives: Negatives per row for ``mnrl`` and ``margin_mse``.
        seed: Seed of the random top-up.
        teacher_scores: ``(query id, document id)`` to the teacher's score; required by
            the distillation losses.

    Returns:
        The examples.

    Raises:
        ValueError: For an unknown loss, a distillation loss without teacher scores, or a
            list-wise loss with no query that has both a positive and a negative.
    """
    rng = random.Random(seed)
    if loss in ("mse", "margin_mse", "listnet") and teacher_scores is None:
        raise ValueError(f"loss {loss!r} distills a teacher: pass teacher_scores.")
    if loss == "bce":
        return _pairs(mined, data.max_label, None)
    if loss == "mse":
        return _pairs(mined, data.max_label, teacher_scores)
    if loss in ("lambda", "listnet"):
        return _lists(mined, teacher_scores if loss == "listnet" else None)
    if loss in ("mnrl", "margin_mse"):
        if negatives < 1:
            raise ValueError(f"loss {loss!r} needs at least one negative per positive; set negatives >= 1.")
        return _rows_with_negatives(
            mined, data, negatives, rng, teacher_scores if loss == "margin_mse" else None
        )
    raise ValueError(f"unknown loss {loss!r}; use bce, mnrl, lambda, mse, margin_mse or listnet.")


def _pairs(
    mined: Sequence[MinedQuery], top_grade: float, teacher: Mapping[tuple[str, str], float] | None
) -> ExampleSet:
    columns: dict[str, list[Any]] = {"query": [], "document": [], "label": []}
    for item in mined:
        for judgement in item.query.judgements + item.mined:
            columns["query"].append(item.query.text)
            columns["document"].append(judgement.text)
            if teacher is not None:
                label = teacher[(item.query.query_id, judgement.document_id)]
            else:
                # BCE wants targets in 0..1: a grade becomes its share of the top grade.
                label = min(1.0, judgement.label / top_grade) if top_grade > 0 else judgement.label
            columns["label"].append(float(label))
    rows = len(columns["label"])
    return ExampleSet(columns=columns, rows=rows, pairs=rows, random_fill=0)


def _lists(mined: Sequence[MinedQuery], teacher: Mapping[tuple[str, str], float] | None) -> ExampleSet:
    """One row per query: its documents, positives first, with their labels or the teacher's scores."""
    columns: dict[str, list[Any]] = {"query": [], "documents": [], "label": []}
    pairs = skipped = 0
    for item in mined:
        judgements = item.query.positives + item.negatives
        # One document has no order to learn; without a teacher, a list with no positive has no signal.
        if len(judgements) < 2 or (teacher is None and not item.query.positives):
            skipped += 1
            continue
        key = item.query.query_id
        columns["query"].append(item.query.text)
        columns["documents"].append([judgement.text for judgement in judgements])
        columns["label"].append(
            [float(judgement.label) for judgement in judgements]
            if teacher is None
            else [teacher[(key, judgement.document_id)] for judgement in judgements]
        )
        pairs += len(judgements)
    if not columns["query"]:
        if teacher is None:
            raise ValueError("LambdaLoss needs queries with a positive and a negative; mine negatives first.")
        raise ValueError("listnet needs queries with at least two scored documents; mine negatives first.")
    return ExampleSet(
        columns=columns, rows=len(columns["query"]), pairs=pairs, random_fill=0, skipped_queries=skipped
    )


def _rows_with_negatives(
    mined: Sequence[MinedQuery],
    data: TrainingData,
    width: int,
    rng: random.Random,
    teacher: Mapping[tuple[str, str], float] | None,
) -> ExampleSet:
    names = [f"negative_{index}" for index in range(1, width + 1)]
    columns: dict[str, list[Any]] = {"query": [], "positive": [], **{name: [] for name in names}}
    if teacher is not None:
        columns["label"] = []
    corpus_ids = sorted(data.corpus)
    random_fill = skipped = 0
    for item in mined:
        negatives = list(item.negatives[:width])
        judged = {judgement.document_id for judgement in item.query.judgements + item.mined}
        while len(negatives) < width:
            if teacher is not None:
                break  # the teacher scored only mined candidates; a random one has no score
            doc_id = rng.choice(corpus_ids)
            if doc_id not in judged:
                judged.add(doc_id)
                negatives.append(Judgement(document_id=doc_id, text=data.corpus[doc_id], label=0.0))
                random_fill += 1
        if len(negatives) < width or not item.query.positives:
            skipped += 1
            continue
        for positive in item.query.positives:
            columns["query"].append(item.query.text)
            columns["positive"].append(positive.text)
            for name, negative in zip(names, negatives, strict=True):
                columns[name].append(negative.text)
            if teacher is not None:
                key = item.query.query_id
                columns["label"].append(
                    [teacher[(key, positive.document_id)]]
                    + [teacher[(key, n.document_id)] for n in negatives]
                )
    rows = len(columns["query"])
    if not rows:
        raise ValueError(f"no query has a positive and {width} negatives; lower negatives or mine more.")
    return ExampleSet(
        columns=columns,
        rows=rows,
        pairs=rows * (width + 1),
        random_fill=random_fill,
        skipped_queries=skipped,
    )
