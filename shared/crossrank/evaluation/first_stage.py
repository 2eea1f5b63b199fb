"""First-stage retrieval for the eval and the bench: BM25 (bm25s) or dense (Chroma).

Both return the top ``k`` documents of a corpus for a query with a score (higher is
better) and break ties by corpus order, so a run is deterministic.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from crossrank.models.cache_dir import default_cache_dir

if TYPE_CHECKING:
    from crossrank.evaluation.beir import BeirDataset

__all__ = [
    "RUN_PREFIX",
    "Bm25Search",
    "Candidate",
    "DenseSearch",
    "FirstStage",
    "FirstStageKind",
    "build_first_stage",
]

FirstStageKind = str
"""``"dense"``, ``"bm25"`` or ``"run:PATH"`` (a recorded TREC run)."""

RUN_PREFIX = "run:"
"""A first stage named ``run:PATH`` replays the TREC run at ``PATH``."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """One retrieved document.

    Attributes:
        doc_id: The document id.
        score: The retriever's score; higher is better (BM25 score, or cosine similarity).
    """

    doc_id: str
    score: float


class FirstStage(Protocol):
    """A retriever over a fixed corpus."""

    @property
    def name(self) -> str:
        """``"bm25"`` or ``"dense"``."""
        ...

    def search(self, query: str, k: int) -> list[Candidate]:
        """The best ``k`` documents for ``query``, best first."""
        ...


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")


class Bm25Search:
    """BM25 (Lucene variant, k1=1.5, b=0.75) with bm25s; English stopwords, no stemming.

    Args:
        ids: Document ids.
        texts: Document texts, one per id.
        show_progress: Show bm25s's progress bars while indexing.

    Raises:
        ImportError: If bm25s is not installed; names the extra to install.
        ValueError: If ``ids`` and ``texts`` differ in length.

    Example:
        >>> search = Bm25Search(["a", "b"], ["red apples", "blue sky"])  # doctest: +SKIP
        >>> search.search("apples", k=1)[0].doc_id  # doctest: +SKIP
        'a'
    """

    def __init__(self, ids: Sequence[str], texts: Sequence[str], *, show_progress: bool = False) -> None:
        if len(ids) != len(texts):
            raise ValueError(f"ids and texts must have the same length, got {len(ids)} and {len(texts)}.")
        try:
            import bm25s
            from bm25s.tokenization import Tokenizer
        except ImportError as exc:
            raise ImportError('BM25 needs bm25s: run `pip install "crossrank[eval]"`.') from exc
        self._ids = list(ids)
        self._tokenizer: Any = Tokenizer(stopwords="en")
        corpus_tokens = self._tokenizer.tokenize(
            list(texts), update_vocab=True, return_as="tuple", show_progress=show_progress
        )
        self._index: Any = bm25s.BM25()
        self._index.index(corpus_tokens, show_progress=show_progress)

    @property
    def name(self) -> str:
        """``"bm25"``."""
        return "bm25"

    def search(self, query: str, k: int) -> list[Candidate]:
        """The best ``k`` documents by BM25; ties keep corpus order.

        Args:
            query: The query text.
            k: How many documents (capped at the corpus size).

        Returns:
            Candidates, best first. A query made only of stopwords or unknown words
            scores 0 everywhere and returns the first ``k`` documents.
        """
        import numpy as np

        _check_k(k)
        if not self._ids:
            return []
        token_ids = self._tokenizer.tokenize(
            [query], update_vocab=False, return_as="ids", show_progress=False
        )[0]
        if token_ids:
            scores = np.asarray(self._index.get_scores([int(t) for t in token_ids]), dtype=np.float64)
        else:
            scores = np.zeros(len(self._ids))
        order = np.argsort(-scores, kind="stable")[:k]
        return [Candidate(doc_id=self._ids[i], score=float(scores[i])) for i in order]


class DenseSearch:
    """Cosine nearest neighbours in an embedded Chroma collection.

    Build it with :meth:`open`, which reuses the on-disk collection when the corpus
    and embedding model are unchanged.

    Args:
        collection: A collection made by :func:`crossrank.evaluation.chroma_store.ensure_collection`.
    """

    def __init__(self, collection: Any) -> None:
        self._collection = collection
        self._size = int(collection.count())

    @classmethod
    def open(
        cls,
        ids: Sequence[str],
        texts: Sequence[str],
        *,
        cache_dir: Path,
        collection_name: str,
        show_progress: bool = False,
        on_build: Callable[[], None] | None = None,
    ) -> DenseSearch:
        """Open (or build, the first time) the collection of a corpus.

        Args:
            ids: Document ids.
            texts: Document texts, one per id.
            cache_dir: Directory of the embedded Chroma store.
            collection_name: Collection name; any characters, sanitised for Chroma.
            show_progress: Show a progress bar while embedding.
            on_build: Called just before the index is built (not when a cached one is reused).

        Returns:
            The search.
        """
        from crossrank.evaluation.chroma_store import chroma_client, ensure_collection

        cache_dir.mkdir(parents=True, exist_ok=True)
        client = chroma_client(path=str(cache_dir))
        collection = ensure_collection(
            client,
            _collection_name(collection_name),
            ids=list(ids),
            texts=list(texts),
            # Chroma rejects empty metadata dicts, so every record carries its position.
            metadatas=[{"position": position} for position in range(len(ids))],
            show_progress=show_progress,
            on_build=on_build,
        )
        return cls(collection)

    @property
    def name(self) -> str:
        """``"dense"``."""
        return "dense"

    def search(self, query: str, k: int) -> list[Candidate]:
        """The ``k`` nearest documents by cosine similarity of all-MiniLM-L6-v2 embeddings.

        Args:
            query: The query text.
            k: How many documents (capped at the corpus size).

        Returns:
            Candidates, best first, scored ``1 - cosine distance``.
        """
        from crossrank.evaluation.chroma_store import query_collection

        _check_k(k)
        if self._size == 0:
            return []
        hits = query_collection(self._collection, query, min(k, self._size))
        ranked = sorted(hits, key=lambda hit: (hit.distance, hit.rank))
        return [Candidate(doc_id=hit.id, score=1.0 - hit.distance) for hit in ranked]


def _collection_name(name: str) -> str:
    """A valid Chroma collection name (3-63 of ``[a-zA-Z0-9._-]``, alphanumeric ends)."""
    cleaned = re.sub(r"[^a-zA-Z0-9._-]+", "-", name).strip("-._")
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"crossrank-{cleaned[:40]}-{digest}"


def build_first_stage(
    kind: FirstStageKind,
    dataset: BeirDataset,
    *,
    data_dir: str | os.PathLike[str],
    cache_dir: Path | None = None,
    show_progress: bool = False,
    on_build: Callable[[], None] | None = None,
) -> FirstStage:
    """The first stage over a BEIR corpus (title and text of each document).

    Args:
        kind: ``"bm25"`` (built in memory, seconds), ``"dense"`` (Chroma, cached on disk) or
            ``"run:PATH"``, a recorded TREC run replayed
            (:class:`crossrank.evaluation.run_file.RunFileSearch`).
        dataset: The loaded dataset.
        data_dir: The dataset's directory; names the dense collection, so two datasets
            with the same name do not evict each other's index.
        cache_dir: Where the dense index lives; :func:`default_cache_dir` when ``None``.
        show_progress: Show progress bars while indexing.
        on_build: Called just before an index is built; a cached dense index is reused
            without calling it.

    Returns:
        The first stage.

    Raises:
        ValueError: If ``kind`` is not ``"dense"``, ``"bm25"`` or ``"run:PATH"``.
    """
    if kind.startswith(RUN_PREFIX):
        from crossrank.evaluation.run_file import RunFileSearch

        return RunFileSearch(kind.removeprefix(RUN_PREFIX), dataset.queries, dataset.corpus)
    ids = list(dataset.corpus)
    texts = [dataset.corpus[doc_id].full_text for doc_id in ids]
    if kind == "bm25":
        if on_build is not None:
            on_build()
        return Bm25Search(ids, texts, show_progress=show_progress)
    if kind == "dense":
        directory = (cache_dir or default_cache_dir()) / "chroma"
        name = f"{dataset.name}-{Path(data_dir).resolve()}"
        return DenseSearch.open(
            ids,
            texts,
            cache_dir=directory,
            collection_name=name,
            show_progress=show_progress,
            on_build=on_build,
        )
    raise ValueError(f"first stage must be 'dense', 'bm25' or 'run:PATH', got {kind!r}.")
