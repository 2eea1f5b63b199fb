"""What the sub-commands write besides their table: status lines on stderr, JSON and charts."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["json_text", "status", "write_reports"]


def status(args: argparse.Namespace, message: str) -> None:
    """Print ``crossrank COMMAND: message`` on stderr, unless ``--quiet``."""
    if not args.quiet:
        print(f"crossrank {args.command}: {message}", file=sys.stderr)


def json_text(document: Any) -> str:
    """``document`` as the commands write JSON: indented by two spaces, ending in a newline."""
    return json.dumps(document, indent=2) + "\n"


def write_reports(args: argparse.Namespace, document: Any, plot: Callable[[str], None]) -> None:
    """Write the report to ``--json`` and draw it to ``--plot``, where asked, saying so on stderr.

    Args:
        args: The parsed command line, with ``json``, ``plot`` and ``quiet``.
        document: The JSON-ready report.
        plot: Draws the report's chart to the path it is given.
    """
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json_text(document), encoding="utf-8")
        status(args, f"wrote {args.json}")
    if args.plot:
        plot(args.plot)
        status(args, f"wrote {args.plot}")
