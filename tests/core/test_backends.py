"""Every backend and precision ranks like fp32 PyTorch; the ONNX export cache; the fallback to PyTorch."""

from __future__ import annotations

import copy
import itertools
import logging
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fake_scorer import FakeScorer

from crossrank import ModelLoadError, Reranker
from crossrank.models.backends import check_backend_options
from crossrank.models.onnx_scorer import usable_cpu_count

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

QUERY = "How does regular exercise affect blood pressure in people with hypertension?"
PASSAGES = [
    "In a randomized trial, adults with stage 1 hypertension who walked briskly for thirty minutes on "
    "most days had lower resting systolic and diastolic pressure after twelve weeks than controls.",
    "Aerobic training lowers blood pressure by about five to seven mmHg in hypertensive patients, "
    "a meta-analysis of ninety trials found; resistance training had a smaller effect.",
    "Blood pressure cuffs should be sized to the arm; a cuff that is too small reads falsely high.",
    "Salt restriction and weight loss are first-line lifestyle treatments for high blood pressure.",
    "Marathon runners sometimes faint at the finish line when blood pools in their legs.",
    "The committee reviewed the harbour budget and approved repairs to the eastern pier.",
    "Exercise improves mood and sleep quality in older adults, a survey of retirees reported.",
    "Beta blockers reduce heart rate and are prescribed after a heart attack.",
    "The recipe calls for two cups of flour, a pinch of salt and three eggs.",
    "Hypertension is defined as a resting blood pressure at or above 130/80 mmHg.",
    "Exercise physiology " * 300,  # several windows
]

# Largest and mean |score - fp32 PyTorch score| allowed per option (scores are 0..1 for
# this model). Measured on these pairs: onnx 2e-6; bf16 at most 0.005; int8 at most 0.17,
# 0.02 on average. int8 is opt-in and lossy: on 3,000 SciFact pairs it moved single
# scores by up to 0.38, so its ranking is checked by rank correlation instead.
# OpenVINO runs the same export: fp32 as ONNX Runtime's, bf16 measured at most 0.003 on
# 320 SciFact pairs.
# Static int8 (OpenVINO, calibrated on crossrank's sample pairs): measured on these pairs at
# most 0.048, 0.009 on average, Spearman 0.991; on 2,000 SciFact pairs it moved single scores
# by up to 0.45 at a within-claim Spearman of 0.992 (docs/benchmarks.md).
INT8_STATIC_MAX, INT8_STATIC_MEAN, INT8_STATIC_SPEARMAN = 0.15, 0.03, 0.95
MAX_DIFF = {
    "onnx": 1e-4,
    "torch-bf16": 0.03,
    "onnx-int8": 0.4,
    "openvino": 1e-4,
    "openvino-bf16": 0.03,
    "openvino-int8": INT8_STATIC_MAX,
}
MEAN_DIFF = {
    "onnx": 1e-5,
    "torch-bf16": 0.005,
    "onnx-int8": 0.04,
    "openvino": 1e-5,
    "openvino-bf16": 0.005,
    "openvino-int8": INT8_STATIC_MEAN,
}
MIN_SPEARMAN = {
    "onnx": 0.999,
    "torch-bf16": 0.99,
    "onnx-int8": 0.9,
    "openvino": 0.999,
    "openvino-bf16": 0.99,
    "openvino-int8": INT8_STATIC_SPEARMAN,
}
OPTIONS: dict[str, dict[str, str]] = {
    "onnx": {"backend": "onnx"},
    "torch-bf16": {"backend": "torch", "precision": "bf16"},
    "onnx-int8": {"backend": "onnx-int8"},
    "openvino": {"backend": "openvino"},
    "openvino-bf16": {"backend": "openvino-bf16"},
    "openvino-int8": {"backend": "openvino-int8"},
    "auto": {},
}


