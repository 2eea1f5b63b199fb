"""Static int8: the calibration pairs, and the check that refuses a broken quantized graph."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from crossrank import ModelLoadError, Reranker
from crossrank.errors import OnnxExportError

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

pytest.importorskip("openvino", reason='static int8 runs in OpenVINO: pip install "crossrank[openvino]"')


@pytest.fixture(scope="module")
def unfused(cross_encoder: CrossEncoder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from crossrank.models.onnx_export import export_unfused

    path = tmp_path_factory.mktemp("static-int8") / "unfused.onnx"
    export_unfused(cross_encoder, path)
    return path


@pytest.fixture(scope="module")
def batches(cross_encoder: CrossEncoder) -> list[dict[str, Any]]:
    from crossrank.models.onnx_static_quantize import calibration_batches, sample_calibration_pairs
    from crossrank.models.pair_encoder import PairEncoder

    # Two pairs of each sample query, cut to 128 tokens: 20 distinct scores are enough to
    # tell a kept ranking from a reversed or constant one, at a fraction of 512 tokens' cost.
    encoder = PairEncoder(cross_encoder.tokenizer)
    return calibration_batches(encoder, sample_calibration_pairs(encoder, 128, pairs_per_query=2))


def _with_output(source: Path, path: Path, op_type: str) -> Path:
    """A copy of the graph whose scores pass through one more node (Neg: reversed ranks)."""
    import onnx

    model = onnx.load(str(source))
    output = model.graph.output[0].name
    for node in model.graph.node:
        node.output[:] = [f"{name}_before" if name == output else name for name in node.output]
    model.graph.node.append(onnx.helper.make_node(op_type, [f"{output}_before"], [output]))
    onnx.save(model, str(path))
    return path


def _constant(source: Path, path: Path) -> Path:
    """A copy of the graph that scores every pair 0.1: what NNCF's defaults gave this model."""
    import onnx

    model = onnx.load(str(source))
    output = model.graph.output[0].name
    for node in model.graph.node:
        node.output[:] = [f"{name}_before" if name == output else name for name in node.output]
    zero = onnx.helper.make_tensor("zero", onnx.TensorProto.FLOAT, [], [0.0])
    tenth = onnx.helper.make_tensor("tenth", onnx.TensorProto.FLOAT, [], [0.1])
    model.graph.initializer.extend([zero, tenth])
    model.graph.node.extend(
        [
            onnx.helper.make_node("Mul", [f"{output}_before", "zero"], ["scores_zeroed"]),
            onnx.helper.make_node("Add", ["scores_zeroed", "tenth"], [output]),
        ]
    )
    onnx.save(model, str(path))
    return path


def test_the_calibration_pairs_are_the_sample_texts_and_fit_the_window(cross_encoder: CrossEncoder) -> None:
    from crossrank.models.onnx_static_quantize import STATIC_INT8_OPTIONS, sample_calibration_pairs
    from crossrank.models.pair_encoder import PairEncoder

    encoder = PairEncoder(cross_encoder.tokenizer)
    pairs = sample_calibration_pairs(encoder, 128)
    assert len(pairs) == 10 * STATIC_INT8_OPTIONS["pairs_per_query"]  # ten built-in queries
    per_query = STATIC_INT8_OPTIONS["pairs_per_query"]
    first_three = [pair for start in range(0, len(pairs), per_query) for pair in pairs[start : start + 3]]
    assert sample_calibration_pairs(encoder, 128, pairs_per_query=3) == first_three
    assert all(len(q) + len(d) + encoder.num_special_tokens <= 128 for q, d in pairs)
    assert len({tuple(d) for _, d in pairs}) > 32  # many documents, not one
    assert sample_calibration_pairs(encoder, 128) == pairs  # deterministic: the same graph every time


