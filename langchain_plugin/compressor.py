"""A LangChain document compressor that reranks with crossrank's cross-encoder core."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from numbers import Real
from typing import TYPE_CHECKING, Any

from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import ConfigDict, PrivateAttr, model_validator

from langchain_plugin._common import ModelSpec
from shared import Backend, Precision, Reranker, RerankResult
from shared.reranker import Fusion, LongDocuments, Normalize

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

RELEVANCE_SCORE_KEY = "relevance_score"
"""Metadata key of the final score the output is sorted by (float)."""
CROSS_ENCODER_SCORE_KEY = "crossrank_cross_encoder_score"
"""Metadata key of the cross-encoder's score for the best window, before fusion (float)."""
WINDOW_SPAN_KEY = "crossrank_window_span"
"""Metadata key of ``[start, end]``: character offsets of the best window in ``page_content``."""
NUM_WINDOWS_KEY = "crossrank_num_windows"
"""Metadata key of how many windows of the document were scored (int)."""
RETRIEVAL_RANK_KEY = "crossrank_retrieval_rank"
"""Metadata key of the 1-based rank the document had coming out of the retriever (int)."""

# Options that decide which model is loaded: when one changes, the model is reloaded.
_LOAD_OPTIONS = ("device", "trust_remote_code", "cross_encoder_kwargs", "backend", "precision")


