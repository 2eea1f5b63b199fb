"""Fixtures for the model-family zoo: tiny random rerankers built once per test session.

``model_zoo`` lives in tests/ and is imported by name, like ``fake_scorer``: pytest puts the
directory of the rootdir conftest (tests/) on ``sys.path``.

- ``zoo``: ``{family name: model directory}``, every family of ``model_zoo.FAMILIES`` built into
  one session temporary directory (a few seconds on two cores).
- ``family``: parametrize a test over families with ``@pytest.mark.parametrize("family",
  names, indirect=True)`` (or leave it unparametrized for all families); gives the
  :class:`model_zoo.Family`.
- ``family_path`` / ``family_model``: the directory and a CrossEncoder loaded from it, for the
  ``family`` of the test. Loaded models are cached for the session: tests must not change them
  (load a fresh one with ``load_zoo_model(name)`` for that).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from model_zoo import FAMILIES, Family, build_zoo

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder


@pytest.fixture(scope="session")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every zoo family, built once per session: name -> CrossEncoder directory."""
    return build_zoo(tmp_path_factory.mktemp("zoo"))


@pytest.fixture(scope="session")
def load_zoo_model(zoo: dict[str, Path]) -> Callable[[str], CrossEncoder]:
    """A loader of fresh CrossEncoders from the zoo, by family name, on the CPU."""
    from sentence_transformers import CrossEncoder

    def load(name: str) -> CrossEncoder:
        return CrossEncoder(str(zoo[name]), device="cpu", local_files_only=True)

    return load


@pytest.fixture(scope="session")
def _zoo_models(load_zoo_model: Callable[[str], CrossEncoder]) -> Callable[[str], CrossEncoder]:
    cache: dict[str, CrossEncoder] = {}

    def get(name: str) -> CrossEncoder:
        if name not in cache:
            cache[name] = load_zoo_model(name)
        return cache[name]

    return get


@pytest.fixture(params=list(FAMILIES))
def family(request: pytest.FixtureRequest) -> Family:
    """The family a test runs for (every family unless parametrized indirectly)."""
    return FAMILIES[request.param]


@pytest.fixture
def family_path(zoo: dict[str, Path], family: Family) -> Path:
    """The saved directory of the test's family."""
    return zoo[family.name]


@pytest.fixture
def family_model(_zoo_models: Callable[[str], CrossEncoder], family: Family) -> CrossEncoder:
    """The test's family loaded as a CrossEncoder (shared across the session: do not modify)."""
    return _zoo_models(family.name)
