"""When the commands show progress bars, and keeping libraries' own bars quiet otherwise."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["progress_wanted", "set_up_progress", "silence_library_progress"]


def progress_wanted(quiet: bool) -> bool:
    """Whether to draw progress bars: not with ``--quiet``, and only on a terminal.

    Args:
        quiet: The command's ``--quiet`` flag.

    Returns:
        True when stderr is a TTY and ``quiet`` is false.
    """
    return not quiet and sys.stderr.isatty()


def set_up_progress(quiet: bool) -> bool:
    """Decide on progress bars for a command, and silence the libraries' own bars when there are none.

    Args:
        quiet: The command's ``--quiet`` flag.

    Returns:
        Whether to draw progress bars, as :func:`progress_wanted` says.
    """
    show = progress_wanted(quiet)
    if not show:
        silence_library_progress()
    return show


def silence_library_progress() -> None:
    """Turn off the weight-loading bars of transformers and the Hugging Face hub."""
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:
        return
    disable: Any = transformers_logging.disable_progress_bar
    disable()
