"""The validators of the options table: each checks one value and returns it normalized.

Every message names the option, the value and what is allowed, so a wrong option is
never silently used.
"""

from __future__ import annotations

import difflib
import functools
import math
from collections.abc import Callable, Collection, Iterable, Mapping
from numbers import Integral, Real
from typing import Any, ParamSpec, TypeVar

__all__ = [
    "boolean",
    "check_int",
    "check_threshold",
    "choice",
    "closest_name",
    "integer",
    "kwargs_dict",
    "name_hint",
    "optional_int",
    "optional_key",
    "optional_non_negative",
    "optional_str",
    "refuses_unknown_keywords",
    "rrf_k",
    "rrf_weights",
    "unknown_names_message",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")

_SYNONYMS = {"top_k": "top_n"}
"""Other rerankers' words for an option (SentenceTransformerRerank's and Cohere's ``top_k``...)."""


def check_int(name: str, value: object, *, minimum: int) -> int:
    """``value`` as an ``int`` if it is an integer (numpy's too, not a bool) ``>= minimum``.

    Raises:
        ValueError: Naming the option and the value.
    """
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        qualifier = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {qualifier}, got {value!r}.")
    return int(value)


def check_threshold(value: object) -> float | None:
    """``score_threshold`` as a float, or ``None``.

    Raises:
        ValueError: If it is not a finite number (NaN or infinity would keep all or nothing).
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Real) or _is_nan(value):
        raise ValueError(f"score_threshold must be a number or None, got {value!r}.")
    if not _finite(value):
        raise ValueError(f"score_threshold must be a finite number or None, got {value!r}.")
    return float(value)


def _is_nan(value: Real) -> bool:
    try:
        return math.isnan(float(value))
    except OverflowError:  # an int past 1e308 is a number, just not a finite float
        return False


def _finite(value: Real) -> bool:
    """Whether ``value`` is a float that is neither NaN nor infinite (nor too large for one)."""
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int past 1e308
        return False


def choice(name: str, choices: tuple[Any, ...]) -> Callable[[Any], Any]:
    """A check that ``value`` is one of ``choices`` (of the same type: ``True`` is not ``1``)."""

    def check(value: Any) -> Any:
        if not any(value == choice and type(value) is type(choice) for choice in choices):
            listed = [repr(choice) for choice in choices]
            allowed = " or ".join(listed) if len(listed) == 2 else f"one of {', '.join(listed)}"
            raise ValueError(f"{name} must be {allowed}, got {value!r}.")
        return value

    return check


def optional_int(name: str, minimum: int) -> Callable[[Any], int | None]:
    """A check for ``None`` or an integer ``>= minimum``."""
    return lambda value: None if value is None else check_int(name, value, minimum=minimum)


def optional_non_negative(name: str) -> Callable[[Any], float | None]:
    """A check for ``None`` or a number ``>= 0`` (as a ``float``; not a bool, not NaN)."""
    return lambda value: None if value is None else _non_negative(name, value, " or None")


def integer(name: str, minimum: int) -> Callable[[Any], int]:
    """A check for an integer ``>= minimum``."""
    return lambda value: check_int(name, value, minimum=minimum)


def boolean(name: str) -> Callable[[Any], bool]:
    """A check for ``True`` or ``False`` (not 0 or 1)."""

    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, got {value!r}.")
        return value

    return check


def optional_str(value: Any) -> str | None:
    """``device``: a string or ``None``."""
    if value is not None and not isinstance(value, str):
        raise TypeError(f"device must be a string such as 'cpu' or 'cuda', or None, got {value!r}.")
    return value


def optional_key(value: Any) -> str | None:
    """``api_key``: a string or ``None`` (the message never shows the value)."""
    if value is not None and not isinstance(value, str):
        raise TypeError(f"api_key must be a string or None, got {type(value).__name__}.")
    return value


def kwargs_dict(value: Any) -> dict[str, Any]:
    """``cross_encoder_kwargs``: a mapping (copied) or ``None`` (an empty dict)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"cross_encoder_kwargs must be a dict or None, got {type(value).__name__}.")
    return dict(value)


