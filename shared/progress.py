"""When the commands show progress bars, and keeping libraries' own bars quiet otherwise."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["progress_wanted", "silence_library_progress"]


def progress_wanted(quiet: bool) -> bool:
    """Whether to draw progress bars: not with ``--quiet``, and only on a terminal.

    Args:
        quiet: The command's ``--quiet`` flag.

    Returns:
        True when stderr is a TTY and ``quiet`` is false.
    """
    return not quiet and sys.stderr.isatty()


def silence_library_progress() -> None:
    """Turn off the weight-loading bars of transformers and the Hugging Face hub."""
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:
        return
    disable: Any = transformers_logging.disable_progress_bar
    disable()
