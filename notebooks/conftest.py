"""Run the notebooks under pytest (nbmake) only where the real cross-encoder is available.

The notebooks score with ``$CROSSRANK_MODEL`` or ``$CROSSRANK_TEST_MODEL`` and run
offline; without either they would try the Hugging Face hub, so they are skipped
with the reason instead.
"""

from __future__ import annotations

import os

import pytest

_MODEL_VARIABLES = ("CROSSRANK_MODEL", "CROSSRANK_TEST_MODEL")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip every notebook when no local cross-encoder is named."""
    if any(os.environ.get(name) for name in _MODEL_VARIABLES):
        return
    skip = pytest.mark.skip(
        reason="the notebooks need a local cross-encoder: set CROSSRANK_TEST_MODEL "
        "(e.g. ../shared/models/minilm-l6-reranker)"
    )
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(skip)