class CrossEncoderCompressor(BaseDocumentCompressor):
    """Rerank retrieved documents with a cross-encoder, handling long documents.

    A drop-in for LangChain's ``CrossEncoderReranker``: use it as the
    ``base_compressor`` of a ``ContextualCompressionRetriever``. Documents longer
    than the model's window are split into overlapping token windows and keep their
    best window's score (chunk-max) instead of being silently truncated; the
    cross-encoder ranking can optionally be fused with the retriever's ranking by
    Reciprocal Rank Fusion (``fusion="rrf"``).

    The scoring is done by :class:`shared.Reranker`, built when the compressor is
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
            from langchain_plugin import CrossEncoderCompressor

            retriever = ContextualCompressionRetriever(
                base_compressor=CrossEncoderCompressor(top_n=3),
                base_retriever=vector_store.as_retriever(search_kwargs={"k": 20}),
            )
            documents = retriever.invoke("why did the lamp switch to electricity?")
    """

    model: ModelSpec = None
    """Cross-encoder: a hub id, a local directory, a loaded
    ``sentence_transformers.CrossEncoder`` or a :class:`shared.PairScorer`.
    ``None`` uses ``$CROSSRANK_MODEL``, else ``cross-encoder/ms-marco-MiniLM-L6-v2``."""
    top_n: int | None = 3
    """Number of documents to return (``None``: all of them)."""
    device: str | None = None
    """Device to load the model on (``"cpu"``, ``"cuda"``, ``"mps"``...); chosen
    automatically when ``None``. Ignored for an already-loaded model."""
    trust_remote_code: bool = False
    """Let the model repository run its own code."""
    cross_encoder_kwargs: dict[str, Any] | None = None
    """Extra keyword arguments for ``sentence_transformers.CrossEncoder(...)``."""
    backend: Backend = "auto"
    """How the model runs: ``"auto"``, ``"torch"``, ``"onnx"`` (ONNX Runtime in fp32:
    PyTorch's scores, about 1.8x faster on a CPU) or ``"onnx-int8"`` (int8 weights:
    about 3x on a CPU, but scores move by up to a few tenths and rankings change).
    ``"auto"`` runs ONNX Runtime in fp32 on a CPU and PyTorch on a GPU; when ONNX
    cannot be used, scoring falls back to PyTorch with a logged warning. Changing it
    loads the model again."""
    precision: Precision = "auto"
    """PyTorch's precision: ``"auto"`` (fp16 on CUDA, else fp32), ``"fp32"``,
    ``"bf16"`` (about 2.2x fp32 on a CPU with AVX512-BF16 or AMX; scores move by up
    to 0.02) or ``"fp16"``. An explicit precision with ``backend="auto"`` selects
    PyTorch. Changing it loads the model again."""
    long_documents: LongDocuments = "chunk_max"
    """``"chunk_max"`` scores every window of a long document and keeps the best;
    ``"truncate"`` scores only its first window, as other rerankers do."""
    window_overlap: int | None = None
    """Tokens shared by consecutive windows of a long document; ``None`` uses one
    eighth of the window. An explicit value must be smaller than the window."""
    max_windows: int | None = 16
    """Most windows scored per document (``None``: no cap); beyond it, evenly spaced
    windows are kept, always including the first and the last."""
    fusion: Fusion | None = None
    """``"rrf"`` fuses the cross-encoder ranking with the retrieval ranking by
    Reciprocal Rank Fusion; ``None`` ranks by the cross-encoder alone."""
    rrf_k: float = 60.0
    """The RRF constant ``k``."""
    rrf_weights: tuple[float, float] = (1.0, 1.0)
    """``(cross_encoder_weight, retrieval_weight)`` for RRF."""
    normalize: Normalize | None = None
    """``"sigmoid"`` maps raw logits to 0..1 (models that already output 0..1 are left
    as they are); ``None`` keeps the model's own output."""
    score_threshold: float | None = None
    """Drop documents whose final score (``relevance_score``) is below this."""
    batch_size: int = 32
    """Most (query, window) pairs per model call."""
    max_tokens_per_batch: int = 16384
    """Most padded tokens per model call, which bounds memory however many or long
    the documents are."""
    score_cache_size: int = 10_000
    """Most window scores kept in an LRU cache keyed by the model and the exact query
    and window tokens, so repeated queries over the same documents cost nothing;
    ``0`` turns the cache off. See ``reranker.cache_info()``."""
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

    _reranker: Reranker | None = PrivateAttr(default=None)
    _built_from: tuple[Any, dict[str, Any]] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _build_reranker(self) -> CrossEncoderCompressor:
        self._current_reranker()
        return self

    def _reranker_options(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "trust_remote_code": self.trust_remote_code,
            "cross_encoder_kwargs": dict(self.cross_encoder_kwargs or {}),
            "backend": self.backend,
            "precision": self.precision,
            "long_documents": self.long_documents,
            "window_overlap": self.window_overlap,
            "max_windows": self.max_windows,
            "fusion": self.fusion,
            "rrf_k": self.rrf_k,
            "rrf_weights": self.rrf_weights,
            "normalize": self.normalize,
            "score_threshold": self.score_threshold,
            "top_n": self.top_n,
            "batch_size": self.batch_size,
            "max_tokens_per_batch": self.max_tokens_per_batch,
            "score_cache_size": self.score_cache_size,
        }

    def _current_reranker(self) -> Reranker:
        """The core reranker for the current field values.

        Built at construction; rebuilt only when a field changed since (by assignment
        or ``model_copy(update=...)``), sharing the loaded model when the model and
        its loading options are unchanged.
        """
        options = self._reranker_options()
        built_from = self._built_from
        if self._reranker is not None and built_from is not None and built_from[0] is self.model:
            if built_from[1] == options:
                return self._reranker
            if all(built_from[1][name] == options[name] for name in _LOAD_OPTIONS):
                reranker = self._reranker.with_options(**options)
            else:
                reranker = Reranker(self.model, **options)
        else:
            reranker = Reranker(self.model, **options)
        self._reranker = reranker
        self._built_from = (self.model, options)
        return reranker

    @property
    def reranker(self) -> Reranker:
        """The :class:`shared.Reranker` doing the work (its model loads on first use)."""
        return self._current_reranker()

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
            shared.ModelLoadError: If the model cannot be loaded.
        """
        documents = list(documents)
        results = self._current_reranker().rerank(
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
            shared.ModelLoadError: If the model cannot be loaded.
        """
        documents = list(documents)
        results = await self._current_reranker().arerank(
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
            if isinstance(value, bool) or not isinstance(value, Real):
                raise ValueError(
                    f"documents[{index}].metadata[{key!r}] must be a number (retrieval_score_key={key!r}), "
                    f"got {value!r}."
                )
            scores.append(float(value))
        return scores


def _reranked_documents(documents: Sequence[Document], results: Sequence[RerankResult]) -> list[Document]:
    """New documents in result order, with deep-copied metadata and the rerank details added."""
    reranked = []
    for result in results:
        document = documents[result.index]
        metadata = copy.deepcopy(document.metadata)
        metadata[RELEVANCE_SCORE_KEY] = result.score
        metadata[CROSS_ENCODER_SCORE_KEY] = result.cross_encoder_score
        metadata[WINDOW_SPAN_KEY] = list(result.window_span)
        metadata[NUM_WINDOWS_KEY] = result.num_windows
        metadata[RETRIEVAL_RANK_KEY] = result.retrieval_rank
        reranked.append(document.model_copy(update={"metadata": metadata}))
    return reranked
