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
        coarse_score: With a cascade (``coarse_model`` or ``coarse_backend``), the coarse
            stage's score of the candidate; ``None`` for a single stage.
        cut_at_stage: ``"coarse"`` when the coarse stage did not pass the candidate on (it
            then follows every survivor, and ``score`` and ``cross_encoder_score`` are the
            coarse stage's); ``None`` when it reached the final stage.
    """

    index: int
    score: float
    cross_encoder_score: float
    retrieval_rank: int
    retrieval_score: float | None
    num_windows: int
    window_index: int
    window_span: tuple[int, int]
    coarse_score: float | None = None
    cut_at_stage: str | None = None
