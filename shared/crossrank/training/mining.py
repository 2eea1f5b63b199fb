"""Hard negatives mined with crossrank's own first stages (BM25, or dense on Chroma).

For each training query the first stage ranks the corpus; the negatives are the best
unjudged documents in a rank range. A judged document (positive *or* judged negative)
is never mined: positives must not become negatives, and judged negatives are already
in the data. Optionally a trained cross-encoder guards against false negatives: a
candidate it scores within ``margin`` of the query's weakest positive is probably an
unjudged relevant document and is skipped (and counted).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crossrank.training.data import Judgement, TrainingData, TrainingQuery

if TYPE_CHECKING:
    from crossrank.evaluation.first_stage import FirstStage
    from crossrank.training.settings import TrainingSettings

__all__ = [
    "GuardScorer",
    "MinedQuery",
    "MiningReport",
    "build_mining_first_stage",
    "dataset_name",
    "mine_hard_negatives",
]

GuardScorer = Callable[[str, Sequence[str]], Sequence[float]]
"""Scores ``(query, texts)``: one relevance score per text, higher is more relevant."""


@dataclass(frozen=True, slots=True)
class MinedQuery:
    """A training query with its mined negatives.

    Attributes:
        query: The query and its judgements, as loaded.
        mined: Mined negatives (label 0), best first-stage rank first.
        guard_scores: The guard's score of each judgement and each mined negative, by
            document id (empty without a guard).
    """

    query: TrainingQuery
    mined: tuple[Judgement, ...]
    guard_scores: dict[str, float]

    @property
    def negatives(self) -> tuple[Judgement, ...]:
        """Judged negatives first, then the mined ones."""
        return self.query.negatives + self.mined


@dataclass(frozen=True)
class MiningReport:
    """What mining did, for the summary and the model card.

    Attributes:
        first_stage: ``"bm25"`` or ``"dense"``.
        requested_per_query: Negatives asked for per query.
        rank_range: The 1-based first-stage ranks negatives were taken from, inclusive.
        false_negative_margin: The guard's margin, or ``None`` without a guard.
        queries: Queries mined for.
        mined: Negatives mined in all.
        skipped_judged: Candidates in the range skipped because they are judged.
        skipped_by_guard: Candidates in the range the guard rejected as likely relevant.
        queries_short: Queries that got fewer negatives than requested (the range ran out).
        seconds: Wall time of mining, guard scoring included.
    """

    first_stage: str
    requested_per_query: int
    rank_range: tuple[int, int]
    false_negative_margin: float | None
    queries: int
    mined: int
    skipped_judged: int
    skipped_by_guard: int
    queries_short: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return asdict(self)

    def describe(self) -> str:
        """One line for the console."""
        guard = (
            f", {self.skipped_by_guard} skipped by the false-negative guard "
            f"(margin {self.false_negative_margin})"
            if self.false_negative_margin is not None
            else ""
        )
        return (
            f"mined {self.mined} negatives for {self.queries} queries with {self.first_stage} "
            f"(ranks {self.rank_range[0]}-{self.rank_range[1]}; {self.skipped_judged} judged documents "
            f"skipped{guard}; {self.queries_short} queries got fewer than {self.requested_per_query})"
        )


def dataset_name(data: TrainingData) -> str:
    """A short name for the data: the BEIR directory's or the file's name."""
    if data.source == "<sequence>":
        return "training-sequence"
    path = Path(data.source)
    return path.name if path.is_dir() else path.stem


def build_mining_first_stage(
    data: TrainingData, kind: str, *, show_progress: bool = False, dev: TrainingData | None = None
) -> FirstStage:
    """The first stage over a training set's corpus (built once, shared with the dev split).

    Args:
        data: The training data; its ``corpus`` is indexed.
        kind: ``"bm25"``, ``"dense"`` (reuses the Chroma collection ``crossrank eval`` built for
            the same BEIR directory) or ``"run:PATH"`` (a recorded run of the split's queries).
        show_progress: Show indexing progress.
        dev: The dev queries, which a recorded run must answer too (it looks queries up by text).

    Returns:
        The first stage.
    """
    import dataclasses

    from crossrank.evaluation.first_stage import build_first_stage

    dataset = data.to_beir(dataset_name(data))
    if dev is not None:
        dataset = dataclasses.replace(
            dataset, queries={**{q.query_id: q.text for q in dev.queries}, **dataset.queries}
        )
    return build_first_stage(
        kind,
        dataset,
        data_dir=data.source,
        show_progress=show_progress,
    )


def mine_hard_negatives(
    data: TrainingData,
    first_stage: FirstStage,
    settings: TrainingSettings,
    *,
    guard: GuardScorer | None = None,
    show_progress: bool = False,
) -> tuple[list[MinedQuery], MiningReport]:
    """Mine ``settings.negatives`` negatives per query from the first stage's ranking.

    Args:
        data: The training queries.
        first_stage: The retriever over ``data.corpus``.
        settings: ``negatives``, ``negatives_from_rank``, ``negatives_to_rank`` and
            ``false_negative_margin`` are used.
        guard: Scores candidates for the false-negative guard; required when
            ``settings.false_negative_margin`` is set, ignored otherwise.
        show_progress: Show a progress bar over queries.

    Returns:
        The mined queries, in the data's order, and the report.

    Raises:
        ValueError: If the margin is set without a guard, or a query has no positive
            (the guard measures candidates against the positives).
    """
    margin = settings.false_negative_margin
    if margin is not None and guard is None:
        raise ValueError("false_negative_margin is set but no guard model scores the candidates.")
    started = time.perf_counter()
    first, last = settings.negatives_from_rank, settings.negatives_to_rank
    wanted = settings.negatives
    mined_queries: list[MinedQuery] = []
    totals = {"mined": 0, "skipped_judged": 0, "skipped_by_guard": 0, "short": 0}
    for query in _progress(data.queries, show_progress):
        judged = {judgement.document_id for judgement in query.judgements}
        in_range: list[str] = []
        if wanted:
            ranked = first_stage.search(query.text, last)
            for candidate in ranked[first - 1 : last]:
                if candidate.doc_id in judged:
                    totals["skipped_judged"] += 1
                else:
                    in_range.append(candidate.doc_id)
        guard_scores: dict[str, float] = {}
        if margin is not None and guard is not None and wanted:
            chosen, skipped = _guarded(query, in_range, data.corpus, guard, margin, wanted, guard_scores)
            totals["skipped_by_guard"] += skipped
        else:
            chosen = in_range[:wanted]
        mined = tuple(Judgement(document_id=doc_id, text=data.corpus[doc_id], label=0.0) for doc_id in chosen)
        totals["mined"] += len(mined)
        totals["short"] += len(mined) < wanted
        mined_queries.append(MinedQuery(query=query, mined=mined, guard_scores=guard_scores))
    report = MiningReport(
        first_stage=first_stage.name,
        requested_per_query=wanted,
        rank_range=(first, last),
        false_negative_margin=margin,
        queries=len(data.queries),
        mined=totals["mined"],
        skipped_judged=totals["skipped_judged"],
        skipped_by_guard=totals["skipped_by_guard"],
        queries_short=totals["short"],
        seconds=time.perf_counter() - started,
    )
    return mined_queries, report


def _guarded(
    query: TrainingQuery,
    candidates: list[str],
    corpus: dict[str, str],
    guard: GuardScorer,
    margin: float,
    wanted: int,
    scores_out: dict[str, float],
) -> tuple[list[str], int]:
    """The first ``wanted`` candidates the guard scores below the weakest positive minus ``margin``.

    Candidates are scored in rank order, a few more than still needed at a time, so the
    guard costs about ``wanted`` pairs per query instead of the whole range.
    """
    positives = query.positives
    if not positives:
        raise ValueError(
            f"query {query.query_id!r} has no positive judgement, so the false-negative guard has "
            "nothing to compare candidates with; drop the query or unset false_negative_margin."
        )
    positive_scores = [float(s) for s in guard(query.text, [judgement.text for judgement in positives])]
    for judgement, score in zip(positives, positive_scores, strict=True):
        scores_out[judgement.document_id] = score
    ceiling = min(positive_scores) - margin
    chosen: list[str] = []
    skipped = 0
    position = 0
    while len(chosen) < wanted and position < len(candidates):
        step = candidates[position : position + 2 * (wanted - len(chosen))]
        position += len(step)
        for doc_id, score in zip(step, guard(query.text, [corpus[doc_id] for doc_id in step]), strict=True):
            scores_out[doc_id] = float(score)
            if len(chosen) >= wanted:
                break
            if float(score) > ceiling:
                skipped += 1
            else:
                chosen.append(doc_id)
    return chosen, skipped


def _progress(items: Sequence[TrainingQuery], show: bool) -> Iterable[TrainingQuery]:
    if not show:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc="Mining negatives", unit="query")
