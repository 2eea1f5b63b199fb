"""``crossrank bench``: reranking speed of crossrank and its peers on the same SciFact inputs."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from crossrank.cli.args import add_model_argument, add_option_argument, model_argument, positive_int
from crossrank.cli.output import status, write_reports
from crossrank.cli.progress import add_verbose_flag

__all__ = ["add_bench_command", "run_bench"]


def add_bench_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``bench`` sub-command to the ``crossrank`` parser.

    Args:
        commands: The sub-parsers of the main parser.
    """
    from crossrank.benchmark.contenders import CONTENDERS

    parser = commands.add_parser(
        "bench",
        help="time crossrank against LlamaIndex, LangChain and CrossEncoder.predict on the same inputs",
        description=(
            "Rerank the top candidates (BM25) of the first SciFact test queries with every configuration, "
            "in one process, interleaved, after a warm-up; report latency, pairs/s, peak memory, NDCG@10 "
            "and the ratio to LlamaIndex's SentenceTransformerRerank."
        ),
    )
    parser.add_argument(
        "--data", metavar="DATA_DIR", help="the BEIR SciFact directory (needed unless --prefix-sharing)"
    )
    add_model_argument(parser)
    parser.add_argument(
        "--student",
        type=model_argument,
        default=None,
        metavar="MODEL",
        help="also time this smaller model (e.g. made by crossrank distill) as crossrank-student",
    )
    parser.add_argument(
        "--candidates", type=positive_int, default=50, help="candidates per query (default: 50)"
    )
    parser.add_argument("--queries", type=positive_int, default=20, help="queries, first by id (default: 20)")
    parser.add_argument(
        "--repeat", type=positive_int, default=3, help="timed rounds over all queries (default: 3)"
    )
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls per configuration (default: 1)")
    add_option_argument(
        parser,
        "batch_size",
        "--batch-size",
        type=positive_int,
        note="LlamaIndex always uses predict()'s default, 32.",
    )
    add_option_argument(parser, "device", "--device", default="cpu", note="Every configuration runs on it.")
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
    parser.add_argument(
        "--cold-start",
        action="store_true",
        help="also time a fresh process's first rerank by phase (imports, model load, ONNX export, "
        "session, first call), once with an empty cache and once with the cache that run filled",
    )
    parser.add_argument(
        "--prefix-sharing",
        action="store_true",
        help="instead, for a causal-LM reranker (--model), time its candidates with the template and "
        "query's key/value cache shared against each pair in full (20 candidates of 200 tokens "
        "behind a 100-token head, interleaved) and the memory scoring takes, against CrossEncoder.predict",
    )
    parser.add_argument("--json", metavar="OUT.json", default=None, help="write the report as JSON")
    parser.add_argument("--plot", metavar="OUT.png", default=None, help="draw a bar chart of pairs/s")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or status lines")
    add_verbose_flag(parser)
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

    from crossrank.benchmark.contenders import build_contender, contender_names
    from crossrank.benchmark.flops import gemm_size_for
    from crossrank.benchmark.inputs import bench_inputs
    from crossrank.benchmark.machine import describe_machine, load_average
    from crossrank.benchmark.memory_probe import PeakMemory, measure_peak_memory
    from crossrank.benchmark.peers import model_shape
    from crossrank.benchmark.protocol import BenchSettings
    from crossrank.benchmark.report import format_bench_table, summarize_contenders
    from crossrank.benchmark.runner import run_benchmark
    from crossrank.cli.charts import plot_bench
    from crossrank.cli.progress import set_up_progress
    from crossrank.errors import MissingPeerError
    from crossrank.evaluation.beir import load_beir
    from crossrank.models.loading import resolve_model_name

    if args.prefix_sharing:
        return _run_prefix_sharing(args)
    if args.data is None:
        raise ValueError("crossrank bench needs --data DATA_DIR (the BEIR SciFact directory).")
    started = time.perf_counter()
    if args.warmup < 0:
        raise ValueError(f"--warmup must be an integer >= 0, got {args.warmup}.")
    names = contender_names(
        args.configs.split(",") if args.configs else None, student=args.student is not None
    )
    show_progress = set_up_progress(args.quiet, args.verbose)
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
        student=args.student,
    )
    machine = describe_machine(args.device)

    contenders = []
    skipped: list[dict[str, str]] = []
    shared_models: dict[str, Any] = {}
    for name in names:
        status(args, f"loading {name}")
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
    status(args, f"timing {len(contenders)} configurations x {len(inputs)} queries x {args.repeat} rounds")
    from tqdm.auto import tqdm

    warmup_calls = min(args.warmup, len(inputs)) * len(contenders)

    def progress_line(rounds_done: int, seconds: float) -> None:
        # Lines on stderr, so a run that is not on a terminal still says where it is.
        if rounds_done == 0:
            if warmup_calls:
                expected = seconds / warmup_calls * calls
                status(
                    args,
                    f"warm-up took {seconds:.0f} s; the timed phase should take about {_duration(expected)}",
                )
            return
        left = seconds / rounds_done * (args.repeat - rounds_done)
        status(
            args,
            f"round {rounds_done} of {args.repeat} done after {_duration(seconds)}"
            + (f"; about {_duration(left)} left" if rounds_done < args.repeat else ""),
        )

    with tqdm(total=calls, desc="Timed calls", unit="call", disable=not show_progress) as bar:
        measured = run_benchmark(
            contenders,
            inputs,
            repeat=args.repeat,
            warmup=args.warmup,
            on_call=lambda: bar.update(1),
            on_round=progress_line,
            shape=shape,
        )
    timed_s = time.perf_counter() - started
    gemm_peaks = _gemm_peaks({str(m.compute_dtype) for m in measured.values() if m.compute_dtype}, args)

    memory: dict[str, PeakMemory | None] = {}
    if not args.no_memory:
        for contender in contenders:
            status(args, f"peak memory of {contender.name} (fresh process)")
            try:
                memory[contender.name] = measure_peak_memory(
                    contender.name, settings, inputs, threads=threads
                )
            except RuntimeError as exc:
                memory[contender.name] = None
                print(f"crossrank bench: {exc}", file=sys.stderr)

    cold_starts = None
    if args.cold_start:
        from crossrank.benchmark.cold_start import measure_cold_start

        status(args, "timing cold starts (two fresh processes)")
        cold_starts = [asdict(run) for run in measure_cold_start(settings.model, threads=args.threads)]

    qrels = {item.query_id: dataset.qrels[item.query_id] for item in inputs}
    peak_size = gemm_size_for(args.device)
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
            "gemm_peak": f"best of 5 torch {peak_size}x{peak_size} matrix "
            "multiplies per element type, "
            "same threads, measured right after the timed phase",
        },
        "model_shape": None if shape is None else asdict(shape),
        "gemm_peak_gflop_per_s": gemm_peaks,
        "configs": summarize_contenders(measured, qrels, memory, gemm_peaks),
        "skipped": skipped,
        "cold_start": cold_starts,
        "seconds": {"timed_phase": timed_s, "total": time.perf_counter() - started},
    }
    print(format_bench_table(document))
    if cold_starts:
        from crossrank.benchmark.cold_start import format_cold_starts

        print(format_cold_starts(cold_starts))
    write_reports(args, document, lambda path: plot_bench(document, path))
    return 0


