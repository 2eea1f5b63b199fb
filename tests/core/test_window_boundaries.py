"""Windows snapped to sentence and paragraph starts, and the window aggregations."""

from __future__ import annotations

import itertools
import re

import pytest
from fake_scorer import FakeScorer
from hypothesis import given, settings
from hypothesis import strategies as st

from crossrank import Reranker
from crossrank.ranking.windows import (
    aggregate_window_scores,
    plan_snapped_windows,
    plan_windows,
    sentence_starts,
)


def _words(text: str) -> list[tuple[int, int]]:
    return [(match.start(), match.end()) for match in re.finditer(r"\S+", text)]


def test_sentence_and_paragraph_starts_come_from_the_offsets() -> None:
    text = 'Cells divide. Then they "rest." 3 genes act!\n\nA new part starts e.g. here. lower case.'
    offsets = _words(text)
    paragraphs, sentences = sentence_starts(text, offsets)
    words = text.split()
    assert [words[i] for i in paragraphs] == ["A"]
    # "e.g. here" is no sentence start (lower case); "rest." inside quotes ends one.
    assert [words[i] for i in sentences] == ["Then", "3", "A"]


def test_a_window_starts_at_the_sentence_start_nearest_the_stride() -> None:
    # 40 tokens; sentences start at 9 and 14; window 12, overlap 2: the fixed plan starts at 10.
    plan = plan_snapped_windows(40, 12, 2, None, paragraph_starts=[], sentence_starts=[9, 14, 30])
    assert [window.start for window in plan][:2] == [0, 9]
    fixed = plan_windows(40, 12, 2, None)
    assert [window.start for window in fixed][:2] == [0, 10]


def test_a_paragraph_start_beats_a_nearer_sentence_start() -> None:
    plan = plan_snapped_windows(40, 12, 2, None, paragraph_starts=[8], sentence_starts=[8, 10])
    assert plan[1].start == 8


def test_the_last_window_ends_at_the_end_and_starts_on_the_first_boundary_that_fits() -> None:
    # 30 tokens, window 12: the end-aligned start is 18; paragraphs start at 16 and 20.
    plan = plan_snapped_windows(30, 12, 2, None, paragraph_starts=[16, 20], sentence_starts=[16, 19, 20])
    assert (plan[-1].start, plan[-1].end) == (20, 30)
    fixed = plan_windows(30, 12, 2, None)
    assert (fixed[-1].start, fixed[-1].end) == (18, 30)


def test_without_a_boundary_in_reach_the_fixed_stride_is_kept() -> None:
    plan = plan_snapped_windows(40, 12, 2, None, paragraph_starts=[], sentence_starts=[3, 25])
    assert plan[1].start == 10


@settings(max_examples=200, deadline=None)
@given(
    num_tokens=st.integers(1, 300),
    window_size=st.integers(2, 40),
    overlap_share=st.floats(0, 0.5),
    boundaries=st.lists(st.integers(1, 299), max_size=60),
    max_windows=st.one_of(st.none(), st.integers(1, 8)),
)
def test_snapped_windows_cover_every_token_within_size_and_bounded_overlap(
    num_tokens: int, window_size: int, overlap_share: float, boundaries: list[int], max_windows: int | None
) -> None:
    overlap = int(window_size * overlap_share)
    sentences = sorted({b for b in boundaries if b < num_tokens})
    paragraphs = sentences[::3]
    plan = plan_snapped_windows(num_tokens, window_size, overlap, max_windows, paragraphs, sentences)
    assert all(0 < window.end - window.start <= window_size for window in plan) or num_tokens == 0
    assert plan[0].start == 0
    if max_windows != 1:  # one window kept is the first, as in plan_windows
        assert plan[-1].end == num_tokens
    if max_windows is not None:
        assert len(plan) <= max_windows
    else:
        for number, (before, after) in enumerate(itertools.pairwise(plan)):
            assert before.start < after.start <= before.end  # no gap: every token covered
            if number < len(plan) - 2:  # the last window is end-aligned, as in plan_windows
                assert before.end - after.start <= 2 * max(overlap, 1)


def test_aggregations_against_hand_computed_values() -> None:
    scores = [0.2, 0.9, 0.5, 0.9]
    assert aggregate_window_scores(scores, "max") == (0.9, 1)  # ties: the earliest
    assert aggregate_window_scores(scores, "first_blend") == (pytest.approx(0.55), 1)
    assert aggregate_window_scores(scores, "top2_mean") == (pytest.approx(0.9), 1)
    assert aggregate_window_scores([0.3, 0.1, 0.7], "top2_mean") == (pytest.approx(0.5), 2)
    assert aggregate_window_scores([0.4], "top2_mean") == (0.4, 0)
    with pytest.raises(ValueError, match="window_aggregation must be"):
        aggregate_window_scores([0.1], "mean")


def test_the_reranker_applies_the_aggregation_and_reports_the_best_window() -> None:
    # max_length 16, 3 special tokens, a 1-token query: windows of 12 words.
    text = " ".join(["apple"] + ["x"] * 11 + ["apple", "apple", "apple"] + ["y"] * 9)
    fake = Reranker(FakeScorer(), score_cache_size=0, window_overlap=0)
    best = fake.rerank("apple", [text])[0]
    blended = fake.with_options(window_aggregation="first_blend").rerank("apple", [text])[0]
    assert best.score == 3.0
    assert blended.score == pytest.approx((1.0 + 3.0) / 2)
    assert blended.window_index == best.window_index == 1


def test_sentence_windows_start_on_sentences_in_the_reranker() -> None:
    sentences = [f"Sentence {i} has some words in it." for i in range(12)]
    text = " ".join(sentences)
    fake = Reranker(
        FakeScorer(max_length=24), score_cache_size=0, window_boundaries="sentences", window_overlap=4
    )
    spans: list[tuple[int, int]] = []
    for word in ("0", "5", "11"):
        result = fake.rerank(f"sentence {word}", [text])[0]
        spans.append(result.window_span)
    starts = {text.index(sentence) for sentence in sentences}
    assert all(start in starts for start, _ in spans)


def test_bad_values_are_refused() -> None:
    with pytest.raises(ValueError, match="window_boundaries"):
        Reranker(FakeScorer(), window_boundaries="words")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="window_aggregation"):
        Reranker(FakeScorer(), window_aggregation="mean")  # type: ignore[arg-type]