def test_the_calibration_size_comes_from_the_environment_and_keys_the_cache(
    cross_encoder: CrossEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crossrank.models import onnx_export
    from crossrank.models.onnx_static_quantize import (
        PAIRS_PER_QUERY_ENV,
        STATIC_INT8_OPTIONS,
        static_int8_options,
    )

    defaults = dict(STATIC_INT8_OPTIONS)
    monkeypatch.delenv(PAIRS_PER_QUERY_ENV, raising=False)
    assert static_int8_options() == defaults
    default_key = onnx_export._cache_key(cross_encoder, "int8-static")
    monkeypatch.setenv(PAIRS_PER_QUERY_ENV, "3")
    assert static_int8_options() == {**defaults, "pairs_per_query": 3}
    assert defaults == STATIC_INT8_OPTIONS  # the defaults themselves are untouched
    # Another calibration is another graph: it never re-uses the default's cache entry.
    assert onnx_export._cache_key(cross_encoder, "int8-static") != default_key
    for bad in ("0", "-2", "many"):
        monkeypatch.setenv(PAIRS_PER_QUERY_ENV, bad)
        with pytest.raises(
            ValueError, match=f"{PAIRS_PER_QUERY_ENV} must be a positive integer, got '{bad}'"
        ):
            static_int8_options()


def test_calibration_says_what_it_does_and_for_how_long_before_it_starts(
    cross_encoder: CrossEncoder, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from crossrank.models import onnx_static_quantize

    calls: list[int] = []

    def quantize(source: Path, path: Path, batches: Any, options: Any = None) -> None:
        said = [r for r in caplog.records if "calibrating static int8" in r.getMessage()]
        assert len(said) == 1, "the line comes before the quantization starts"
        calls.append(len(batches))

    monkeypatch.setattr(onnx_static_quantize, "quantize_static", quantize)
    monkeypatch.setattr(onnx_static_quantize, "check_quantized", lambda *args: None)
    monkeypatch.setenv(onnx_static_quantize.PAIRS_PER_QUERY_ENV, "3")
    with caplog.at_level(logging.INFO, logger="crossrank"):
        onnx_static_quantize.quantize_calibrated(cross_encoder, Path("unused.onnx"), Path("unused-int8.onnx"))
    assert calls == [8]  # 30 pairs, 4 to a batch
    [record] = [r for r in caplog.records if "calibrating static int8" in r.getMessage()]
    assert record.levelno == logging.INFO
    assert "on 30 sample pairs (3 per sample query" in record.getMessage()
    assert "minutes on a CPU at the default 32 per query" in record.getMessage()


def test_quantizing_prints_no_progress_bars(
    unfused: Path, batches: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from crossrank.models.onnx_static_quantize import check_quantized, quantize_static

    quantize_static(unfused, tmp_path / "int8.onnx", batches)
    assert capsys.readouterr().out == ""  # NNCF's bars went to stdout before
    check_quantized(unfused, tmp_path / "int8.onnx", batches)


def test_the_check_accepts_the_fp32_graph_itself(unfused: Path, batches: list[dict[str, Any]]) -> None:
    from crossrank.models.onnx_static_quantize import check_quantized

    check_quantized(unfused, unfused, batches)


def test_the_check_refuses_a_graph_that_reverses_the_ranking(
    unfused: Path, batches: list[dict[str, Any]], tmp_path: Path
) -> None:
    from crossrank.models.onnx_static_quantize import check_quantized

    reversed_graph = _with_output(unfused, tmp_path / "neg.onnx", "Neg")
    with pytest.raises(OnnxExportError, match=r"rank correlation of -1\.000 to fp32, below 0\.9"):
        check_quantized(unfused, reversed_graph, batches)


def test_the_check_refuses_a_graph_with_one_score_for_every_pair(
    unfused: Path, batches: list[dict[str, Any]], tmp_path: Path
) -> None:
    from crossrank.models.onnx_static_quantize import check_quantized

    with pytest.raises(OnnxExportError, match=r"gave one score \(0\.1\) for all \d+ calibration pairs"):
        check_quantized(unfused, _constant(unfused, tmp_path / "constant.onnx"), batches)


def test_a_broken_quantization_raises_with_the_reason_and_caches_nothing(
    cross_encoder: CrossEncoder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from crossrank.models import onnx_static_quantize

    def reversing(source: Path, path: Path, batches: Any, options: Any = None) -> None:
        _with_output(source, path, "Neg")

    monkeypatch.setenv("CROSSRANK_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(onnx_static_quantize, "quantize_static", reversing)
    with pytest.raises(ModelLoadError) as raised:
        _ = Reranker(cross_encoder, backend="openvino-int8").backend_in_use
    message = str(raised.value)
    assert "backend='openvino-int8' cannot run" in message
    assert "below 0.9: the quantized graph is broken" in message
    # Nothing broken was cached: no int8-static entry, no staging directory left behind.
    assert not [p for p in (tmp_path / "onnx").iterdir() if "int8-static" in p.name or p.name.startswith(".")]
