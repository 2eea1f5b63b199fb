"""How long a cascade's coarse stage must read: a one-off probe behind docs/benchmarks.md.

Scores every dense top-100 candidate of N SciFact test claims once in fp32 (ONNX Runtime, the
full first window), once in OpenVINO bf16, and once in OpenVINO bf16 reading only the first
48, 96 and 160 tokens of each candidate (plus the claim: a pair is about 25 tokens longer).
Then, for each length and keep (20, 30, 40), it ranks the survivors by the fine scores (fp32 or
bf16) and prints NDCG@10 alone and with RRF, and the share of the fp32 top 10 inside the coarse top K.

    python benchmarks/coarse_length_probe.py ../shared/models/minilm-l6-reranker \\
        ../shared/data/scifact 40

A probe, not a gate: the paired gate on all 300 claims is ``crossrank eval --compare-to``.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
from sentence_transformers import CrossEncoder

from crossrank.evaluation.beir import load_beir
from crossrank.evaluation.first_stage import build_first_stage
from crossrank.evaluation.metrics import ndcg_at_k
from crossrank.models.onnx_export import exported_model_path
from crossrank.models.onnx_scorer import OnnxScorer
from crossrank.models.openvino_scorer import OpenVinoScorer

LENGTHS = (48, 96, 160)
KEEPS = (20, 30, 40)


def _score(scorer: Any, pairs: list[tuple[Any, Any]], batch: int = 32) -> list[float]:
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
    out = [0.0] * len(pairs)
    for start in range(0, len(order), batch):
        chunk = order[start : start + batch]
        for i, value in zip(chunk, scorer.score([pairs[i] for i in chunk]), strict=True):
            out[i] = value
    return out


def _ranked(ids: list[str], priority: list[float]) -> list[str]:
    return [ids[i] for i in np.argsort(-np.array(priority), kind="stable")]


def _rrf(fine_order: list[int], count: int) -> list[float]:
    fused = [-1e9] * count
    for position, index in enumerate(fine_order):
        fused[index] = 1 / (60 + position + 1) + 1 / (60 + index + 1)
    return fused


def main(model: str, data: str, claims: int) -> None:
    dataset = load_beir(data, "test")
    chosen = sorted(dataset.qrels)[:: max(1, len(dataset.qrels) // claims)][:claims]
    stage = build_first_stage("dense", dataset, data_dir=data)
    cross_encoder = CrossEncoder(model, device="cpu")
    path = exported_model_path(cross_encoder, "fp32", name=model)
    scorers = {
        "fp32": OnnxScorer(cross_encoder, path, variant="fp32", name=model),
        "bf16": OpenVinoScorer(cross_encoder, path, precision="bf16", name=model),
    }
    seconds = dict.fromkeys(["fp32", "bf16", *(f"coarse{n}" for n in LENGTHS)], 0.0)
    rows = []
    for query_id in chosen:
        ids = [c.doc_id for c in stage.search(dataset.queries[query_id], 100)]
        encoder = scorers["fp32"]
        query = encoder.tokenize([dataset.queries[query_id]])[0].ids
        docs = encoder.tokenize([dataset.corpus[d].full_text for d in ids])
        room = encoder.max_length - encoder.num_special_tokens - len(query)
        row: dict[str, Any] = {"ids": ids, "relevant": dataset.qrels[query_id]}
        for name, scorer in scorers.items():
            started = time.perf_counter()
            row[name] = _score(scorer, [(query, d.ids[:room]) for d in docs])
            seconds[name] += time.perf_counter() - started
        for length in LENGTHS:
            started = time.perf_counter()
            short = [(query, d.ids[:length]) for d in docs]  # the candidate's first tokens
            row[f"coarse{length}"] = _score(scorers["bf16"], short, batch=64)
            seconds[f"coarse{length}"] += time.perf_counter() - started
        rows.append(row)
    for name in ("fp32", "bf16"):
        alone = np.mean([ndcg_at_k(_ranked(r["ids"], r[name]), r["relevant"]) for r in rows])
        fused = np.mean(
            [
                ndcg_at_k(
                    _ranked(r["ids"], _rrf(list(np.argsort(-np.array(r[name]), kind="stable")), 100)),
                    r["relevant"],
                )
                for r in rows
            ]
        )
        print(f"single stage {name}: NDCG@10 {alone:.4f}, with RRF {fused:.4f}")
    for length in LENGTHS:
        for keep in KEEPS:
            for fine in ("fp32", "bf16"):
                alone_scores, fused_scores, recall = [], [], []
                for r in rows:
                    kept = list(np.argsort(-np.array(r[f"coarse{length}"]), kind="stable")[:keep])
                    priority = [-1e9] * 100
                    for i in kept:
                        priority[i] = r[fine][i]
                    alone_scores.append(ndcg_at_k(_ranked(r["ids"], priority), r["relevant"]))
                    order = sorted(kept, key=lambda i: -r[fine][i])
                    fused_scores.append(ndcg_at_k(_ranked(r["ids"], _rrf(order, 100)), r["relevant"]))
                    top10 = set(np.argsort(-np.array(r["fp32"]), kind="stable")[:10])
                    recall.append(len(top10 & set(kept)) / 10)
                print(
                    f"coarse {length} tokens, keep {keep}, fine {fine}: NDCG@10 {np.mean(alone_scores):.4f}, "
                    f"with RRF {np.mean(fused_scores):.4f}, fp32 top 10 kept {np.mean(recall):.4f}"
                )
    print("seconds per claim:", {name: round(value / len(rows), 3) for name, value in seconds.items()})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 40)
