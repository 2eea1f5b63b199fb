"""``crossrank rerank-batch``: rerank a JSONL or Parquet file of rows, on Ray when it is there.

The output appears under its name only when the job is complete; a job stopped by Ctrl-C,
SIGTERM, SIGKILL or an error leaves ``OUTPUT.partial`` files and a progress file, and
``--resume`` continues it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from crossrank.cli.args import (
    add_cascade_arguments,
    add_model_argument,
    add_option_argument,
    option_values,
    positive_int,
)
from crossrank.cli.progress import progress_wanted, set_up_progress

__all__ = ["add_rerank_batch_command", "run_rerank_batch"]


def add_rerank_batch_command(commands: Any) -> None:
    """Register ``crossrank rerank-batch``."""
    parser = commands.add_parser(
        "rerank-batch",
        help="rerank a file of (query, candidates) rows, on a Ray actor pool",
        description=(
            "Read rows {query, candidates: [text | {id, text, score}]} from INPUT (.jsonl or .parquet), "
            "rerank each with every option below, and write each row plus its results (best first) "
            "to OUTPUT, in input order. Rows that cannot be reranked go to OUTPUT's .errors file "
            "with their line number and the reason. Runs on Ray (a local one unless --ray-address) "
            "when Ray is installed, in this process otherwise. Until the job is complete both are "
            "written as OUTPUT.partial files beside OUTPUT.progress.json; a stopped job (Ctrl-C, "
            "SIGTERM, a kill, a crash) continues from there with --resume."
        ),
    )
    parser.add_argument("input", type=Path, metavar="INPUT", help="rows to rerank (.jsonl or .parquet)")
    parser.add_argument(
        "output", type=Path, metavar="OUTPUT", help="where the ranked rows go (.jsonl or .parquet)"
    )
    add_model_argument(parser)
    parser.add_argument(
        "--ray-address",
        default=None,
        help="a Ray cluster to join (auto or HOST:PORT; default: start a local Ray)",
    )
    parser.add_argument(
        "--no-ray", action="store_true", help="rerank in this process even if Ray is installed"
    )
    parser.add_argument(
        "--actors", type=positive_int, default=1, help="model actors in the pool (default: 1)"
    )
    parser.add_argument(
        "--batch-size",
        dest="rows_per_batch",
        type=positive_int,
        default=16,
        help="rows per actor call (default: 16)",
    )
    parser.add_argument(
        "--cpus-per-actor", type=float, default=1.0, help="CPUs each actor reserves (default: 1)"
    )
    parser.add_argument(
        "--gpus-per-actor", type=float, default=0.0, help="GPUs each actor reserves (default: 0)"
    )
    parser.add_argument(
        "--rows-per-shard", type=positive_int, default=1000, help="input rows per read task (default: 1000)"
    )
    add_option_argument(parser, "device", "--device")
    add_option_argument(parser, "backend", "--backend")
    add_option_argument(parser, "precision", "--precision")
    add_option_argument(parser, "instruction", "--instruction")
    add_cascade_arguments(parser)
    add_option_argument(parser, "long_documents", "--long-documents")
    add_option_argument(parser, "max_windows", "--max-windows", type=positive_int)
    add_option_argument(parser, "window_overlap", "--window-overlap", type=int)
    add_option_argument(parser, "fusion", "--fusion")
    add_option_argument(parser, "rrf_k", "--rrf-k", type=float)
    add_option_argument(parser, "normalize", "--normalize")
    add_option_argument(parser, "score_threshold", "--threshold", type=float)
    add_option_argument(parser, "top_n", "--top-n", type=positive_int)
    add_option_argument(parser, "batch_size", "--model-batch-size", type=positive_int)
    parser.add_argument(
        "--resume",
        action="store_true",
        help=(
            "continue the stopped job that left OUTPUT's .partial files (same INPUT, model and "
            "options), or start one if there is none"
        ),
    )
    parser.add_argument(
        "--checkpoint-seconds",
        type=float,
        default=1.0,
        help="seconds between progress checkpoints, the most a --resume redoes (0: every row; default: 1)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(run=run_rerank_batch)


def _ray_installed() -> bool:
    try:
        import ray.data  # noqa: F401
    except ImportError:
        return False
    return True


class JobStopped(Exception):
    """SIGTERM arrived: the job stops as for Ctrl-C (Ray shut down, progress recorded)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


