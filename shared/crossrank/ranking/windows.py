"""Splitting a tokenized document into overlapping windows, and their scores into one (chunk-max)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "TokenWindow",
    "aggregate_window_scores",
    "align_to_words",
    "plan_snapped_windows",
    "plan_windows",
    "sentence_starts",
    "window_char_span",
    "word_starts",
]

_SENTENCE_END = ".!?"
_CLOSERS = "\"')]"


@dataclass(frozen=True, slots=True)
class TokenWindow:
    """A half-open range ``[start, end)`` of document token positions."""

    start: int
    end: int


def plan_windows(
    num_tokens: int,
    window_size: int,
    overlap: int,
    max_windows: int | None,
) -> list[TokenWindow]:
    """Cover ``num_tokens`` document tokens with overlapping windows.

    Windows start every ``window_size - overlap`` tokens. The last window is aligned
    to end exactly at the document's end, so it is full length (it may overlap its
    neighbour by more than ``overlap``). A document that fits, including an empty
    one, gets a single window.

    When more than ``max_windows`` windows are needed, ``max_windows`` of them are
    kept, evenly spaced over the document and always including the first and the
    last, so that every region of a long document keeps a nearby window.

    Args:
        num_tokens: Length of the tokenized document.
        window_size: Tokens per window (at least 1).
        overlap: Tokens shared by consecutive windows (0 <= overlap < window_size).
        max_windows: Cap on the number of windows, or ``None`` for no cap.

    Returns:
        The windows, in document order.

    Raises:
        ValueError: If ``window_size``, ``overlap`` or ``max_windows`` is out of range.
    """
    if window_size < 1:
        raise ValueError(f"window_size must be a positive integer, got {window_size}.")
    if overlap < 0 or overlap >= window_size:
        raise ValueError(
            f"window_overlap must be >= 0 and smaller than the window of {window_size} tokens, "
            f"got {overlap}. Lower window_overlap or shorten the query."
        )
    if max_windows is not None and max_windows < 1:
        raise ValueError(f"max_windows must be a positive integer or None, got {max_windows}.")
    if num_tokens <= window_size:
        return [TokenWindow(0, num_tokens)]

    stride = window_size - overlap
    starts = list(range(0, num_tokens - window_size, stride))
    starts.append(num_tokens - window_size)
    if max_windows is not None and len(starts) > max_windows:
        starts = _evenly_spaced(starts, max_windows)
    return [TokenWindow(start, start + window_size) for start in starts]


def _evenly_spaced(items: list[int], count: int) -> list[int]:
    """Pick ``count`` items spread evenly over ``items``, keeping the first and last."""
    if count == 1:
        return [items[0]]
    last = len(items) - 1
    return [items[round(i * last / (count - 1))] for i in range(count)]


def window_char_span(window: TokenWindow, offsets: Sequence[tuple[int, int]] | Any) -> tuple[int, int]:
    """Character span ``(start, end)`` covered by a window's tokens.

    Args:
        window: The token window.
        offsets: Per-token ``(start, end)`` character offsets of the whole document.

    Returns:
        The span from the first token's start to the last token's end, or ``(0, 0)``
        for an empty window.
    """
    if window.end <= window.start:
        return (0, 0)
    # int(): offsets may be a numpy array, and spans are plain Python ints.
    return (int(offsets[window.start][0]), int(offsets[window.end - 1][1]))


def sentence_starts(text: str, offsets: Sequence[tuple[int, int]] | Any) -> tuple[list[int], list[int]]:
    """Token positions that start a paragraph, and those that start a sentence.

    Read from the tokenizer's character offsets, never by re-tokenizing: token ``i`` starts
    a paragraph when the text between token ``i - 1`` and it holds a line break, and a
    sentence when that gap is whitespace after a ``.``, ``!`` or ``?`` (closing quotes or
    brackets allowed) and token ``i`` starts with a capital letter or a digit. Token 0 is
    neither (it starts every plan anyway).

    Args:
        text: The document.
        offsets: Per-token ``(start, end)`` character offsets into ``text``.

    Returns:
        ``(paragraph_starts, sentence_starts)``, ascending; every paragraph start is also a
        sentence start.
    """
    paragraphs: list[int] = []
    sentences: list[int] = []
    for i in range(1, len(offsets)):
        previous_end, start = int(offsets[i - 1][1]), int(offsets[i][0])
        gap = text[previous_end:start]
        if not gap or not gap.isspace() or start >= len(text):
            continue
        if "\n" in gap:
            paragraphs.append(i)
            sentences.append(i)
            continue
        before = text[:previous_end].rstrip(_CLOSERS)
        if before.endswith(tuple(_SENTENCE_END)) and (text[start].isupper() or text[start].isdigit()):
            sentences.append(i)
    return paragraphs, sentences


def plan_snapped_windows(
    num_tokens: int,
    window_size: int,
    overlap: int,
    max_windows: int | None,
    paragraph_starts: Sequence[int],
    sentence_starts: Sequence[int],
) -> list[TokenWindow]:
    """Like :func:`plan_windows`, but each window after the first starts at a text boundary.

    The fixed plan would start the next window at ``start + window_size - overlap``. Within
    ``overlap`` tokens of that point (never past the current window's end, so no token is
    skipped), the next window starts at a paragraph start if there is one, else at the
    sentence start nearest that point; where there is neither, at the point itself. So
    windows hold whole sentences, the overlap stays between 0 and ``2 * overlap`` tokens,
    and every token is covered. The last window ends at the document's end, as in the fixed
    plan, and starts at the first paragraph (else sentence) start that keeps it within the
    window size, so the document's tail is read whole. ``max_windows`` keeps windows evenly
    spaced, as in :func:`plan_windows`.

    Args:
        num_tokens: Length of the tokenized document.
        window_size: Tokens per window.
        overlap: The fixed plan's overlap (0 <= overlap < window_size).
        max_windows: Cap on the number of windows, or ``None``.
        paragraph_starts: Token positions that start a paragraph, ascending.
        sentence_starts: Token positions that start a sentence, ascending.

    Returns:
        The windows, in document order.

    Raises:
        ValueError: As :func:`plan_windows`.
    """
    fixed = plan_windows(num_tokens, window_size, overlap, max_windows)
    if len(fixed) == 1:
        return fixed

    def nearest(candidates: Sequence[int], low: int, high: int, target: int) -> int | None:
        first = bisect.bisect_left(candidates, low)
        last = bisect.bisect_right(candidates, high)
        within = candidates[first:last]
        return min(within, key=lambda position: (abs(position - target), position)) if within else None

    reach = max(overlap, 1)
    starts = [0]
    while starts[-1] + window_size < num_tokens:
        current = starts[-1]
        target = current + window_size - overlap
        if target + window_size >= num_tokens:
            # The last window: as in the fixed plan it ends at the document's end, starting at
            # the first boundary that keeps it within the window size (the end-aligned start).
            last = num_tokens - window_size
            boundary = _first_at_least(paragraph_starts, last, current + window_size)
            if boundary is None:
                boundary = _first_at_least(sentence_starts, last, current + window_size)
            starts.append(last if boundary is None else boundary)
            break
        low, high = max(current + 1, target - reach), min(current + window_size, target + reach)
        snapped = nearest(paragraph_starts, low, high, target)
        if snapped is None:
            snapped = nearest(sentence_starts, low, high, target)
        starts.append(target if snapped is None else snapped)
    if max_windows is not None and len(starts) > max_windows:
        starts = _evenly_spaced(starts, max_windows)
    return [TokenWindow(start, min(start + window_size, num_tokens)) for start in starts]


def _first_at_least(positions: Sequence[int], low: int, high: int) -> int | None:
    """The first of ``positions`` (ascending) in ``[low, high]``, or ``None``."""
    index = bisect.bisect_left(positions, low)
    return positions[index] if index < len(positions) and positions[index] <= high else None


def word_starts(text: str, offsets: Sequence[tuple[int, int]] | Any) -> list[int]:
    """Token positions that start a whitespace-separated word (token 0 always does).

    Read from the tokenizer's character offsets: token ``i`` starts a word when whitespace
    separates it from token ``i - 1``. A window cut there holds whole words, so its text,
    tokenized alone, gives the window's tokens back (WordPiece and Unigram) or tokens the
    model scores as it would that text (byte-level BPE).

    Args:
        text: The document.
        offsets: Per-token ``(start, end)`` character offsets into ``text``.

    Returns:
        The word starts, ascending.
    """
    starts = [0] if len(offsets) else []
    for i in range(1, len(offsets)):
        previous_end, start = int(offsets[i - 1][1]), int(offsets[i][0])
        if start > previous_end and text[previous_end:start].isspace():
            starts.append(i)
        elif start == previous_end and start < len(text) and text[start].isspace():
            starts.append(i)  # a token that carries the separating whitespace in its offsets
    return starts


def align_to_words(
    windows: Sequence[TokenWindow],
    starts: Sequence[int],
    num_tokens: int,
    window_size: int,
    max_windows: int | None = None,
) -> list[TokenWindow]:
    """Move each window's ends onto word starts, inside its size, leaving no gap a plan had not.

    A window starts at the first word start at or after its planned start (at the end of
    the previous window at the latest, where the plan left no gap, so no token goes
    unread) and ends at the last word start that keeps it within ``window_size``, or at
    the document's end. Where that leaves the document's tail unread (windows that
    shrank to whole words by more than the plan's overlap), windows are added until it
    is read, up to ``max_windows``. Where one word is longer than the window, that window
    keeps its token cut. Windows that come out the same are kept once.

    Args:
        windows: A plan from :func:`plan_windows` or :func:`plan_snapped_windows`.
        starts: :func:`word_starts` of the document.
        num_tokens: Length of the tokenized document.
        window_size: Tokens per window.
        max_windows: The plan's cap, which added windows respect (``None``: no cap).

    Returns:
        The aligned windows, in document order.
    """
    if len(windows) < 2:
        return list(windows)

    def from_start(start: int) -> TokenWindow:
        limit = min(start + window_size, num_tokens)
        if limit < num_tokens:
            last = bisect.bisect_right(starts, limit) - 1
            if last >= 0 and starts[last] > start:
                return TokenWindow(start, starts[last])
        return TokenWindow(start, limit)

    aligned: list[TokenWindow] = []
    previous: TokenWindow | None = None
    for planned in windows:
        first = _first_at_least(starts, planned.start, planned.end - 1)
        start = planned.start if first is None else first
        if aligned and previous is not None and planned.start <= previous.end:
            start = min(start, aligned[-1].end)  # the plan left no gap here: neither do we
        window = from_start(start)
        if not aligned or window != aligned[-1]:
            aligned.append(window)
        previous = planned
    while aligned[-1].end < num_tokens and (max_windows is None or len(aligned) < max_windows):
        aligned.append(from_start(aligned[-1].end))
    return aligned


def aggregate_window_scores(scores: Sequence[float], aggregation: str) -> tuple[float, int]:
    """A document's score from its window scores (in document order), and its best window.

    Args:
        scores: Each window's score, first window first.
        aggregation: ``"max"``, ``"first_blend"`` (mean of the first and the best) or
            ``"top2_mean"`` (mean of the two best; the best alone for one window).

    Returns:
        ``(score, index of the best window)``; ties go to the earliest window.

    Raises:
        ValueError: For no scores or an unknown aggregation.
    """
    if not scores:
        raise ValueError("a document needs at least one window score")
    best = max(range(len(scores)), key=lambda i: scores[i])
    if aggregation == "max":
        return scores[best], best
    if aggregation == "first_blend":
        return (scores[0] + scores[best]) / 2, best
    if aggregation == "top2_mean":
        top = sorted(scores, reverse=True)[:2]
        return sum(top) / len(top), best
    raise ValueError(f"window_aggregation must be 'max', 'first_blend' or 'top2_mean', got {aggregation!r}")
