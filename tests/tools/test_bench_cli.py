"""``crossrank bench``: the timing loop with fake contenders, then the command with the real peers."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from crossrank.benchmark import contenders as registry
from crossrank.benchmark.contenders import CONTENDERS, build_contender, contender_names
from crossrank.benchmark.flops import TransformerShape, measure_gemm_peak_gflops, pair_flops
from crossrank.benchmark.inputs import BenchInput
from crossrank.benchmark.machine import describe_machine
from crossrank.benchmark.peers import REFERENCE_CONTENDER
from crossrank.benchmark.protocol import BenchSettings, Ranked
from crossrank.benchmark.report import summarize_contenders
from crossrank.benchmark.runner import Measured, run_benchmark
from crossrank.cli.main import main
from crossrank.errors import MissingPeerError
from crossrank.evaluation.latency import LatencySummary, percentile, summarize_latency

CONFIG_KEYS = {
    "name",
    "pairs_per_s",
    "median_latency_ms",
    "p95_latency_ms",
    "peak_rss_mb",
    "ndcg_at_10",
    "speedup_vs_sentence_transformer_rerank",
}
# The contenders the real bench test runs (with the LlamaIndex reference).
_REAL_CONFIGS = (
    "crossrank-default",
    "crossrank-truncate",
    "crossrank-fp32",
    "crossrank-onnx-int8",
    "crossrank-cascade-int8",
    "sentence-transformers-predict",
)
INPUTS = [
    BenchInput(f"q{i}", f"query {i}", ("a", "b", "c"), ("text a", "text b", "text c"), (3.0, 2.0, 1.0))
    for i in range(3)
]


class FakeContender:
    """Ranks in reverse input order; each call is logged, and later calls answer differently."""

    def __init__(self, name: str, log: list[tuple[str, str]], pairs_per_call: int = 3) -> None:
        self.name = name
        self.log = log
        self.pairs_per_call = pairs_per_call

    def prepare(self, item: BenchInput) -> BenchInput:
        return item

    def rank(self, prepared: BenchInput) -> Ranked:
        self.log.append((self.name, prepared.query_id))
        calls = sum(1 for name, _ in self.log if name == self.name)
        return Ranked(order=[2, 1, 0] if calls <= 4 else [0, 1, 2], pairs=self.pairs_per_call)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]
    assert percentile(values, 0.95) == 19.0
    assert percentile(values, 0.5) == 10.0
    assert percentile([7.0], 0.95) == 7.0
    with pytest.raises(ValueError, match=re.escape("percentile needs at least one value")):
        percentile([], 0.5)


def test_latency_summary_by_hand() -> None:
    summary = summarize_latency([0.2, 0.1, 0.3, 0.4], pairs=50)
    assert summary.calls == 4
    assert summary.median_ms == pytest.approx(250.0)
    assert summary.p95_ms == pytest.approx(400.0)
    assert summary.pairs_per_s == pytest.approx(50.0)


def test_contenders_are_warmed_up_then_interleaved_with_a_rotating_order() -> None:
    log: list[tuple[str, str]] = []
    contenders = [FakeContender(name, log) for name in ("A", "B", "C")]
    rounds: list[tuple[int, int]] = []
    measured = run_benchmark(
        contenders,  # type: ignore[arg-type]
        INPUTS,
        repeat=2,
        warmup=1,
        on_round=lambda done, seconds: rounds.append((done, len(log))),
    )

    # Progress is reported after the warm-up and after each round, with the calls made so far.
    assert rounds == [(0, 3), (1, 3 + 9), (2, 3 + 18)]
    warmup, timed = log[:3], log[3:]
    assert warmup == [("A", "q0"), ("B", "q0"), ("C", "q0")]
    assert [name for name, _ in timed[:9]] == ["A", "B", "C", "B", "C", "A", "C", "A", "B"]
    assert [query for _, query in timed[:9]] == ["q0"] * 3 + ["q1"] * 3 + ["q2"] * 3
    assert len(timed) == 2 * 3 * 3
    for name in ("A", "B", "C"):
        result = measured[name]
        assert result.latency.calls == 6
        assert result.latency.pairs == 18
        # Rankings come from the first timed round (calls 2-4), before the fakes change their answer.
        assert result.rankings == {query_id: ["c", "b", "a"] for query_id in ("q0", "q1", "q2")}
        # No model shape given and no token counts reported: no FLOPs claimed.
        assert result.flops is None


class CountedContender(FakeContender):
    compute_dtype = "fp32"

    def rank(self, prepared: BenchInput) -> Ranked:
        ranked = super().rank(prepared)
        return Ranked(order=ranked.order, pairs=3, sequence_lengths=(10, 20, 30))


def test_flops_come_from_the_model_shape_and_the_tokens_of_each_scored_pair() -> None:
    shape = TransformerShape(layers=2, hidden=8, intermediate=32)
    log: list[tuple[str, str]] = []
    measured = run_benchmark([CountedContender("A", log)], INPUTS, repeat=2, warmup=0, shape=shape)  # type: ignore[list-item]
    # Hand count for one pair of L tokens: 2 layers x (8·L·64 + 4·L²·8 + 4·L·8·32) + head (2·64 + 2·8).
    per_call = sum(2 * (512 * n + 32 * n * n + 1024 * n) + 144 for n in (10, 20, 30))
    assert measured["A"].flops == pytest.approx(6 * per_call)
    assert measured["A"].compute_dtype == "fp32"

    (config,) = summarize_contenders(measured, {f"q{i}": {"a": 1} for i in range(3)}, {}, {"fp32": 1e-6})
    seconds = measured["A"].latency.total_s
    assert config["gflop_per_s"] == pytest.approx(6 * per_call / seconds / 1e9)
    assert config["gflop_per_pair"] == pytest.approx(per_call / 3 / 1e9)
    assert config["fraction_of_gemm_peak"] == pytest.approx(config["gflop_per_s"] / 1e-6)


def test_the_gemm_peak_is_measured_and_positive() -> None:
    pytest.importorskip("torch")
    peak = measure_gemm_peak_gflops("fp32", size=256, repeat=2)
    assert peak is not None
    assert peak > 0


def test_ratios_are_to_the_llamaindex_reranker_and_missing_without_it() -> None:
    def latency(pairs_per_s: float, median_ms: float) -> LatencySummary:
        return LatencySummary(
            calls=1, pairs=10, total_s=1.0, median_ms=median_ms, p95_ms=median_ms, pairs_per_s=pairs_per_s
        )

    rankings = {"q0": ["c", "b", "a"]}
    qrels = {"q0": {"c": 1}}
    measured = {
        "crossrank-default": Measured(latency(30.0, 100.0), rankings),
        REFERENCE_CONTENDER: Measured(latency(10.0, 300.0), rankings),
    }
    configs = summarize_contenders(measured, qrels, {})
    assert [config["name"] for config in configs] == ["crossrank-default", REFERENCE_CONTENDER]
    assert configs[0]["speedup_vs_sentence_transformer_rerank"] == pytest.approx(3.0)
    assert configs[0]["median_latency_speedup_vs_sentence_transformer_rerank"] == pytest.approx(3.0)
    assert configs[1]["speedup_vs_sentence_transformer_rerank"] == 1.0
    assert configs[0]["ndcg_at_10"] == 1.0
    assert configs[0]["peak_rss_mb"] is None
    assert configs[0]["fraction_of_gemm_peak"] is None

    alone = summarize_contenders({"crossrank-default": measured["crossrank-default"]}, qrels, {})
    assert alone[0]["speedup_vs_sentence_transformer_rerank"] is None


def test_unknown_configurations_are_errors_that_list_the_choices() -> None:
    with pytest.raises(ValueError, match=re.escape("unknown bench configuration(s) ['fast']; choose from")):
        contender_names(["fast", "crossrank-default"])
    with pytest.raises(ValueError, match=re.escape("unknown bench configuration 'fast'; choose from")):
        build_contender("fast", BenchSettings(model="m"))
    assert contender_names(["sentence-transformers-predict", "crossrank-default"]) == [
        "crossrank-default",
        "sentence-transformers-predict",
    ]
    assert list(CONTENDERS) == [
        "crossrank-default",
        "crossrank-truncate",
        "llamaindex-sbert-rerank",
        "langchain-cross-encoder-reranker",
        "sentence-transformers-predict",
        "crossrank-fp32",
        "crossrank-bf16",
        "crossrank-onnx-int8",
        "crossrank-openvino",
        "crossrank-openvino-bf16",
        "crossrank-openvino-int8",
        "crossrank-student",
        "crossrank-cascade-int8",
        "crossrank-cascade-static-int8",
        "crossrank-cascade-bf16",
        "crossrank-cascade-short",
        "crossrank-cascade-short-int8",
        "crossrank-cascade-short-bf16",
        "crossrank-cascade-short-torch",
        "crossrank-cascade-student",
        "crossrank-cascade-student-bf16",
    ]
    # The student runs only when one is given, and asking for it without one is an error.
    assert "crossrank-student" not in contender_names()
    assert "crossrank-cascade-student" not in contender_names()
    assert "crossrank-cascade-student-bf16" not in contender_names()
    assert "crossrank-cascade-int8" in contender_names()
    assert contender_names(student=True)[-10:] == [
        "crossrank-student",
        "crossrank-cascade-int8",
        "crossrank-cascade-static-int8",
        "crossrank-cascade-bf16",
        "crossrank-cascade-short",
        "crossrank-cascade-short-int8",
        "crossrank-cascade-short-bf16",
        "crossrank-cascade-short-torch",
        "crossrank-cascade-student",
        "crossrank-cascade-student-bf16",
    ]
    with pytest.raises(ValueError, match="pass --student MODEL"):
        contender_names(["crossrank-cascade-student"])


def test_the_peak_memory_counter_resets_and_rises() -> None:
    # In a fresh, small process: inside a large test process under load the allocator may
    # hand back pages it already holds, and the counter would not move (a flaky test).
    code = (
        "from crossrank.benchmark.peak_memory import peak_rss_mb, reset_peak_rss\n"
        "import sys\n"
        "big = bytearray(96 * 1024 * 1024)\n"
        "for offset in range(0, len(big), 4096):\n"
        "    big[offset] = 1\n"
        "del big\n"
        "high = peak_rss_mb()\n"
        "if not reset_peak_rss():\n"
        "    print('no-reset'); sys.exit()\n"
        "after_reset = peak_rss_mb()\n"
        "block = bytearray(64 * 1024 * 1024)\n"
        "for offset in range(0, len(block), 4096):\n"
        "    block[offset] = 1\n"
        "print(high, after_reset, peak_rss_mb())\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    if output == ["no-reset"]:
        pytest.skip("this OS does not allow resetting the peak RSS counter")
    high, after_reset, rose = map(float, output)
    assert after_reset < high - 60  # the reset forgot the earlier 96 MiB peak
    assert rose >= after_reset + 60  # and the counter rises with new memory


def test_the_machine_description_names_the_cpu_and_threads() -> None:
    machine = describe_machine()
    assert machine["cpu"]
    assert machine["torch_threads"] >= 1
    assert machine["python"].count(".") == 2


@pytest.fixture(scope="module")
def scifact(data_dir: Path) -> Path:
    return data_dir / "scifact"


def test_a_missing_peer_is_skipped_and_named(
    scifact: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log: list[tuple[str, str]] = []

    def fake(settings: BenchSettings, shared: dict[str, Any]) -> FakeContender:
        return FakeContender("crossrank-default", log, pairs_per_call=settings.candidates)

    def missing(settings: BenchSettings, shared: dict[str, Any]) -> FakeContender:
        raise MissingPeerError(
            'llama-index-postprocessor-sbert-rerank is not installed (pip install "crossrank[bench]")'
        )

    monkeypatch.setattr(registry, "CONTENDERS", {"crossrank-default": fake, REFERENCE_CONTENDER: missing})
    out = tmp_path / "bench.json"
    argv = ["bench", "--data", str(scifact), "--queries", "2", "--candidates", "3", "--repeat", "1"]
    assert main([*argv, "--no-memory", "--json", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "skipping llamaindex-sbert-rerank: llama-index-postprocessor-sbert-rerank is not installed" in err
    document = json.loads(out.read_text())
    assert [entry["name"] for entry in document["skipped"]] == [REFERENCE_CONTENDER]
    (config,) = document["configs"]
    assert config["name"] == "crossrank-default"
    assert config["speedup_vs_sentence_transformer_rerank"] is None
    assert config["peak_rss_mb"] is None
    assert config["pairs_per_s"] > 0


def test_the_real_bench_writes_the_documented_json(
    scifact: Path,
    model_path: str,
    tmp_path: Path,
    onnx_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from crossrank.benchmark import flops

    # The session's export cache (the memory probes' fresh processes inherit it): the ONNX
    # exports and the static int8 graph are built once per session, and not in ~/.cache.
    monkeypatch.setenv("CROSSRANK_CACHE_DIR", str(onnx_cache))
    # The report's GEMM peaks from small matrices: this test checks the fields, not the peak,
    # and at 2048 a CPU without native bf16 spent 5 minutes on the emulated bf16 multiplies.
    monkeypatch.setattr(flops, "GEMM_SIZE", 256)
    out = tmp_path / "bench.json"
    argv = ["bench", "--data", str(scifact), "--model", model_path, "--queries", "2", "--candidates", "5"]
    # One of each kind (PyTorch, ONNX Runtime fp32 and int8, a cascade, the peers); every
    # contender in the registry costs a fresh memory-probe process and ran 7.5 minutes in CI.
    # That every name builds is checked with fakes above; each backend has its own tests.
    configs = [*_REAL_CONFIGS, REFERENCE_CONTENDER]
    assert main([*argv, "--repeat", "1", "--configs", ",".join(configs), "--json", str(out)]) == 0
    document = json.loads(out.read_text())
    captured = capsys.readouterr()
    # Not on a terminal (no bar), the run still says how long it will take and where it is.
    assert "the timed phase should take about" in captured.err
    assert "round 1 of 1 done after" in captured.err

    skipped = {entry["name"] for entry in document["skipped"]}
    names = [config["name"] for config in document["configs"]]
    assert names == [name for name in contender_names(configs) if name not in skipped]
    assert "crossrank-cascade-int8" in names
    assert {"crossrank-default", "crossrank-truncate", "sentence-transformers-predict"} <= set(names)
    for config in document["configs"]:
        assert set(config) >= CONFIG_KEYS
        for key in ("pairs_per_s", "median_latency_ms", "p95_latency_ms", "peak_rss_mb"):
            assert isinstance(config[key], float)
            assert config[key] > 0
        assert config["median_latency_ms"] <= config["p95_latency_ms"]
        assert 0.0 <= config["ndcg_at_10"] <= 1.0
        assert config["pairs_scored"] >= 2 * 5
        speedup = config["speedup_vs_sentence_transformer_rerank"]
        assert speedup is None if REFERENCE_CONTENDER in skipped else speedup > 0
        assert config["gflop_per_s"] > 0
        assert config["fraction_of_gemm_peak"] > 0
        assert config["compute_dtype"] in document["gemm_peak_gflop_per_s"]
    by_name = {config["name"]: config for config in document["configs"]}
    if REFERENCE_CONTENDER in by_name:
        assert by_name[REFERENCE_CONTENDER]["speedup_vs_sentence_transformer_rerank"] == 1.0
    # Truncating rerankers score exactly one pair per candidate.
    assert by_name["crossrank-truncate"]["pairs_scored"] == 2 * 5
    assert by_name["sentence-transformers-predict"]["pairs_scored"] == 2 * 5
    # Every truncating configuration does the same arithmetic on the same pairs.
    truncating = ("crossrank-truncate", "sentence-transformers-predict")
    assert by_name[truncating[0]]["gflop_per_pair"] == pytest.approx(by_name[truncating[1]]["gflop_per_pair"])
    shape = TransformerShape(**document["model_shape"])
    assert by_name["crossrank-default"]["gflop_per_pair"] <= pair_flops(shape, 512) / 1e9
    assert by_name["crossrank-onnx-int8"]["compute_dtype"] == "int8"

    machine = document["machine"]
    assert {"cpu", "cpu_count", "torch", "torch_threads", "python"} <= set(machine)
    assert document["settings"]["threads"] == machine["torch_threads"]
    assert (document["settings"]["queries"], document["settings"]["candidates"]) == (2, 5)
    assert "crossrank-default" in captured.out


def test_the_candidate_memory_probe_measures_one_call(scifact: Path, model_path: str) -> None:
    from crossrank.benchmark.candidate_memory import measure

    row = measure(model_path, scifact, 50)
    assert row["candidates"] == 50
    assert row["text_mb"] > 0
    assert row["peak_added_mb"] >= 0
    assert row["kb_per_candidate"] == pytest.approx(row["peak_added_mb"] * 1024 / 50)


def test_the_machine_facts_name_the_core() -> None:
    from crossrank.benchmark.machine import cpu_identity, microarchitecture

    assert microarchitecture("AuthenticAMD", 25, 17) == "Zen 4"
    assert microarchitecture("AuthenticAMD", 25, 1) == "Zen 3"
    assert microarchitecture("GenuineIntel", 6, 0x8F) == "Sapphire Rapids"
    assert microarchitecture("GenuineIntel", 6, 1) == "unknown"
    assert microarchitecture("AuthenticAMD", None, 17) == "unknown"
    assert set(cpu_identity()) == {"vendor", "family", "model", "stepping", "microarchitecture"}


def test_the_gpu_short_cascade_and_the_gpu_peak_size() -> None:
    from crossrank.benchmark.contenders import CASCADE_SHORT_LENGTH, _coarse_stage
    from crossrank.benchmark.flops import GEMM_SIZE, gemm_size_for
    from crossrank.benchmark.report import format_gemm_peaks

    # Both stages in PyTorch: OpenVINO, the CPU cascades' coarse backend, has no CUDA.
    options = _coarse_stage("short-torch", BenchSettings(model="m"), {})
    assert options == {
        "coarse_model": "m",
        "coarse_backend": "torch",
        "coarse_max_length": CASCADE_SHORT_LENGTH,
    }
    assert _coarse_stage("short", BenchSettings(model="m"), {})["coarse_backend"] == "openvino-bf16"
    assert gemm_size_for("cpu") == GEMM_SIZE
    assert gemm_size_for("cuda:0") == 8192
    assert format_gemm_peaks({"fp16": 7.0e5}, size=8192) == (
        "GEMM peak, GFLOP/s (torch 8192x8192, same run): fp16 700000"
    )


def test_a_contender_with_its_own_shape_counts_its_own_flops() -> None:
    # A student scores the same pairs with fewer layers: its FLOPs follow its own shape, not
    # the bench model's (the student's fraction of peak was overstated three-fold before).
    teacher = TransformerShape(layers=6, hidden=8, intermediate=32)
    student = TransformerShape(layers=2, hidden=8, intermediate=32)
    log: list[tuple[str, str]] = []
    plain = CountedContender("teacher", log)
    small = CountedContender("student", log)
    small.shape = student  # type: ignore[attr-defined]
    measured = run_benchmark([plain, small], INPUTS, repeat=1, warmup=0, shape=teacher)  # type: ignore[list-item]
    per_layer = sum(512 * n + 32 * n * n + 1024 * n for n in (10, 20, 30))
    assert measured["teacher"].flops == pytest.approx(3 * (6 * per_layer + 3 * 144))
    assert measured["student"].flops == pytest.approx(3 * (2 * per_layer + 3 * 144))
