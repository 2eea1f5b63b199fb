"""Where OpenVINO's time goes, operation by operation: the probe behind docs/benchmarks.md.

``crossrank bench`` reports static int8 at a third of the int8 GEMM peak. This probe says why:
it compiles the model's cached ONNX export (fp32, or the static int8 graph) the way
``backend="openvino"``, ``"openvino-bf16"`` and ``"openvino-int8"`` do, with OpenVINO's
per-operation counters on, scores length-sorted batches of real (claim, abstract) pairs (the
first N SciFact test claims with their BM25 top 100, every abstract's first window), and prints,
per precision: the share of time in each kind of operation (dense layers, attention,
normalization, elementwise, data movement, the rest), the dense layers' own rate as a
fraction of the GEMM peak ``crossrank bench`` measures, and that of the whole forward pass.

    python benchmarks/openvino_profile_probe.py ../shared/models/minilm-l6-reranker \\
        ../shared/data/scifact 4

Proportions are what to read: other jobs on the cores slow every operation alike.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from typing import Any

from sentence_transformers import CrossEncoder

from crossrank import Reranker
from crossrank.benchmark.flops import GemmDtype, measure_gemm_peak_gflops, pair_flops, shape_of_model
from crossrank.evaluation.beir import load_beir
from crossrank.evaluation.first_stage import build_first_stage
from crossrank.models.onnx_export import OnnxVariant, exported_model_path

BATCH = 32
# OpenVINO CPU node types by what they do (anything else is "other"). "Subgraph" is a fused
# block OpenVINO generates; in these graphs it is the attention (QK^T, softmax, times V).
_KINDS = {
    "dense layers": {"FullyConnected", "FullyConnectedQuantizedLegacy", "MatMul"},
    "attention": {"Subgraph", "ScaledDotProductAttention", "Softmax"},
    "normalization": {"MVN", "RMS"},
    "elementwise": {"Add", "MulAdd", "Multiply", "Eltwise", "Gelu", "FakeQuantize", "Convert"},
    "data movement": {"Transpose", "Gather", "Reshape", "Split", "Reorder", "Concat", "Broadcast"},
}


def _pairs(model: str, data_dir: str, claims: int) -> tuple[Any, list[tuple[list[int], list[int]]]]:
    dataset = load_beir(data_dir, split="test")
    stage = build_first_stage("bm25", dataset, data_dir=data_dir)
    scorer = Reranker(model, backend="onnx").scorer
    room = scorer.max_length - scorer.num_special_tokens
    pairs = []
    for query_id in sorted(dataset.qrels, key=int)[:claims]:
        query = scorer.tokenize([dataset.queries[query_id]])[0].ids
        ids = [candidate.doc_id for candidate in stage.search(dataset.queries[query_id], 100)]
        for doc in scorer.tokenize([dataset.corpus[doc_id].full_text for doc_id in ids]):
            pairs.append((list(query), list(doc.ids[: room - len(query)])))
    return scorer, sorted(pairs, key=lambda pair: len(pair[0]) + len(pair[1]))


def profile(scorer: Any, model_file: str, precision: str, pairs: list[Any]) -> dict[str, Any]:
    """Score ``pairs`` once to warm up, then once counted; return time per kind and in all."""
    import openvino

    core = openvino.Core()
    compiled = core.compile_model(
        core.read_model(model_file),
        "CPU",
        {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY", "PERF_COUNT": "YES"},
    )
    request = compiled.create_infer_request()
    encoder = scorer._encoder  # the library's own padding and layout (a probe may look inside)
    batches = [encoder.encode(pairs[start : start + BATCH]) for start in range(0, len(pairs), BATCH)]
    for inputs in batches[:2]:
        request.infer(inputs)
    by_kind: dict[str, float] = defaultdict(float)
    by_exec: dict[str, float] = defaultdict(float)
    started = time.perf_counter()
    for inputs in batches:
        request.infer(inputs)
        for info in request.profiling_info:
            seconds = info.real_time.total_seconds()
            kind = next((name for name, types in _KINDS.items() if info.node_type in types), "other")
            by_kind[kind] += seconds
            if kind == "dense layers":
                by_exec[info.exec_type] += seconds
    wall = time.perf_counter() - started
    return {"wall": wall, "by_kind": dict(by_kind), "gemm_kernels": dict(by_exec)}


def main(model: str, data_dir: str, claims: int) -> None:
    scorer, pairs = _pairs(model, data_dir, claims)
    shape = shape_of_model(model)
    assert shape is not None, f"{model} is not a BERT-style encoder"
    # As crossrank bench counts them: each pair's own tokens, padding excluded.
    lengths = [len(query) + len(doc) + scorer.num_special_tokens for query, doc in pairs]
    flops = sum(pair_flops(shape, length) for length in lengths)
    # The attention products (4 L^2 H a layer) are the rest: what the dense layers compute.
    dense_flops = flops - sum(shape.layers * 4.0 * length**2 * shape.hidden for length in lengths)
    peaks = {name: measure_gemm_peak_gflops(name) or 0.0 for name in ("fp32", "bf16", "int8")}
    cross_encoder = CrossEncoder(model, device="cpu")
    print(f"{len(pairs)} pairs in batches of {BATCH}; {flops / 1e9:.1f} GFLOP (crossrank bench's count)")
    print("GEMM peaks (GFLOP/s): " + ", ".join(f"{name} {value:.0f}" for name, value in peaks.items()))
    runs: tuple[tuple[GemmDtype, OnnxVariant, str], ...] = (
        ("fp32", "fp32", "f32"),
        ("bf16", "fp32", "bf16"),
        ("int8", "int8-static", "f32"),
    )
    for name, variant, hint in runs:
        model_file = str(exported_model_path(cross_encoder, variant, name=scorer.name))
        result = profile(scorer, model_file, hint, pairs)
        counted = sum(result["by_kind"].values())
        dense = result["by_kind"].get("dense layers", 0.0)
        peak = peaks.get(name, 0.0) * 1e9
        print(f"\n{name}: {result['wall']:.2f} s wall, {counted:.2f} s counted")
        for kind, seconds in sorted(result["by_kind"].items(), key=lambda item: -item[1]):
            print(f"  {kind:<20} {seconds:7.2f} s  {seconds / counted:6.1%}")
        print("  kernels of the dense layers: " + ", ".join(sorted(result["gemm_kernels"])))
        if peak and dense:
            print(
                f"  of the {name} GEMM peak: whole pass {flops / result['wall'] / peak:.0%}, "
                f"dense layers alone {dense_flops / dense / peak:.0%} "
                f"({dense_flops / flops:.0%} of the FLOPs)"
            )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 4)
