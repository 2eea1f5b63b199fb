"""A deterministic stand-in for a cross-encoder, for tests of pure logic.

Tokens are whitespace-separated words; a window's score is how many of its words
appear in the query. Every batch it is asked to score is recorded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from crossrank import TokenizedText


class FakeScorer:
    """Word-overlap scorer with a small, configurable window."""

    def __init__(self, max_length: int = 16, num_special_tokens: int = 3) -> None:
        self._max_length = max_length
        self._num_special_tokens = num_special_tokens
        self._vocabulary: dict[str, int] = {}
        self._words: dict[int, str] = {}
        self.batches: list[list[tuple[list[int], list[int]]]] = []

    @property
    def name(self) -> str:
        return "fake-word-overlap"

    @property
    def max_length(self) -> int:
        return self._max_length

    @property
    def num_special_tokens(self) -> int:
        return self._num_special_tokens

    @property
    def outputs_probabilities(self) -> bool:
        return False

    def _id(self, word: str) -> int:
        if word not in self._vocabulary:
            self._vocabulary[word] = len(self._vocabulary) + 1
            self._words[self._vocabulary[word]] = word
        return self._vocabulary[word]

    def tokenize(self, texts: Sequence[str]) -> list[TokenizedText]:
        tokenized = []
        for text in texts:
            matches = list(re.finditer(r"\S+", text.lower()))
            tokenized.append(
                TokenizedText(
                    ids=[self._id(m.group()) for m in matches],
                    offsets=[(m.start(), m.end()) for m in matches],
                )
            )
        return tokenized

    def score(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[float]:
        self.batches.append([(list(q), list(p)) for q, p in pairs])
        return [float(sum(1 for token in passage if token in set(query))) for query, passage in pairs]

    @property
    def pairs_scored(self) -> int:
        return sum(len(batch) for batch in self.batches)
