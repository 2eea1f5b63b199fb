"""Argument types shared by the ``crossrank`` sub-commands."""

from __future__ import annotations

import argparse

__all__ = ["positive_int"]


def positive_int(text: str) -> int:
    """Parse a command-line integer that must be at least 1 (an argparse ``type``).

    Raises:
        argparse.ArgumentTypeError: Naming the text, when it is not a whole number >= 1.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value