def rrf_k(value: Any) -> float:
    """``rrf_k``: a number ``>= 0``."""
    return _non_negative("rrf_k", value, "")


def _non_negative(name: str, value: Any, or_else: str) -> float:
    # Not a bool (True is a Real), not NaN (every comparison with it is False) and not
    # infinite (rrf_k=inf makes every fused score 0.0).
    if isinstance(value, bool) or not isinstance(value, Real) or _is_nan(value) or value < 0:
        raise ValueError(f"{name} must be a number >= 0{or_else}, got {value!r}.")
    if not _finite(value):
        raise ValueError(f"{name} must be a finite number >= 0{or_else}, got {value!r}.")
    return float(value)


def rrf_weights(value: Any) -> tuple[float, float]:
    """``rrf_weights``: two finite numbers ``>= 0``."""
    try:
        weights = tuple(value)
    except TypeError:
        weights = ()
    if len(weights) != 2 or not all(
        isinstance(w, Real)
        and not isinstance(w, bool)
        and not _is_nan(w)
        and (not _finite(w) or float(w) >= 0)
        for w in weights
    ):
        raise ValueError(f"rrf_weights must be two numbers >= 0 (cross-encoder, retrieval), got {value!r}.")
    if not all(_finite(w) for w in weights):
        raise ValueError(
            f"rrf_weights must be two finite numbers >= 0 (cross-encoder, retrieval), got {value!r}."
        )
    return (float(weights[0]), float(weights[1]))


def closest_name(name: str, known: Iterable[str]) -> str | None:
    """The known name that ``name`` most likely meant, or ``None`` when none is close.

    Another reranker's word for it (``top_k`` is ``top_n``), the same name with dashes or
    capitals (``top-n``), else :func:`difflib.get_close_matches`'s best (``fussion``).
    """
    names = list(known)
    spelt = name.strip().replace("-", "_").lower()
    for guess in (_SYNONYMS.get(spelt), spelt):
        if guess in names:
            return guess
    matches = difflib.get_close_matches(spelt, names, n=1)
    return matches[0] if matches else None


def name_hint(name: str, known: Iterable[str]) -> str:
    """``did you mean `top_n`?``, or the valid names when none is close."""
    names = sorted(known)
    match = closest_name(name, names)
    if match is not None:
        return f"did you mean `{match}`?"
    return f"the valid names are {', '.join(names)}."


def unknown_names_message(unknown: Iterable[str], known: Iterable[str], *, what: str) -> str:
    """The error for names that are not among ``known``, each with its :func:`name_hint`.

    Args:
        unknown: The names given that are not known.
        known: The valid names.
        what: What a name is, such as ``"Reranker option"``.

    Returns:
        ``Unknown Reranker option 'top_k': did you mean `top_n`?``; for several names, a
        hint for each that has a close match, and the valid names if one has none.
    """
    names = sorted(known)
    given = sorted(unknown)
    if len(given) == 1:
        return f"Unknown {what} {given[0]!r}: {name_hint(given[0], names)}"
    sentences = [f"Unknown {what}s {', '.join(repr(name) for name in given)}."]
    matches = {name: closest_name(name, names) for name in given}
    sentences += [f"For {name!r} did you mean `{match}`?" for name, match in matches.items() if match]
    if None in matches.values():
        sentences.append(f"The valid names are {', '.join(names)}.")
    return " ".join(sentences)


def refuses_unknown_keywords(
    known: Collection[str], what: str
) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Decorate a function so an unknown keyword names itself and the name it likely meant.

    Python's own ``TypeError`` (``got an unexpected keyword argument 'top_k'``) gives no
    hint; this one says ``did you mean `top_n`?``. The signature is kept (``__wrapped__``).

    Args:
        known: The keywords the function takes.
        what: What a keyword is, for the message (``"Reranker option"``).

    Returns:
        The decorator.
    """

    def decorate(function: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(function)
        def checked(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            unknown = kwargs.keys() - set(known)
            if unknown:
                raise TypeError(unknown_names_message(unknown, known, what=what))
            return function(*args, **kwargs)

        return checked

    return decorate
