"""Scoring texts window by window: every window once, then the best window per text.

The engine behind :class:`~crossrank.Reranker`: tokenize the query and each distinct
text once, plan each text's windows, look windows up in the score cache, score the
rest in length-sorted batches under the token budget, and keep each text's best
window (chunk-max). A model score that is not finite stops the call with an error
naming the text and the backend, instead of silently unordering the ranking.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crossrank.errors import ScoringError
from crossrank.ranking.batching import plan_batches
from crossrank.ranking.score_cache import ScoreCache
from crossrank.ranking.windows import (
    TokenWindow,
    aggregate_window_scores,
    align_to_words,
    plan_snapped_windows,
    plan_windows,
    sentence_starts,
    window_char_span,
    word_starts,
)
from crossrank.scorer import PairScorer, TokenizedText
from crossrank.scorer import query_ids as query_part

__all__ = ["TextScore", "score_texts"]


@dataclass(frozen=True, slots=True)
class TextScore:
    """The cross-encoder's verdict on one distinct text."""

    score: float
    num_windows: int
    window_index: int
    window_span: tuple[int, int]


@dataclass(frozen=True, slots=True)
class _Window:
    owner: int  # index of the distinct text
    span: TokenWindow
    index: int  # position in the text's full window plan (document order)
    ids: Any = None  # the window's text tokenized alone, where that differs from the slice


WindowScores = dict[str, list[tuple[float, tuple[int, int]]]]
"""Per distinct text, each scored window's raw score and character span, in document order."""


