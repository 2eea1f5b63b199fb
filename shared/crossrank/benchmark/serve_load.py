"""Load on a local ``crossrank serve``, against in-process serial reranking, in one run.

``python -m crossrank.benchmark.serve_load --model DIR --data SCIFACT_DIR`` starts a server
on 127.0.0.1 (a free port, its own process, score cache off), then for 20- and 100-candidate
requests measures in-process serial reranking and 1, 4, 16 and 64 concurrent HTTP clients:
candidates reranked per second, p50/p99 latency, errors and 429s. Every phase is bounded in
requests and in seconds, and the only address it talks to is 127.0.0.1.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _requests(data: Path, candidates: int, count: int) -> list[tuple[str, list[str]]]:
    corpus = [json.loads(line) for line in (data / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    queries = [
        json.loads(line)["text"] for line in (data / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    made = []
    for i in range(count):
        start = (i * 37) % (len(corpus) - candidates)
        made.append((queries[i % len(queries)], [doc["text"] for doc in corpus[start : start + candidates]]))
    return made


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))] if ordered else 0.0


def _row(
    kind: str, clients: int, candidates: int, started: float, latencies: list[float], codes: list[int]
) -> dict[str, Any]:
    elapsed = time.perf_counter() - started
    served = sum(1 for code in codes if code == 200)
    return {
        "mode": kind,
        "clients": clients,
        "candidates": candidates,
        "requests": len(codes),
        "ok": served,
        "errors": sum(1 for code in codes if code not in (200, 429)),
        "rejected_429": sum(1 for code in codes if code == 429),
        "candidates_per_s": served * candidates / elapsed if elapsed else 0.0,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "seconds": elapsed,
    }


def _serial(
    reranker: Any, requests: list[tuple[str, list[str]]], budget_s: float, kind: str
) -> dict[str, Any]:
    reranker.rerank(*requests[0])  # warm up
    latencies, codes = [], []
    started = time.perf_counter()
    for query, documents in requests:
        if time.perf_counter() - started > budget_s:
            break
        began = time.perf_counter()
        reranker.rerank(query, documents)
        latencies.append(time.perf_counter() - began)
        codes.append(200)
    return _row(kind, 1, len(requests[0][1]), started, latencies, codes)


def _load(url: str, clients: int, requests: list[tuple[str, list[str]]], budget_s: float) -> dict[str, Any]:
    import httpx

    deadline = time.perf_counter() + budget_s

    def send(item: tuple[str, list[str]]) -> tuple[float, int]:
        if time.perf_counter() > deadline:
            return 0.0, -1  # not sent: the phase's time is up
        began = time.perf_counter()
        try:
            response = httpx.post(
                f"{url}/v2/rerank", json={"query": item[0], "documents": item[1]}, timeout=300
            )
            code = response.status_code
        except httpx.HTTPError:
            code = 0
        return time.perf_counter() - began, code

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        sent = [result for result in pool.map(send, requests) if result[1] != -1]
    latencies = [latency for latency, code in sent if code == 200]
    row = _row("server", clients, len(requests[0][1]), started, latencies, [code for _, code in sent])
    refused = [latency for latency, code in sent if code == 429]
    row["p99_429_ms"] = _percentile(refused, 0.99) * 1000 if refused else None
    return row


def main(argv: Sequence[str] | None = None) -> int:
    """Run the load test and print its table."""
    parser = argparse.ArgumentParser(prog="python -m crossrank.benchmark.serve_load")
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, type=Path, help="a BEIR folder (SciFact)")
    parser.add_argument("--clients", default="1,4,16,64")
    parser.add_argument("--candidates", default="20,100")
    parser.add_argument("--requests-per-client", type=int, default=3)
    parser.add_argument("--budget-s", type=float, default=90.0, help="most seconds per phase")
    parser.add_argument("--max-queue", type=int, default=32, help="the server's queue bound")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        *(sys.executable, "-m", "crossrank", "serve", "--model", args.model, "--port", str(port)),
        *("--score-cache-size", "0", "--max-queue", str(args.max_queue), "--log-level", "warning"),
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        import httpx

        from crossrank import Reranker

        local = Reranker(args.model, score_cache_size=0)

        for _ in range(600):
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        for candidates in (int(text) for text in args.candidates.split(",")):
            clients_list = [int(text) for text in args.clients.split(",")]
            requests = _requests(args.data, candidates, max(clients_list) * args.requests_per_client)
            # Serial before and after the server phases: the drift between them is the noise.
            serial = requests[: 4 * args.requests_per_client]
            rows.append(_serial(local, serial, args.budget_s, "in-process serial"))
            for clients in clients_list:
                rows.append(
                    _load(url, clients, requests[: clients * args.requests_per_client], args.budget_s)
                )
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            rows.append(_serial(local, serial, args.budget_s, "in-process serial (again)"))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=120)
    columns = ["mode", "clients", "candidates", "requests", "ok", "429", "errors", "candidates/s"]
    print("| " + " | ".join([*columns, "p50 ms", "p99 ms", "429 p99 ms"]) + " |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        counts = [
            row[key] for key in ("mode", "clients", "candidates", "requests", "ok", "rejected_429", "errors")
        ]
        refused = "" if row.get("p99_429_ms") is None else f"{row['p99_429_ms']:.0f}"
        rates = [f"{row['candidates_per_s']:.1f}", f"{row['p50_ms']:.0f}", f"{row['p99_ms']:.0f}", refused]
        cells = [*counts, *rates]
        print("| " + " | ".join(str(cell) for cell in cells) + " |")
    for candidates in sorted({row["candidates"] for row in rows}):
        serial_rates = [
            r["candidates_per_s"] for r in rows if r["candidates"] == candidates and r["mode"] != "server"
        ]
        baseline = sum(serial_rates) / len(serial_rates)
        for row in rows:
            if row["candidates"] == candidates and row["mode"] == "server":
                row["vs_serial"] = row["candidates_per_s"] / baseline if baseline else None
        ratios = ", ".join(
            f"{row['clients']} clients {row['vs_serial']:.2f}x"
            for row in rows
            if row.get("vs_serial") is not None and row["candidates"] == candidates
        )
        print(f"{candidates} candidates, server / mean in-process serial: {ratios}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
