"""Both adapters load a tuned profile as the core does, or refuse what they cannot apply."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from crossrank import Profile, ProfileMismatchWarning
from crossrank.models.cpu import cpu_signature
from crossrank.profiles import write_profile
from langchain_crossrank import CrossEncoderCompressor, CrossEncoderModel
from llama_index.postprocessor.crossrank import CrossEncoderRerank
from tests.fake_scorer import FakeScorer


def _write(tmp_path: Path, options: dict[str, object]) -> Path:
    profile = Profile(model="models/tuned", options=options, machine={**cpu_signature(), "threads": 2})
    return write_profile(profile, tmp_path / "profile.json")


@pytest.mark.parametrize("adapter", [CrossEncoderRerank, CrossEncoderCompressor])
def test_the_ranking_adapters_take_the_profiles_options(tmp_path: Path, adapter: type) -> None:
    path = _write(tmp_path, {"rerank_depth": 2, "max_windows": 3})
    with pytest.warns(ProfileMismatchWarning, match="model: tuned for 'models/tuned'"):
        loaded = adapter.from_profile(path, model=FakeScorer(), top_n=1)
    assert (loaded.rerank_depth, loaded.max_windows, loaded.top_n) == (2, 3, 1)
    assert loaded.reranker.rerank_depth == 2


def test_the_pure_scorer_refuses_ranking_options_naming_where_they_belong(tmp_path: Path) -> None:
    path = _write(tmp_path, {"rerank_depth": 2})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProfileMismatchWarning)
        with pytest.raises(ValueError, match="rerank_depth, which CrossEncoderModel has no field for; use"):
            CrossEncoderModel.from_profile(path, model=FakeScorer())
        scorer = CrossEncoderModel.from_profile(_write(tmp_path, {"max_windows": 3}), model=FakeScorer())
    assert scorer.max_windows == 3


def test_an_override_with_a_typo_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, {"max_windows": 3})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProfileMismatchWarning)
        with pytest.raises(ValueError, match="top_n"):
            CrossEncoderRerank.from_profile(path, model=FakeScorer(), top_k=1)
