"""backend="auto" on a CPU measures the exact backends once per model and CPU and keeps the fastest."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from crossrank.errors import ModelLoadError, OnnxExportError
from crossrank.models import backend_probe, probe_record
from crossrank.models.backend_probe import (
    AUTO_BACKEND_ENV,
    ProbeChoice,
    describe_choice,
    model_fingerprint,
    pinned_backend,
    probe_fastest_backend,
    sample_probe_pairs,
)
from crossrank.scorer import PairScorer
from tests.fake_scorer import FakeScorer

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

PAIRS = [([1, 2, 3], [1, 4, 5, 6, 2]), ([7, 8], [9, 7, 10]), ([11], [12, 13, 14, 15])] * 2


class TimedScorer(FakeScorer):
    """The word-overlap fake, taking ``seconds_per_pair`` to score and shifting its scores by ``offset``."""

    def __init__(self, seconds_per_pair: float, offset: float = 0.0) -> None:
        super().__init__(max_length=64)
        self.seconds_per_pair = seconds_per_pair
        self.offset = offset

    def score(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[float]:
        time.sleep(self.seconds_per_pair * len(pairs))
        return [score + self.offset for score in super().score(pairs)]


class Candidates:
    """Builders of timed fakes by backend name, counting builds; a failure instead of a speed raises it."""

    def __init__(self, **specs: float | tuple[float, float] | BaseException) -> None:
        self.specs = specs
        self.built: Counter[str] = Counter()
        self.scorers: dict[str, TimedScorer] = {}

    def builders(self) -> dict[str, Callable[[], PairScorer]]:
        return {name: (lambda name=name: self.build(name)) for name in self.specs}  # type: ignore[misc]

    def build(self, name: str) -> TimedScorer:
        self.built[name] += 1
        spec = self.specs[name]
        if isinstance(spec, BaseException):
            raise spec
        delay, offset = spec if isinstance(spec, tuple) else (spec, 0.0)
        self.scorers[name] = TimedScorer(delay, offset)
        return self.scorers[name]


@pytest.fixture(autouse=True)
def no_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(AUTO_BACKEND_ENV, raising=False)


def probe(candidates: Candidates, cache: Path, model_key: str = "model@1", **options: Any) -> ProbeChoice:
    options.setdefault("budget_s", 0.6)
    return probe_fastest_backend(
        candidates.builders(), model_key=model_key, probe_pairs=PAIRS, cache_dir=cache, **options
    )


def test_the_faster_exact_backend_is_chosen_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    candidates = Candidates(torch=0.004, onnx=0.0015)
    with caplog.at_level(logging.INFO, logger="crossrank"):
        choice = probe(candidates, tmp_path)
    assert choice.backend == "onnx"
    assert choice.scorer is candidates.scorers["onnx"]
    assert choice.source == "probe"
    assert set(choice.seconds) == {"torch", "onnx"}
    assert choice.ratio["onnx"] < 0.6
    assert choice.rounds >= 3
    assert choice.probe_seconds < 1.5
    assert choice.cache_file is not None
    assert choice.cache_file.parent == tmp_path
    record = json.loads(choice.cache_file.read_text())
    assert record["backend"] == "onnx"
    assert set(record) >= {"seconds", "skipped", "probed_at", "cpu", "versions", "model"}
    assert [r.getMessage() for r in caplog.records] == [describe_choice(choice)]
    assert "runs onnx for model@1" in caplog.records[0].getMessage()


def test_a_difference_within_the_noise_keeps_torch(tmp_path: Path) -> None:
    choice = probe(Candidates(torch=0.004, onnx=0.00396), tmp_path)  # 1% faster
    assert choice.backend == "torch"
    assert choice.ratio["onnx"] > 1 - choice.noise["onnx"]


@pytest.mark.parametrize(
    ("onnx", "openvino", "chosen"),
    [
        ([9.5, 9.6, 9.4], [20.0, 20.0, 20.0], "onnx"),  # 5% faster, steadily: beyond the 3% floor
        ([9.8, 9.8, 9.8], [20.0, 20.0, 20.0], "torch"),  # 2% faster: within the floor
        ([7.0, 9.0, 12.0], [20.0, 20.0, 20.0], "torch"),  # 10% faster, but rounds spread by 25%
        ([8.0, 8.0, 8.0], [6.0, 6.5, 6.2], "openvino"),  # both beat torch: the lower ratio wins
    ],
)
def test_the_rule(onnx: list[float], openvino: list[float], chosen: str) -> None:
    times = {"torch": [10.0, 10.0, 10.0], "onnx": onnx, "openvino": openvino}
    assert backend_probe._decide(times)[0] == chosen


def test_an_inexact_backend_is_never_chosen_however_fast(tmp_path: Path) -> None:
    candidates = Candidates(torch=0.004, onnx=(0.0005, 1e-3), openvino=(0.002, 5e-6))
    choice = probe(candidates, tmp_path)
    assert choice.backend == "openvino"
    assert "not exact" in choice.skipped["onnx"]
    assert "differ from PyTorch fp32's by 0.001" in choice.skipped["onnx"]
    assert "onnx" not in choice.seconds
    assert len(candidates.scorers["onnx"].batches) == 1  # its warm-up only: never timed


def test_a_builder_that_fails_is_skipped_with_its_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    candidates = Candidates(
        torch=0.002,
        onnx=OnnxExportError("the export differs from CrossEncoder.predict by 0.8"),
        openvino=ImportError("No module named 'openvino'"),
    )
    with caplog.at_level(logging.WARNING, logger="crossrank"):
        choice = probe(candidates, tmp_path, model_key="models/m@12ab")
    assert choice.backend == "torch"
    assert choice.skipped == {
        "onnx": "OnnxExportError: the export differs from CrossEncoder.predict by 0.8",
        "openvino": "ImportError: No module named 'openvino'",
    }
    assert "Not candidates: onnx: OnnxExportError" in describe_choice(choice)
    # A broken export is worth a warning; an optional extra not installed is not.
    assert [r.getMessage() for r in caplog.records] == [
        "crossrank: backend 'onnx' is not usable for models/m: OnnxExportError: the export differs "
        "from CrossEncoder.predict by 0.8. Scoring with PyTorch instead."
    ]


def test_a_missing_core_library_warns_in_the_callers_words(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    candidates = Candidates(torch=0.004, onnx=ImportError("No module named 'onnxruntime'"), openvino=0.0015)
    with caplog.at_level(logging.WARNING, logger="crossrank"):
        choice = probe(candidates, tmp_path, explain=lambda exc: f"{exc} (pip install onnxruntime)")
    assert choice.backend == "openvino"
    [record] = caplog.records
    assert record.getMessage().endswith(
        "No module named 'onnxruntime' (pip install onnxruntime). Scoring with OpenVINO instead."
    )


def test_a_backend_that_fails_while_scoring_is_skipped(tmp_path: Path) -> None:
    candidates = Candidates(torch=0.002, onnx=0.001)

    def broken() -> PairScorer:
        scorer = candidates.build("onnx")

        def fail(pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[float]:
            raise ZeroDivisionError("division by zero")

        scorer.score = fail  # type: ignore[method-assign]
        return scorer

    builders = {**candidates.builders(), "onnx": broken}
    choice = probe_fastest_backend(builders, model_key="m", probe_pairs=PAIRS, cache_dir=tmp_path)
    assert choice.backend == "torch"
    assert choice.skipped["onnx"].startswith("scoring failed (ZeroDivisionError")


def test_the_cached_choice_is_reused_without_timing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    first = probe(Candidates(torch=0.004, onnx=0.0015), tmp_path)
    again = Candidates(torch=0.004, onnx=0.0015)
    with caplog.at_level(logging.INFO, logger="crossrank"):
        second = probe(again, tmp_path)
    assert second.backend == "onnx"
    assert second.source == "cache"
    assert again.built == Counter(onnx=1)  # only the chosen one is built...
    assert again.scorers["onnx"].batches == []  # ...and nothing is timed
    assert second.seconds == pytest.approx(first.seconds)
    assert second.probed_at == first.probed_at
    assert "cached, measured" in caplog.records[0].getMessage()


def test_refresh_measures_again(tmp_path: Path) -> None:
    probe(Candidates(torch=0.004, onnx=0.0015), tmp_path)
    again = Candidates(torch=0.0015, onnx=0.004)
    assert probe(again, tmp_path, refresh=True).backend == "torch"
    assert probe(Candidates(torch=0.004, onnx=0.0015), tmp_path).backend == "torch"  # rewritten


def test_the_cache_is_per_model_and_per_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    probe(Candidates(torch=0.002, onnx=0.001), tmp_path)
    other_model = Candidates(torch=0.002, onnx=0.001)
    assert probe(other_model, tmp_path, model_key="model@2").source == "probe"
    assert other_model.built == Counter(torch=1, onnx=1)

    real = probe_record.cpu_identity
    monkeypatch.setattr(probe_record, "cpu_identity", lambda: {**real(), "stepping": -1})
    other_cpu = Candidates(torch=0.002, onnx=0.001)
    assert probe(other_cpu, tmp_path).source == "probe"
    assert other_cpu.built == Counter(torch=1, onnx=1)
    assert len(list(tmp_path.glob("probe-*.json"))) == 3


def test_the_cache_is_per_set_of_candidates(tmp_path: Path) -> None:
    probe(Candidates(torch=0.002, onnx=0.001), tmp_path)
    assert probe(Candidates(torch=0.002, onnx=0.001, openvino=0.003), tmp_path).source == "probe"


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        '{"format": 2, "key": "another model"}',
        "KEYED",  # the right key, but fields missing
        "KEYED_BAD_BACKEND",
    ],
)
def test_a_corrupt_cache_file_is_ignored_with_a_warning_and_rewritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str
) -> None:
    path = probe(Candidates(torch=0.002, onnx=0.001), tmp_path).cache_file
    assert path is not None
    record = json.loads(path.read_text())
    if content == "KEYED":
        content = json.dumps({"format": record["format"], "key": record["key"], "backend": "onnx"})
    elif content == "KEYED_BAD_BACKEND":
        content = json.dumps({**record, "backend": "onnx-int8"})
    path.write_text(content)
    candidates = Candidates(torch=0.002, onnx=0.001)
    with caplog.at_level(logging.WARNING, logger="crossrank"):
        choice = probe(candidates, tmp_path)
    assert choice.source == "probe"
    assert candidates.built == Counter(torch=1, onnx=1)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "ignoring the backend probe cache" in warnings[0]
    assert json.loads(path.read_text())["key"] == record["key"]  # rewritten whole
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left


def test_a_cached_choice_that_cannot_run_now_probes_again(tmp_path: Path) -> None:
    probe(Candidates(torch=0.004, onnx=0.0015), tmp_path)
    candidates = Candidates(torch=0.004, onnx=OSError("the export cache is unreadable"))
    choice = probe(candidates, tmp_path)
    assert choice.backend == "torch"
    assert choice.source == "probe"
    assert "OSError" in choice.skipped["onnx"]


def test_an_unwritable_cache_costs_a_warning_not_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with caplog.at_level(logging.WARNING, logger="crossrank"):
        choice = probe(Candidates(torch=0.002, onnx=0.001), blocker / "cache")
    assert choice.backend in ("torch", "onnx")
    assert any("could not save the backend probe" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("value", ["onnx", " ONNX "])
def test_the_environment_variable_pins_the_choice_without_probing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(AUTO_BACKEND_ENV, value)
    candidates = Candidates(torch=0.001, onnx=0.004)
    choice = probe(candidates, tmp_path)
    assert (choice.backend, choice.source) == ("onnx", "pinned")
    assert candidates.built == Counter(onnx=1)
    assert candidates.scorers["onnx"].batches == []
    assert list(tmp_path.iterdir()) == []
    assert f"pinned by {AUTO_BACKEND_ENV}" in describe_choice(choice)


def test_a_pinned_backend_that_cannot_run_falls_back_to_torch_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(AUTO_BACKEND_ENV, "openvino")
    candidates = Candidates(torch=0.001, onnx=0.001)
    with caplog.at_level(logging.WARNING, logger="crossrank"):
        choice = probe(candidates, tmp_path)
    assert choice.backend == "torch"
    assert "openvino" in choice.skipped
    said = [record.getMessage() for record in caplog.records]
    assert any("backend 'openvino' is not usable" in m and f"{AUTO_BACKEND_ENV}=openvino" in m for m in said)
    failing = Candidates(torch=0.001, openvino=ModelLoadError("Install it", "no plugin"))
    assert probe(failing, tmp_path).skipped["openvino"].startswith("ModelLoadError")


def test_a_bad_pin_raises_naming_the_choices(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(AUTO_BACKEND_ENV, "onnx-int8")
    with pytest.raises(
        ValueError, match=r"CROSSRANK_AUTO_BACKEND must be one of 'torch', 'onnx', 'openvino'"
    ):
        probe(Candidates(torch=0.001), tmp_path)
    assert pinned_backend({AUTO_BACKEND_ENV: ""}) is None
    assert pinned_backend({}) is None


def test_candidates_must_be_exact_backends_with_torch(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must include 'torch'"):
        probe(Candidates(onnx=0.001), tmp_path)
    with pytest.raises(ValueError, match="onnx-int8"):
        probe(Candidates(torch=0.001, **{"onnx-int8": 0.001}), tmp_path)


def test_a_slow_model_is_timed_on_fewer_pairs_within_the_budget(tmp_path: Path) -> None:
    candidates = Candidates(torch=0.02, onnx=0.01)  # 0.18 s a round on all 6 pairs
    started = time.perf_counter()
    choice = probe(candidates, tmp_path, budget_s=0.4)
    assert time.perf_counter() - started < 1.0
    assert choice.rounds >= 3
    assert 2 <= choice.pairs < 6
    assert choice.backend == "onnx"


def test_only_torch_needs_no_timing(tmp_path: Path) -> None:
    candidates = Candidates(torch=0.001)
    choice = probe(candidates, tmp_path)
    assert (choice.backend, choice.rounds) == ("torch", 0)
    assert len(candidates.scorers["torch"].batches) == 1


def test_probe_pairs_are_sample_pairs_of_the_model_window() -> None:
    scorer = FakeScorer(max_length=64)
    pairs = sample_probe_pairs(scorer)
    assert len(pairs) == 16
    assert all(q and p and len(q) + len(p) <= 64 - 3 for q, p in pairs)
    assert sum(len(q) + len(p) == 61 for q, p in pairs) >= 8  # most fill the window
    assert sample_probe_pairs(scorer) == pairs  # deterministic
    assert max(len(q) + len(p) for q, p in sample_probe_pairs(FakeScorer(max_length=1024))) == 256 - 3


def test_the_model_fingerprint_names_the_model_and_its_architecture() -> None:
    class Config:
        def __init__(self, layers: int) -> None:
            self.layers = layers

        def to_json_string(self, use_diff: bool = True) -> str:
            return json.dumps({"layers": self.layers})

    class Model:
        def __init__(self, layers: int) -> None:
            self.config = Config(layers)

    class Encoder:
        def __init__(self, layers: int) -> None:
            self.model = Model(layers)

    key = model_fingerprint(Encoder(6), "models/a")
    assert key.startswith("models/a@")
    assert key == model_fingerprint(Encoder(6), "models/a")
    assert key != model_fingerprint(Encoder(12), "models/a")
    assert key != model_fingerprint(Encoder(6), "models/b")


def test_the_probe_over_the_real_model_is_quick_and_exact(
    cross_encoder: CrossEncoder,
    model_path: str,
    onnx_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from crossrank.models.onnx_export import exported_model_path
    from crossrank.models.onnx_scorer import OnnxScorer
    from crossrank.models.torch_scorer import CrossEncoderScorer

    monkeypatch.setenv("CROSSRANK_CACHE_DIR", str(onnx_cache))
    torch_scorer = CrossEncoderScorer(cross_encoder, model_path, precision="fp32")
    onnx_file = exported_model_path(cross_encoder, "fp32", name=model_path)
    builds: Counter[str] = Counter()

    def onnx() -> PairScorer:
        builds["onnx"] += 1
        return OnnxScorer(cross_encoder, onnx_file, variant="fp32", name=model_path)

    candidates = {"torch": lambda: torch_scorer, "onnx": onnx}
    key = model_fingerprint(cross_encoder, model_path)
    started = time.perf_counter()
    choice = probe_fastest_backend(candidates, model_key=key, cache_dir=tmp_path)
    assert time.perf_counter() - started < 15.0  # 2 s of budget, 7 pairs each at least: 8 s on 2 busy vCPUs
    assert choice.backend in ("torch", "onnx")
    assert choice.skipped == {}, choice.skipped  # ONNX Runtime fp32 is exact
    assert choice.pairs >= 2
    assert choice.rounds >= 3
    again = probe_fastest_backend(candidates, model_key=key, cache_dir=tmp_path)
    assert (again.backend, again.source) == (choice.backend, "cache")
    assert builds["onnx"] == 1 + (choice.backend == "onnx")
