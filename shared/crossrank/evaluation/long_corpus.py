"""The long-document protocol: each document buried deep inside other documents' text.

For every document, other documents of the corpus, drawn by a seeded random
generator, are put in front of it until the combined text exceeds a token budget
(1,500 tokens by default); the document's own text comes last. A reranker that
reads only the first window of a document (truncation) then sees nothing but
filler, while one that scores every window (chunk-max) can still find it.

Token counts are taken once per document and summed; for a WordPiece or BPE
tokenizer that splits on whitespace first, the parts joined by a blank line
tokenize to the sum of their counts.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_MIN_TOKENS",
    "DEFAULT_SEED",
    "LONG_PROTOCOLS",
    "SEPARATOR",
    "LongCorpus",
    "OnTopicLongCorpus",
    "build_long_corpus",
    "build_on_topic_corpus",
]

# "random": fillers drawn from the whole corpus; "on-topic": from the same query's other
# first-stage candidates, so a method cannot win by noticing off-topic text.
LONG_PROTOCOLS = ("random", "on-topic")

DEFAULT_MIN_TOKENS = 1500
DEFAULT_SEED = 13
SEPARATOR = "\n\n"

TokenCounter = Callable[[Sequence[str]], Sequence[int]]


@dataclass(frozen=True)
class LongCorpus:
    """The long version of every document, rendered on demand.

    Attributes:
        fillers: Document id to the ids of the documents placed before it, in order.
        texts: Document id to its original text.
        num_tokens: Document id to the token count of its long version (sum of the parts).
        min_tokens: The budget every long version exceeds.
        seed: The seed the fillers were drawn with.
    """

    fillers: Mapping[str, tuple[str, ...]]
    texts: Mapping[str, str] = field(repr=False)
    num_tokens: Mapping[str, int] = field(repr=False)
    min_tokens: int
    seed: int

    def text(self, doc_id: str) -> str:
        """The long version of one document: its fillers, then its own text last.

        Args:
            doc_id: A document id of the corpus.

        Returns:
            The parts joined by blank lines.

        Raises:
            KeyError: If ``doc_id`` is not in the corpus.
        """
        parts = [self.texts[filler] for filler in self.fillers[doc_id]]
        parts.append(self.texts[doc_id])
        return SEPARATOR.join(parts)

    def own_text_start(self, doc_id: str) -> int:
        """Character offset at which the document's own text starts in :meth:`text`."""
        fillers = self.fillers[doc_id]
        return sum(len(self.texts[filler]) + len(SEPARATOR) for filler in fillers)


def _token_counts(texts: Mapping[str, str], count_tokens: TokenCounter, min_tokens: int) -> dict[str, int]:
    """Check ``min_tokens`` and count every text's tokens in one call of ``count_tokens``."""
    if isinstance(min_tokens, bool) or not isinstance(min_tokens, int) or min_tokens < 0:
        raise ValueError(f"min_tokens must be an integer >= 0, got {min_tokens!r}.")
    ids = list(texts)
    counts = list(count_tokens([texts[doc_id] for doc_id in ids]))
    if len(counts) != len(ids):
        raise ValueError(
            f"count_tokens returned {len(counts)} counts for {len(ids)} texts; it must return one per text."
        )
    return dict(zip(ids, (int(count) for count in counts), strict=True))


def build_long_corpus(
    texts: Mapping[str, str],
    count_tokens: TokenCounter,
    *,
    min_tokens: int = DEFAULT_MIN_TOKENS,
    seed: int = DEFAULT_SEED,
    exclude_fillers: Collection[str] = (),
) -> LongCorpus:
    """Plan the long version of every document of a corpus, reproducibly.

    Documents are visited in the order of ``texts``; for each, fillers are drawn
    uniformly from the pool (every document except those in ``exclude_fillers``)
    with ``random.Random(seed)``, never the document itself and never the same
    filler twice, until the fillers' tokens plus the document's own exceed
    ``min_tokens``. The same corpus, counter, seed and exclusions always give the
    same result.

    Args:
        texts: Document id to text, in a fixed order (BEIR file order).
        count_tokens: Returns the token count of each text it is given; called once,
            with every text.
        min_tokens: Each long version has more tokens than this.
        seed: Seed of the random generator.
        exclude_fillers: Ids never used as fillers. The eval excludes every document
            judged relevant to a query, so no filler carries a relevant text into a
            document judged not relevant.

    Returns:
        The plan, which renders each long text on demand.

    Raises:
        ValueError: If ``min_tokens`` is negative, the counter returns the wrong number
            of counts, or the pool is too small to reach ``min_tokens``.

    Example:
        >>> corpus = {"a": "one two", "b": "three four five", "c": "six"}
        >>> long = build_long_corpus(corpus, lambda ts: [len(t.split()) for t in ts], min_tokens=4)
        >>> long.text("a").endswith("one two")
        True
    """
    tokens = _token_counts(texts, count_tokens, min_tokens)
    ids = list(texts)
    excluded = set(exclude_fillers)
    pool = [doc_id for doc_id in ids if doc_id not in excluded]
    pool_tokens = sum(tokens[doc_id] for doc_id in pool)

    rng = random.Random(seed)
    fillers: dict[str, tuple[str, ...]] = {}
    totals: dict[str, int] = {}
    for doc_id in ids:
        total = tokens[doc_id]
        if total <= min_tokens:
            available = pool_tokens - (tokens[doc_id] if doc_id not in excluded else 0)
            if total + available <= min_tokens:
                raise ValueError(
                    f"Cannot bury document {doc_id!r} under {min_tokens} tokens: the filler pool holds "
                    f"only {available} tokens. Use a larger corpus, fewer exclude_fillers or a smaller "
                    "min_tokens."
                )
        chosen: list[str] = []
        used = {doc_id}
        while total <= min_tokens:
            filler = pool[rng.randrange(len(pool))]
            if filler in used:
                continue
            used.add(filler)
            chosen.append(filler)
            total += tokens[filler]
        fillers[doc_id] = tuple(chosen)
        totals[doc_id] = total
    return LongCorpus(fillers=fillers, texts=texts, num_tokens=totals, min_tokens=min_tokens, seed=seed)


