"""Tuned profiles: written and read back, refused when broken, warned about when tuned elsewhere."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from crossrank import Profile, ProfileMismatchWarning, Reranker, read_profile
from crossrank import profiles as profiles_module
from crossrank.models.cpu import cpu_signature
from crossrank.profiles import PROFILE_FORMAT, profile_differences, write_profile
from tests.fake_scorer import FakeScorer

MODEL = "models/some-reranker"


def _profile(**changes: Any) -> Profile:
    fields: dict[str, Any] = {
        "model": MODEL,
        "options": {"backend": "torch", "rerank_depth": 3, "max_windows": 4, "rrf_weights": (1.0, 0.5)},
        "machine": {**cpu_signature(), "threads": 2},
        "measured": {"p95_ms": 12.5, "quality": 0.71},
        "frontier": [{"name": "torch, 3 candidates", "on_frontier": True}],
        "tuned_on": {"queries": 5, "goal": {"max_loss": 0.01}},
        "reason": "fastest within 0.01 of the reference",
    }
    fields.update(changes)
    return Profile(**fields)


def test_a_profile_round_trips_through_its_file(tmp_path: Path) -> None:
    path = write_profile(_profile(), tmp_path / "deep" / "profile.json")
    data = json.loads(path.read_text())
    assert data["format"] == PROFILE_FORMAT
    assert data["options"]["rrf_weights"] == [1.0, 0.5]
    read = read_profile(path)
    assert read.options == {
        "backend": "torch",
        "rerank_depth": 3,
        "max_windows": 4,
        "rrf_weights": (1.0, 0.5),
    }
    assert read.model == MODEL
    assert read.reason.startswith("fastest")
    assert read.frontier == [{"name": "torch, 3 candidates", "on_frontier": True}]
    assert not list(path.parent.glob(".profile.json.*")), "no staging file is left behind"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        ('{"format": "something-else"}', "not a crossrank profile"),
        ("[1, 2]", "not a crossrank profile"),
        (json.dumps({"format": PROFILE_FORMAT, "model": "", "options": {}, "machine": {}}), "'model'"),
        (json.dumps({"format": PROFILE_FORMAT, "model": "m", "options": [], "machine": {}}), "'options'"),
        (json.dumps({"format": PROFILE_FORMAT, "model": "m", "options": {}, "machine": None}), "'machine'"),
        (
            json.dumps({"format": PROFILE_FORMAT, "model": "m", "options": {"top_k": 3}, "machine": {}}),
            "did you mean `top_n`",
        ),
        (
            json.dumps(
                {"format": PROFILE_FORMAT, "model": "m", "options": {"rerank_depth": 0}, "machine": {}}
            ),
            "rerank_depth must be a positive integer, got 0",
        ),
        (
            json.dumps({"format": PROFILE_FORMAT, "model": "m", "options": {"api_key": "s"}, "machine": {}}),
            "not api_key",
        ),
    ],
)
def test_a_broken_profile_is_refused_naming_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "profile.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as raised:
        read_profile(path)
    assert str(path) in str(raised.value)


def test_a_missing_profile_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="crossrank tune DATA --output"):
        read_profile(tmp_path / "nope.json")


def test_writing_refuses_options_a_profile_must_not_carry(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not device"):
        write_profile(_profile(options={"device": "cuda"}), tmp_path / "p.json")
    assert not (tmp_path / "p.json").exists()


def test_differences_name_the_cpu_its_flags_its_cpus_and_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    profile = _profile(
        machine={
            "vendor": "GenuineIntel",
            "model_name": "Intel Xeon Imaginary",
            "flags": ["avx2", "avx512_bf16"],
            "cpus": 64,
        }
    )
    here = {"vendor": "AuthenticAMD", "model_name": "AMD EPYC", "flags": ["avx2"], "cpus": 2}
    monkeypatch.setattr(profiles_module, "cpu_signature", lambda: here)
    differences = profile_differences(profile, model="other-model")
    assert any("GenuineIntel" in line and "AuthenticAMD" in line for line in differences)
    assert any("'Intel Xeon Imaginary'" in line and "'AMD EPYC'" in line for line in differences)
    assert any("lacks avx512_bf16" in line for line in differences)
    assert any("64" in line and "2" in line for line in differences if line.startswith("CPUs"))
    assert any("'other-model'" in line and repr(MODEL) in line for line in differences)
    assert profile_differences(_profile()) == []


def test_from_profile_builds_the_chosen_options_with_overrides_winning(tmp_path: Path) -> None:
    path = write_profile(_profile(), tmp_path / "profile.json")
    scorer = FakeScorer()
    with pytest.warns(ProfileMismatchWarning, match="model: tuned for 'models/some-reranker'"):
        reranker = Reranker.from_profile(path, model=scorer, backend="auto", max_windows=2, top_n=1)
    assert reranker.rerank_depth == 3
    assert reranker.max_windows == 2
    assert reranker.top_n == 1
    assert reranker.rrf_weights == (1.0, 0.5)
    assert reranker.backend == "auto"
    # The profile's backend is for the model it names: on a ready scorer it is refused, not dropped.
    with pytest.warns(ProfileMismatchWarning), pytest.raises(ValueError, match="backend='torch'"):
        Reranker.from_profile(path, model=scorer)


def test_from_profile_on_its_own_machine_and_model_is_silent(tmp_path: Path) -> None:
    path = write_profile(_profile(options={"rerank_depth": 2}), tmp_path / "profile.json")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model, options = profiles_module.load_profile(path, {})
    assert model == MODEL
    assert options == {"rerank_depth": 2}
