"""A LangChain document compressor that reranks with crossrank's cross-encoder core."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from numbers import Real
from typing import TYPE_CHECKING

from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import ConfigDict

from crossrank import RerankResult
from crossrank.adapters import (
    CROSS_ENCODER_SCORE_KEY,
    NUM_WINDOWS_KEY,
    RELEVANCE_SCORE_KEY,
    RETRIEVAL_RANK_KEY,
    WINDOW_SPAN_KEY,
    SyncedRankingReranker,
    option_field,
    rerank_details,
)

if TYPE_CHECKING:
    from langchain_core.callbacks import Callbacks

__all__ = [
    "CROSS_ENCODER_SCORE_KEY",
    "NUM_WINDOWS_KEY",
    "RELEVANCE_SCORE_KEY",
    "RETRIEVAL_RANK_KEY",
    "WINDOW_SPAN_KEY",
    "CrossEncoderCompressor",
]


class CrossEncoderCompressor(SyncedRankingReranker, BaseDocumentCompressor):
    """Rerank retrieved documents with a cross-encoder, handling long documents.

    A drop-in for LangChain's ``CrossEncoderReranker``: use it as the
    ``base_compressor`` of a ``ContextualCompressionRetriever``. Documents longer
    than the model's window are split into overlapping token windows and keep their
    best window's score (chunk-max) instead of being silently truncated; the
    cross-encoder ranking can optionally be fused with the retriever's ranking by
    Reciprocal Rank Fusion (``fusion="rrf"``).

    The scoring is done by :class:`crossrank.Reranker`, built when the compressor is
    constructed (so invalid options fail then); the model itself loads on first use.
    Returned documents are new ``Document`` objects, best first, with the same
    ``page_content`` and ``id`` and a deep copy of the metadata to which these keys
    are added:

    - ``relevance_score``: the final score the output is sorted by (float).
    - ``crossrank_cross_encoder_score``: the cross-encoder's score of the best window.
    - ``crossrank_window_span``: ``[start, end]`` character offsets of that window.
    - ``crossrank_num_windows``: how many windows were scored.
    - ``crossrank_retrieval_rank``: the 1-based rank the document had from the retriever.

    The input documents are not modified.

    Example:
        .. code-block:: python

            from langchain_classic.retrievers import ContextualCompressionRetriever
            from langchain_crossrank import CrossEncoderCompressor

            retriever = ContextualCompressionRetriever(
                base_compressor=CrossEncoderCompressor(top_n=3),
                base_retriever=vector_store.as_retriever(search_kwargs={"k": 20}),
            )
            documents = retriever.invoke("why did the lamp switch to electricity?")
    """

    top_n: int | None = option_field("top_n", default=3, note="The default, 3, is CrossEncoderReranker's.")
    retrieval_score_key: str | None = None
    """Metadata key holding the retriever's score (higher is better), which then
    defines the retrieval ranking used by RRF and reported as
    ``crossrank_retrieval_rank``. ``None`` takes the documents' input order as the
    retrieval ranking. When set, every document must carry that key."""

    model_config = ConfigDict(
        extra="forbid",
        arbitrary_types_allowed=True,
        validate_assignment=True,
        use_attribute_docstrings=True,
    )

    def compress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """Rerank ``documents`` for ``query``.

        Args:
            documents: The retrieved documents, in the retriever's order.
            query: The query.
            callbacks: Accepted for the LangChain interface; not used.

        Returns:
            New documents, best first: at most ``top_n`` of them, those scoring below
            ``score_threshold`` left out, each with the rerank metadata added.

        Raises:
            ValueError: If the query is empty, or ``retrieval_score_key`` is set and a
                document lacks that metadata key or its value is not a number.
            crossrank.ModelLoadError: If the model cannot be loaded.
        """
        documents = _as_documents(documents)
        results = self.reranker.rerank(
            query,
            [document.page_content for document in documents],
            retrieval_scores=self._retrieval_scores(documents),
        )
        return _reranked_documents(documents, results)

    async def acompress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """Async :meth:`compress_documents`: scores in a worker thread, so the event loop keeps running.

        Args:
            documents: The retrieved documents, in the retriever's order.
            query: The query.
            callbacks: Accepted for the LangChain interface; not used.

        Returns:
            The same as :meth:`compress_documents`.

        Raises:
            ValueError: As for :meth:`compress_documents`.
            crossrank.ModelLoadError: If the model cannot be loaded.
        """
        documents = _as_documents(documents)
        results = await self.reranker.arerank(
            query,
            [document.page_content for document in documents],
            retrieval_scores=self._retrieval_scores(documents),
        )
        return _reranked_documents(documents, results)

    def _retrieval_scores(self, documents: Sequence[Document]) -> list[float] | None:
        key = self.retrieval_score_key
        if key is None:
            return None
        scores: list[float] = []
        for index, document in enumerate(documents):
            if key not in document.metadata:
                raise ValueError(
                    f"documents[{index}] has no metadata key {key!r} (retrieval_score_key={key!r}): "
                    "every document needs its retriever score there, or set retrieval_score_key=None "
                    "to use the input order as the retrieval ranking."
                )
            value = document.metadata[key]
            if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
                finite = "" if isinstance(value, Real) and not isinstance(value, bool) else "a number"
                raise ValueError(
                    f"documents[{index}].metadata[{key!r}] must be {finite or 'a finite number'} "
                    f"(retrieval_score_key={key!r}), got {value!r}."
                )
            scores.append(float(value))
        return scores


def _as_documents(documents: Sequence[Document]) -> list[Document]:
    """The documents as a new list, each checked to be a ``Document`` (an iterable is read once)."""
    checked = list(documents)
    for index, document in enumerate(checked):
        if not isinstance(document, Document):
            raise TypeError(
                f"documents[{index}] must be a langchain_core Document, got {type(document).__name__}: "
                "wrap a text as Document(page_content=text)."
            )
    return checked


def _reranked_documents(documents: Sequence[Document], results: Sequence[RerankResult]) -> list[Document]:
    """New documents in result order, with deep-copied metadata and the rerank details added."""
    reranked = []
    for result in results:
        document = documents[result.index]
        metadata = copy.deepcopy(document.metadata)
        metadata[RELEVANCE_SCORE_KEY] = result.score
        metadata.update(rerank_details(result))
        reranked.append(document.model_copy(update={"metadata": metadata}))
    return reranked
