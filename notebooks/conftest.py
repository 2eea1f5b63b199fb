"""Run the notebooks under pytest (nbmake) only where the real cross-encoder is available.

The notebooks score with ``$CROSSRANK_MODEL`` or ``$CROSSRANK_TEST_MODEL`` and run
offline; without either they would try the Hugging Face hub, so they are skipped
with the reason instead. Relative paths in those variables (the README's test
command uses ``../shared/...``) are resolved against the directory pytest runs in.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_MODEL_VARIABLES = ("CROSSRANK_MODEL", "CROSSRANK_TEST_MODEL")
_PATH_VARIABLES = (*_MODEL_VARIABLES, "CROSSRANK_TEST_DATA")


def pytest_configure(config: pytest.Config) -> None:
    """Make relative model and data paths absolute: nbmake runs each notebook in its own folder."""
    for name in _PATH_VARIABLES:
        value = os.environ.get(name)
        if value and not Path(value).is_absolute() and Path(value).exists():
            os.environ[name] = str(Path(value).resolve())


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every notebook ``model`` (and ``data`` where it reads a dataset); skip them without a model.

    ``tryfirst`` so the markers exist before ``-m`` deselects by them.
    """
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.model)
            if "CROSSRANK_TEST_DATA" in item.path.read_text(encoding="utf-8"):
                item.add_marker(pytest.mark.data)
    if any(os.environ.get(name) for name in _MODEL_VARIABLES):
        return
    skip = pytest.mark.skip(
        reason="the notebooks need a local cross-encoder: set CROSSRANK_TEST_MODEL "
        "(e.g. ../shared/models/minilm-l6-reranker)"
    )
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(skip)
