"""A bounded, thread-safe LRU cache of window scores.

A window's score depends only on the model and on the exact tokens the model sees:
the query's ids and the window's ids. Keying on those ids (with the model's
identity) therefore covers the query text, the document text and every window
setting at once: changing any of them changes the ids, and so the key. The ids are
stored as 128-bit BLAKE2b digests, so an entry costs about a hundred bytes whatever
the window's length.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

__all__ = ["CacheInfo", "ScoreCache", "ScoreKey"]

ScoreKey = tuple[Hashable, bytes, bytes]


@dataclass(frozen=True, slots=True)
class CacheInfo:
    """Counters of a :class:`ScoreCache`.

    Attributes:
        hits: Window scores served from the cache.
        misses: Window scores that had to be computed.
        maxsize: Most entries kept (0: caching is off).
        size: Entries held now.
    """

    hits: int
    misses: int
    maxsize: int
    size: int


def _digest(ids: Sequence[int]) -> bytes:
    import numpy as np

    # The same int64 bytes as array("q", ids), without a Python loop over a numpy window's tokens.
    return hashlib.blake2b(np.asarray(ids, dtype=np.int64).tobytes(), digest_size=16).digest()


class ScoreCache:
    """Least-recently-used window scores, at most ``maxsize`` of them.

    Args:
        maxsize: Most entries kept; the least recently used ones are dropped first.

    Raises:
        ValueError: If ``maxsize`` is not a positive integer.

    Example:
        >>> cache = ScoreCache(2)
        >>> keys = cache.keys("model", [1, 2], [[3], [4]])
        >>> cache.get_many(keys)
        [None, None]
        >>> cache.put_many(keys, [0.5, 0.25])
        >>> cache.get_many(keys)
        [0.5, 0.25]
    """

    def __init__(self, maxsize: int) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError(f"maxsize must be a positive integer, got {maxsize!r}.")
        self._maxsize = maxsize
        self._scores: OrderedDict[Hashable, float] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    @staticmethod
    def keys(model: Hashable, query_ids: Sequence[int], passages: Iterable[Sequence[int]]) -> list[ScoreKey]:
        """The key of each (query, passage window) pair for ``model``.

        Args:
            model: Identifies the model and how it runs (backend, precision).
            query_ids: The query's token ids, as the model sees them.
            passages: Each window's token ids.

        Returns:
            One key per passage.
        """
        query = _digest(query_ids)
        return [(model, query, _digest(passage)) for passage in passages]

    def get_many(self, keys: Sequence[Hashable]) -> list[float | None]:
        """The cached score of each key, ``None`` where there is none; counts hits and misses."""
        with self._lock:
            found: list[float | None] = []
            for key in keys:
                score = self._scores.get(key)
                if score is not None:
                    self._scores.move_to_end(key)
                found.append(score)
            hits = sum(score is not None for score in found)
            self._hits += hits
            self._misses += len(found) - hits
            return found

    def put_many(self, keys: Sequence[Hashable], scores: Sequence[float]) -> None:
        """Remember scores, dropping the least recently used entries beyond ``maxsize``."""
        with self._lock:
            for key, score in zip(keys, scores, strict=True):
                self._scores[key] = float(score)
                self._scores.move_to_end(key)
            while len(self._scores) > self._maxsize:
                self._scores.popitem(last=False)

    def info(self) -> CacheInfo:
        """Hits, misses, the bound and the current size."""
        with self._lock:
            return CacheInfo(self._hits, self._misses, self._maxsize, len(self._scores))

    def clear(self) -> None:
        """Drop every entry and reset the counters."""
        with self._lock:
            self._scores.clear()
            self._hits = 0
            self._misses = 0
