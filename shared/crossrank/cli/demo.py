"""``crossrank demo``: rerank the sample corpus held in Chroma and show what moved."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from crossrank.cli.args import (
    add_cascade_arguments,
    add_model_argument,
    add_option_argument,
    option_values,
    positive_int,
    query_argument,
)
from crossrank.cli.output import json_text
from crossrank.cli.progress import add_verbose_flag, set_up_progress
from crossrank.demo.runner import (
    DEMO_OPTIONS,
    DEMO_TOP_K,
    DEMO_TOP_N,
    DemoQueryReport,
    DemoSettings,
    default_persist_dir,
    run_demo,
)
from crossrank.demo.sample_corpus import load_sample_queries
from crossrank.demo.summary import DemoSummary, Verdict, query_verdict, summarize, verdict
from crossrank.evaluation.embeddings import offline_embedding_model_path
from crossrank.evaluation.evaluator import VARIANT_LABELS
from crossrank.models.loading import resolve_model_name
from crossrank.options import OPTIONS

__all__ = ["add_demo_command", "demo_settings", "format_overall", "format_report", "report_to_json"]

_TITLE_WIDTH = 36
_SNIPPET_WIDTH = 60


def _port(text: str) -> int:
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 1-65535, got {value}")
    return value


def add_demo_command(commands: Any) -> None:
    """Register ``crossrank demo`` on the sub-command parsers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "demo",
        help="rerank a sample corpus held in Chroma and show what moved",
        description=(
            "Index crossrank's sample corpus into Chroma (embedded, or a running server), "
            "retrieve the top-k for each query by vector search, rerank them with the "
            "cross-encoder and show how the order changed."
        ),
    )
    parser.add_argument(
        "--query",
        action="append",
        type=query_argument,
        metavar="TEXT",
        help="a query to run (repeatable); default: the built-in queries",
    )
    add_model_argument(
        parser,
        help="cross-encoder: hub id or local directory (default: $CROSSRANK_MODEL or "
        "cross-encoder/ms-marco-MiniLM-L6-v2)",
    )
    parser.add_argument(
        "--embedding-model", help="bi-encoder for Chroma (default: the offline all-MiniLM-L6-v2)"
    )
    parser.add_argument(
        "--top-k",
        type=positive_int,
        default=DEMO_TOP_K,
        help=f"candidates from Chroma (default {DEMO_TOP_K}, which measured best with RRF)",
    )
    add_option_argument(
        parser,
        "top_n",
        "--top-n",
        type=positive_int,
        default=DEMO_TOP_N,
        note="The demo shows them per query.",
    )
    add_option_argument(
        parser, "long_documents", "--no-chunk", const="truncate", default=DEMO_OPTIONS["long_documents"]
    )
    add_option_argument(parser, "backend", "--backend")
    add_option_argument(parser, "precision", "--precision")
    add_cascade_arguments(parser)
    # RRF is the demo's default (it measured best over the built-in queries); --rrf stays for
    # the scripts that name it, --no-rrf ranks by the cross-encoder alone.
    rrf_note = f"The retrieval ranking is the vector ranking; k={OPTIONS['rrf_k'].default:g}."
    add_option_argument(parser, "fusion", "--rrf", const="rrf", default=DEMO_OPTIONS["fusion"], note=rrf_note)
    add_option_argument(parser, "fusion", "--no-rrf", const=None, default=DEMO_OPTIONS["fusion"])
    add_option_argument(parser, "score_threshold", "--threshold", type=float)
    parser.add_argument("--chroma-host", help="use a running Chroma server instead of the embedded store")
    parser.add_argument("--chroma-port", type=_port, default=8000, help="Chroma server port (default 8000)")
    parser.add_argument(
        "--persist-dir",
        type=Path,
        default=None,
        help=f"embedded store directory (default {default_persist_dir()})",
    )
    parser.add_argument("--reset", action="store_true", help="rebuild the collection")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_verbose_flag(parser)
    parser.set_defaults(run=run_demo_command)


