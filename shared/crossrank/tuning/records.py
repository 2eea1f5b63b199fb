"""What ``crossrank tune`` measures and what its search returns: plain, JSON-ready records.

:class:`Configuration` and :class:`QueryRun` are the search's inputs (the caller builds
configurations and measures them); :class:`ConfigurationResult` and :class:`SearchResult` its
output, summarised with :mod:`crossrank.tuning.estimates`. Every ``to_json`` returns plain
``dict``/``list``/``float``/``str`` values that :func:`json.dumps` writes as they are.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

__all__ = [
    "Configuration",
    "ConfigurationResult",
    "Measure",
    "Pruning",
    "Quality",
    "QueryRun",
    "SearchResult",
    "plain",
]


@dataclass(frozen=True)
class Configuration:
    """One way of reranking that the search measures.

    Attributes:
        name: Unique, human-readable label, e.g. ``"onnx-int8, 30 candidates"``; it
            identifies the configuration in results, pruning records and tie-breaks.
        options: Crossrank reranking options (``backend=...``, ``max_windows=...``,
            ``coarse_model=...``); the search never reads them, it only reports them.
        candidates: How many of the first stage's candidates it reranks.
        exact: Its scores equal the reference model's fp32 scores (no precision change).
    """

    name: str
    options: Mapping[str, Any]
    candidates: int
    exact: bool

    def to_json(self) -> dict[str, Any]:
        """The configuration as a JSON-ready dict (options made plain: paths and tuples too)."""
        return {
            "name": self.name,
            "options": plain(self.options),
            "candidates": self.candidates,
            "exact": self.exact,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Configuration:
        """The configuration :meth:`to_json` wrote (its options as JSON left them)."""
        return cls(data["name"], dict(data["options"]), int(data["candidates"]), bool(data["exact"]))


@dataclass(frozen=True)
class QueryRun:
    """What measuring one configuration on one query returns.

    Attributes:
        seconds: Wall time to rerank this query's candidates.
        ranking: Document ids, best first.
    """

    seconds: float
    ranking: Sequence[str]


Measure = Callable[[Configuration, str], QueryRun]
"""``(configuration, query_id) -> QueryRun``: rerank one query's candidates, timed."""

Quality = Callable[[str, Sequence[str], Sequence[str]], float]
"""``(query_id, ranking, reference_ranking) -> quality`` of one query's ranking, in ``[0, 1]``."""


