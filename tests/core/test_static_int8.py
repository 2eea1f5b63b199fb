"""Static int8: the calibration pairs, and the check that refuses a broken quantized graph."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from crossrank import Reranker
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

    encoder = PairEncoder(cross_encoder.tokenizer)
    return calibration_batches(encoder, sample_calibration_pairs(encoder, 512))[:8]


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
    assert all(len(q) + len(d) + encoder.template.num_special_tokens <= 128 for q, d in pairs)
    assert len({tuple(d) for _, d in pairs}) > 32  # many documents, not one
    assert sample_calibration_pairs(encoder, 128) == pairs  # deterministic: the same graph every time


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


def test_a_broken_quantization_falls_back_to_torch_with_the_reason(
    cross_encoder: CrossEncoder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    from crossrank.models import onnx_static_quantize

    def reversing(source: Path, path: Path, batches: Any, options: Any = None) -> None:
        _with_output(source, path, "Neg")

    monkeypatch.setenv("CROSSRANK_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(onnx_static_quantize, "quantize_static", reversing)
    with caplog.at_level(logging.WARNING, logger="crossrank"):
        in_use = Reranker(cross_encoder, backend="openvino-int8").backend_in_use
    assert in_use == "torch-fp32"
    [record] = [r for r in caplog.records if "not usable" in r.getMessage()]
    assert "backend 'openvino-int8' is not usable" in record.getMessage()
    assert "below 0.9: the quantized graph is broken" in record.getMessage()
    # Nothing broken was cached: no int8-static entry, no staging directory left behind.
    assert not [p for p in (tmp_path / "onnx").iterdir() if "int8-static" in p.name or p.name.startswith(".")]