def demo_settings(args: argparse.Namespace, *, show_progress: bool = False) -> DemoSettings:
    """The demo's settings from its parsed command line (every reranking flag, by option name).

    Args:
        args: The parsed ``crossrank demo`` command line.
        show_progress: Show the library's progress bars.
    """
    options = option_values(args)
    return DemoSettings(
        queries=args.query or [query.text for query in load_sample_queries()],
        model=args.model,
        embedding_model=args.embedding_model,
        top_k=args.top_k,
        top_n=options.pop("top_n"),
        options=options,
        chroma_host=args.chroma_host,
        chroma_port=args.chroma_port,
        persist_dir=args.persist_dir or default_persist_dir(),
        reset=args.reset,
        show_progress=show_progress,
    )


def run_demo_command(args: argparse.Namespace) -> int:
    """Run the demo as the parsed options say; return the exit code."""
    settings = demo_settings(args, show_progress=set_up_progress(args.quiet, args.verbose))
    if args.json:
        reports = run_demo(settings)
        sys.stdout.write(json_text(report_to_json(settings, reports)))
    else:
        printed_header = False

        def show(report: DemoQueryReport) -> None:
            nonlocal printed_header
            # The header waits for the first result, so a failed start prints only the error.
            if not printed_header:
                print(_header(settings))
                printed_header = True
            print(format_report(report, fused=settings.option("fusion") is not None), flush=True)

        reports = run_demo(settings, on_query=show)
        summary = summarize(reports, settings.top_n)
        if summary is not None:
            print("\n" + format_overall(summary))
    return 0


def _header(settings: DemoSettings) -> str:
    store = (
        f"Chroma server {settings.chroma_host}:{settings.chroma_port}"
        if settings.chroma_host
        else f"embedded Chroma at {settings.persist_dir}"
    )
    fusion = ", RRF with the vector ranking" if settings.option("fusion") else ""
    return (
        f"crossrank demo: {store}; top-{settings.top_k} by vector search, "
        f"reranked ({VARIANT_LABELS[settings.option('long_documents')]}{fusion}), "
        f"top-{settings.top_n} shown"
    )


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _move(move: int) -> str:
    return "=" if move == 0 else f"{move:+d}"


def format_report(report: DemoQueryReport, *, fused: bool = False) -> str:
    """A query's reranked results as a fixed-width table and a one-line summary."""
    lines = [
        "",
        f"Query: {report.query}",
        f"  {'new':>3} {'vec':>3} {'move':>4} {'rel':>3} {'ce_score':>9}"
        + (f" {'fused':>8}" if fused else "")
        + f"  {'document':<{_TITLE_WIDTH}}  winning window",
    ]
    for row in report.rows:
        window = f"w{row.window_index + 1}/{row.num_windows} @{row.window_span[0]}"
        lines.append(
            f"  {row.rank:>3} {row.vector_rank:>3} {_move(row.move):>4} {_relevance(row.relevance):>3}"
            + f" {row.cross_encoder_score:>9.4f}"
            + (f" {row.score:>8.5f}" if fused else "")
            + f"  {_clip(row.doc_id, _TITLE_WIDTH):<{_TITLE_WIDTH}}  {window:<12} "
            + f'"{_clip(row.snippet, _SNIPPET_WIDTH)}"'
        )
    lines.append("  " + summary_line(report))
    return "\n".join(lines)


def _relevance(grade: int | None) -> str:
    # ** answers the query, * helps, - does not; blank for a query without labels.
    return "" if grade is None else {0: "-", 1: "*"}.get(grade, "**")


_VERDICT_TEXT: dict[Verdict, str] = {
    "helped": "reranking helped",
    "hurt": "reranking hurt",
    "unchanged": "no change in quality",
}


def summary_line(report: DemoQueryReport) -> str:
    """One line: what moved, whether the moves helped (NDCG on the labels), and the top riser."""
    if not report.rows:
        return f"Summary: no result passed the threshold (of {report.candidates} candidates)."
    text = f"Summary: {report.changed} of {len(report.rows)} shown positions changed"
    before, after = report.ndcg_vector, report.ndcg_reranked
    if before is not None and after is not None:
        k = len(report.rows)
        text += (
            f"; NDCG@{k} {before:.3f} (vector) -> {after:.3f} (reranked): "
            + _VERDICT_TEXT[verdict(before, after)]
        )
    riser = report.biggest_riser
    if riser is None:
        return text + "; nothing rose."
    tag = {None: "", 0: ", not relevant", 1: ", helpful"}.get(riser.relevance, ", relevant")
    moved = f"{riser.move:+d}: vector #{riser.vector_rank} -> #{riser.rank}{tag}"
    return text + f"; {riser.doc_id} rose most ({moved})."


