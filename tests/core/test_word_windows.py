"""Windows cut on word starts: pure logic over offsets, and parity with predict on the real model."""

from __future__ import annotations

import itertools
import re

import pytest

from crossrank.ranking.windows import TokenWindow, align_to_words, plan_windows, word_starts


def word_pieces(text: str) -> tuple[list[tuple[int, int]], list[int]]:
    """Offsets of a WordPiece-like split (words cut in 3-letter pieces) and the true word starts."""
    offsets: list[tuple[int, int]] = []
    starts: list[int] = []
    for match in re.finditer(r"\S+", text):
        starts.append(len(offsets))
        for begin in range(match.start(), match.end(), 3):
            offsets.append((begin, min(begin + 3, match.end())))
    return offsets, starts


def test_word_starts_are_read_from_whitespace_between_offsets() -> None:
    text = "Chunking longer documents  keeps\nevery window readable."
    offsets, expected = word_pieces(text)
    assert word_starts(text, offsets) == expected
    assert word_starts("", []) == []


def test_offsets_that_include_the_space_still_start_a_word() -> None:
    text = "one two"
    assert word_starts(text, [(0, 3), (3, 7)]) == [0, 1]


@pytest.mark.parametrize(("size", "overlap"), [(8, 2), (8, 0), (13, 4), (20, 5)])
def test_aligned_windows_hold_whole_words_fit_and_cover_every_token(size: int, overlap: int) -> None:
    text = " ".join(f"word{i}{'x' * (i % 7)}" for i in range(40))
    offsets, starts = word_pieces(text)
    num_tokens = len(offsets)
    windows = align_to_words(plan_windows(num_tokens, size, overlap, None), starts, num_tokens, size)
    assert windows[0].start == 0
    assert windows[-1].end == num_tokens
    for window in windows:
        assert window.start in starts
        assert window.end in starts or window.end == num_tokens
        assert 0 < window.end - window.start <= size
    for left, right in itertools.pairwise(windows):
        assert right.start <= left.end  # no token unread
        assert left.start < right.start


def test_a_word_longer_than_the_window_keeps_the_token_cut() -> None:
    offsets = [(i, i + 1) for i in range(30)]  # one 30-character word in single-letter tokens
    windows = align_to_words(plan_windows(30, 8, 2, None), [0], 30, 8)
    assert all(window.end - window.start <= 8 for window in windows)
    assert windows[-1].end == 30
    assert word_starts("x" * 30, offsets) == [0]


def test_a_capped_plan_keeps_its_gaps() -> None:
    text = " ".join(f"w{i}" for i in range(200))
    offsets, starts = word_pieces(text)
    plan = plan_windows(len(offsets), 10, 2, 3)
    windows = align_to_words(plan, starts, len(offsets), 10)
    assert len(windows) == 3
    assert windows[1].start > windows[0].end  # the cap skipped the middle; alignment does not refill it


def test_one_window_is_left_alone() -> None:
    assert align_to_words([TokenWindow(0, 5)], [0, 2], 5, 8) == [TokenWindow(0, 5)]


def test_every_window_scores_as_predict_on_its_span(model_path: str) -> None:
    from sentence_transformers import CrossEncoder

    from crossrank import Reranker
    from crossrank.ranking.window_scoring import WindowScores, score_texts

    query = "does regular aerobic exercise lower blood pressure?"
    # Long words WordPiece splits ("normotensive", "antihypertensive") land on window edges.
    document = " ".join(
        f"Trial {i}: normotensive and antihypertensive-treated participants walked briskly, "
        "and systolic readings fell modestly in most."
        for i in range(40)
    )
    reranker = Reranker(model_path, backend="torch", score_cache_size=0)
    window_scores: WindowScores = {}
    score_texts(
        reranker.scorer,
        query,
        [document],
        options=reranker.options,
        cache=None,
        backend=reranker.backend_in_use,
        names=["documents[0]"],
        window_scores_out=window_scores,
    )
    scored = window_scores[document]
    assert len(scored) > 2
    expected = CrossEncoder(model_path, device="cpu").predict(
        [(query, document[start:end]) for _, (start, end) in scored], batch_size=4
    )
    for (score, span), reference in zip(scored, expected, strict=True):
        assert score == pytest.approx(float(reference), abs=1e-5), span
        start, end = span
        assert start == 0 or document[start - 1] == " "
        assert end == len(document) or document[end] == " "
