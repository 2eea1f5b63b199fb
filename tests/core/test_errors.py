"""crossrank's own errors form one tree under ``CrossrankError``."""

from __future__ import annotations

from pathlib import Path

import pytest

import crossrank
from crossrank import CrossrankError, ModelLoadError, OnnxExportError, Reranker, ScoringError
from crossrank.errors import ChromaUnavailableError, MissingPeerError


@pytest.mark.parametrize(
    ("error", "also"),
    [
        (ModelLoadError, RuntimeError),
        (OnnxExportError, RuntimeError),
        (ScoringError, RuntimeError),
        (ChromaUnavailableError, RuntimeError),
        (MissingPeerError, ImportError),
    ],
    ids=lambda value: value.__name__,
)
def test_every_error_is_a_crossrank_error(error: type[Exception], also: type[Exception]) -> None:
    assert issubclass(error, CrossrankError)
    assert issubclass(error, also)  # callers catching the builtin kind keep working


def test_the_tree_is_the_one_the_modules_raise() -> None:
    from crossrank.evaluation import chroma_store
    from crossrank.models import loading, onnx_export

    assert loading.ModelLoadError is crossrank.ModelLoadError
    assert onnx_export.OnnxExportError is crossrank.OnnxExportError
    assert chroma_store.ChromaUnavailableError is ChromaUnavailableError


def test_a_model_that_cannot_load_raises_a_crossrank_error(tmp_path: Path) -> None:
    with pytest.raises(CrossrankError, match=str(tmp_path / "missing")):
        Reranker(str(tmp_path / "missing")).scorer  # noqa: B018 - loading is the point
