"""Batch reranking on Ray against in-process reranking, interleaved, in one run.

``python -m crossrank.benchmark.scale_out --model DIR --data SCIFACT_DIR`` writes a JSONL of
SciFact queries with ``--candidates`` abstracts each, then reranks it ``--rounds`` times in
each configuration, interleaved (in-process with all threads and with one, Ray with 1 and 2
one-CPU actors): rows/s, pairs/s and, for Ray, the overhead per row against in-process on
as many threads. It also times what the driver does alone (planning shards, writing output
rows), the ceilings of one driver whatever the cluster.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _write_rows(data: Path, path: Path, rows: int, candidates: int) -> None:
    corpus = [json.loads(line) for line in (data / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    queries = [json.loads(line) for line in (data / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    with path.open("w", encoding="utf-8") as stream:
        for number in range(rows):
            start = (number * 37) % (len(corpus) - candidates)
            picked = corpus[start : start + candidates]
            row = {
                "query": queries[number % len(queries)]["text"],
                "candidates": [{"id": doc["_id"], "text": doc["text"]} for doc in picked],
            }
            stream.write(json.dumps(row) + "\n")


def _driver_ceilings(source: Path, output: Path) -> dict[str, float]:
    """Rows/s the driver alone can plan and write (the same rows, already ranked)."""
    from crossrank.distributed.files import OutputFiles, plan_shards

    started = time.perf_counter()
    shards = plan_shards(source, 1000)
    planned = sum(shard.rows for shard in shards) / (time.perf_counter() - started)
    ranked = [line for line in output.read_text(encoding="utf-8").splitlines() if line]
    target = output.with_name("driver-ceiling.jsonl")
    repeats = max(1, 20_000 // max(1, len(ranked)))
    started = time.perf_counter()
    with OutputFiles(target) as files:
        for _ in range(repeats):
            for line in ranked:
                files.write(line, 0, None)
    written = repeats * len(ranked) / (time.perf_counter() - started)
    return {"plan_rows_per_s": planned, "write_rows_per_s": written}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison and print its table."""
    parser = argparse.ArgumentParser(prog="python -m crossrank.benchmark.scale_out")
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, type=Path, help="a BEIR folder (SciFact)")
    parser.add_argument("--rows", type=int, default=60)
    parser.add_argument("--candidates", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    import ray
    import torch

    from crossrank.distributed.batch import rerank_file

    threads = torch.get_num_threads()
    ray.init(num_cpus=threads, include_dashboard=False, log_to_driver=False)
    configurations: list[tuple[str, dict[str, Any]]] = [
        (f"in-process, {threads} threads", {"use_ray": False}),
        ("in-process, 1 thread", {"use_ray": False, "threads": 1}),
        ("ray, 1 actor x 1 CPU", {"use_ray": True, "actors": 1}),
        (f"ray, {threads} actors x 1 CPU", {"use_ray": True, "actors": threads}),
    ]
    seconds: dict[str, list[float]] = {name: [] for name, _ in configurations}
    pairs = 0
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "rows.jsonl"
        _write_rows(args.data, source, args.rows, args.candidates)
        output = Path(folder) / "ranked.jsonl"
        for _ in range(args.rounds):
            for name, setting in configurations:
                chosen = dict(setting)
                torch.set_num_threads(chosen.pop("threads", threads))
                summary = rerank_file(source, output, model=args.model, score_cache_size=0, **chosen)
                torch.set_num_threads(threads)
                seconds[name].append(summary.seconds)
                pairs = summary.pairs
                print(
                    json.dumps({"configuration": name, "seconds": summary.seconds}),
                    file=sys.stderr,
                    flush=True,
                )
        ceilings = _driver_ceilings(source, output)
    ray.shutdown()
    rows = []
    for name, _ in configurations:
        median = statistics.median(seconds[name])
        rows.append(
            {
                "configuration": name,
                "seconds": median,
                "rows_per_s": args.rows / median,
                "pairs_per_s": pairs / median,
            }
        )
    by_name = {row["configuration"]: row for row in rows}
    for row in rows:
        if row["configuration"].startswith("ray"):
            actors = int(row["configuration"].split(", ")[1].split(" ")[0])
            baseline = (
                by_name["in-process, 1 thread"] if actors == 1 else by_name[f"in-process, {threads} threads"]
            )
            row["overhead_ms_per_row"] = (row["seconds"] - baseline["seconds"]) / args.rows * 1000
            row["vs_in_process"] = baseline["seconds"] / row["seconds"]
    print(
        f"{args.rows} rows x {args.candidates} candidates ({pairs} pairs), "
        f"median of {args.rounds} interleaved rounds"
    )
    print("| configuration | s | rows/s | pairs/s | vs in-process, same CPUs | Ray overhead ms/row |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        versus = f"{row['vs_in_process']:.2f}x" if "vs_in_process" in row else ""
        overhead = f"{row['overhead_ms_per_row']:.0f}" if "overhead_ms_per_row" in row else ""
        print(
            f"| {row['configuration']} | {row['seconds']:.1f} | {row['rows_per_s']:.2f} | "
            f"{row['pairs_per_s']:.1f} | {versus} | {overhead} |"
        )
    print(
        f"driver alone: plans {ceilings['plan_rows_per_s']:.0f} rows/s, "
        f"writes {ceilings['write_rows_per_s']:.0f} ranked rows/s"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"rows": rows, "driver": ceilings}, indent=2) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
