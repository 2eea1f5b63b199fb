"""The options table is the one declaration: the Reranker's signature, docs and checks follow it."""

from __future__ import annotations

import inspect
import re
from typing import Any

import numpy as np
import pytest
from fake_scorer import FakeScorer

from crossrank import Reranker
from crossrank.option_checks import closest_name
from crossrank.options import LOAD_OPTIONS, OPTIONS, default_options, validate_options


def test_the_reranker_signature_is_the_table() -> None:
    parameters = inspect.signature(Reranker).parameters
    assert list(parameters) == ["model", *OPTIONS]
    for name, option in OPTIONS.items():
        assert parameters[name].default == option.default, name
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY, name


def test_the_reranker_docstring_is_rendered_from_the_table() -> None:
    doc = Reranker.__doc__ or ""
    assert "{options}" not in doc
    for name, option in OPTIONS.items():
        first_words = " ".join(option.doc.split()[:4])
        assert re.search(rf"^\s+{name}: {re.escape(first_words)}", doc, flags=re.M), name


def test_load_options_are_the_ones_that_change_the_model() -> None:
    assert frozenset(
        {
            "device",
            "trust_remote_code",
            "cross_encoder_kwargs",
            "api_key",
            "backend",
            "precision",
            "instruction",
        }
    ) == (LOAD_OPTIONS)


def test_every_option_reads_back_and_is_read_only() -> None:
    reranker = Reranker(FakeScorer())
    assert reranker.options == default_options()
    for name in OPTIONS:
        assert getattr(reranker, name) == default_options()[name], name
    with pytest.raises(AttributeError, match=re.escape("use reranker.with_options(top_n=...)")):
        reranker.top_n = 3  # type: ignore[misc]
    assert reranker.top_n is None


def test_with_options_changes_only_what_it_is_given() -> None:
    reranker = Reranker(FakeScorer(), top_n=2, fusion="rrf")
    copy = reranker.with_options(max_windows=3)
    assert copy.options == {**reranker.options, "max_windows": 3}
    assert copy.scorer is reranker.scorer
    with pytest.raises(TypeError, match=re.escape("Unknown Reranker option 'top_k': did you mean `top_n`?")):
        reranker.with_options(top_k=3)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"top_n": np.int64(3)}, {"top_n": 3}),
        ({"rrf_k": np.float32(10)}, {"rrf_k": 10.0}),
        ({"rrf_weights": [1, 2]}, {"rrf_weights": (1.0, 2.0)}),
        ({"cross_encoder_kwargs": None}, {"cross_encoder_kwargs": {}}),
        ({"score_threshold": 0}, {"score_threshold": 0.0}),
    ],
    ids=["numpy-int", "numpy-float", "weights-list", "kwargs-none", "int-threshold"],
)
def test_values_are_normalized(values: dict[str, Any], expected: dict[str, Any]) -> None:
    checked = validate_options(values)
    assert {name: checked[name] for name in expected} == expected
    assert all(type(checked[name]) is type(value) for name, value in expected.items())


@pytest.mark.parametrize(
    ("values", "error", "message"),
    [
        ({"top_n": True}, ValueError, "top_n must be a positive integer, got True."),
        ({"batch_size": 2.0}, ValueError, "batch_size must be a positive integer, got 2.0."),
        ({"show_progress_bar": 1}, TypeError, "show_progress_bar must be True or False, got 1."),
        ({"rrf_k": float("nan")}, ValueError, "rrf_k must be a number >= 0, got nan."),
        # rrf_k=inf made every fused score 0.0; infinity is refused in every float option.
        ({"rrf_k": float("inf")}, ValueError, "rrf_k must be a finite number >= 0, got inf."),
        ({"rrf_k": 10**400}, ValueError, "rrf_k must be a finite number >= 0"),
        ({"rrf_weights": (1.0, float("inf"))}, ValueError, "rrf_weights must be two finite numbers >= 0"),
        ({"score_threshold": float("-inf")}, ValueError, "score_threshold must be a finite number or None"),
        ({"fine_window_margin": float("inf")}, ValueError, "fine_window_margin must be a finite number >= 0"),
        ({"fusion": "RRF"}, ValueError, "fusion must be None or 'rrf', got 'RRF'."),
        ({"device": 0}, TypeError, "device must be a string such as 'cpu' or 'cuda', or None, got 0."),
        ({"cross_encoder_kwargs": [1]}, TypeError, "cross_encoder_kwargs must be a dict or None, got list."),
    ],
    ids=[
        "bool-int",
        "float-int",
        "int-bool",
        "nan-k",
        "inf-k",
        "huge-k",
        "inf-weight",
        "inf-threshold",
        "inf-margin",
        "case",
        "device-int",
        "kwargs-list",
    ],
)
def test_bad_values_name_the_option_and_the_value(
    values: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        validate_options(values)
    with pytest.raises(error, match=re.escape(message)):
        Reranker(FakeScorer(), **values)


def test_the_readme_table_names_every_option() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| `")]
    for name in OPTIONS:
        assert any(f"`{name}`" in row.split("|")[1] for row in rows), name


@pytest.mark.parametrize(
    ("given", "message"),
    [
        # SentenceTransformerRerank's and Cohere's word for it.
        ({"top_k": 1}, "Unknown Reranker option 'top_k': did you mean `top_n`?"),
        ({"fussion": "rrf"}, "Unknown Reranker option 'fussion': did you mean `fusion`?"),
        ({"top-n": 1}, "Unknown Reranker option 'top-n': did you mean `top_n`?"),
        ({"mdoel": "x"}, "Unknown Reranker option 'mdoel': did you mean `model`?"),
        ({"colour": "red"}, "Unknown Reranker option 'colour': the valid names are api_key, backend, "),
        (
            {"colour": "red", "fussion": "rrf"},
            "Unknown Reranker options 'colour', 'fussion'. For 'fussion' did you mean `fusion`? The valid "
            "names are api_key, backend, ",
        ),
    ],
    ids=["top_k", "typo", "dashes", "model", "no-match", "several"],
)
def test_an_unknown_option_names_itself_and_what_it_likely_meant(given: dict[str, Any], message: str) -> None:
    # Python's own "got an unexpected keyword argument 'top_k'" gave no hint.
    with pytest.raises(TypeError, match="^" + re.escape(message)):
        Reranker(FakeScorer(), **given)
    if "mdoel" not in given:  # model is the constructor's, not an option with_options changes
        with pytest.raises(TypeError, match="^" + re.escape(message)):
            Reranker(FakeScorer()).with_options(**given)


def test_the_closest_name() -> None:
    assert closest_name("top_k", OPTIONS) == "top_n"
    assert closest_name("TOP-N", OPTIONS) == "top_n"
    assert closest_name("window_overlaps", OPTIONS) == "window_overlap"
    assert closest_name("colour", OPTIONS) is None
    assert closest_name("top_k", ["max_windows"]) is None  # no top_n to suggest
