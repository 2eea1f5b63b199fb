"""``crossrank tune``'s search and selection: measure configurations interleaved, pick one.

Tooling, like :mod:`crossrank.evaluation` and :mod:`crossrank.benchmark`: it may import the
library and the evaluation room, the library never imports it, and it never imports the cli.

The pure logic lives here, free of models and frameworks: :func:`search` runs a caller's
``measure`` over configurations and queries, interleaved, pruning the clearly dominated;
:func:`choose` picks the fastest within a quality loss or the best within a latency budget;
:func:`format_table` prints the results.
"""

from crossrank.tuning.records import (
    Configuration,
    ConfigurationResult,
    Measure,
    Pruning,
    Quality,
    QueryRun,
    SearchResult,
)
from crossrank.tuning.search import search, top10_agreement
from crossrank.tuning.selection import Choice, choose
from crossrank.tuning.table import format_table

__all__ = [
    "Choice",
    "Configuration",
    "ConfigurationResult",
    "Measure",
    "Pruning",
    "Quality",
    "QueryRun",
    "SearchResult",
    "choose",
    "format_table",
    "search",
    "top10_agreement",
]
