"""``crossrank merge``: the reports of an evaluation run in parts, joined into one."""

from __future__ import annotations

import argparse

from crossrank.cli.compare import add_comparison_flags, read_report
from crossrank.cli.output import write_reports

__all__ = ["add_merge_command"]


def add_merge_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``merge`` sub-command to the ``crossrank`` parser.

    Args:
        commands: The sub-parsers of the main parser.
    """
    parser = commands.add_parser(
        "merge",
        help="join crossrank eval --json reports of disjoint queries (--offset/--limit parts) into one",
        description=(
            "Join the reports of one evaluation run in parts (crossrank eval --offset N --limit M, same "
            "settings, same machine) into the report of all their queries: every mean, pair count and "
            "latency is recomputed from the per-query records. A cascade run with --against-single-stage "
            "is compared with its single stage again over all the queries."
        ),
    )
    parser.add_argument(
        "parts", nargs="+", metavar="PART.json", help="two or more crossrank eval --json reports"
    )
    parser.add_argument("--json", required=True, metavar="OUT.json", help="where to write the joined report")
    add_comparison_flags(parser)
    parser.add_argument("--quiet", action="store_true", help="no status lines")
    parser.set_defaults(run=run_merge, plot=None)


def run_merge(args: argparse.Namespace) -> int:
    """Run ``crossrank merge`` with parsed arguments.

    Args:
        args: The parsed command line.

    Returns:
        The exit code (0).
    """
    from crossrank.cli.eval import print_report
    from crossrank.evaluation.merge import merge_reports

    document = merge_reports([read_report(path) for path in args.parts])
    print_report(document, None, samples=args.samples, seed=args.seed)
    write_reports(args, document, lambda path: None)  # no --plot: a chart is crossrank eval's
    return 0