def fake_cpu(monkeypatch: pytest.MonkeyPatch, *, native_bf16: bool) -> None:
    """Make crossrank see a CPU with or without native bf16, whatever this machine has."""
    from crossrank.models import backends

    monkeypatch.setattr(backends, "cpu_has_native_bf16", lambda: native_bf16)


def crossrank_warnings(caplog: pytest.LogCaptureFixture, containing: str) -> list[logging.LogRecord]:
    """The ``crossrank`` logger's warnings whose message contains ``containing``.

    Tests count the records they mean: other warnings (a CPU without native bf16, an export
    announced) depend on the machine and the cache, not on the behaviour under test.
    """
    return [
        record
        for record in caplog.records
        if record.name == "crossrank"
        and record.levelno == logging.WARNING
        and containing in record.getMessage()
    ]


def measured_as(option: str) -> str:
    return "onnx" if option == "auto" else option  # auto is ONNX fp32 on a CPU


@pytest.fixture
def use_onnx_cache(onnx_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CROSSRANK_CACHE_DIR", str(onnx_cache))
    return onnx_cache / "onnx"


@pytest.fixture(scope="session")
def rerankers(cross_encoder: CrossEncoder, onnx_cache: Path) -> dict[str, Reranker]:
    """fp32 PyTorch and every other option, each loaded (ONNX exported) once per session."""
    built = {"torch-fp32": Reranker(cross_encoder, precision="fp32", score_cache_size=0)}
    built.update({name: Reranker(cross_encoder, score_cache_size=0, **kw) for name, kw in OPTIONS.items()})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CROSSRANK_CACHE_DIR", str(onnx_cache))
        for reranker in built.values():
            _ = reranker.scorer
    return built


def fixed_pairs(data_dir: Path | None) -> list[tuple[str, str]]:
    pairs = [(QUERY, passage) for passage in PASSAGES]
    if data_dir is None:
        return pairs
    from crossrank.evaluation.beir import load_beir

    dataset = load_beir(data_dir / "scifact")
    corpus = list(dataset.corpus.values())
    for query_id in sorted(dataset.queries, key=int)[:2]:
        judged = [dataset.corpus[doc_id] for doc_id in dataset.qrels[query_id] if doc_id in dataset.corpus]
        for document in judged + corpus[:4]:
            pairs.append((dataset.queries[query_id], document.full_text))
    return pairs


@pytest.fixture(scope="session")
def short_pairs() -> list[tuple[str, str]]:
    return fixed_pairs(None)


@pytest.fixture(scope="session")
def short_reference(rerankers: dict[str, Reranker], short_pairs: list[tuple[str, str]]) -> list[float]:
    """fp32 PyTorch scores of the short pairs, computed once."""
    return rerankers["torch-fp32"].score_pairs(short_pairs)


@pytest.fixture(scope="session")
def scifact_pairs(data_dir: Path) -> list[tuple[str, str]]:
    return fixed_pairs(data_dir)


@pytest.fixture(scope="session")
def scifact_reference(rerankers: dict[str, Reranker], scifact_pairs: list[tuple[str, str]]) -> list[float]:
    return rerankers["torch-fp32"].score_pairs(scifact_pairs)


def spearman(a: list[float], b: list[float]) -> float:
    import numpy as np

    ranks_a, ranks_b = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])


def assert_same_ranking(reference: list[float], scores: list[float], option: str) -> None:
    """Scores close to fp32's; pairs that fp32 separates by more than twice the bound keep their order."""
    bound = MAX_DIFF[measured_as(option)]
    differences = [abs(a - b) for a, b in zip(reference, scores, strict=True)]
    assert max(differences) < bound, f"largest score difference {max(differences):.3g} >= {bound}"
    mean = sum(differences) / len(differences)
    assert mean < MEAN_DIFF[measured_as(option)], f"mean score difference {mean:.3g}"
    assert spearman(reference, scores) >= MIN_SPEARMAN[measured_as(option)]
    for i, (ref_i, got_i) in enumerate(zip(reference, scores, strict=True)):
        for j, (ref_j, got_j) in enumerate(zip(reference, scores, strict=True)):
            if ref_i - ref_j > 2 * bound:
                assert got_i > got_j, f"pair {i} should outrank pair {j}: {got_i} <= {got_j}"