def format_overall(summary: DemoSummary) -> str:
    """The run's summary over its built-in queries: mean NDCG, then what helped and what hurt.

    The first line keeps the form ``Overall: mean NDCG@k over N built-in queries A (vector) ->
    B (reranked): VERDICT.``; the counts and lists below it use the per-query verdicts.
    """
    n = len(summary.outcomes)
    lines = [
        f"Overall: mean NDCG@{summary.k} over {n} built-in {'query' if n == 1 else 'queries'} "
        f"{summary.ndcg_vector:.3f} (vector) -> {summary.ndcg_reranked:.3f} (reranked): "
        f"{_VERDICT_TEXT[summary.verdict]}.",
        f"  Per query, reranking helped {summary.count('helped')}, hurt {summary.count('hurt')} "
        f"and left {summary.count('unchanged')} unchanged (NDCG@{summary.k}, vector -> reranked):",
    ]
    for which in ("helped", "hurt"):
        lines += [
            f"    {which:<6}  {outcome.ndcg_vector:.3f} -> {outcome.ndcg_reranked:.3f}  {outcome.query}"
            for outcome in summary.queries_that(which)
        ]
    lines.append("  (rel: ** answers, * helps, - does not)")
    return "\n".join(lines)


def _summary_json(summary: DemoSummary | None) -> dict[str, Any] | None:
    if summary is None:
        return None
    return {
        "k": summary.k,
        "queries": len(summary.outcomes),
        "ndcg_vector": summary.ndcg_vector,
        "ndcg_reranked": summary.ndcg_reranked,
        "verdict": summary.verdict,
        "helped": summary.count("helped"),
        "hurt": summary.count("hurt"),
        "unchanged": summary.count("unchanged"),
    }


def report_to_json(settings: DemoSettings, reports: list[DemoQueryReport]) -> dict[str, Any]:
    """The demo's results as JSON-ready data, for scripts."""
    summary = summarize(reports, settings.top_n)
    return {
        # The models actually used, not the (possibly empty) options that chose them.
        "model": resolve_model_name(settings.model),
        "embedding_model": settings.embedding_model or offline_embedding_model_path(),
        "store": (
            f"http://{settings.chroma_host}:{settings.chroma_port}"
            if settings.chroma_host
            else str(settings.persist_dir)
        ),
        "top_k": settings.top_k,
        "top_n": settings.top_n,
        "long_documents": settings.option("long_documents"),
        "fusion": settings.option("fusion"),
        "mean_ndcg": None
        if summary is None
        else {"k": summary.k, "vector": summary.ndcg_vector, "reranked": summary.ndcg_reranked},
        "overall": _summary_json(summary),
        "queries": [
            {
                "query": report.query,
                "candidates": report.candidates,
                "results": [
                    {
                        "rank": row.rank,
                        "vector_rank": row.vector_rank,
                        "move": row.move,
                        "id": row.doc_id,
                        "title": row.title,
                        "cross_encoder_score": row.cross_encoder_score,
                        "score": row.score,
                        "num_windows": row.num_windows,
                        "window_index": row.window_index,
                        "window_span": list(row.window_span),
                        "snippet": row.snippet,
                        "relevance": row.relevance,
                    }
                    for row in report.rows
                ],
                "summary": {
                    "changed": report.changed,
                    "ndcg_vector": report.ndcg_vector,
                    "ndcg_reranked": report.ndcg_reranked,
                    "verdict": query_verdict(report),
                    "shown": len(report.rows),
                    "biggest_riser": report.biggest_riser.doc_id if report.biggest_riser else None,
                    "text": summary_line(report),
                },
            }
            for report in reports
        ],
    }
