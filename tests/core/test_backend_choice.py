"""A backend named explicitly loads or fails loudly; only ``auto`` falls back, and says so."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from crossrank import ModelLoadError, Reranker
from crossrank.errors import OnnxExportError
from crossrank.models import backends

QUERY = "does exercise lower blood pressure?"
DOCUMENTS = ["Aerobic exercise lowered resting blood pressure.", "Bananas are rich in potassium."]


@pytest.fixture
def broken_export(monkeypatch: pytest.MonkeyPatch) -> None:
    """ONNX Runtime and OpenVINO cannot run this model (as when an export fails validation)."""

    def fail(*_: Any, **__: Any) -> None:
        raise OnnxExportError("the ONNX export differs from CrossEncoder.predict by 0.8")

    monkeypatch.setattr(backends, "_onnx_scorer", fail)
    monkeypatch.setattr(backends, "_openvino_scorer", fail)


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8", "openvino", "openvino-bf16", "openvino-int8"])
def test_an_explicit_backend_that_cannot_run_raises_naming_cause_and_fix(
    model_path: str, broken_export: None, backend: str
) -> None:
    reranker = Reranker(model_path, backend=backend, score_cache_size=0)  # type: ignore[arg-type]
    with pytest.raises(ModelLoadError) as raised:
        reranker.rerank(QUERY, DOCUMENTS)
    message = str(raised.value)
    assert f"backend={backend!r} cannot run" in message
    assert "differs from CrossEncoder.predict by 0.8" in message
    assert "backend='auto'" in message
    assert "backend='torch'" in message


def test_auto_falls_back_to_pytorch_and_says_so(
    model_path: str, broken_export: None, caplog: pytest.LogCaptureFixture
) -> None:
    reranker = Reranker(model_path, score_cache_size=0)
    with caplog.at_level(logging.WARNING, logger="crossrank"):
        results = reranker.rerank(QUERY, DOCUMENTS)
    assert len(results) == 2
    assert reranker.backend_in_use == "torch-fp32"
    fallbacks = [r for r in caplog.records if "Scoring with PyTorch instead" in r.getMessage()]
    assert len(fallbacks) == 1
    assert "'onnx' is not usable" in fallbacks[0].getMessage()


def test_a_missing_library_for_an_explicit_backend_names_the_extra(
    model_path: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_openvino(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "openvino" or name.startswith("openvino."):
            raise ImportError("No module named 'openvino'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_openvino)
    monkeypatch.setenv("CROSSRANK_CACHE_DIR", str(tmp_path))
    reranker = Reranker(model_path, backend="openvino", score_cache_size=0)
    with pytest.raises(ModelLoadError, match=r'pip install "crossrank\[openvino\]"'):
        reranker.rerank(QUERY, DOCUMENTS)
