"""A LangChain ``BaseCrossEncoder`` that scores long documents by their best window."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from langchain_plugin._common import ModelSpec
from shared import Backend, Precision, Reranker
from shared.reranker import LongDocuments, Normalize

if TYPE_CHECKING:
    from langchain_core.cross_encoders import BaseCrossEncoder
else:

    def _find_base_cross_encoder() -> type:
        """The ``BaseCrossEncoder`` ABC that LangChain's ``CrossEncoderReranker`` checks ``model`` against.

        It lives in ``langchain_core.cross_encoders`` in recent langchain-core releases
        (langchain-classic and langchain-community re-export it); older releases only
        have it in langchain-classic or langchain-community.
        """
        try:
            from langchain_core.cross_encoders import BaseCrossEncoder
        except ImportError:
            pass
        else:
            return BaseCrossEncoder
        try:
            from langchain_classic.retrievers.document_compressors.cross_encoder import BaseCrossEncoder
        except ImportError:
            pass
        else:
            return BaseCrossEncoder
        try:
            from langchain_community.cross_encoders import BaseCrossEncoder
        except ImportError:
            pass
        else:
            return BaseCrossEncoder
        raise ImportError(
            "CrossEncoderModel needs LangChain's BaseCrossEncoder, which this langchain-core does not "
            'have: upgrade it (`pip install -U "crossrank[langchain]"`) or install langchain-classic '
            "or langchain-community."
        )

    BaseCrossEncoder = _find_base_cross_encoder()

__all__ = ["CrossEncoderModel"]


class CrossEncoderModel(BaseCrossEncoder):
    """LangChain cross-encoder whose scores cover the whole of long documents.

    Pass it as the ``model`` of LangChain's ``CrossEncoderReranker`` in place of
    ``HuggingFaceCrossEncoder``: a text longer than the model's window is split into
    overlapping token windows and scored by its best window (chunk-max), instead of
    by whatever fits before truncation. Texts that fit score as
    ``CrossEncoder.predict`` scores them. The model loads on first use.

    Args:
        model: A hub id, a local directory, a loaded ``sentence_transformers.CrossEncoder``
            or a :class:`shared.PairScorer`. ``None`` uses ``$CROSSRANK_MODEL``, else
            ``cross-encoder/ms-marco-MiniLM-L6-v2``.
        device: Device to load the model on; chosen automatically when ``None``.
            Ignored for an already-loaded model.
        trust_remote_code: Let the model repository run its own code.
        cross_encoder_kwargs: Extra keyword arguments for ``CrossEncoder(...)``.
        backend: How the model runs: ``"auto"``, ``"torch"``, ``"onnx"`` (ONNX Runtime
            in fp32: PyTorch's scores, about 1.8x faster on a CPU) or ``"onnx-int8"``
            (int8 weights: about 3x on a CPU, but scores move by up to a few tenths and
            rankings change). ``"auto"`` runs ONNX Runtime in fp32 on a CPU and PyTorch
            on a GPU; when ONNX cannot be used, scoring falls back to PyTorch with a
            logged warning.
        precision: PyTorch's precision: ``"auto"`` (fp16 on CUDA, else fp32), ``"fp32"``,
            ``"bf16"`` (about 2.2x fp32 on a CPU with AVX512-BF16 or AMX; scores move by
            up to 0.02) or ``"fp16"``. An explicit precision with ``backend="auto"``
            selects PyTorch, so ``precision="fp32"`` scores like ``CrossEncoder.predict``.
        long_documents: ``"chunk_max"`` scores every window and keeps the best;
            ``"truncate"`` scores only the first window.
        window_overlap: Tokens shared by consecutive windows; ``None`` uses one eighth
            of the window.
        max_windows: Most windows scored per text (``None``: no cap).
        normalize: ``"sigmoid"`` maps raw logits to 0..1; ``None`` keeps the model's output.
        batch_size: Most (query, window) pairs per model call.
        max_tokens_per_batch: Most padded tokens per model call.
        score_cache_size: Most window scores kept in an LRU cache keyed by the model and
            the exact query and window tokens; ``0`` turns the cache off. See
            ``reranker.cache_info()``.

    Raises:
        TypeError: If ``model`` is not one of the accepted types.
        ValueError: If an option is out of range; the message names the value.

    Example:
        .. code-block:: python

            from langchain_classic.retrievers.document_compressors import CrossEncoderReranker
            from langchain_plugin import CrossEncoderModel

            compressor = CrossEncoderReranker(model=CrossEncoderModel(), top_n=3)
    """

    def __init__(
        self,
        model: ModelSpec = None,
        *,
        device: str | None = None,
        trust_remote_code: bool = False,
        cross_encoder_kwargs: dict[str, Any] | None = None,
        backend: Backend = "auto",
        precision: Precision = "auto",
        long_documents: LongDocuments = "chunk_max",
        window_overlap: int | None = None,
        max_windows: int | None = 16,
        normalize: Normalize | None = None,
        batch_size: int = 32,
        max_tokens_per_batch: int = 16384,
        score_cache_size: int = 10_000,
    ) -> None:
        self._reranker = Reranker(
            model,
            device=device,
            trust_remote_code=trust_remote_code,
            cross_encoder_kwargs=cross_encoder_kwargs,
            backend=backend,
            precision=precision,
            long_documents=long_documents,
            window_overlap=window_overlap,
            max_windows=max_windows,
            normalize=normalize,
            batch_size=batch_size,
            max_tokens_per_batch=max_tokens_per_batch,
            score_cache_size=score_cache_size,
        )

    @property
    def reranker(self) -> Reranker:
        """The :class:`shared.Reranker` doing the scoring."""
        return self._reranker

    @property
    def model_name(self) -> str:
        """The model's id or path (without loading it)."""
        return self._reranker.model_name

    def score(self, text_pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Score (query, text) pairs; a long text scores as its best window.

        Args:
            text_pairs: ``(query, text)`` pairs.

        Returns:
            One float per pair, in input order; higher is more relevant.

        Raises:
            TypeError: If a pair is not two strings.
            ValueError: If a query is empty.
            shared.ModelLoadError: If the model cannot be loaded.
        """
        return self._reranker.score_pairs(text_pairs)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={self._reranker.model_name!r}, "
            f"long_documents={self._reranker.long_documents!r})"
        )
