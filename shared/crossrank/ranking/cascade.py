"""Coarse-to-fine ranking: a cheap stage keeps the best candidates, the accurate one ranks them.

The coarse stage scores every candidate (chunk-max, like a single stage); its best
``keep`` survive and the fine stage scores only those. With RRF fusion "best" is the coarse
stage's own fused ranking (coarse rank with retrieval rank), so a candidate the final fusion
would lift (retrieved near the top) is not cut for a middling coarse score. Survivors are ranked exactly as a
single stage ranks (fine scores, optionally fused with the retrieval ranking by RRF, then
``score_threshold`` and ``top_n``). The candidates the coarse stage cut follow every
survivor, in coarse order, marked ``cut_at_stage="coarse"``; their ``score`` is the coarse
stage's, which is why they never outrank a survivor. With ``keep`` at least the number of
candidates nothing is cut and the ranking is the single stage's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from crossrank.ranking.fusion import ranks_by_score, reciprocal_rank_fusion
from crossrank.ranking.selection import retrieval_ranks, select_top
from crossrank.ranking.window_scoring import TextScore, WindowScores
from crossrank.results import RerankResult

__all__ = [
    "COARSE_STAGE",
    "StageScoring",
    "best_windows",
    "cascade_survivors",
    "rank_cascade",
    "rank_through_stages",
]

COARSE_STAGE = "coarse"
"""The ``cut_at_stage`` of a candidate the coarse stage did not pass on."""


class StageScoring(Protocol):
    """How a stage scores texts: each distinct text's chunk-max :class:`TextScore`.

    ``window_scores_out`` collects every window's score and span (the coarse stage's, for
    choosing the fine stage's windows); ``only_windows`` restricts scoring to the windows
    that overlap the given spans (see :func:`crossrank.ranking.window_scoring.score_texts`).
    """

    def __call__(
        self,
        query: str,
        texts: Sequence[str],
        names: Sequence[str],
        *,
        window_scores_out: WindowScores | None = None,
        only_windows: Mapping[str, Sequence[tuple[int, int]]] | None = None,
    ) -> dict[str, TextScore]:
        """Score ``texts`` against ``query`` (``names`` name them in errors)."""
        ...


def rank_through_stages(
    query: str,
    documents: Sequence[str],
    names: Sequence[str],
    retrieval_scores: Sequence[float] | None,
    *,
    coarse: StageScoring,
    fine: StageScoring,
    keep: int,
    fine_windows: int | None,
    fine_window_margin: float | None,
    ranking: Mapping[str, Any],
) -> list[RerankResult]:
    """A two-stage reranking: the coarse stage scores all, the fine stage the survivors.

    Args:
        query: The query (checked).
        documents: The candidates (checked), in the retriever's order.
        names: How to name each document in an error.
        retrieval_scores: The retriever's scores, or ``None`` for input order.
        coarse: The coarse stage's scoring.
        fine: The fine stage's scoring.
        keep: How many candidates the coarse stage passes on.
        fine_windows: Windows per survivor the fine stage reads (the coarse stage's best,
            see :func:`best_windows`); ``None`` reads every window.
        fine_window_margin: See :func:`best_windows`.
        ranking: :func:`rank_cascade`'s keyword arguments (``fusion``, ``rrf_k``,
            ``rrf_weights``, ``top_n``, ``score_threshold``).

    Returns:
        :func:`rank_cascade`'s results.
    """
    windows: WindowScores | None = {} if fine_windows else None
    coarse_scores = coarse(query, documents, names, window_scores_out=windows)
    survivors = cascade_survivors(
        documents,
        coarse_scores,
        keep,
        retrieval_scores=retrieval_scores,
        fusion=ranking["fusion"],
        rrf_k=ranking["rrf_k"],
        rrf_weights=ranking["rrf_weights"],
    )
    texts = [documents[i] for i in survivors]
    only = None if windows is None else best_windows(windows, texts, fine_windows, fine_window_margin)
    fine_scores = fine(query, texts, [names[i] for i in survivors], only_windows=only)
    return rank_cascade(documents, coarse_scores, fine_scores, survivors, retrieval_scores, **ranking)


def cascade_survivors(
    documents: Sequence[str],
    coarse_scores: Mapping[str, TextScore],
    keep: int,
    *,
    retrieval_scores: Sequence[float] | None = None,
    fusion: str | None = None,
    rrf_k: float = 60.0,
    rrf_weights: tuple[float, float] = (1.0, 1.0),
) -> list[int]:
    """Positions of the ``keep`` documents the coarse stage ranks best (ties: input order).

    Args:
        documents: The candidates.
        coarse_scores: The coarse stage's score of each distinct text.
        keep: How many survive.
        retrieval_scores: The retriever's scores (``None``: input order is the retrieval rank).
        fusion: ``"rrf"`` ranks by the coarse score fused with the retrieval rank, as the
            final ranking will be; ``None`` by the coarse score alone.
        rrf_k: The RRF constant.
        rrf_weights: ``(cross_encoder, retrieval)`` RRF weights.

    Returns:
        Input positions of the survivors, best first; a text given more than once survives
        at every position (so there may be more than ``keep``).

    Raises:
        ValueError: If ``keep`` is not a positive integer.
    """
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ValueError(f"coarse_keep must be a positive integer, got {keep!r}.")
    priority = [coarse_scores[text].score for text in documents]
    if fusion == "rrf":
        ranks = retrieval_ranks(len(documents), retrieval_scores)
        priority = reciprocal_rank_fusion(ranks_by_score(priority), ranks, k=rrf_k, weights=rrf_weights)
    order = sorted(range(len(documents)), key=lambda index: (-priority[index], index))
    kept = order[:keep]
    # A repeat of a surviving text survives with it: the same text never lands on both sides.
    surviving = {documents[index] for index in kept}
    return kept + [index for index in order[keep:] if documents[index] in surviving]


def best_windows(
    window_scores: WindowScores,
    texts: Sequence[str],
    per_document: int | None,
    margin: float | None = None,
) -> dict[str, list[tuple[int, int]]]:
    """The character spans of each text's ``per_document`` best windows by the coarse stage.

    Args:
        window_scores: The coarse stage's score and span of every window it scored.
        texts: The surviving texts.
        per_document: How many windows per text at most (``None``: all).
        margin: If set, a window after the text's best is chosen only when its coarse score
            is at least the best one's minus ``margin`` (the best is always chosen).

    Returns:
        Text to spans, best first (ties: the earlier window).
    """
    chosen: dict[str, list[tuple[int, int]]] = {}
    for text in texts:
        ranked = sorted(window_scores[text], key=lambda window: -window[0])[:per_document]
        # A close second window is worth reading; a clear loser is not (docs/benchmarks.md).
        floor = ranked[0][0] - margin if ranked and margin is not None else -math.inf
        chosen[text] = [span for index, (score, span) in enumerate(ranked) if index == 0 or score >= floor]
    return chosen


def rank_cascade(
    documents: Sequence[str],
    coarse_scores: Mapping[str, TextScore],
    fine_scores: Mapping[str, TextScore],
    survivors: Sequence[int],
    retrieval_scores: Sequence[float] | None,
    *,
    fusion: str | None,
    rrf_k: float,
    rrf_weights: tuple[float, float],
    top_n: int | None,
    score_threshold: float | None,
) -> list[RerankResult]:
    """The cascade's results: the ranked survivors, then the candidates cut by the coarse stage.

    Args:
        documents: The candidates, in the retriever's order.
        coarse_scores: The coarse stage's score of every distinct text.
        fine_scores: The fine stage's score of every surviving text.
        survivors: Input positions of the survivors (:func:`cascade_survivors`).
        retrieval_scores: The retriever's scores, or ``None`` for input order.
        fusion: ``"rrf"`` or ``None`` (among the survivors, with their global retrieval ranks).
        rrf_k: The RRF constant.
        rrf_weights: ``(cross_encoder, retrieval)`` RRF weights.
        top_n: How many results in all, or ``None``.
        score_threshold: Minimum final score of a survivor; with a threshold the cut
            candidates, which have no final score, are left out.

    Returns:
        The results, best first; every candidate at most once.
    """
    ranks = retrieval_ranks(len(documents), retrieval_scores)
    # In input order, so ties break as in a single stage.
    in_order = sorted(survivors)
    fine = [fine_scores[documents[index]].score for index in in_order]
    if fusion == "rrf":
        survivor_ranks = [ranks[index] for index in in_order]
        final = reciprocal_rank_fusion(ranks_by_score(fine), survivor_ranks, k=rrf_k, weights=rrf_weights)
    else:
        final = fine
    kept = [
        _result(
            index,
            float(final[position]),
            fine_scores,
            coarse_scores,
            documents,
            ranks,
            retrieval_scores,
        )
        for position, index in enumerate(in_order)
    ]
    ranked = select_top(kept, top_n=top_n, score_threshold=score_threshold)
    if score_threshold is not None or (top_n is not None and len(ranked) >= top_n):
        return ranked
    chosen = set(survivors)
    cut = [index for index in range(len(documents)) if index not in chosen]
    cut.sort(key=lambda index: (-coarse_scores[documents[index]].score, index))
    room = len(cut) if top_n is None else top_n - len(ranked)
    return ranked + [
        _result(
            index,
            coarse_scores[documents[index]].score,
            coarse_scores,
            coarse_scores,
            documents,
            ranks,
            retrieval_scores,
            cut_at_stage=COARSE_STAGE,
        )
        for index in cut[:room]
    ]


def _result(
    index: int,
    score: float,
    scores: Mapping[str, TextScore],
    coarse_scores: Mapping[str, TextScore],
    documents: Sequence[str],
    retrieval_ranks: Sequence[int],
    retrieval_scores: Sequence[float] | None,
    *,
    cut_at_stage: str | None = None,
) -> RerankResult:
    text = documents[index]
    verdict = scores[text]
    return RerankResult(
        index=index,
        score=float(score),
        cross_encoder_score=float(verdict.score),
        retrieval_rank=retrieval_ranks[index],
        retrieval_score=None if retrieval_scores is None else float(retrieval_scores[index]),
        num_windows=verdict.num_windows,
        window_index=verdict.window_index,
        window_span=verdict.window_span,
        coarse_score=float(coarse_scores[text].score),
        cut_at_stage=cut_at_stage,
    )
