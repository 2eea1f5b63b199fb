"""When the commands show progress bars, and keeping libraries' own bars quiet otherwise."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_verbose_flag", "progress_wanted", "set_up_progress", "silence_library_progress"]


def add_verbose_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--verbose``: also show the libraries' own progress bars and messages."""
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="also show the libraries' own bars (transformers' weight loading)",
    )


def progress_wanted(quiet: bool) -> bool:
    """Whether to draw progress bars: not with ``--quiet``, and only on a terminal.

    Args:
        quiet: The command's ``--quiet`` flag.

    Returns:
        True when stderr is a TTY and ``quiet`` is false.
    """
    return not quiet and sys.stderr.isatty()


def set_up_progress(quiet: bool, verbose: bool = False) -> bool:
    """Decide on progress bars for a command; the libraries' own bars show only with ``--verbose``.

    transformers draws a "Loading weights" bar for every model it loads; it says nothing
    a user of the command needs, so it is hidden unless asked for.

    Args:
        quiet: The command's ``--quiet`` flag.
        verbose: The command's ``--verbose`` flag.

    Returns:
        Whether to draw crossrank's own progress bars, as :func:`progress_wanted` says.
    """
    if not verbose:
        silence_library_progress()
    return progress_wanted(quiet)


def silence_library_progress() -> None:
    """Turn off the weight-loading bars of transformers and the Hugging Face hub."""
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:
        return
    disable: Any = transformers_logging.disable_progress_bar
    disable()
