"""What static int8 keeps in float and what it calibrates on: the probe behind docs/benchmarks.md.

Quantizes the model's plain (unfused) ONNX graph with NNCF in several settings, calibrated on
real query-document pairs (SciFact train claims with their dense top 4, or crossrank's own
sample corpus), and scores the dense top-100 of N SciFact test claims with each, interleaved
claim by claim with the fp32 reference (OpenVINO fp32 on the same graph) and OpenVINO bf16.
For each setting it prints NDCG@10 (the first window, as ``long_documents="truncate"``), the
difference from fp32, the share of the fp32 top 10 in its top 10 and top 30, the mean
within-claim Spearman correlation with fp32, the largest score change, and its speed as a
multiple of fp32's in the same run.

    python benchmarks/static_int8_probe.py ../shared/models/minilm-l6-reranker \\
        ../shared/data/scifact 20

A probe, not a gate: the paired gate on all 300 claims is ``crossrank eval --compare-to``.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr
from sentence_transformers import CrossEncoder

from crossrank.evaluation.beir import load_beir
from crossrank.evaluation.first_stage import build_first_stage
from crossrank.evaluation.metrics import ndcg_at_k
from crossrank.models.onnx_export import export_unfused
from crossrank.models.onnx_static_quantize import (
    STATIC_INT8_OPTIONS,
    calibration_batches,
    quantize_static,
    sample_calibration_pairs,
)
from crossrank.models.openvino_scorer import OpenVinoScorer
from crossrank.models.pair_encoder import PairEncoder

# (name, calibration source, options): what each setting changes from STATIC_INT8_OPTIONS.
_FFN_OUT = r".*/output/dense/MatMul"
_LAST_LAYER = r".*/(layer\.5/.*|pooler/.*|classifier/.*)"
SETTINGS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("nncf-defaults", "scifact", {"model_type": None, "keep_in_float": ()}),
    ("transformer", "scifact", {"keep_in_float": ()}),
    ("transformer+ffn-out-float", "scifact", {"keep_in_float": (_FFN_OUT,)}),
    ("transformer+last-layer-float", "scifact", {"keep_in_float": (_LAST_LAYER,)}),
    ("transformer+mixed", "scifact", {"keep_in_float": (), "preset": "mixed"}),
    ("transformer, sample-calibrated", "sample", {"keep_in_float": ()}),
)


def _score(scorer: Any, pairs: list[tuple[Any, Any]], batch: int = 32) -> tuple[list[float], float]:
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
    out = [0.0] * len(pairs)
    started = time.perf_counter()
    for start in range(0, len(order), batch):
        chunk = order[start : start + batch]
        for i, value in zip(chunk, scorer.score([pairs[i] for i in chunk]), strict=True):
            out[i] = value
    return out, time.perf_counter() - started


def _order(scores: list[float]) -> list[int]:
    return [int(i) for i in np.argsort(-np.array(scores), kind="stable")]


def _scifact_calibration(dataset: Any, stage: Any, encoder: PairEncoder, claims: int) -> list[Any]:
    """Each of the first ``claims`` SciFact train claims with its dense top 4: real candidates."""
    pairs = []
    room = 512 - 3
    for query_id in sorted(dataset.qrels)[:claims]:
        query = encoder.tokenize([dataset.queries[query_id]])[0].ids
        ids = [c.doc_id for c in stage.search(dataset.queries[query_id], 4)]
        for doc in encoder.tokenize([dataset.corpus[d].full_text for d in ids]):
            pairs.append((query, doc.ids[: room - len(query)]))
    return pairs


def main(model: str, data: str, claims: int) -> None:
    test = load_beir(data, "test")
    train = load_beir(data, "train")
    stage = build_first_stage("dense", test, data_dir=data)
    cross_encoder = CrossEncoder(model, device="cpu")
    encoder = PairEncoder(cross_encoder.tokenizer)
    work = Path(tempfile.mkdtemp(prefix="static-int8-probe-"))
    unfused = work / "unfused.onnx"
    export_unfused(cross_encoder, unfused)
    window = int(cross_encoder.max_seq_length)
    calibration = {
        "scifact": calibration_batches(encoder, _scifact_calibration(train, stage, encoder, 80)),
        "sample": calibration_batches(encoder, sample_calibration_pairs(encoder, window)),
    }
    scorers: dict[str, Any] = {
        "fp32": OpenVinoScorer(cross_encoder, unfused, precision="fp32", name=model),
        "bf16": OpenVinoScorer(cross_encoder, unfused, precision="bf16", name=model),
    }
    for name, source, changes in SETTINGS:
        path = work / f"{len(scorers)}.onnx"
        started = time.perf_counter()
        quantize_static(unfused, path, calibration[source], {**STATIC_INT8_OPTIONS, **changes})
        print(f"quantized {name} in {time.perf_counter() - started:.0f} s", flush=True)
        for hint in ("fp32", "bf16"):
            scorers[f"{name} [{hint} rest]"] = OpenVinoScorer(cross_encoder, path, precision=hint, name=model)
    chosen = sorted(test.qrels)[:: max(1, len(test.qrels) // claims)][:claims]
    rows = []
    for query_id in chosen:
        ids = [c.doc_id for c in stage.search(test.queries[query_id], 100)]
        query = encoder.tokenize([test.queries[query_id]])[0].ids
        docs = encoder.tokenize([test.corpus[d].full_text for d in ids])
        pairs = [(query, d.ids[: 512 - 3 - len(query)]) for d in docs]
        row: dict[str, Any] = {"ids": ids, "relevant": test.qrels[query_id], "scores": {}, "seconds": {}}
        for name, scorer in scorers.items():
            row["scores"][name], row["seconds"][name] = _score(scorer, pairs)
        rows.append(row)
    report = []
    reference_seconds = sum(r["seconds"]["fp32"] for r in rows)
    for name in scorers:
        ndcg, reference, top10, top30, rho, changes = [], [], [], [], [], []
        for r in rows:
            mine, fp32 = r["scores"][name], r["scores"]["fp32"]
            ndcg.append(ndcg_at_k([r["ids"][i] for i in _order(mine)], r["relevant"]))
            reference.append(ndcg_at_k([r["ids"][i] for i in _order(fp32)], r["relevant"]))
            top10.append(len(set(_order(mine)[:10]) & set(_order(fp32)[:10])) / 10)
            top30.append(len(set(_order(fp32)[:10]) & set(_order(mine)[:30])) / 10)
            rho.append(spearmanr(mine, fp32).statistic)
            changes.append(max(abs(a - b) for a, b in zip(mine, fp32, strict=True)))
        change = max(changes)
        line = {
            "setting": name,
            "ndcg10": round(float(np.mean(ndcg)), 4),
            "delta": round(float(np.mean(ndcg) - np.mean(reference)), 4),
            "fp32_top10_in_top10": round(float(np.mean(top10)), 3),
            "fp32_top10_in_top30": round(float(np.mean(top30)), 3),
            "spearman": round(float(np.mean(rho)), 4),
            "max_score_change": round(change, 4),
            "speed_x_fp32": round(reference_seconds / sum(r["seconds"][name] for r in rows), 2),
        }
        report.append(line)
        print(json.dumps(line), flush=True)
    print(f"{len(rows)} claims x dense top-100; calibration: 80 SciFact train claims x top 4, or the sample")


if __name__ == "__main__":
    random.seed(0)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 20)
