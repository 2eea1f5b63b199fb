"""``crossrank compare``: two ``crossrank eval`` reports of the same queries, compared query by query."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crossrank.cli.args import positive_int
from crossrank.cli.output import json_text, status

__all__ = ["add_compare_command", "format_comparison", "read_report"]


def add_compare_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``compare`` sub-command to the ``crossrank`` parser."""
    parser = commands.add_parser(
        "compare",
        help="paired NDCG@10 difference (95%% bootstrap interval) of two crossrank eval --json reports",
        description=(
            "Compare a candidate (a speed option, a fine-tuned model, a student) with a baseline on the "
            # A description is printed as it is (only help strings are %-formatted): one %.
            "same queries and candidates: mean NDCG@10 difference with a 95% paired bootstrap interval, "
            "the share of queries whose top 10 changed, and the share of the baseline's top 10 the "
            "candidate keeps in its top 30."
        ),
    )
    parser.add_argument("baseline", metavar="BASELINE.json", help="the reference report")
    parser.add_argument(
        "candidate", metavar="CANDIDATE.json", nargs="?", help="the report to compare with it"
    )
    parser.add_argument(
        "--against-first-stage",
        action="store_true",
        help="compare every variant of BASELINE.json with its own first stage, query by query "
        "(no CANDIDATE.json): does reranking beat the retriever?",
    )
    add_comparison_flags(parser)
    parser.add_argument(
        "--shared-queries",
        action="store_true",
        help="compare only the queries both reports hold (e.g. a --limit 100 run against a full one)",
    )
    parser.add_argument("--json", default=None, metavar="OUT.json", help="also write the comparison here")
    parser.add_argument("--quiet", action="store_true", help="no status lines")
    parser.set_defaults(run=run_compare)


def add_comparison_flags(parser: argparse.ArgumentParser) -> None:
    """``--samples`` and ``--seed`` of the bootstrap (shared with ``crossrank eval --compare-to``)."""
    parser.add_argument(
        "--samples", type=positive_int, default=10_000, help="bootstrap resamples (default: 10000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")


def read_report(path: str) -> dict[str, Any]:
    """Read a ``crossrank eval --json`` report.

    Raises:
        FileNotFoundError: If the file is missing.
        ValueError: If it is not a JSON eval report.
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"no report at {path!r}: write one with crossrank eval --json.")
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path!r} is not JSON ({exc.msg} at line {exc.lineno}).") from None
    if not isinstance(document, dict) or "variants" not in document:
        raise ValueError(f"{path!r} is not a crossrank eval --json report (no 'variants').")
    return document


def comparison_document(
    baseline: Mapping[str, Any],
    candidate: Mapping[str, Any],
    *,
    samples: int,
    seed: int,
    shared_only: bool = False,
    baseline_variant: str | None = None,
) -> dict[str, Any]:
    """The comparison as JSON: both models, the protocol and one record per variant."""
    from crossrank.evaluation.comparison import compare_reports

    compared = compare_reports(
        baseline,
        candidate,
        samples=samples,
        seed=seed,
        shared_only=shared_only,
        baseline_variant=baseline_variant,
    )
    return {
        "baseline_model": f"its own {baseline_variant}" if baseline_variant else baseline.get("model"),
        "candidate_model": candidate.get("model"),
        "protocol": {name: baseline.get(name) for name in ("dataset", "split", "first_stage", "k", "long")},
        "bootstrap": {"samples": samples, "seed": seed, "confidence": 0.95},
        "variants": [item.to_json() for item in compared],
    }


def format_comparison(document: Mapping[str, Any]) -> str:
    """The comparison as a Markdown table."""
    protocol = document["protocol"]
    lines = [
        f"{protocol['dataset']} {protocol['split']}, {protocol['first_stage']} top-{protocol['k']}"
        f"{', long documents' if protocol['long'] else ''}; baseline {document['baseline_model']}, "
        f"candidate {document['candidate_model']}",
        "",
        "| variant | queries | baseline NDCG@10 | candidate NDCG@10 | difference | 95% CI | top 10 changed "
        "| baseline top 10 in candidate top 30 |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for row in document["variants"]:
        kept = row["baseline_top_10_in_candidate_top_30"]
        lines.append(
            f"| {row['variant']} | {row['queries']} | {row['baseline_ndcg']:.4f} "
            f"| {row['candidate_ndcg']:.4f} "
            f"| {row['difference']:+.4f} | [{row['ci_low']:+.4f}, {row['ci_high']:+.4f}] "
            f"| {row['top_10_changed']:.1%} | {'-' if kept is None else f'{kept:.4f}'} |"
        )
    return "\n".join(lines)


def run_compare(args: argparse.Namespace) -> int:
    """Run ``crossrank compare``."""
    if args.against_first_stage == (args.candidate is not None):
        raise ValueError(
            "give CANDIDATE.json, or --against-first-stage to compare BASELINE.json with its own first "
            "stage, not both or neither."
        )
    baseline = read_report(args.baseline)
    document = comparison_document(
        baseline,
        read_report(args.candidate) if args.candidate is not None else baseline,
        samples=args.samples,
        seed=args.seed,
        shared_only=args.shared_queries,
        baseline_variant="first_stage" if args.against_first_stage else None,
    )
    print(format_comparison(document))
    write_comparison(args, document)
    return 0


def write_comparison(args: argparse.Namespace, document: Any, path: str | None = None) -> None:
    """Write the comparison to ``path`` (default ``--json``) if one is given."""
    target = path if path is not None else args.json
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text(json_text(document), encoding="utf-8")
        status(args, f"wrote {target}")
