"""``crossrank bench``: reranking speed of crossrank and its peers on the same SciFact inputs."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from shared.cli_args import positive_int

__all__ = ["add_bench_command", "format_bench_table", "format_gemm_peaks", "run_bench"]

_GEMM_SIZE = 2048


def add_bench_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``bench`` sub-command to the ``crossrank`` parser.

    Args:
        commands: The sub-parsers of the main parser.
    """
    from shared.benchmark import CONTENDERS

    parser = commands.add_parser(
        "bench",
        help="time crossrank against LlamaIndex, LangChain and CrossEncoder.predict on the same inputs",
        description=(
            "Rerank the top candidates (BM25) of the first SciFact test queries with every configuration, "
            "in one process, interleaved, after a warm-up; report latency, pairs/s, peak memory, NDCG@10 "
            "and the ratio to LlamaIndex's SentenceTransformerRerank."
        ),
    )
    parser.add_argument("--data", required=True, metavar="DATA_DIR", help="the BEIR SciFact directory")
    parser.add_argument(
        "--model",
        default=None,
        help="cross-encoder path or hub id (default: $CROSSRANK_MODEL or the hub default)",
    )
    parser.add_argument(
        "--candidates", type=positive_int, default=50, help="candidates per query (default: 50)"
    )
    parser.add_argument("--queries", type=positive_int, default=20, help="queries, first by id (default: 20)")
    parser.add_argument(
        "--repeat", type=positive_int, default=3, help="timed rounds over all queries (default: 3)"
    )
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls per configuration (default: 1)")
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=32,
        help="pairs per model call (default: 32; LlamaIndex always uses predict()'s default, 32)",
    )
    parser.add_argument("--device", default="cpu", help="device for every configuration (default: cpu)")
    parser.add_argument(
        "--threads", type=positive_int, default=None, help="torch threads (default: torch's own choice)"
    )
    parser.add_argument(
        "--configs",
        default=None,
        metavar="NAME,...",
        help=f"run only these configurations (default: all of {', '.join(CONTENDERS)})",
    )
    parser.add_argument(
        "--no-memory",
        action="store_true",
        help="skip the per-configuration peak-memory runs (peak_rss_mb null)",
    )
    parser.add_argument("--json", metavar="OUT.json", default=None, help="write the report as JSON")
    parser.add_argument("--plot", metavar="OUT.png", default=None, help="draw a bar chart of pairs/s")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or status lines")
    parser.set_defaults(run=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    """Run ``crossrank bench`` with parsed arguments.

    Args:
        args: The parsed command line.

    Returns:
        The exit code (0).

    Raises:
        RuntimeError: If no configuration could be built.
    """
    import torch

    from shared.beir import load_beir
    from shared.benchmark import (
        BenchSettings,
        MissingPeerError,
        PeakMemory,
        bench_inputs,
        build_contender,
        contender_names,
        measure_peak_memory,
        model_shape,
        run_benchmark,
        summarize_contenders,
    )
    from shared.loading import resolve_model_name
    from shared.machine import describe_machine, load_average
    from shared.progress import progress_wanted, silence_library_progress

    started = time.perf_counter()
    if args.warmup < 0:
        raise ValueError(f"--warmup must be an integer >= 0, got {args.warmup}.")
    names = contender_names(args.configs.split(",") if args.configs else None)
    show_progress = progress_wanted(args.quiet)
    if not show_progress:
        silence_library_progress()
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()

    dataset = load_beir(args.data, split="test")
    inputs = bench_inputs(dataset, queries=args.queries, candidates=args.candidates)
    settings = BenchSettings(
        model=resolve_model_name(args.model),
        device=args.device,
        batch_size=args.batch_size,
        candidates=args.candidates,
    )
    machine = describe_machine(args.device)

    contenders = []
    skipped: list[dict[str, str]] = []
    shared_models: dict[str, Any] = {}
    for name in names:
        _status(args, f"loading {name}")
        try:
            contenders.append(build_contender(name, settings, shared_models))
        except MissingPeerError as exc:
            skipped.append({"name": name, "reason": str(exc)})
            print(f"crossrank bench: skipping {name}: {exc}", file=sys.stderr)
    if not contenders:
        raise RuntimeError(
            'no configuration could run; install the peers with `pip install "crossrank[bench]"`.'
        )

    shape = model_shape(settings, shared_models)
    calls = args.repeat * len(inputs) * len(contenders)
    _status(args, f"timing {len(contenders)} configurations x {len(inputs)} queries x {args.repeat} rounds")
    from tqdm.auto import tqdm

    with tqdm(total=calls, desc="Timed calls", unit="call", disable=not show_progress) as bar:
        measured = run_benchmark(
            contenders,
            inputs,
            repeat=args.repeat,
            warmup=args.warmup,
            on_call=lambda: bar.update(1),
            shape=shape,
        )
    timed_s = time.perf_counter() - started
    gemm_peaks = _gemm_peaks({str(m.compute_dtype) for m in measured.values() if m.compute_dtype}, args)

    memory: dict[str, PeakMemory | None] = {}
    if not args.no_memory:
        for contender in contenders:
            _status(args, f"peak memory of {contender.name} (fresh process)")
            try:
                memory[contender.name] = measure_peak_memory(
                    contender.name, settings, inputs, threads=threads
                )
            except RuntimeError as exc:
                memory[contender.name] = None
                print(f"crossrank bench: {exc}", file=sys.stderr)

    qrels = {item.query_id: dataset.qrels[item.query_id] for item in inputs}
    machine["load_average_1m_end"] = load_average()
    document: dict[str, Any] = {
        "machine": machine,
        "settings": {
            "model": settings.model,
            "data": str(Path(args.data).resolve()),
            "first_stage": "bm25",
            "queries": len(inputs),
            "candidates": args.candidates,
            "repeat": args.repeat,
            "warmup": args.warmup,
            "batch_size": args.batch_size,
            "device": args.device,
            "threads": threads,
            "order": "one process; every round ranks each query with every configuration, order rotated",
            "memory": "peak RSS of a fresh process per configuration, reset after model load and warm-up"
            if not args.no_memory
            else "not measured",
            "flops": "per pair from the model config and its tokens (special tokens in, padding out): "
            "per layer 8*L*H^2 + 4*L^2*H + 4*L*H*I, plus the classifier head",
            "gemm_peak": f"best of 5 torch {_GEMM_SIZE}x{_GEMM_SIZE} matrix multiplies per element type, "
            "same threads, measured right after the timed phase",
        },
        "model_shape": None if shape is None else asdict(shape),
        "gemm_peak_gflop_per_s": gemm_peaks,
        "configs": summarize_contenders(measured, qrels, memory, gemm_peaks),
        "skipped": skipped,
        "seconds": {"timed_phase": timed_s, "total": time.perf_counter() - started},
    }
    print(format_bench_table(document))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        _status(args, f"wrote {args.json}")
    if args.plot:
        from shared.charts import plot_bench

        plot_bench(document, args.plot)
        _status(args, f"wrote {args.plot}")
    return 0


def format_bench_table(document: dict[str, Any]) -> str:
    """The bench report as a fixed-width table.

    Args:
        document: The report as written by ``--json``.

    Returns:
        Lines of text, without a trailing newline.
    """
    settings = document["settings"]
    machine = document["machine"]
    lines = [
        f"{settings['queries']} queries x {settings['candidates']} candidates, {settings['repeat']} rounds; "
        f"{machine['cpu']}, {settings['threads']} torch threads, {settings['device']}",
        f"{'configuration':<34} {'pairs/s':>8} {'median ms':>9} {'p95 ms':>8} {'peak MB':>8} "
        f"{'NDCG@10':>8} {'x LlamaIndex':>12} {'GFLOP/s':>8} {'of peak':>13}",
    ]
    for config in document["configs"]:
        peak = config["peak_rss_mb"]
        speedup = config["speedup_vs_sentence_transformer_rerank"]
        gflops = config.get("gflop_per_s")
        fraction = config.get("fraction_of_gemm_peak")
        of_peak = "-" if fraction is None else f"{100 * fraction:.0f}% {config['compute_dtype']}"
        lines.append(
            f"{config['name']:<34} {config['pairs_per_s']:>8.1f} {config['median_latency_ms']:>9.0f} "
            f"{config['p95_latency_ms']:>8.0f} {'-' if peak is None else f'{peak:.0f}':>8} "
            f"{config['ndcg_at_10']:>8.4f} {'-' if speedup is None else f'{speedup:.2f}x':>12} "
            f"{'-' if gflops is None else f'{gflops:.1f}':>8} {of_peak:>13}"
        )
    peaks = document.get("gemm_peak_gflop_per_s") or {}
    if peaks:
        lines.append(format_gemm_peaks(peaks))
    for entry in document["skipped"]:
        lines.append(f"skipped {entry['name']}: {entry['reason']}")
    return "\n".join(lines)


def format_gemm_peaks(peaks: dict[str, float | None]) -> str:
    """One line naming the GEMM peak measured for each element type.

    Args:
        peaks: Element type to GFLOP/s (``None`` where it could not be measured).

    Returns:
        ``"GEMM peak, GFLOP/s (torch 2048x2048, same run): bf16 909, fp32 213"``.
    """
    measured = ", ".join(
        f"{dtype} {'-' if value is None else f'{value:.0f}'}" for dtype, value in sorted(peaks.items())
    )
    return f"GEMM peak, GFLOP/s (torch {_GEMM_SIZE}x{_GEMM_SIZE}, same run): {measured}"


def _gemm_peaks(dtypes: set[str], args: argparse.Namespace) -> dict[str, float | None]:
    """The GEMM peak of each element type the configurations compute in, measured now."""
    from shared.flops import GemmDtype, measure_gemm_peak_gflops

    peaks: dict[str, float | None] = {}
    for dtype in sorted(dtypes):
        if dtype in ("fp32", "bf16", "fp16", "int8"):
            _status(args, f"measuring the {dtype} GEMM peak")
            gemm_dtype: GemmDtype = dtype  # type: ignore[assignment]
            peaks[dtype] = measure_gemm_peak_gflops(gemm_dtype, device=args.device, size=_GEMM_SIZE)
    return peaks


def _status(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        print(f"crossrank {args.command}: {message}", file=sys.stderr)
