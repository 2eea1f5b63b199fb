"""What ``--precision bf16`` and ``--attention-dropout 0`` buy per training step on a CPU.

A probe behind docs/training.md. Times optimizer steps of the cross-encoder in training mode
(dropout on, AdamW, a BCE loss like ``crossrank train``'s) on the same batches of real SciFact
(claim, abstract) pairs in three arithmetics, interleaved: fp32, bf16 autocast, and bf16 with
the attention-probability dropout off (crossrank's ``attention_dropout_set``, what the option
does); it prints seconds per step and the ratios to fp32. The batches are
what the recipe feeds: ``BATCH`` pairs padded to the longest, at most ``MAX_LENGTH`` tokens.

    python benchmarks/training_precision_probe.py ../shared/models/minilm-l6-reranker \\
        ../shared/data/scifact [BATCH] [MAX_LENGTH] [ROUNDS]

A probe, not a gate: quality under bf16 training is judged by the dev and test NDCG@10 of a
model trained with it (docs/training.md).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import torch
from sentence_transformers.cross_encoder import CrossEncoder

from crossrank.training.attention_dropout import attention_dropout_set

VARIANTS = ("fp32", "bf16", "bf16, attention dropout 0")


def _pairs(data_dir: Path, count: int) -> list[tuple[str, str]]:
    claims = [json.loads(line)["text"] for line in (data_dir / "queries.jsonl").open(encoding="utf-8")]
    abstracts = []
    with (data_dir / "corpus.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            abstracts.append(f"{record['title']} {record['text']}")
            if len(abstracts) == count:
                break
    return [(claims[i % len(claims)], abstract) for i, abstract in enumerate(abstracts)]


def main() -> None:
    model_path, data_dir = sys.argv[1], Path(sys.argv[2])
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    max_length = int(sys.argv[4]) if len(sys.argv) > 4 else 512
    rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    torch.manual_seed(0)
    cross_encoder = CrossEncoder(model_path, max_length=max_length, device="cpu")
    model, tokenizer = cross_encoder.model, cross_encoder.tokenizer
    model.train()
    pairs = _pairs(data_dir, batch * rounds)
    labels = torch.tensor([float(i % 2) for i in range(batch)])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)  # tiny: the weights barely move
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step(features: dict[str, torch.Tensor], variant: str) -> float:
        started = time.perf_counter()
        no_attention_dropout = 0.0 if variant.endswith("attention dropout 0") else None
        with (
            attention_dropout_set(model, no_attention_dropout),
            torch.autocast("cpu", dtype=torch.bfloat16, enabled=variant != "fp32"),
        ):
            logits = model(**features).logits.view(-1).float()
        loss_fn(logits, labels).backward()
        optimizer.step()
        optimizer.zero_grad()
        return time.perf_counter() - started

    seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} threads, batch {batch}, max length {max_length}")
    for index in range(rounds):
        chunk = pairs[index * batch : (index + 1) * batch]
        features = tokenizer(
            [q for q, _ in chunk],
            [d for _, d in chunk],
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        )
        order = VARIANTS[index % 3 :] + VARIANTS[: index % 3]  # each variant goes first once
        for name in order:
            step(features, name)  # warm-up on this shape
            seconds[name].append(step(features, name))
        last = ", ".join(f"{name} {values[-1]:.2f} s" for name, values in seconds.items())
        print(f"round {index}: shape {tuple(features['input_ids'].shape)}: {last}")
    fp32 = statistics.median(seconds["fp32"])
    for name in VARIANTS:
        median = statistics.median(seconds[name])
        print(f"{name}: median {median:.2f} s/step, {fp32 / median:.2f}x fp32")


if __name__ == "__main__":
    main()
