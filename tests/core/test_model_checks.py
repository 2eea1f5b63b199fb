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
        f"The cross-encoder {str(model_copy)!r} cannot score: the tokenizer has 5 tokens but the "
        "model's config says vocab_size=30522"
    )
    with pytest.raises(ModelLoadError, match=re.escape(message)) as raised:
        reranker.rerank(QUERY, DOCUMENTS)
    assert "lacks tokenizer.json, tokenizer_config.json" in str(raised.value)
    assert str(raised.value).startswith("Copy the tokenizer files")


def test_the_complete_model_still_loads(model_copy: Path) -> None:
    results = Reranker(str(model_copy), backend="torch").rerank(QUERY, DOCUMENTS)
    assert [result.index for result in results] == [0, 1]
