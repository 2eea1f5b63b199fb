import itertools
import re

import pytest

from crossrank.ranking.windows import TokenWindow, plan_windows, window_char_span


def spans(windows: list[TokenWindow]) -> list[tuple[int, int]]:
    return [(w.start, w.end) for w in windows]


@pytest.mark.parametrize(
    ("num_tokens", "size", "overlap", "cap", "expected"),
    [
        (0, 4, 1, None, [(0, 0)]),
        (3, 4, 1, None, [(0, 3)]),
        (4, 4, 1, None, [(0, 4)]),
        (5, 4, 1, None, [(0, 4), (1, 5)]),
        # stride 3: starts 0, 3, then the last window is aligned to the end (6..10).
        (10, 4, 1, None, [(0, 4), (3, 7), (6, 10)]),
        (11, 4, 1, None, [(0, 4), (3, 7), (6, 10), (7, 11)]),
        (8, 4, 0, None, [(0, 4), (4, 8)]),
        (9, 4, 0, None, [(0, 4), (4, 8), (5, 9)]),
    ],
    ids=["empty", "shorter", "exact", "one-over", "three", "tail-aligned", "no-overlap", "no-overlap-tail"],
)
def test_window_boundaries(
    num_tokens: int, size: int, overlap: int, cap: int | None, expected: list[tuple[int, int]]
) -> None:
    assert spans(plan_windows(num_tokens, size, overlap, cap)) == expected


def test_consecutive_windows_share_exactly_the_overlap_except_the_tail() -> None:
    windows = plan_windows(1000, 100, 20, None)
    for left, right in itertools.pairwise(windows[:-1]):
        assert left.end - right.start == 20
    assert windows[-1].end == 1000
    assert all(w.end - w.start == 100 for w in windows)


def test_cap_keeps_evenly_spaced_windows_including_first_and_last() -> None:
    uncapped = plan_windows(40, 4, 0, None)  # starts 0, 4, ..., 36: ten windows
    assert len(uncapped) == 10
    capped = plan_windows(40, 4, 0, 4)
    # indices round(i * 9 / 3) for i in 0..3 -> 0, 3, 6, 9
    assert spans(capped) == [spans(uncapped)[i] for i in (0, 3, 6, 9)]
    assert spans(plan_windows(40, 4, 0, 1)) == [(0, 4)]


@pytest.mark.parametrize(
    ("size", "overlap", "cap", "message"),
    [
        (4, 4, None, "window_overlap must be >= 0 and smaller than the window of 4 tokens, got 4."),
        (4, -1, None, "window_overlap must be >= 0 and smaller than the window of 4 tokens, got -1."),
        (0, 0, None, "window_size must be a positive integer, got 0."),
        (4, 1, 0, "max_windows must be a positive integer or None, got 0."),
    ],
    ids=["overlap-equals-window", "negative-overlap", "zero-window", "zero-cap"],
)
def test_bad_window_settings(size: int, overlap: int, cap: int | None, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        plan_windows(10, size, overlap, cap)


def test_char_span_covers_first_to_last_token() -> None:
    offsets = [(0, 3), (4, 9), (10, 12), (13, 20)]
    assert window_char_span(TokenWindow(1, 3), offsets) == (4, 12)
    assert window_char_span(TokenWindow(0, 0), []) == (0, 0)
