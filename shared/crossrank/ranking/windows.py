"""Splitting a tokenized document into overlapping windows (chunk-max)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["TokenWindow", "plan_windows", "window_char_span"]


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
