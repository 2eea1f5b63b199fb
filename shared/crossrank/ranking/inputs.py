"""Checking what callers pass in: one set of rules for the core and both adapters.

Sequences and other iterables (generators too) of strings are accepted and read once;
a string or ``bytes`` is refused (it would be read as characters); text that cannot be
encoded (a lone surrogate) is named with its position; every message names the value.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping
from numbers import Real

from crossrank.option_checks import check_int, check_threshold

__all__ = [
    "check_documents",
    "check_pairs",
    "check_query",
    "check_rerank_call",
    "check_retrieval_scores",
    "check_text",
]


def check_text(name: str, text: object) -> str:
    """``text`` if it is a ``str`` that encodes as UTF-8.

    Raises:
        TypeError: If it is not a string.
        ValueError: If it holds a lone surrogate, naming its position.
    """
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a string, got {type(text).__name__}.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{name} is not valid text: it holds a lone surrogate ({text[exc.start]!r}) at character "
            f"{exc.start}; decode your input with errors='replace' or remove it."
        ) from None
    return text


def check_query(query: object, name: str = "query") -> str:
    """A non-blank query (the model decides later whether it has any tokens).

    A query of control or other unprintable characters is not blank: a byte-level
    tokenizer reads them, and a model whose tokenizer drops them refuses the query
    then, saying it has no tokens for this model.

    Raises:
        TypeError: If it is not a string.
        ValueError: If it is empty or only white space and zero-width (format)
            characters, or not valid text.
    """
    text = check_text(name, query)
    if all(character.isspace() or unicodedata.category(character) == "Cf" for character in text):
        raise ValueError(f"{name} must be a non-empty string, got {query!r}.")
    return text


def _as_list(name: str, values: object, kind: str) -> list[object]:
    if isinstance(values, (str, bytes, bytearray, Mapping)) or not isinstance(values, Iterable):
        raise TypeError(
            f"{name} must be a sequence of {kind}, got {type(values).__name__}. "
            + ("Wrap a single text in a list." if isinstance(values, (str, bytes)) else "")
        )
    return list(values)


def check_documents(documents: object) -> list[str]:
    """The documents as a new list of strings (an iterable is read once).

    Raises:
        TypeError: If ``documents`` is a string, bytes, not iterable, or holds a non-string.
        ValueError: If a document is not valid text.
    """
    return [
        check_text(f"documents[{index}]", document)
        for index, document in enumerate(_as_list("documents", documents, "strings"))
    ]


def check_retrieval_scores(scores: object, count: int) -> list[float] | None:
    """The retriever's scores as floats, one per document, or ``None``.

    Raises:
        ValueError: On a count mismatch, or a score that is not a finite number (NaN,
            infinity, a bool, a string, an int too large for a float), naming its index.
    """
    if scores is None:
        return None
    values = _as_list("retrieval_scores", scores, "numbers")
    if len(values) != count:
        raise ValueError(
            f"retrieval_scores must have one score per document: got {len(values)} scores "
            f"for {count} documents."
        )
    checked: list[float] = []
    for index, score in enumerate(values):
        if isinstance(score, bool) or not isinstance(score, Real):
            raise ValueError(f"retrieval_scores[{index}] must be a number, got {score!r}.")
        try:
            value = float(score)
        except OverflowError:
            raise ValueError(
                f"retrieval_scores[{index}] is too large for a float: {str(score)[:40]}..."
            ) from None
        if math.isnan(value):
            raise ValueError(f"retrieval_scores[{index}] must be a number, got {score!r}.")
        if math.isinf(value):
            # An infinite score has no rank to fuse by, and no JSON to report it in.
            raise ValueError(f"retrieval_scores[{index}] must be a finite number, got {score!r}.")
        checked.append(value)
    return checked


def check_pairs(pairs: object) -> list[tuple[str, str]]:
    """(query, text) pairs as a new list (an iterable is read once).

    Raises:
        TypeError: If ``pairs`` is not an iterable of two-string pairs.
        ValueError: If a query is blank or a text is not valid text.
    """
    checked: list[tuple[str, str]] = []
    for position, pair in enumerate(_as_list("pairs", pairs, "(query, text) pairs")):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"pairs[{position}] must be a (query, text) pair, got {pair!r}.")
        query = check_query(pair[0], f"pairs[{position}][0]")
        checked.append((query, check_text(f"pairs[{position}][1]", pair[1])))
    return checked


def check_rerank_call(
    query: object, documents: object, retrieval_scores: object, top_n: object, score_threshold: object
) -> tuple[str, list[str], list[float] | None, int | None, float | None]:
    """The arguments of a ``rerank`` call, checked and normalized (``None`` stays ``None``).

    Raises:
        TypeError: If the query or a document is not a string.
        ValueError: If a value is out of range, naming it.
    """
    checked = check_documents(documents)
    return (
        check_query(query),
        checked,
        check_retrieval_scores(retrieval_scores, len(checked)),
        None if top_n is None else check_int("top_n", top_n, minimum=1),
        check_threshold(score_threshold),
    )