@dataclass(frozen=True)
class OnTopicLongCorpus:
    """The harder protocol: each candidate buried under the same query's other candidates.

    For a query and one of its first-stage candidates, fillers are drawn from the query's
    other candidates (never the document itself, never a document in ``excluded``) in an
    order shuffled by ``random.Random(f"{seed}:{query_id}:{doc_id}")``, until the fillers'
    tokens plus the document's own exceed ``min_tokens``; the document's own text comes last,
    as in :class:`LongCorpus`. The same inputs always give the same text.

    Attributes:
        texts: Document id to its original text.
        num_tokens: Document id to the token count of its original text.
        excluded: Ids never used as fillers (the eval: every document judged relevant).
        min_tokens: The budget every long version exceeds.
        seed: The seed.
    """

    texts: Mapping[str, str] = field(repr=False)
    num_tokens: Mapping[str, int] = field(repr=False)
    excluded: frozenset[str] = field(repr=False)
    min_tokens: int
    seed: int

    def fillers(self, query_id: str, doc_id: str, candidate_ids: Sequence[str]) -> tuple[str, ...]:
        """The ids placed before ``doc_id`` for this query, in order.

        Raises:
            ValueError: If the query's other candidates hold too few tokens; retrieve more.
        """
        pool = [
            other for other in dict.fromkeys(candidate_ids) if other != doc_id and other not in self.excluded
        ]
        random.Random(f"{self.seed}:{query_id}:{doc_id}").shuffle(pool)
        total = self.num_tokens[doc_id]
        chosen: list[str] = []
        for filler in pool:
            if total > self.min_tokens:
                break
            chosen.append(filler)
            total += self.num_tokens[filler]
        if total <= self.min_tokens:
            raise ValueError(
                f"query {query_id!r}: its other candidates hold only {total} tokens with document "
                f"{doc_id!r}, not more than {self.min_tokens}; retrieve more candidates (a larger k)."
            )
        return tuple(chosen)

    def text(self, query_id: str, doc_id: str, candidate_ids: Sequence[str]) -> str:
        """The long version of ``doc_id`` for this query: its fillers, then its own text."""
        parts = [self.texts[filler] for filler in self.fillers(query_id, doc_id, candidate_ids)]
        parts.append(self.texts[doc_id])
        return SEPARATOR.join(parts)

    def own_text_start(self, query_id: str, doc_id: str, candidate_ids: Sequence[str]) -> int:
        """Character offset at which the document's own text starts in :meth:`text`."""
        fillers = self.fillers(query_id, doc_id, candidate_ids)
        return sum(len(self.texts[filler]) + len(SEPARATOR) for filler in fillers)


def build_on_topic_corpus(
    texts: Mapping[str, str],
    count_tokens: TokenCounter,
    *,
    min_tokens: int = DEFAULT_MIN_TOKENS,
    seed: int = DEFAULT_SEED,
    exclude_fillers: Collection[str] = (),
) -> OnTopicLongCorpus:
    """Count every document's tokens once and return the on-topic protocol.

    Args:
        texts: Document id to text.
        count_tokens: Returns the token count of each text it is given.
        min_tokens: Each long version has more tokens than this.
        seed: Seed of the per-(query, document) shuffles.
        exclude_fillers: Ids never used as fillers.

    Raises:
        ValueError: If ``min_tokens`` is negative or the counter returns the wrong number of counts.
    """
    return OnTopicLongCorpus(
        texts=texts,
        num_tokens=_token_counts(texts, count_tokens, min_tokens),
        excluded=frozenset(exclude_fillers),
        min_tokens=min_tokens,
        seed=seed,
    )
