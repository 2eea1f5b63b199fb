"""The order configurations run in, query by query: a seeded shuffle, rotated and reversed.

Rotating the order from query to query (and reversing it every other cycle) lets slow drift
of the machine and the carry-over from one run to the next hit every configuration alike.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

__all__ = ["base_order", "query_order"]


def base_order(names: Sequence[str], seed: int) -> list[str]:
    """The seeded order the rotation starts from: independent of the order names are given in.

    Args:
        names: The configurations' names.
        seed: Seed of the shuffle.

    Returns:
        The names, shuffled.
    """
    order = sorted(names)
    random.Random(seed).shuffle(order)
    return order


def query_order(order: Sequence[str], index: int, *, first: str | None = None) -> list[str]:
    """The order configurations run in on the ``index``-th query (0-based).

    The base order rotated left by ``index``, and reversed on every other full cycle, so over
    ``2 * len(order)`` queries each configuration runs in every position twice, and after each
    other one about as often as before it.

    Args:
        order: The surviving configurations' names, in base order.
        index: The query's position in the search.
        first: A name to always run first (``reference_first``), or ``None``.

    Returns:
        The names in run order.
    """
    names = [name for name in order if name != first]
    if names:
        shift = index % len(names)
        names = names[shift:] + names[:shift]
        if (index // len(names)) % 2 == 1:
            names.reverse()
    return ([first] if first is not None and first in order else []) + names
