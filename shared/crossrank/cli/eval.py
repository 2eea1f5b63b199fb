"""``crossrank eval``: retrieval quality of truncation, chunk-max and chunk-max + RRF on a BEIR dataset."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crossrank.cli.args import (
    add_cascade_arguments,
    add_model_argument,
    add_option_argument,
    add_profile_argument,
    first_stage_argument,
    flag_given,
    model_and_options,
    non_negative_int,
    positive_int,
)
from crossrank.cli.compare import add_comparison_flags, comparison_document, format_comparison, read_report
from crossrank.cli.output import status, write_reports
from crossrank.cli.progress import add_verbose_flag
from crossrank.evaluation.evaluator import VARIANT_LABELS

if TYPE_CHECKING:
    from crossrank.evaluation.beir import BeirDataset

__all__ = ["add_eval_command", "format_eval_table", "run_eval"]


def add_eval_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``eval`` sub-command to the ``crossrank`` parser.

    Args:
        commands: The sub-parsers of the main parser.
    """
    parser = commands.add_parser(
        "eval",
        help="measure NDCG@10 / Recall@10 / MRR@10 of truncation, chunk-max and RRF on a BEIR dataset",
        description=(
            "Retrieve k candidates per query (dense or BM25), rerank the same candidates with "
            "truncation, chunk-max and chunk-max + RRF, and report NDCG@10, Recall@10, MRR@10, "
            "the first stage's Recall@k, latency per query and pairs/s."
        ),
    )
    parser.add_argument("data_dir", metavar="DATA_DIR", help="a BEIR dataset directory (e.g. .../scifact)")
    parser.add_argument("--split", default="test", help="qrels split to evaluate (default: test)")
    parser.add_argument(
        "--first-stage",
        type=first_stage_argument,
        default="dense",
        help="dense: all-MiniLM-L6-v2 in an embedded Chroma, cached on disk; bm25: bm25s; run:PATH: a TREC "
        "run recorded by `crossrank retrieve` (default: dense)",
    )
    parser.add_argument("--k", type=positive_int, default=100, help="candidates per query (default: 100)")
    add_model_argument(parser)
    add_option_argument(parser, "device", "--device")
    add_option_argument(parser, "backend", "--backend")
    add_option_argument(parser, "precision", "--precision")
    add_option_argument(parser, "instruction", "--instruction")
    add_cascade_arguments(parser)
    add_option_argument(parser, "batch_size", "--batch-size", type=positive_int)
    add_option_argument(parser, "window_boundaries", "--window-boundaries")
    add_option_argument(parser, "window_aggregation", "--window-aggregation")
    add_option_argument(parser, "window_overlap", "--window-overlap", type=int)
    add_option_argument(parser, "max_windows", "--max-windows", type=positive_int)
    parser.add_argument(
        "--limit", type=positive_int, default=None, help="evaluate only the first N queries by id"
    )
    parser.add_argument(
        "--offset",
        type=non_negative_int,
        default=0,
        help="skip the first N queries by id (with --limit, run a long evaluation in parts, then join "
        "the parts' reports with crossrank merge)",
    )
    parser.add_argument(
        "--long",
        action="store_true",
        help="long-document protocol: rerank versions of the documents buried after >1,500 tokens of "
        "other documents (seed 13); the first stage still searches the original corpus",
    )
    parser.add_argument(
        "--long-protocol",
        choices=("random", "on-topic"),
        default="random",
        help="with --long, where the filler comes from: random documents of the corpus, or the same "
        "query's other first-stage candidates (harder: no off-topic text to notice) (default: random)",
    )
    parser.add_argument(
        "--reuse-scores",
        action="store_true",
        help="score each (query, window) pair once: truncation reuses chunk-max's first-window scores, "
        "halving the run time on short documents; truncation's latency is then not reported",
    )
    parser.add_argument(
        "--against-single-stage",
        action="store_true",
        help="with a cascade: rank every query with the fine model alone first, in the same run, and "
        "compare the cascade with it query by query (as --compare-to does); the cascade's fine stage "
        "reads the single stage's window scores from a shared cache, so both rest on identical scores "
        "and the pair costs the single stage's time, but the cascade is not timed (time it on its own)",
    )
    parser.add_argument(
        "--json", metavar="OUT.json", default=None, help="write the numbers and per-query results"
    )
    parser.add_argument("--plot", metavar="OUT.png", default=None, help="draw a bar chart of the metrics")
    parser.add_argument(
        "--cache-dir",
        default=None,
        help="where the dense index is kept (default: $CROSSRANK_CACHE_DIR or ~/.cache/crossrank)",
    )
    parser.add_argument(
        "--compare-to",
        default=None,
        metavar="BASELINE.json",
        help="also compare this run query by query with an earlier report of the same queries (e.g. the "
        "fp32 single stage): paired NDCG@10 difference with a 95%% bootstrap interval (crossrank compare)",
    )
    add_comparison_flags(parser)
    add_profile_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bars or status lines")
    add_verbose_flag(parser)
    parser.set_defaults(run=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    """Run ``crossrank eval`` with parsed arguments.

    Args:
        args: The parsed command line.

    Returns:
        The exit code (0).
    """
    from crossrank.benchmark.machine import describe_machine, load_average
    from crossrank.cli.charts import plot_eval
    from crossrank.cli.progress import set_up_progress
    from crossrank.evaluation.beir import load_beir
    from crossrank.evaluation.evaluator import evaluate, select_query_ids
    from crossrank.evaluation.first_stage import build_first_stage
    from crossrank.evaluation.long_protocol import long_documents, on_topic_documents
    from crossrank.models.devices import default_device
    from crossrank.profiles import read_profile
    from crossrank.reranker import Reranker

    started = time.perf_counter()
    show_progress = set_up_progress(args.quiet, args.verbose)
    if args.against_single_stage and args.compare_to:
        raise ValueError("--against-single-stage and --compare-to each give the run a baseline; choose one.")
    # Read first: a missing or malformed baseline fails before minutes of scoring.
    baseline = read_report(args.compare_to) if args.compare_to else None
    dataset = load_beir(args.data_dir, split=args.split)
    query_ids = select_query_ids(dataset, args.limit, args.offset)
    model, options = model_and_options(args)
    if args.profile and not flag_given(args, "--k"):
        # The candidates the profile was measured on, so its speed and quality hold.
        args.k = read_profile(args.profile).tuned_on.get("k", args.k)
        status(args, f"--k {args.k}: the candidates per query the profile was tuned with")
    reranker = Reranker(model, **options)
    if args.against_single_stage and not reranker.is_cascade:
        raise ValueError(
            "--against-single-stage compares a cascade with its fine model alone; add a coarse stage "
            "(--coarse-model or --coarse-backend), or drop --against-single-stage."
        )
    status(args, f"loading {reranker.model_name}")
    _ = reranker.scorer  # load now, so a bad --model fails before the first stage is built

    warn_about_unjudgeable_queries(dataset, query_ids)
    first_stage = build_first_stage(
        args.first_stage,
        dataset,
        data_dir=args.data_dir,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
        show_progress=show_progress,
        # Said only when it happens: a cached dense index is reused silently.
        on_build=lambda: status(
            args, f"building the {args.first_stage} first stage over {len(dataset.corpus)} documents"
        ),
    )
    document_text = None
    query_document_text = None
    protocol = None
    if args.long:
        status(args, f"building the long-document corpus ({args.long_protocol} fillers)")
        if args.long_protocol == "on-topic":
            query_document_text, protocol = on_topic_documents(dataset, reranker)
        else:
            document_text, protocol = long_documents(dataset, reranker)
    setup_s = time.perf_counter() - started
    machine = describe_machine(args.device or default_device())

    status(args, f"reranking {len(query_ids)} queries x top-{args.k}")
    report = evaluate(
        dataset,
        first_stage,
        reranker,
        k=args.k,
        query_ids=query_ids,
        split=args.split,
        document_text=document_text,
        query_document_text=query_document_text,
        long_protocol=protocol,
        reuse_scores=args.reuse_scores,
        single_stage=args.against_single_stage,
        show_progress=show_progress,
    )
    document = report.to_json()
    document["seconds"] = {"setup": setup_s, **document["seconds"], "total": time.perf_counter() - started}
    document["machine"] = {**machine, "load_average_1m_end": load_average()}
    document["backend"] = reranker.backend_in_use
    document["options"] = {name: value for name, value in options.items() if value is not None}
    if "single_stage" in document:
        document["single_stage"]["backend"] = reranker.backend_in_use
    print_report(document, baseline, samples=args.samples, seed=args.seed)
    write_reports(args, document, lambda path: plot_eval([document], path))
    return 0


def print_report(
    document: dict[str, Any], baseline: dict[str, Any] | None, *, samples: int, seed: int
) -> None:
    """Print an eval report and, against its baseline, add its comparison and print that too.

    A report with a ``single_stage`` report (``--against-single-stage``) is printed after it
    and compared with it.

    Args:
        document: The report; ``"comparison"`` is added to it when there is a baseline.
        baseline: An earlier report to compare with (``--compare-to``), or ``None``.
        samples: Bootstrap resamples.
        seed: Bootstrap seed.
    """
    single = document.get("single_stage")
    if single is not None:
        print(format_eval_table(single, title="single stage (the fine model alone)"))
        print()
        baseline = single
    print(format_eval_table(document, title="cascade" if single is not None else None))
    if baseline is None:
        return
    document["comparison"] = comparison_document(baseline, document, samples=samples, seed=seed)
    if single is not None:
        document["comparison"]["baseline_model"] = f"{document['model']} alone (same run)"
        document["comparison"]["candidate_model"] = f"{document['model']} in the cascade"
    print()
    print(format_comparison(document["comparison"]))


def warn_about_unjudgeable_queries(dataset: BeirDataset, query_ids: Sequence[str]) -> None:
    """Warn (on stderr, even with ``--quiet``) when judged documents are not in the corpus.

    A relevant document that is not in the corpus can never be retrieved, so it drags a
    query's metrics down; when all of a query's are missing every metric is 0.0, which
    would otherwise pass for a bad reranker.
    """
    missing = 0
    judged = 0
    hopeless = 0
    for query_id in query_ids:
        relevant = [doc_id for doc_id, grade in dataset.qrels.get(query_id, {}).items() if grade > 0]
        absent = [doc_id for doc_id in relevant if doc_id not in dataset.corpus]
        judged += len(relevant)
        missing += len(absent)
        hopeless += bool(relevant) and len(absent) == len(relevant)
    if missing:
        print(
            f"crossrank eval: warning: {missing} of {judged} relevant judged documents are not in the "
            f"corpus ({hopeless} of {len(query_ids)} queries have none left, so all their metrics are 0.0); "
            "check that corpus.jsonl and the qrels file belong to the same dataset.",
            file=sys.stderr,
        )


def format_eval_table(document: dict[str, Any], *, title: str | None = None) -> str:
    """The eval report as a fixed-width table.

    Args:
        document: A report as returned by ``EvalReport.to_json``.
        title: What the table is of, put before its first line (e.g. ``"cascade"``).

    Returns:
        Lines of text, without a trailing newline.
    """
    long = ", long documents" if document["long"] else ""
    lines = [
        (f"{title}: " if title else "")
        + f"{document['dataset']} ({document['split']}), {document['first_stage']} top-{document['k']}, "
        f"{document['queries']} queries{long}; model {document['model']}"
        + (f" ({document['backend']})" if document.get("backend") else ""),
        f"{'variant':<16} {'NDCG@10':>8} {'Recall@10':>9} {'MRR@10':>7} "
        f"{'median ms':>9} {'p95 ms':>8} {'pairs/s':>8} {'win/doc':>7}",
    ]
    for name, label in VARIANT_LABELS.items():
        values = document["variants"][name]
        row = (
            f"{label:<16} {values['ndcg_at_10']:>8.4f} {values['recall_at_10']:>9.4f}"
            f" {values['mrr_at_10']:>7.4f}"
        )
        if values.get("pairs_per_s") is not None:
            row += (
                f" {values['median_latency_ms']:>9.0f} {values['p95_latency_ms']:>8.0f}"
                f" {values['pairs_per_s']:>8.1f} {values['windows_per_document']:>7.2f}"
            )
        else:
            row += f" {'-':>9} {'-':>8} {'-':>8} {'-':>7}"
        lines.append(row)
    shared = "chunk-max and chunk-max + RRF share one scoring pass"
    if document.get("untimed"):
        shared += f"; {document['untimed']}"
    elif document["variants"]["truncate"].get("pairs_per_s") is None:
        shared += "; truncate reuses its first-window scores (not timed)"
    lines.append(f"first-stage Recall@{document['k']}: {document['recall_at_k_first_stage']:.4f}; {shared}")
    return "\n".join(lines)