def _run_prefix_sharing(args: argparse.Namespace) -> int:
    """``crossrank bench --prefix-sharing``: the shared head against full pairs, and memory."""
    from crossrank.benchmark.machine import describe_machine
    from crossrank.benchmark.prefix_sharing import (
        format_prefix_sharing,
        measure_prefix_sharing,
        measure_scoring_memory,
    )
    from crossrank.models.loading import resolve_model_name

    if args.plot:
        raise ValueError("--plot draws the configurations' chart; --prefix-sharing has none.")
    model = resolve_model_name(args.model)
    status(args, "timing the shared prefix against full pairs")
    result = measure_prefix_sharing(model, rounds=args.repeat)
    status(args, "measuring the memory scoring takes (two fresh processes)")
    memory = measure_scoring_memory(model)
    print(format_prefix_sharing(result))
    print(
        f"  peak memory grown while scoring: crossrank {memory['crossrank']:.0f} MiB, "
        f"CrossEncoder.predict {memory['sentence_transformers']:.0f} MiB"
    )
    document = {
        "machine": describe_machine("cpu"),
        "model": model,
        "prefix_sharing": {**asdict(result), "speedup": result.speedup},
        "scoring_memory_mib": memory,
    }
    write_reports(args, document, lambda path: None)
    return 0


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _gemm_peaks(dtypes: set[str], args: argparse.Namespace) -> dict[str, float | None]:
    """The GEMM peak of each element type the configurations compute in, measured now."""
    from crossrank.benchmark.flops import GEMM_DTYPES, gemm_size_for, measure_gemm_peak_gflops

    peaks: dict[str, float | None] = {}
    for dtype in sorted(GEMM_DTYPES):
        if dtype in dtypes:
            status(args, f"measuring the {dtype} GEMM peak")
            peaks[dtype] = measure_gemm_peak_gflops(
                dtype, device=args.device, size=gemm_size_for(args.device)
            )
    return peaks
