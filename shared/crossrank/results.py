"""The result type returned by :class:`crossrank.Reranker`."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RerankResult"]


@dataclass(frozen=True, slots=True)
class RerankResult:
    """One reranked candidate.

    Attributes:
        index: Position of the candidate in the sequence passed to ``rerank``.
        score: The final score the ranking is sorted by: the cross-encoder score
            (after ``normalize``), or the fused RRF value when ``fusion="rrf"``.
        cross_encoder_score: The cross-encoder's score for the best window, after
            ``normalize`` but before fusion.
        retrieval_rank: 1-based rank the candidate had in the first stage: its input
            position, or its position by descending retrieval score when those were given.
        retrieval_score: The retrieval score passed in for this candidate, if any.
        num_windows: How many windows of the candidate were scored.
        window_index: Which of those windows won (0-based, in document order).
        window_span: ``(start, end)`` character offsets of the winning window in the
            candidate text, so ``text[start:end]`` is the passage that scored best.
    """

    index: int
    score: float
    cross_encoder_score: float
    retrieval_rank: int
    retrieval_score: float | None
    num_windows: int
    window_index: int
    window_span: tuple[int, int]