@pytest.mark.model
@pytest.mark.parametrize("option", list(OPTIONS), ids=list(OPTIONS))
def test_every_backend_ranks_short_passages_like_fp32_torch(
    rerankers: dict[str, Reranker],
    option: str,
    short_pairs: list[tuple[str, str]],
    short_reference: list[float],
) -> None:
    scores = rerankers[option].score_pairs(short_pairs)
    assert all(type(score) is float for score in scores)
    assert_same_ranking(short_reference, scores, option)
    order = sorted(range(len(short_pairs)), key=lambda i: -short_reference[i])
    margins = [short_reference[a] - short_reference[b] for a, b in itertools.pairwise(order[:4])]
    if min(margins) > 2 * MAX_DIFF[measured_as(option)]:  # fp32 separates the top three clearly
        assert sorted(range(len(short_pairs)), key=lambda i: -scores[i])[:3] == order[:3]


@pytest.mark.model
@pytest.mark.data
@pytest.mark.parametrize("option", list(OPTIONS), ids=list(OPTIONS))
def test_every_backend_ranks_scifact_pairs_like_fp32_torch(
    rerankers: dict[str, Reranker],
    option: str,
    scifact_pairs: list[tuple[str, str]],
    scifact_reference: list[float],
) -> None:
    scores = rerankers[option].score_pairs(scifact_pairs)
    assert_same_ranking(scifact_reference, scores, option)


def scored_together_and_alone(reranker: Reranker) -> tuple[list[float], list[float]]:
    """Ten short pairs scored in one call, and each in a call of its own (no cache)."""
    uncached = reranker.with_options(score_cache_size=0)
    together = uncached.score_pairs([(QUERY, passage) for passage in PASSAGES[:10]])
    alone = [uncached.score_pairs([(QUERY, passage)])[0] for passage in PASSAGES[:10]]
    return together, alone


@pytest.mark.model
def test_an_int8_score_does_not_depend_on_the_other_pairs_in_the_call(rerankers: dict[str, Reranker]) -> None:
    # int8 quantizes activations with one scale per tensor: scored in one batch, a pair's
    # score would shift with its neighbours. The scorer runs each pair alone.
    together, alone = scored_together_and_alone(rerankers["onnx-int8"])
    assert together == alone


@pytest.mark.model
def test_each_option_runs_where_it_says(rerankers: dict[str, Reranker]) -> None:
    assert rerankers["torch-fp32"].backend_in_use == "torch-fp32"
    assert rerankers["torch-bf16"].backend_in_use == "torch-bf16"
    assert rerankers["onnx"].backend_in_use == "onnx"
    assert rerankers["onnx-int8"].backend_in_use == "onnx-int8"
    assert rerankers["openvino"].backend_in_use == "openvino"
    assert rerankers["openvino-bf16"].backend_in_use == "openvino-bf16"
    assert rerankers["openvino-int8"].backend_in_use == "openvino-int8"
    assert rerankers["auto"].backend_in_use == "onnx"  # the CPU default


@pytest.mark.model
def test_openvino_reads_the_cached_onnx_export_and_adds_no_entry(
    rerankers: dict[str, Reranker], use_onnx_cache: Path
) -> None:
    before = sorted(path.name for path in use_onnx_cache.iterdir())
    reloaded = Reranker(rerankers["openvino-bf16"].scorer.name, device="cpu", backend="openvino-bf16")
    assert reloaded.backend_in_use == "openvino-bf16"
    assert sorted(path.name for path in use_onnx_cache.iterdir()) == before