def score_texts(
    scorer: PairScorer,
    query: str,
    texts: Sequence[str],
    *,
    options: Mapping[str, Any],
    cache: ScoreCache | None,
    backend: str,
    names: Sequence[str],
    query_name: str = "query",
    window_scores_out: WindowScores | None = None,
    only_windows: Mapping[str, Sequence[tuple[int, int]]] | None = None,
) -> dict[str, TextScore]:
    """Score each distinct text of ``texts`` once against ``query``.

    Args:
        scorer: The model.
        query: The query (already checked).
        texts: Candidate texts; repeats are scored once.
        options: The reranker's options (``long_documents``, ``window_overlap``,
            ``max_windows``, ``batch_size``, ``max_tokens_per_batch``, ``normalize``,
            ``show_progress_bar``).
        cache: The window-score cache, or ``None``.
        backend: How the scorer runs (``"onnx"``, ``"torch-fp16"``...), for cache keys
            and error messages.
        names: How to name each of ``texts`` in an error (``"documents[3]"``).
        query_name: How to name the query in an error.
        window_scores_out: Filled with every scored window's raw score and character
            span (a cascade's coarse stage hands them to the fine stage).
        only_windows: Per text, character spans: only the windows of this model that
            overlap them most are scored (one per span; a text not listed, or with one
            window, is scored whole). Spans rather than window numbers, so two models
            with different tokenizers can hand windows to each other.

    Returns:
        Each distinct text's best-window score (normalized as the options say); its
        ``window_index`` is the winner's position among all the text's windows.

    Raises:
        ValueError: If the query has no tokens for this model.
        ScoringError: If the model returns a score that is not finite.
    """
    distinct = list(dict.fromkeys(texts))
    first_name = dict(zip(reversed(texts), reversed(names), strict=True))
    room = scorer.max_length - scorer.num_special_tokens
    query_ids = query_part(scorer, query, room // 2)
    if not query_ids:
        raise ValueError(
            f"{query_name} {query!r} has no tokens for this model (only characters its tokenizer "
            "drops); pass a query with words in it."
        )
    window_size = room - len(query_ids)
    tokenized = scorer.tokenize(distinct)
    windows: list[_Window] = []
    for owner, tokens in enumerate(tokenized):
        plan = _plan(distinct[owner], tokens, window_size, options)
        wanted = None if only_windows is None else only_windows.get(distinct[owner])
        chosen = range(len(plan)) if not wanted or len(plan) < 2 else _overlapping(plan, tokens, wanted)
        windows.extend(_Window(owner, plan[index], index) for index in chosen)
    windows = _as_their_own_text(scorer, distinct, tokenized, windows, window_size)
    scores = _score_windows(scorer, query_ids, tokenized, windows, options, cache, backend)
    best: dict[str, TextScore] = {}
    cursor = 0
    for owner, (text, tokens) in enumerate(zip(distinct, tokenized, strict=True)):
        own = []
        while cursor < len(windows) and windows[cursor].owner == owner:
            own.append(cursor)
            cursor += 1
        for position, i in enumerate(own):
            if not math.isfinite(scores[i]):
                raise ScoringError(
                    f"the model returned {scores[i]} for {first_name[text]} (window {position + 1} of "
                    f"{len(own)}) with backend {backend}; scores must be finite, so nothing was ranked. "
                    "A damaged ONNX export or fp16 overflow on a GPU are the usual causes: try "
                    "backend='torch' with precision='fp32', or delete the ONNX cache "
                    "($CROSSRANK_CACHE_DIR/onnx)."
                )
        # Ties go to the earliest window. With only some windows scored (a cascade's fine
        # stage), "first" in first_blend is the first window scored.
        aggregated, winner = aggregate_window_scores(
            [scores[i] for i in own], options.get("window_aggregation", "max")
        )
        best[text] = TextScore(
            score=_normalized(aggregated, scorer, options["normalize"]),
            num_windows=len(own),
            window_index=windows[own[winner]].index,
            window_span=window_char_span(windows[own[winner]].span, tokens.offsets),
        )
        if window_scores_out is not None:
            window_scores_out[text] = [
                (scores[i], window_char_span(windows[i].span, tokens.offsets)) for i in own
            ]
    return best


def _overlapping(
    plan: list[TokenWindow], tokens: TokenizedText, spans: Sequence[tuple[int, int]]
) -> list[int]:
    """Per character span, the window of ``plan`` that overlaps it most (ties: the earliest)."""
    char_spans = [window_char_span(window, tokens.offsets) for window in plan]
    chosen = set()
    for start, end in spans:
        overlaps = [min(end, e) - max(start, s) for s, e in char_spans]
        chosen.add(max(range(len(plan)), key=lambda i: overlaps[i]))
    return sorted(chosen)


def _plan(
    text: str, tokens: TokenizedText, window_size: int, options: Mapping[str, Any]
) -> list[TokenWindow]:
    num_tokens = len(tokens.ids)
    if options["long_documents"] == "truncate":
        return [TokenWindow(0, min(num_tokens, window_size))]
    overlap = window_size // 8 if options["window_overlap"] is None else options["window_overlap"]
    if options.get("window_boundaries", "tokens") == "sentences" and num_tokens > window_size:
        paragraphs, sentences = sentence_starts(text, tokens.offsets)
        windows = plan_snapped_windows(
            num_tokens, window_size, overlap, options["max_windows"], paragraphs, sentences
        )
    else:
        windows = plan_windows(num_tokens, window_size, overlap, options["max_windows"])
    # Whole words per window, so a window scores as its own text would (its window_span).
    return align_to_words(
        windows, word_starts(text, tokens.offsets), num_tokens, window_size, options["max_windows"]
    )


def _as_their_own_text(
    scorer: PairScorer,
    texts: Sequence[str],
    tokenized: Sequence[TokenizedText],
    windows: list[_Window],
    window_size: int,
) -> list[_Window]:
    """Give each window of a long text the tokens of its own text, where they differ from the slice.

    A byte-level BPE token carries the space before its word (" word"), so the slice of a
    window that starts mid-document differs from its text tokenized alone ("word"), and
    ``CrossEncoder.predict`` on the window's text would score other tokens. WordPiece and
    Unigram give the slice back, and the window is left as it is. A window whose own
    tokens would not fit drops its last word (a window of one word keeps the slice).
    """
    parts = [i for i, window in enumerate(windows) if 0 < window.span.start < window.span.end]
    if not parts:
        return windows
    own = scorer.tokenize([texts[windows[i].owner][slice(*_char_span(windows[i], tokenized))] for i in parts])
    result = list(windows)
    for i, alone in zip(parts, own, strict=True):
        window = windows[i]
        sliced = tokenized[window.owner].ids[window.span.start : window.span.end]
        if [int(token) for token in alone.ids] == [int(token) for token in sliced]:
            continue
        ids = alone.ids
        if len(ids) > window_size:
            text = texts[window.owner]
            starts = word_starts(text, tokenized[window.owner].offsets)
            shorter = [start for start in starts if window.span.start < start < window.span.end]
            if not shorter:
                continue
            window = _Window(window.owner, TokenWindow(window.span.start, shorter[-1]), window.index)
            ids = scorer.tokenize([text[slice(*_char_span(window, tokenized))]])[0].ids
            if len(ids) > window_size:
                continue
        result[i] = _Window(window.owner, window.span, window.index, ids)
    return result


def _char_span(window: _Window, tokenized: Sequence[TokenizedText]) -> tuple[int, int]:
    return window_char_span(window.span, tokenized[window.owner].offsets)


def _score_windows(
    scorer: PairScorer,
    query_ids: list[int],
    tokenized: list[TokenizedText],
    windows: list[_Window],
    options: Mapping[str, Any],
    cache: ScoreCache | None,
    backend: str,
) -> list[float]:
    def passage(i: int) -> Any:
        window = windows[i]
        if window.ids is not None:
            return window.ids
        return tokenized[window.owner].ids[window.span.start : window.span.end]

    keys: list[Hashable] = (
        list(range(len(windows)))
        if cache is None
        else list(cache.keys((scorer.name, backend), query_ids, (passage(i) for i in range(len(windows)))))
    )
    cached = [None] * len(keys) if cache is None else cache.get_many(keys)
    scores: dict[Hashable, float] = {
        key: score for key, score in zip(keys, cached, strict=True) if score is not None
    }
    # A window repeated within the call (same tokens, same key) is scored once.
    first_of_key: dict[Hashable, int] = {}
    for i, key in enumerate(keys):
        if key not in scores:
            first_of_key.setdefault(key, i)
    todo = list(first_of_key.values())
    lengths = [len(query_ids) + len(passage(i)) + scorer.num_special_tokens for i in todo]
    batches = plan_batches(lengths, options["batch_size"], options["max_tokens_per_batch"])
    for batch in _progress(batches, options["show_progress_bar"]):
        items = [todo[j] for j in batch]
        # Passages are sliced per batch, so only one batch of window copies is alive at a time.
        values = [float(v) for v in scorer.score([(query_ids, passage(i)) for i in items])]
        batch_keys = [keys[i] for i in items]
        scores.update(zip(batch_keys, values, strict=True))
        if cache is not None:
            # A non-finite score is an error (raised by the caller), never a cached answer.
            finite = [
                (key, value) for key, value in zip(batch_keys, values, strict=True) if math.isfinite(value)
            ]
            cache.put_many([key for key, _ in finite], [value for _, value in finite])
    return [scores[key] for key in keys]


def _progress(batches: list[list[int]], show: bool) -> Iterable[list[int]]:
    if not show or len(batches) < 2:
        return batches
    from tqdm.auto import tqdm

    return tqdm(batches, desc="Reranking", unit="batch")


def _normalized(score: float, scorer: PairScorer, normalize: str | None) -> float:
    if normalize == "sigmoid" and not scorer.outputs_probabilities:
        return 1.0 / (1.0 + math.exp(-score))
    return score