def _stop(signum: int, frame: object) -> None:
    raise JobStopped(signum)


@contextmanager
def _sigterm_stops_the_job() -> Iterator[None]:
    # SIGTERM's default ends the process at once: no finally, so no Ray shutdown and no
    # last checkpoint. Raised as an exception it unwinds like Ctrl-C.
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_rerank_batch(args: argparse.Namespace) -> int:
    """Run the batch job as the parsed options say; return the exit code."""
    with _sigterm_stops_the_job():
        try:
            return _run(args)
        except (KeyboardInterrupt, JobStopped) as exc:
            from crossrank.distributed.files import partial_path

            signum = exc.signum if isinstance(exc, JobStopped) else signal.SIGINT
            print(
                f"crossrank rerank-batch: stopped by {signal.Signals(signum).name}; the rows done are kept "
                f"in {partial_path(args.output)}: run the same command with --resume to continue",
                file=sys.stderr,
            )
            return 128 + signum


def _run(args: argparse.Namespace) -> int:
    from crossrank.distributed.batch import RAY_EXTRA, rerank_file
    from crossrank.distributed.files import errors_path, partial_path, plan_shards, progress_path

    show = set_up_progress(args.quiet)
    use_ray = not args.no_ray and _ray_installed()
    if not use_ray and not args.no_ray:
        print(
            f"crossrank rerank-batch: Ray is not installed, reranking in this process ({RAY_EXTRA} for Ray)",
            file=sys.stderr,
        )
    options = option_values(args)
    if not args.resume and progress_path(args.output).exists():
        print(
            f"crossrank rerank-batch: starting over: discarding the stopped job in "
            f"{partial_path(args.output)} (pass --resume to continue it instead)",
            file=sys.stderr,
        )
    total = sum(shard.rows for shard in plan_shards(args.input, args.rows_per_shard))
    bar: Any = None
    if show and progress_wanted(args.quiet):
        from tqdm import tqdm

        bar = tqdm(total=total, unit="row", desc="rerank-batch", file=sys.stderr)
    try:
        summary = rerank_file(
            args.input,
            args.output,
            model=args.model,
            use_ray=use_ray,
            ray_address=args.ray_address,
            actors=args.actors,
            rows_per_batch=args.rows_per_batch,
            cpus_per_actor=args.cpus_per_actor,
            num_gpus=args.gpus_per_actor,
            rows_per_shard=args.rows_per_shard,
            resume=args.resume,
            checkpoint_seconds=args.checkpoint_seconds,
            on_rows=bar.update if bar is not None else None,
            **options,
        )
    finally:
        if bar is not None:
            bar.close()
    facts = {
        "rows": summary.rows,
        "reranked": summary.reranked,
        "failed": summary.failed,
        "pairs": summary.pairs,
        "seconds": round(summary.seconds, 3),
        "rows_per_s": round(summary.rows_per_second, 3),
        "pairs_per_s": round(summary.pairs_per_second, 3),
        "engine": summary.engine,
        "actors": summary.actors,
        "resumed_rows": summary.resumed_rows,
        "output": str(args.output),
        "errors": str(errors_path(args.output)),
    }
    if args.json:
        print(json.dumps(facts))
    else:
        print(
            f"{summary.rows} rows ({summary.reranked} reranked, "
            f"{summary.failed} failed -> {facts['errors']}), "
            f"{summary.pairs} pairs in {summary.seconds:.1f} s: {summary.rows_per_second:.2f} rows/s, "
            f"{summary.pairs_per_second:.1f} pairs/s on {summary.engine} with {summary.actors} actor(s)"
            + (f", resumed after {summary.resumed_rows} rows" if summary.resumed_rows else "")
        )
    return 0
