"""Shared fixtures: the real model and data from ../shared, found via environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

# The hub is unreachable on CI machines; never let a test wait on it.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Static int8 calibrates on 2 sample pairs per query (20 pairs) instead of 32: NNCF's passes
# over the default 320 took 10-30 minutes of CPU per fresh cache, and 20 pairs give a graph
# within the same measured bounds (tests/core/test_backends.py). An environment variable, not
# a monkeypatch, so the bench's fresh child processes calibrate (and key their cache) alike.
os.environ.setdefault("CROSSRANK_STATIC_INT8_PAIRS_PER_QUERY", "2")
# backend="auto" runs ONNX Runtime fp32 without probing: the probe (a few seconds per model and
# fresh cache) has its own tests (tests/core/test_backend_probe.py clears this variable).
os.environ.setdefault("CROSSRANK_AUTO_BACKEND", "onnx")

MODEL_SKIP_REASON = "CROSSRANK_TEST_MODEL is not set; point it at ../shared/models/minilm-l6-reranker"
DATA_SKIP_REASON = "CROSSRANK_TEST_DATA is not set; point it at ../shared/data"


# Fixtures that need ../shared, and the marker each one implies.
_MARKER_OF_FIXTURE = {"model_path": "model", "cross_encoder": "model", "data_dir": "data"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give every test that uses the real model or data its ``model``/``data`` marker.

    Derived from the fixtures a test requests, so ``-m "not model and not data"`` is an
    offline suite by construction. ``tryfirst``: the markers must exist before ``-m``
    deselects by them.
    """
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            marker = _MARKER_OF_FIXTURE.get(fixture)
            if marker is not None:
                item.add_marker(marker)


@pytest.fixture(scope="session")
def model_path() -> str:
    """Directory of the real cross-encoder used by behaviour tests."""
    path = os.environ.get("CROSSRANK_TEST_MODEL")
    if not path:
        pytest.skip(MODEL_SKIP_REASON)
    if not Path(path).is_dir():
        pytest.fail(f"CROSSRANK_TEST_MODEL={path!r} is not a directory")
    return path


@pytest.fixture(scope="session")
def cross_encoder(model_path: str) -> CrossEncoder:
    """The real cross-encoder, loaded once per test session."""
    from sentence_transformers import CrossEncoder

    return CrossEncoder(model_path, device="cpu")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Directory holding the evaluation datasets (``scifact/``)."""
    path = os.environ.get("CROSSRANK_TEST_DATA")
    if not path:
        pytest.skip(DATA_SKIP_REASON)
    return Path(path)


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A crossrank cache directory for the session (``CROSSRANK_CACHE_DIR``); exports land in its ``onnx/``.

    Shared by the tests that load the real model in every backend (the backends' and the bench's),
    so each export and quantized graph is built once per session, never in the user's own cache.
    """
    return tmp_path_factory.mktemp("crossrank-cache")
