"""``crossrank tune``: the fastest configuration that keeps the ranking, on this machine and these queries."""

from __future__ import annotations

import argparse
import datetime
import time
from typing import Any

from crossrank.cli.args import (
    add_model_argument,
    add_option_argument,
    first_stage_argument,
    non_negative_int,
    positive_int,
)
from crossrank.cli.output import status, write_reports
from crossrank.cli.progress import add_verbose_flag

__all__ = ["add_tune_command", "run_tune"]

_DEFAULT_MAX_LOSS = 0.01


def add_tune_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``tune`` sub-command to the ``crossrank`` parser.

    Args:
        commands: The sub-parsers of the main parser.
    """
    parser = commands.add_parser(
        "tune",
        help="measure backends, precisions, candidate depths and cascades here and write the fastest "
        "that keeps the ranking to a profile",
        description=(
            "Measure, on this machine, interleaved query by query, the configurations that apply to "
            "the model and CPU (exact and int8/bf16 backends, candidate depths, self-cascades, window "
            "caps on long candidates) against the reference (the model in fp32 over every candidate), "
            "stop measuring the clearly dominated ones, and write the chosen one, with the frontier "
            "and the measurements, to a profile that Reranker.from_profile, both adapters, "
            "`crossrank serve --profile` and `crossrank eval --profile` load. Quality is NDCG@10 on a "
            "BEIR directory, or agreement with the reference's top 10 on a JSONL of your own queries."
        ),
    )
    parser.add_argument(
        "data",
        metavar="DATA",
        help='a BEIR directory (quality: NDCG@10 against its qrels) or a JSONL file of {"query": ..., '
        '"candidates": [text or {"id", "text", "score"}, ...]} rows from your own traffic (quality: '
        "agreement with the reference's top 10)",
    )
    parser.add_argument("--output", required=True, metavar="PROFILE.json", help="where to write the profile")
    goal = parser.add_mutually_exclusive_group()
    goal.add_argument(
        "--max-loss",
        type=float,
        default=None,
        metavar="L",
        help="choose the fastest configuration whose mean quality is within L of the reference "
        f"(default: {_DEFAULT_MAX_LOSS} when no --budget-ms)",
    )
    goal.add_argument(
        "--budget-ms",
        type=float,
        default=None,
        metavar="MS",
        help="choose the best quality whose p95 latency per query is at most MS milliseconds",
    )
    add_model_argument(parser)
    parser.add_argument("--queries", type=positive_int, default=50, help="queries measured (default: 50)")
    parser.add_argument(
        "--offset", type=non_negative_int, default=0, help="skip the first N queries (default: 0)"
    )
    parser.add_argument("--k", type=positive_int, default=50, help="candidates per query (default: 50)")
    parser.add_argument(
        "--first-stage",
        type=first_stage_argument,
        default="bm25",
        help="for a BEIR directory: bm25 (bm25s), dense (all-MiniLM-L6-v2 in Chroma) or run:PATH, a "
        "recorded TREC run (default: bm25)",
    )
    parser.add_argument("--split", default="test", help="qrels split of a BEIR directory (default: test)")
    add_option_argument(parser, "fusion", "--fusion", note="Every configuration, reference included.")
    add_option_argument(parser, "instruction", "--instruction")
    parser.add_argument(
        "--backends",
        default=None,
        metavar="B1,B2",
        help="measure only these backends (e.g. torch,onnx,onnx-int8; default: all that apply here)",
    )
    parser.add_argument(
        "--no-cascades", action="store_true", help="do not measure the cascades and window caps"
    )
    parser.add_argument("--no-prune", action="store_true", help="measure every configuration on every query")
    parser.add_argument(
        "--min-queries",
        type=positive_int,
        default=10,
        help="queries measured before a clearly dominated configuration may be dropped (default: 10)",
    )
    parser.add_argument(
        "--latency-queries",
        type=positive_int,
        default=10,
        help="queries every configuration is timed on; after them, the rankings of those that re-rank "
        "scores other configurations compute (a shallower depth, an exact backend, a self-cascade) are "
        "derived from those scores, once checked equal on every timed query (default: 10; as many as "
        "--queries times every configuration on every query)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the run order and intervals")
    parser.add_argument(
        "--threads", type=positive_int, default=None, help="torch threads (default: torch's own choice)"
    )
    parser.add_argument("--json", metavar="OUT.json", default=None, help="also write every measurement")
    parser.add_argument(
        "--plot", metavar="OUT.png", default=None, help="draw the frontier: p95 latency vs quality"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar or status lines")
    add_verbose_flag(parser)
    parser.set_defaults(run=run_tune)


def run_tune(args: argparse.Namespace) -> int:
    """Run ``crossrank tune`` with parsed arguments.

    Returns:
        The exit code (0).
    """
    from crossrank.cli.charts import plot_frontier
    from crossrank.cli.progress import set_up_progress
    from crossrank.models.backends import cpu_has_native_bf16
    from crossrank.models.loading import resolve_model_name
    from crossrank.tuning.configurations import tuning_configurations
    from crossrank.tuning.measure import Measurer, query_ids
    from crossrank.tuning.search import search
    from crossrank.tuning.selection import choose
    from crossrank.tuning.table import format_table
    from crossrank.tuning.workload import load_workload

    started = time.perf_counter()
    max_loss = args.max_loss
    if args.budget_ms is None and max_loss is None:
        max_loss = _DEFAULT_MAX_LOSS
    _check_goal(max_loss, args.budget_ms)
    show_progress = set_up_progress(args.quiet, args.verbose)
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    model = resolve_model_name(args.model)
    status(args, f"reading {args.data}")
    workload = load_workload(
        args.data,
        k=args.k,
        queries=args.queries,
        offset=args.offset,
        first_stage=args.first_stage,
        split=args.split,
        show_progress=show_progress,
    )
    base = {name: getattr(args, name) for name in ("fusion", "instruction") if getattr(args, name)}
    measurer = Measurer(model, workload, base)
    status(args, f"loading {model}")
    # auto's probe (cached per model and CPU) names the fastest exact backend here.
    fastest_exact = measurer.fastest_exact()
    status(args, f"fastest exact backend here: {fastest_exact} (backend='auto')")
    configurations = tuning_configurations(
        args.k,
        native_bf16=cpu_has_native_bf16(),
        windows_over=measurer.windows_over(),
        backends=args.backends.split(",") if args.backends else None,
        cascades=not args.no_cascades,
        fastest_exact=fastest_exact,
    )
    reference = configurations[0]
    status(args, f"preparing {len(configurations)} configurations (exports and calibrations are cached)")
    skipped = measurer.prepare(
        configurations,
        on_start=lambda configuration: status(args, f"  {configuration.name}"),
        reference=reference,
    )
    if reference.name in skipped:
        raise RuntimeError(f"the reference cannot run: {skipped[reference.name]}")
    if not args.backends:
        skipped.update(_unaccelerated(args, measurer, configurations, skipped, args.k))
    for name, reason in skipped.items():
        status(args, f"skipped {name}: {reason}")
    runnable = [configuration for configuration in configurations if configuration.name not in skipped]
    status(
        args,
        f"measuring {len(runnable)} configurations on {len(workload.queries)} queries, interleaved "
        f"({time.perf_counter() - started:.0f} s so far)",
    )
    result = search(
        runnable,
        query_ids(workload),
        measurer,
        workload.quality(),
        reference=reference,
        min_queries=args.min_queries,
        progress=True if show_progress else _status_lines(args, started),
        seed=args.seed,
        prune=not args.no_prune,
        quality_name=workload.quality_name,
        latency_queries=args.latency_queries,
        derive=measurer.derive,
    )
    choice = choose(result, budget_ms=args.budget_ms, max_loss=None if args.budget_ms else max_loss)
    print(format_table(result, choice))
    print(f"\nchosen: {choice.chosen.name}\n{choice.reason}")
    tuned_on = {
        "data": workload.source,
        "first_stage": workload.first_stage,
        "split": args.split if workload.relevance is not None else None,
        "k": args.k,
        "queries": len(workload.queries),
        "offset": args.offset,
        "latency_queries": min(args.latency_queries, len(workload.queries)),
        "quality": workload.quality_name,
        "goal": {"max_loss": max_loss} if args.budget_ms is None else {"budget_ms": args.budget_ms},
        "base_options": base,
        "skipped": skipped,
        "backends_in_use": measurer.backends_in_use(),
        "seconds": round(time.perf_counter() - started, 1),
    }
    profile = _profile(model, choice, result, tuned_on)
    from crossrank.profiles import write_profile

    write_profile(profile, args.output)
    status(args, f"wrote {args.output} (tune took {tuned_on['seconds']:.0f} s)")
    document = {
        "profile": profile.to_json(),
        "search": result.to_json(),
        "choice": choice.to_json(),
    }
    write_reports(args, document, lambda path: plot_frontier(document, path))
    return 0


def _unaccelerated(
    args: argparse.Namespace, measurer: Any, configurations: list[Any], skipped: dict[str, str], k: int
) -> dict[str, str]:
    """Lower-precision backends barely faster than the fastest exact one here: not worth measuring."""
    from crossrank.tuning.configurations import lower_precision_speedups, unaccelerated
    from crossrank.tuning.derivation import plain_scoring

    runnable = [configuration for configuration in configurations if configuration.name not in skipped]
    plain = [
        configuration
        for configuration in runnable
        if configuration.candidates == k and plain_scoring(configuration)
    ]
    exact = [configuration for configuration in plain if configuration.exact]
    lower = [configuration for configuration in plain if not configuration.exact]
    if not lower or not exact:
        return {}
    seconds = measurer.time_first_query(exact + lower)
    exact_names = [configuration.name for configuration in exact]
    _, speedups = lower_precision_speedups(seconds, exact_names)
    status(
        args,
        "lower precision vs the fastest exact backend here: "
        + ", ".join(f"{c.options['backend']} {speedups[c.name]:.2f}x" for c in lower),
    )
    return unaccelerated(runnable, seconds, exact_names)


def _status_lines(args: argparse.Namespace, started: float) -> Any:
    """Without a terminal (a log file, CI), a status line every 5 queries instead of a bar."""

    def lines(query_ids: Any) -> Any:
        total = len(query_ids)
        for done, query_id in enumerate(query_ids):
            if done and done % 5 == 0:
                status(
                    args, f"{done} of {total} queries measured ({time.perf_counter() - started:.0f} s so far)"
                )
            yield query_id

    return lines


def _check_goal(max_loss: float | None, budget_ms: float | None) -> None:
    import math

    if max_loss is not None and not (math.isfinite(max_loss) and max_loss >= 0):
        raise ValueError(f"--max-loss must be a finite number >= 0, got {max_loss}.")
    if budget_ms is not None and not (math.isfinite(budget_ms) and budget_ms > 0):
        raise ValueError(f"--budget-ms must be a finite number > 0, got {budget_ms}.")


def _profile(model: str, choice: Any, result: Any, tuned_on: dict[str, Any]) -> Any:
    from crossrank import __version__
    from crossrank.profiles import Profile, machine_description
    from crossrank.tuning.configurations import configuration_options

    chosen = choice.chosen.configuration
    options = {**tuned_on["base_options"], **configuration_options(chosen)}
    return Profile(
        model=model,
        options=options,
        machine=machine_description(),
        measured=choice.chosen.summary_json(),
        reference=result.reference_result.summary_json(),
        frontier=[entry.summary_json() for entry in result.results],
        tuned_on=tuned_on,
        reason=choice.reason,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        crossrank_version=__version__,
    )
