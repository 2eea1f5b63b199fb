"""The ``crossrank`` command: demo, eval, bench, tune, compare, serve, train, distill and more."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from crossrank import __version__
from crossrank.errors import ModelLoadError

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per job."""
    from crossrank.cli.bench import add_bench_command
    from crossrank.cli.compare import add_compare_command
    from crossrank.cli.demo import add_demo_command
    from crossrank.cli.eval import add_eval_command
    from crossrank.cli.merge import add_merge_command
    from crossrank.cli.rerank_batch import add_rerank_batch_command
    from crossrank.cli.retrieve import add_retrieve_command
    from crossrank.cli.serve import add_serve_command
    from crossrank.cli.train import add_distill_command, add_train_command
    from crossrank.cli.tune import add_tune_command

    parser = argparse.ArgumentParser(
        prog="crossrank",
        description="Cross-encoder reranking with chunk-max long documents and RRF.",
    )
    parser.add_argument("--version", action="version", version=f"crossrank {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_demo_command(commands)
    add_eval_command(commands)
    add_bench_command(commands)
    add_tune_command(commands)
    add_compare_command(commands)
    add_merge_command(commands)
    add_serve_command(commands)
    add_train_command(commands)
    add_distill_command(commands)
    add_rerank_batch_command(commands)
    add_retrieve_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code.

    Failures the user can fix (a missing model, an unreachable server, a bad option)
    print one line to stderr and return 1; argparse's own usage errors return 2.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    # The exact command, for the model cards of train and distill.
    args.argv = list(argv) if argv is not None else sys.argv[1:]
    if args.command != "serve":  # serve configures logging with its own format
        # Warnings print as plain lines, as Python's last-resort handler prints them, also after
        # a library's module-level logging call gave the root logger its "LEVEL:name:" format.
        logging.basicConfig(format="%(message)s", level=logging.WARNING)
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        print("crossrank: interrupted", file=sys.stderr)
        return 130
    except (ImportError, RuntimeError, ValueError, TypeError, OSError) as exc:
        # On the command line the model is chosen with --model, not model=.
        text = exc.message("--model DIR") if isinstance(exc, ModelLoadError) else str(exc)
        one_line = " ".join(text.split())
        print(f"crossrank {args.command}: error: {one_line}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
