"""The interface between the reranking logic and a model that scores token pairs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from typing import TypeAlias

    import numpy as np
    from numpy.typing import NDArray

    TokenIds: TypeAlias = "Sequence[int] | NDArray[np.int32]"

__all__ = ["DelegatingScorer", "PairScorer", "TokenizedText", "query_ids"]


@dataclass(frozen=True, slots=True)
class TokenizedText:
    """A text tokenized once, without special tokens.

    The model scorers keep both as compact numpy arrays (``int32``, offsets of shape
    ``(n, 2)``), about 12 bytes a token instead of about 150 for Python lists, so
    memory stays small however many candidates come in; plain sequences work too.

    Attributes:
        ids: Token ids.
        offsets: ``(start, end)`` character span of each token in the text.
    """

    ids: Sequence[int] | NDArray[np.int32]
    offsets: Sequence[tuple[int, int]] | NDArray[np.int32]


@runtime_checkable
class PairScorer(Protocol):
    """Scores (query, passage) pairs given as token ids.

    :class:`crossrank.Reranker` does the windowing, batching, fusion and ranking and
    needs only this from a model. The sentence-transformers implementation is
    :class:`crossrank.models.torch_scorer.CrossEncoderScorer`; tests use a
    deterministic fake.
    """

    @property
    def name(self) -> str:
        """A name identifying the model (its id or path)."""
        ...

    @property
    def max_length(self) -> int:
        """Maximum tokens of one pair, special tokens included."""
        ...

    @property
    def num_special_tokens(self) -> int:
        """Special tokens the model adds around a pair (3 for BERT: CLS, SEP, SEP)."""
        ...

    @property
    def outputs_probabilities(self) -> bool:
        """True when scores are already in 0..1 (the model applies a sigmoid)."""
        ...

    def tokenize(self, texts: Sequence[str]) -> list[TokenizedText]:
        """Tokenize texts without special tokens, keeping character offsets."""
        ...

    def score(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[float]:
        """Score one batch of ``(query_ids, passage_ids)`` pairs; higher is more relevant.

        The passage ids are slices of :attr:`TokenizedText.ids` as :meth:`tokenize` made
        them (views of a numpy array for the model scorers): read them, do not keep them.
        """
        ...


def query_ids(scorer: PairScorer, query: str, max_tokens: int) -> list[int]:
    """The query's part of every pair the scorer is given.

    A scorer that lays pairs out itself (a chat template around the query, a prompt before
    it) has a ``query_ids(query, max_tokens)`` method, and its answer is the template's
    head with the query's first ``max_tokens`` tokens in it; any other scorer's query part
    is its first ``max_tokens`` tokens.

    Args:
        scorer: The model.
        query: The query.
        max_tokens: The most tokens of the query's own text to keep.

    Returns:
        Token ids, as plain ints.
    """
    own = getattr(scorer, "query_ids", None)
    if callable(own):
        return [int(token) for token in own(query, max_tokens)]
    return [int(token) for token in scorer.tokenize([query])[0].ids[:max_tokens]]


class DelegatingScorer:
    """A :class:`PairScorer` that hands everything to another one.

    For wrappers that change one thing (count the pairs, batch them across requests...):
    subclass it and override that method.

    Args:
        scorer: The scorer to delegate to.
    """

    def __init__(self, scorer: PairScorer) -> None:
        self._inner = scorer

    @property
    def inner(self) -> PairScorer:
        """The scorer delegated to."""
        return self._inner

    @property
    def name(self) -> str:
        """The inner scorer's name."""
        return self._inner.name

    @property
    def max_length(self) -> int:
        """The inner scorer's window."""
        return self._inner.max_length

    @property
    def num_special_tokens(self) -> int:
        """The inner scorer's special tokens per pair."""
        return self._inner.num_special_tokens

    @property
    def outputs_probabilities(self) -> bool:
        """Whether the inner scorer's scores are in 0..1."""
        return self._inner.outputs_probabilities

    def tokenize(self, texts: Sequence[str]) -> list[TokenizedText]:
        """The inner scorer's tokenization."""
        return self._inner.tokenize(texts)

    def query_ids(self, query: str, max_tokens: int) -> list[int]:
        """The inner scorer's query part of a pair (see :func:`query_ids`)."""
        return query_ids(self._inner, query, max_tokens)

    def score(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[float]:
        """The inner scorer's scores."""
        return self._inner.score(pairs)