@dataclass(frozen=True)
class Pruning:
    """Why a configuration stopped being measured.

    Attributes:
        after_queries: Queries it had been measured on when pruned.
        by: Name of the surviving configuration that dominated it.
        ratio: Geometric mean of the per-query latency ratio ``by / pruned`` then (below 1).
        ratio_high: Upper end of that ratio's bootstrap interval (below 1 too).
    """

    after_queries: int
    by: str
    ratio: float
    ratio_high: float

    def to_json(self) -> dict[str, Any]:
        """The pruning record as a JSON-ready dict."""
        return {
            "after_queries": self.after_queries,
            "by": self.by,
            "ratio": float(self.ratio),
            "ratio_high": float(self.ratio_high),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Pruning:
        """The record :meth:`to_json` wrote."""
        return cls(int(data["after_queries"]), data["by"], float(data["ratio"]), float(data["ratio_high"]))


@dataclass(frozen=True)
class ConfigurationResult:
    """One configuration's measurements and their summary.

    Quality is over every query it ranked; latency over the queries it was *timed* on, the
    first ``len(seconds)`` of them (all, unless its ranking was derived after a timed prefix:
    see ``derived_after``). Comparisons with the reference are paired over those same queries
    (the reference runs, timed, on every query).

    Attributes:
        configuration: What was measured.
        query_ids: The queries it ranked, in measurement order.
        seconds: Per-query wall time of the queries it was timed on: ``query_ids``' first ones.
        qualities: Per-query quality, aligned with ``query_ids``.
        mean_ms: Mean per-query latency in milliseconds (what ``max_loss`` selection ranks).
        p50_ms: Median per-query latency (nearest rank).
        p95_ms: 95th-percentile per-query latency (nearest rank; what a budget is checked on).
        p95_interval_ms: 95% bootstrap interval of ``p95_ms``.
        quality: Mean per-query quality.
        quality_interval: 95% bootstrap interval of ``quality``.
        difference: Mean paired quality difference, this minus the reference.
        difference_interval: 95% paired bootstrap interval of ``difference``.
        speedup: Geometric mean of the per-query ratio reference time / this time.
        speedup_interval: 95% paired bootstrap interval of ``speedup``.
        pruned: Why it stopped early, or ``None`` when it saw every query.
        on_frontier: Not pruned and no other unpruned configuration has a p95 at most as
            high and a quality at least as good, one of them strictly.
        is_reference: It is the search's reference.
        derived_after: When its rankings past a timed prefix were derived from the scores of
            configurations that ran (see :func:`crossrank.tuning.search.search`), how many
            queries it was timed on, its own ranking checked against the derived one on each;
            ``None`` when it ran on every query.
    """

    configuration: Configuration
    query_ids: tuple[str, ...]
    seconds: tuple[float, ...]
    qualities: tuple[float, ...]
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p95_interval_ms: tuple[float, float]
    quality: float
    quality_interval: tuple[float, float]
    difference: float
    difference_interval: tuple[float, float]
    speedup: float
    speedup_interval: tuple[float, float]
    pruned: Pruning | None
    on_frontier: bool
    is_reference: bool
    derived_after: int | None = None

    @property
    def name(self) -> str:
        """The configuration's name."""
        return self.configuration.name

    @property
    def queries(self) -> int:
        """How many queries it ranked (its quality is over these)."""
        return len(self.query_ids)

    @property
    def timed_queries(self) -> int:
        """How many queries it was timed on (its latency is over these, the first ones)."""
        return len(self.seconds)

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON-ready dict: the summary and the per-query series, floats plain."""
        return {
            **self.summary_json(),
            "query_ids": list(self.query_ids),
            "seconds": [float(value) for value in self.seconds],
            "qualities": [float(value) for value in self.qualities],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConfigurationResult:
        """The result :meth:`to_json` wrote (a profile read back, to plot or compare)."""
        pruned = data["pruned"]
        return cls(
            configuration=Configuration.from_json(data["configuration"]),
            query_ids=tuple(data["query_ids"]),
            seconds=tuple(float(value) for value in data["seconds"]),
            qualities=tuple(float(value) for value in data["qualities"]),
            on_frontier=bool(data["on_frontier"]),
            is_reference=bool(data["is_reference"]),
            pruned=None if pruned is None else Pruning.from_json(pruned),
            mean_ms=float(data["mean_ms"]),
            p50_ms=float(data["p50_ms"]),
            p95_ms=float(data["p95_ms"]),
            p95_interval_ms=_pair(data["p95_interval_ms"]),
            quality=float(data["quality"]),
            quality_interval=_pair(data["quality_interval"]),
            difference=float(data["difference"]),
            difference_interval=_pair(data["difference_interval"]),
            speedup=float(data["speedup"]),
            speedup_interval=_pair(data["speedup_interval"]),
            derived_after=None if data.get("derived_after") is None else int(data["derived_after"]),
        )

    def summary_json(self) -> dict[str, Any]:
        """The result as a JSON-ready dict without the per-query series."""
        return {
            "configuration": self.configuration.to_json(),
            "queries": self.queries,
            "timed_queries": self.timed_queries,
            "derived_after": self.derived_after,
            "mean_ms": float(self.mean_ms),
            "p50_ms": float(self.p50_ms),
            "p95_ms": float(self.p95_ms),
            "p95_interval_ms": [float(value) for value in self.p95_interval_ms],
            "quality": float(self.quality),
            "quality_interval": [float(value) for value in self.quality_interval],
            "difference": float(self.difference),
            "difference_interval": [float(value) for value in self.difference_interval],
            "speedup": float(self.speedup),
            "speedup_interval": [float(value) for value in self.speedup_interval],
            "pruned": self.pruned.to_json() if self.pruned is not None else None,
            "on_frontier": self.on_frontier,
            "is_reference": self.is_reference,
        }


@dataclass(frozen=True)
class SearchResult:
    """Every configuration's result and how the search ran.

    Attributes:
        results: One per configuration, in the order the configurations were given.
        reference: The reference configuration's name.
        query_ids: The queries measured, in order.
        orders: Per query, the names in the order they ran on it.
        quality_name: What the quality is, for reports (``"NDCG@10"``, ``"top-10 agreement"``).
        seed: Seed of the run order and of the bootstrap intervals.
        min_queries: Queries measured before pruning may start.
        prune_confidence: Confidence of the intervals that pruning requires.
    """

    results: tuple[ConfigurationResult, ...]
    reference: str
    query_ids: tuple[str, ...]
    orders: tuple[tuple[str, ...], ...]
    quality_name: str
    seed: int
    min_queries: int
    prune_confidence: float

    def result(self, name: str) -> ConfigurationResult:
        """The result of the configuration called ``name``.

        Raises:
            KeyError: If no configuration has that name.
        """
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(f"no configuration named {name!r}; there are {[r.name for r in self.results]}.")

    @property
    def reference_result(self) -> ConfigurationResult:
        """The reference's result."""
        return self.result(self.reference)

    @property
    def survivors(self) -> tuple[ConfigurationResult, ...]:
        """The configurations measured on every query (not pruned), in the given order."""
        return tuple(result for result in self.results if result.pruned is None)

    @property
    def frontier(self) -> tuple[ConfigurationResult, ...]:
        """The Pareto frontier (p95 latency vs quality), fastest p95 first."""
        return tuple(sorted((r for r in self.results if r.on_frontier), key=lambda r: (r.p95_ms, r.name)))

    def to_json(self) -> dict[str, Any]:
        """The whole search as a JSON-ready dict."""
        return {
            "reference": self.reference,
            "quality_name": self.quality_name,
            "seed": self.seed,
            "min_queries": self.min_queries,
            "prune_confidence": float(self.prune_confidence),
            "query_ids": list(self.query_ids),
            "orders": [list(order) for order in self.orders],
            "results": [result.to_json() for result in self.results],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SearchResult:
        """The search :meth:`to_json` wrote (a profile read back, to plot or choose again).

        Raises:
            KeyError: If a field is missing.
        """
        return cls(
            results=tuple(ConfigurationResult.from_json(result) for result in data["results"]),
            reference=data["reference"],
            query_ids=tuple(data["query_ids"]),
            orders=tuple(tuple(order) for order in data["orders"]),
            quality_name=data["quality_name"],
            seed=int(data["seed"]),
            min_queries=int(data["min_queries"]),
            prune_confidence=float(data["prune_confidence"]),
        )


def _pair(values: Sequence[float]) -> tuple[float, float]:
    low, high = values
    return float(low), float(high)


def plain(value: Any) -> Any:
    """``value`` with mappings, sequences, paths and numpy scalars made JSON-ready.

    Args:
        value: An option value or a mapping of them.

    Returns:
        ``dict``/``list``/``str``/``int``/``float``/``bool``/``None`` values; anything else
        (a model object, say) as its ``str``, so a profile can always be written.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [plain(item) for item in items]
    if isinstance(value, PurePath):
        return str(value)
    # numpy scalars without importing numpy: they all have .item().
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        return plain(item())
    return str(value)
