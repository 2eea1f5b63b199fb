"""A model-free coarse stage: how many of the query's words a window holds.

``coarse_model="lexical"`` makes a cascade's coarse stage this scorer. It reads the
model's own tokens (the fine stage's tokenizer, so both stages cut the same windows) and
scores a (query, window) pair by the query's content tokens found in the window, each
counted ``log(1 + occurrences)``. It costs next to nothing against a transformer pass,
so a window-level cascade (``fine_windows_per_document``) lets the model read one or two
windows of a long document instead of all of them: passage selection by lexical
pre-ranking, as in key-block selection for long-document BERT rankers (Li et al., KeyB,
TOIS 2023). Measured quality and speed are in docs/benchmarks.md; it stays an option.
"""

from __future__ import annotations

from collections.abc import Sequence

from crossrank.scorer import DelegatingScorer, PairScorer

__all__ = ["LEXICAL_COARSE_MODEL", "LexicalScorer"]

LEXICAL_COARSE_MODEL = "lexical"
"""The ``coarse_model`` value that selects :class:`LexicalScorer` (a folder of that name:
pass ``"./lexical"``)."""

# English function words and punctuation: tokens that say nothing about what a window is
# about. Tokenized with the model's own tokenizer, so any vocabulary works.
_IGNORED_TEXT = (
    "a an the of in on at to for from by with without about into onto over under between among "
    "and or but nor not no yes is are was were be been being am do does did has have had having "
    "this that these those it its they them their there here which who whom whose what when where "
    "why how than then so such as if while because can could may might must shall should will "
    "would also more most less least very all any each both few other some same only own "
    "i we you he she our your his her my me us "
    ". , ; : ! ? ' \" ( ) [ ] { } - / % + = < > * & # @ ~ ` ^ | \\ _"
)


class LexicalScorer(DelegatingScorer):
    """Scores a (query, window) pair by the query's content tokens in the window.

    Tokenization, window size and special-token count are the wrapped scorer's, so a
    cascade's two stages cut identical windows; only :meth:`score` differs. A pair's
    score depends on that pair alone (never on its batch neighbours).

    Args:
        tokenizer: The model's scorer (its tokenizer is used; it scores nothing here).
    """

    def __init__(self, tokenizer: PairScorer) -> None:
        import numpy as np  # lazy, like every numeric import: `import crossrank` stays light

        super().__init__(tokenizer)
        ignored = tokenizer.tokenize([_IGNORED_TEXT])[0].ids
        self._ignored = np.unique(np.asarray(ignored, dtype=np.int64))

    @property
    def name(self) -> str:
        """``lexical(<the model's name>)``."""
        return f"{LEXICAL_COARSE_MODEL}({self.inner.name})"

    @property
    def outputs_probabilities(self) -> bool:
        """Counts, not probabilities."""
        return False

    def score(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[float]:
        """Sum over the query's distinct content tokens of ``log(1 + count in the window)``.

        Args:
            pairs: ``(query_ids, window_ids)`` pairs.

        Returns:
            One non-negative score per pair; 0 where the window holds none of the query's
            content tokens.
        """
        import numpy as np

        scores: list[float] = []
        for query_ids, window_ids in pairs:
            terms = np.setdiff1d(np.asarray(query_ids, dtype=np.int64), self._ignored)
            window = np.asarray(window_ids, dtype=np.int64)
            found = window[np.isin(window, terms)]
            if found.size == 0:
                scores.append(0.0)
                continue
            _, counts = np.unique(found, return_counts=True)
            scores.append(float(np.log1p(counts).sum()))
        return scores