def mixed_length_pairs(reranker: Reranker) -> list[tuple[str, str]]:
    """16 pairs of about 20 to 500 tokens, shuffled so every call mixes short and long ones."""
    words = " ".join(PASSAGES[:10]).split() * 3
    passages = [" ".join(words[: 5 + 26 * i]) for i in range(16)]
    passages = passages[::2] + passages[1::2]
    lengths = {len(reranker.scorer.tokenize([passage])[0].ids) for passage in passages}
    assert max(lengths) - min(lengths) > 300
    return [(QUERY, passage) for passage in passages]


@pytest.mark.parametrize("backend", ["openvino-bf16", "openvino-int8"])
@pytest.mark.model
def test_a_bf16_or_static_int8_score_does_not_depend_on_the_other_pairs_in_the_call(
    rerankers: dict[str, Reranker], backend: str
) -> None:
    # Padded to a longer neighbour, a pair sums its attention in another order; bf16's rounding
    # or an int8 quantization step kept the difference (up to 0.0033 and 0.0086 on real pairs).
    # Each pair is padded to its own length bucket, so its score is exactly its own.
    reranker = rerankers[backend].with_options(score_cache_size=0)
    pairs = mixed_length_pairs(reranker)
    together = reranker.score_pairs(pairs)
    alone = [reranker.score_pairs([pair])[0] for pair in pairs]
    in_halves = reranker.score_pairs(pairs[:7]) + reranker.score_pairs(pairs[7:])
    assert together == alone == in_halves
    assert len(set(together)) > 8  # real, distinct scores


def load_error(reranker: Reranker) -> str:
    """The message of the :class:`~crossrank.ModelLoadError` that loading ``reranker`` raises."""
    with pytest.raises(ModelLoadError) as raised:
        _ = reranker.backend_in_use
    return str(raised.value)


