"""Peak memory per candidate of one ``rerank`` call, beyond the texts themselves.

``python -m crossrank.benchmark.candidate_memory --model DIR --data DATA_DIR`` reranks 100,
1,000 and 10,000 SciFact abstracts (cycled, each made distinct) for one query, each count
in a fresh process, with the model's real tokenizer and a scorer that returns 0.0 for
every window: so what is measured is crossrank's own bookkeeping (tokens, offsets,
windows, batches, results), not the model. The texts are in memory before the peak
counter is reset, so they are not counted.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crossrank.benchmark.peak_memory import current_rss_mb, peak_rss_mb, reset_peak_rss
from crossrank.scorer import DelegatingScorer

__all__ = ["main", "measure"]

QUERY = "Aerobic exercise lowers blood pressure in adults with hypertension."
DEFAULT_COUNTS = (100, 1_000, 10_000)


class _NoOpScorer(DelegatingScorer):
    """The real model's tokenizer and limits; every window scores 0.0."""

    def score(self, pairs: Sequence[Any]) -> list[float]:
        return [0.0] * len(pairs)


def _texts(data: Path, count: int) -> list[str]:
    abstracts = [
        json.loads(line)["text"] for line in (data / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    return [f"{abstracts[i % len(abstracts)]} ({i})" for i in range(count)]


def measure(model: str, data: Path, count: int) -> dict[str, Any]:
    """Rerank ``count`` candidates once in this process and report the peak memory it added.

    Returns:
        ``{"candidates", "text_mb", "peak_added_mb", "kb_per_candidate", "counter_reset"}``.
    """
    from crossrank import Reranker

    scorer = _NoOpScorer(Reranker(model, backend="torch").scorer)
    reranker = Reranker(scorer, score_cache_size=0)
    texts = _texts(data, count)
    reranker.rerank(QUERY, texts[:10])  # warm up: first-call allocations are not per candidate
    gc.collect()
    baseline = current_rss_mb() or 0.0
    reset = reset_peak_rss()
    results = reranker.rerank(QUERY, texts)
    peak = peak_rss_mb()
    assert len(results) == count
    added = max(peak - baseline, 0.0)
    return {
        "candidates": count,
        "text_mb": sum(len(text.encode()) for text in texts) / 2**20,
        "peak_added_mb": added,
        "kb_per_candidate": added * 1024 / count,
        "counter_reset": reset,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Measure each count in a fresh process and print a table (and JSON with ``--json``)."""
    parser = argparse.ArgumentParser(prog="python -m crossrank.benchmark.candidate_memory")
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, type=Path, help="a BEIR folder (SciFact)")
    parser.add_argument("--counts", default=",".join(map(str, DEFAULT_COUNTS)))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(measure(args.model, args.data, args.child)))
        return 0
    rows = []
    for count in (int(text) for text in args.counts.split(",")):
        command = [sys.executable, "-m", "crossrank.benchmark.candidate_memory", "--model", args.model,
                   "--data", str(args.data), "--child", str(count)]  # fmt: skip
        completed = subprocess.run(command, capture_output=True, text=True, check=True)
        rows.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    print(f"{'candidates':>10} {'texts MB':>9} {'peak added MB':>14} {'KB/candidate':>13}")
    for row in rows:
        print(
            f"{row['candidates']:>10,} {row['text_mb']:>9.1f} {row['peak_added_mb']:>14.1f} "
            f"{row['kb_per_candidate']:>13.2f}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
