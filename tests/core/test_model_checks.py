"""A model that cannot score correctly is refused when it loads, not ranked with."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from crossrank import ModelLoadError, Reranker

QUERY = "Exercise reduces blood pressure"
DOCUMENTS = ["Aerobic exercise lowered blood pressure.", "Bananas."]


@pytest.fixture
def model_copy(model_path: str, tmp_path: Path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(model_path, copy)
    return copy


@pytest.mark.parametrize("backend", ["torch", "auto"])
def test_a_model_directory_without_its_tokenizer_is_refused(model_copy: Path, backend: str) -> None:
    (model_copy / "tokenizer.json").unlink()
    (model_copy / "tokenizer_config.json").unlink()
    reranker = Reranker(str(model_copy), backend=backend, score_cache_size=0)  # type: ignore[arg-type]
    message = (
        f"the cross-encoder {str(model_copy)!r} cannot score: the tokenizer has 5 tokens but the "
        "model's config says vocab_size=30522"
    )
    with pytest.raises(ModelLoadError, match=re.escape(message)) as raised:
        reranker.rerank(QUERY, DOCUMENTS)
    assert "lacks tokenizer.json, tokenizer_config.json" in str(raised.value)
    assert str(raised.value).startswith("Copy the tokenizer files")


def test_the_complete_model_still_loads(model_copy: Path) -> None:
    results = Reranker(str(model_copy), backend="torch").rerank(QUERY, DOCUMENTS)
    assert [result.index for result in results] == [0, 1]


def test_a_missing_local_path_is_not_called_a_hub_id(tmp_path: Path) -> None:
    missing = tmp_path / "no-model-here"
    with pytest.raises(ModelLoadError) as raised:
        Reranker(str(missing)).rerank(QUERY, DOCUMENTS)
    message = str(raised.value)
    assert message == (
        "Point model= (or $CROSSRANK_MODEL) at a directory that holds a sentence-transformers "
        f"cross-encoder: {str(missing)!r} does not exist."
    )
    for unwanted in ("hub", "None", ".."):
        assert unwanted not in message
    assert raised.value.message("--model DIR").startswith("Point --model DIR (or $CROSSRANK_MODEL)")


def test_a_directory_that_is_no_model_puts_the_fix_first_and_the_cause_short(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelLoadError) as raised:
        Reranker(str(tmp_path)).rerank(QUERY, DOCUMENTS)
    message = str(raised.value)
    assert message.startswith("Point model= (or $CROSSRANK_MODEL) at a directory that holds a sentence-")
    assert f"the directory {str(tmp_path)!r} did not load (ValueError: " in message
    assert len(message) < 400
    assert "\n" not in message
    assert ".." not in message


def test_model_load_error_pickles() -> None:
    import pickle

    error = ModelLoadError("Point {option} somewhere", "it broke")
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) == "Point model= somewhere: it broke."


def test_the_model_scorer_keeps_tokens_as_compact_arrays(model_path: str) -> None:
    import numpy as np

    scorer = Reranker(model_path, backend="torch").scorer
    (tokens,) = scorer.tokenize(["Aerobic exercise lowered blood pressure."])
    assert isinstance(tokens.ids, np.ndarray)
    assert tokens.ids.dtype == np.int32
    assert isinstance(tokens.offsets, np.ndarray)
    assert tokens.offsets.shape == (len(tokens.ids), 2)
    # Spans handed to callers are still plain Python ints.
    (result,) = Reranker(model_path, backend="torch").rerank(
        QUERY, ["Aerobic exercise lowered blood pressure."]
    )
    assert all(type(value) is int for value in result.window_span)