@pytest.mark.model
def test_missing_nncf_raises_naming_the_extra(
    cross_encoder: CrossEncoder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("CROSSRANK_CACHE_DIR", str(tmp_path))  # no cached int8 graph to reuse
    monkeypatch.setitem(sys.modules, "nncf", None)
    with caplog.at_level(logging.WARNING, logger="crossrank"):
        message = load_error(Reranker(cross_encoder, backend="openvino-int8"))
    assert "backend='openvino-int8' cannot run" in message
    assert 'pip install "crossrank[openvino]"' in message
    assert crossrank_warnings(caplog, "Scoring with PyTorch instead") == []  # no silent fallback


@pytest.mark.model
@pytest.mark.parametrize("native_bf16", [True, False], ids=["bf16-cpu", "no-bf16-cpu"])
def test_missing_openvino_raises_naming_the_extra(
    cross_encoder: CrossEncoder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    native_bf16: bool,
) -> None:
    # Whatever the CPU: bf16 is not run (so not emulated) when OpenVINO is missing.
    fake_cpu(monkeypatch, native_bf16=native_bf16)
    monkeypatch.setitem(sys.modules, "openvino", None)
    with caplog.at_level(logging.WARNING, logger="crossrank"):
        message = load_error(Reranker(cross_encoder, backend="openvino-bf16"))
    assert "backend='openvino-bf16' cannot run" in message
    assert 'pip install "crossrank[openvino]"' in message
    assert crossrank_warnings(caplog, "Scoring with PyTorch instead") == []
    assert crossrank_warnings(caplog, "no native bf16") == []


@pytest.mark.model
def test_torch_precision_auto_is_fp32_on_a_cpu(cross_encoder: CrossEncoder) -> None:
    import torch

    assert Reranker(cross_encoder, backend="torch").backend_in_use == "torch-fp32"
    assert torch.get_num_threads() <= usable_cpu_count()


@pytest.mark.model
def test_the_export_is_reused_not_redone(
    rerankers: dict[str, Reranker], use_onnx_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crossrank.models import onnx_export

    entries = sorted(path.name for path in use_onnx_cache.iterdir())
    assert [name.split("-")[-2] for name in entries] == ["fp32", "int8", "static"]
    files = {path: path.stat().st_mtime_ns for path in use_onnx_cache.glob("*/model.onnx")}

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the cached export was redone")

    monkeypatch.setattr(onnx_export, "_export", never)
    monkeypatch.setattr(onnx_export, "quantize", never)
    monkeypatch.setattr(onnx_export, "_export_static_int8", never)
    # A fresh load of the same model, from its path.
    reloaded = Reranker(rerankers["onnx-int8"].scorer.name, device="cpu", backend="onnx-int8")
    assert reloaded.backend_in_use == "onnx-int8"
    reloaded = Reranker(rerankers["onnx-int8"].scorer.name, device="cpu", backend="openvino-int8")
    assert reloaded.backend_in_use == "openvino-int8"
    assert {path: path.stat().st_mtime_ns for path in use_onnx_cache.glob("*/model.onnx")} == files
    assert sorted(path.name for path in use_onnx_cache.iterdir()) == entries  # no temp dirs left


@pytest.mark.model
def test_the_export_is_keyed_by_variant_options_and_weights(
    cross_encoder: CrossEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from crossrank.models import onnx_export

    int8 = onnx_export._cache_key(cross_encoder, "int8")
    assert int8 == onnx_export._cache_key(cross_encoder, "int8")
    assert onnx_export._cache_key(cross_encoder, "fp32") != int8
    monkeypatch.setattr(onnx_export, "INT8_OPTIONS", {"per_channel": False, "reduce_range": False})
    assert onnx_export._cache_key(cross_encoder, "int8") != int8
    monkeypatch.undo()

    changed = copy.deepcopy(cross_encoder)
    with torch.no_grad():
        next(changed.parameters()).view(-1)[0] += 1e-3
    assert onnx_export._cache_key(changed, "int8") != int8


def test_a_concurrent_export_that_finished_first_is_kept(tmp_path: Path) -> None:
    from crossrank.models.onnx_cache import publish

    entry = tmp_path / "model-int8-abc"
    entry.mkdir()
    (entry / "model.onnx").write_bytes(b"theirs")
    staging = tmp_path / ".model-int8-abc.tmp"
    staging.mkdir()
    (staging / "model.onnx").write_bytes(b"ours")
    publish(staging, entry, {})
    assert (entry / "model.onnx").read_bytes() == b"theirs"


@pytest.mark.model
def test_changing_the_backend_reloads_and_never_reuses_cached_scores(
    cross_encoder: CrossEncoder, rerankers: dict[str, Reranker], use_onnx_cache: Path
) -> None:
    pairs = fixed_pairs(None)[:4]
    int8 = Reranker(cross_encoder, backend="onnx-int8")
    int8_scores = int8.score_pairs(pairs)
    exact = int8.with_options(backend="torch", precision="fp32")
    assert exact.backend_in_use == "torch-fp32"
    assert exact.cache_info().size == 0
    exact_scores = exact.score_pairs(pairs)
    assert exact_scores == pytest.approx(rerankers["torch-fp32"].score_pairs(pairs), abs=1e-6)
    assert exact_scores != int8_scores
    assert int8.with_options(top_n=2).cache_info() == int8.cache_info()  # same model: cache shared


@pytest.mark.model
def test_missing_onnxruntime_falls_back_to_torch_under_auto_and_raises_when_named(
    cross_encoder: CrossEncoder, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with caplog.at_level(logging.WARNING, logger="crossrank"):
        in_use = Reranker(cross_encoder).backend_in_use
    assert in_use == "torch-fp32"
    [record] = crossrank_warnings(caplog, "is not usable")
    assert "backend 'onnx' is not usable" in record.getMessage()
    assert "onnxruntime" in record.getMessage()
    assert "pip install onnxruntime onnx" in record.getMessage()

    message = load_error(Reranker(cross_encoder, backend="onnx-int8"))
    assert "backend='onnx-int8' cannot run" in message
    assert "pip install onnxruntime onnx" in message


@pytest.mark.model
def test_a_failing_export_falls_back_to_exact_torch_and_leaves_no_files(
    cross_encoder: CrossEncoder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import torch

    def unsupported(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("Exporting the operator 'aten::frobnicate' to ONNX is not supported")

    monkeypatch.setenv("CROSSRANK_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(torch.onnx, "export", unsupported)
    with caplog.at_level(logging.WARNING, logger="crossrank"):
        reranker = Reranker(cross_encoder)
        assert reranker.backend_in_use == "torch-fp32"  # auto (ONNX fp32) falls back to exact fp32
    [record] = crossrank_warnings(caplog, "is not usable")
    assert "torch.onnx.export failed" in record.getMessage()
    assert "aten::frobnicate" in record.getMessage()
    message = load_error(Reranker(cross_encoder, backend="onnx"))
    assert "backend='onnx' cannot run" in message
    assert "aten::frobnicate" in message
    assert list((tmp_path / "onnx").iterdir()) == []


@pytest.mark.model
def test_remote_code_models_are_not_exported(
    cross_encoder: CrossEncoder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    remote = copy.deepcopy(cross_encoder)
    # What trust_remote_code=True loads: a model class from a dynamic transformers_modules package.
    remote_class = type(type(remote.model).__name__, (type(remote.model),), {})
    remote_class.__module__ = "transformers_modules.someone.custom.modeling"
    remote.model.__class__ = remote_class
    monkeypatch.setenv("CROSSRANK_CACHE_DIR", str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="crossrank"):
        assert Reranker(remote).backend_in_use == "torch-fp32"
    [record] = crossrank_warnings(caplog, "is not usable")
    assert "remote code" in record.getMessage()
    assert "remote code" in load_error(Reranker(remote, backend="onnx"))
    assert not (tmp_path / "onnx").exists() or not any((tmp_path / "onnx").iterdir())


def test_auto_map_alone_does_not_block_onnx(
    cross_encoder: CrossEncoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A config may name remote classes in auto_map; without trust_remote_code they never run.
    mapped = copy.deepcopy(cross_encoder)
    mapped.model.config.auto_map = {"AutoModelForSequenceClassification": "modeling.Custom"}
    monkeypatch.setenv("CROSSRANK_CACHE_DIR", str(tmp_path))
    assert Reranker(mapped, backend="onnx").backend_in_use == "onnx"


@pytest.mark.parametrize(
    ("backend", "precision", "message"),
    [
        (
            "gpu",
            "auto",
            "backend must be one of 'auto', 'torch', 'onnx', 'onnx-int8', 'openvino', 'openvino-bf16', "
            "'openvino-int8', got 'gpu'.",
        ),
        ("auto", "int4", "precision must be one of 'auto', 'fp32', 'bf16', 'fp16', got 'int4'."),
        (
            "onnx-int8",
            "bf16",
            "precision='bf16' applies to backend='torch'; backend='onnx-int8' runs in int8. "
            "Pass backend='torch' or backend='openvino-bf16', or precision='auto'.",
        ),
        (
            "openvino",
            "fp16",
            "precision='fp16' applies to backend='torch'; backend='openvino' runs in fp32. "
            "Pass backend='torch', or precision='auto'.",
        ),
    ],
    ids=["unknown-backend", "unknown-precision", "precision-for-onnx", "precision-for-openvino"],
)
def test_bad_backend_options_are_rejected_before_loading(backend: str, precision: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        check_backend_options(backend, precision)
    with pytest.raises(ValueError, match=re.escape(message)):
        Reranker("/no/such/model", backend=backend, precision=precision)  # type: ignore[arg-type]


def test_backend_options_do_not_apply_to_a_ready_scorer() -> None:
    with pytest.raises(ValueError, match=re.escape("not to a ready PairScorer; got backend='torch'")):
        Reranker(FakeScorer(), backend="torch")  # type: ignore[arg-type]
    assert Reranker(FakeScorer()).backend_in_use == "FakeScorer"  # type: ignore[arg-type]


def test_usable_cpu_count_is_within_the_machine() -> None:
    assert 1 <= usable_cpu_count() <= (os.cpu_count() or 1)


@pytest.mark.model
@pytest.mark.parametrize("native_bf16", [True, False], ids=["bf16-cpu", "no-bf16-cpu"])
def test_torch_bf16_warns_only_on_a_cpu_without_native_bf16(
    cross_encoder: CrossEncoder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    native_bf16: bool,
) -> None:
    fake_cpu(monkeypatch, native_bf16=native_bf16)
    with caplog.at_level(logging.WARNING, logger="crossrank"):
        assert Reranker(cross_encoder, precision="bf16").backend_in_use == "torch-bf16"
    warned = crossrank_warnings(caplog, "no native bf16")
    assert len(warned) == (0 if native_bf16 else 1)
    assert all("bf16 is emulated" in record.getMessage() for record in warned)


@pytest.mark.model
@pytest.mark.parametrize("native_bf16", [True, False], ids=["bf16-cpu", "no-bf16-cpu"])
def test_openvino_bf16_warns_only_on_a_cpu_without_native_bf16(
    rerankers: dict[str, Reranker],
    use_onnx_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    native_bf16: bool,
) -> None:
    fake_cpu(monkeypatch, native_bf16=native_bf16)
    with caplog.at_level(logging.WARNING, logger="crossrank"):
        reloaded = Reranker(rerankers["openvino"].scorer.name, device="cpu", backend="openvino-bf16")
        assert reloaded.backend_in_use == "openvino-bf16"
    warned = crossrank_warnings(caplog, "no native bf16")
    assert len(warned) == (0 if native_bf16 else 1)
    assert all("OpenVINO will run backend='openvino-bf16' in fp32" in r.getMessage() for r in warned)


@pytest.mark.parametrize(
    ("torch_probes", "flags", "native"),
    [
        ({"_is_avx512_bf16_supported": True, "_is_amx_tile_supported": False}, "avx2", True),
        ({"_is_avx512_bf16_supported": False, "_is_amx_tile_supported": True}, "avx2", True),
        ({"_is_avx512_bf16_supported": False, "_is_amx_tile_supported": False}, "avx512f avx512_bf16", True),
        ({"_is_avx512_bf16_supported": False, "_is_amx_tile_supported": False}, "avx512f amx_bf16", True),
        # Plain AVX-512 (and VNNI) emulates bf16; so does a torch without the probes on an AVX2 CPU.
        ({"_is_avx512_bf16_supported": False, "_is_amx_tile_supported": False}, "avx512f avx512_vnni", False),
        ({}, "avx2 fma", False),
    ],
    ids=["torch-avx512-bf16", "torch-amx", "flag-avx512-bf16", "flag-amx-bf16", "avx512-vnni", "avx2"],
)
def test_native_bf16_is_read_from_torch_or_the_cpu_flags(
    monkeypatch: pytest.MonkeyPatch, torch_probes: dict[str, bool], flags: str, native: bool
) -> None:
    import torch

    from crossrank.models import backends

    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        if probe in torch_probes:
            answer = torch_probes[probe]
            monkeypatch.setattr(torch.cpu, probe, lambda answer=answer: answer, raising=False)
        else:  # an older torch without the probe
            monkeypatch.delattr(torch.cpu, probe, raising=False)
    monkeypatch.setattr(backends, "cpu_flags", lambda: frozenset(flags.split()))
    assert backends.cpu_has_native_bf16() is native
