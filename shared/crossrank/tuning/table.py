"""A search's results as a compact text table, for ``crossrank tune``'s output."""

from __future__ import annotations

from crossrank.tuning.records import ConfigurationResult, SearchResult
from crossrank.tuning.selection import Choice

__all__ = ["format_table"]

_HEADER = ("", "configuration", "queries", "p50 ms", "p95 ms", "speed-up", "{quality}", "vs reference", "")


def format_table(result: SearchResult, choice: Choice | None = None) -> str:
    """One row per configuration: name, queries, p50/p95, speed-up, quality, difference, status.

    ``queries`` reads ``50 (10 timed)`` for a configuration whose rankings were derived after
    10 timed queries: its latency is over those 10, its quality over all 50.

    Rows come in the order the configurations were given. The first column marks the choice
    (``*``); the last says ``reference``, ``frontier`` (on the Pareto frontier of p95 latency
    and quality) or ``pruned after N by NAME``.

    Args:
        result: A search's result.
        choice: The choice to mark, if any.

    Returns:
        The table, its lines joined by newlines, without a trailing newline.
    """
    header = tuple(cell.format(quality=result.quality_name) for cell in _HEADER)
    rows = [header] + [_row(r, choice) for r in result.results]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    # Names, quality and status read left to right; numbers align on the right.
    left = {1, 8}
    lines = [
        "  ".join(
            cell.ljust(width) if column in left else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    return "\n".join(lines)


def _row(result: ConfigurationResult, choice: Choice | None) -> tuple[str, ...]:
    low, high = result.quality_interval
    difference_low, difference_high = result.difference_interval
    if result.is_reference:
        difference = "-"
        speedup = "1.00x"
    else:
        difference = f"{result.difference:+.3f} [{difference_low:+.3f}, {difference_high:+.3f}]"
        speedup = f"{result.speedup:.2f}x"
    status = []
    if result.is_reference:
        status.append("reference")
    if result.on_frontier:
        status.append("frontier")
    if result.pruned is not None:
        status.append(f"pruned after {result.pruned.after_queries} by {result.pruned.by}")
    chosen = choice is not None and choice.chosen.name == result.name
    return (
        "*" if chosen else "",
        result.name,
        str(result.queries)
        if result.timed_queries == result.queries
        else f"{result.queries} ({result.timed_queries} timed)",
        f"{result.p50_ms:.1f}",
        f"{result.p95_ms:.1f}",
        speedup,
        f"{result.quality:.3f} [{low:.3f}, {high:.3f}]",
        difference,
        ", ".join(status),
    )
