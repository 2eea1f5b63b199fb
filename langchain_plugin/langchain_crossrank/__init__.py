"""crossrank for LangChain: cross-encoder reranking that handles long documents.

- :class:`CrossEncoderCompressor`: a document compressor for
  ``ContextualCompressionRetriever`` (chunk-max long documents, optional RRF with
  the retriever's ranking, scores and spans in the metadata).
- :class:`CrossEncoderModel`: a ``BaseCrossEncoder`` for LangChain's own
  ``CrossEncoderReranker`` that scores long documents by their best window.

Importing this package does not import torch or sentence-transformers; the model
loads on first use.

Example:
    .. code-block:: python

        from langchain_crossrank import CrossEncoderCompressor

        compressor = CrossEncoderCompressor(top_n=3)
        best = compressor.compress_documents(documents, "what changed in 1952?")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    import langchain_core  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        'langchain_crossrank needs langchain-core: run `pip install "crossrank[langchain]"`.'
    ) from exc

from langchain_crossrank.compressors import CrossEncoderCompressor

if TYPE_CHECKING:
    from langchain_crossrank.cross_encoders import CrossEncoderModel

__all__ = ["CrossEncoderCompressor", "CrossEncoderModel"]


def __getattr__(name: str) -> Any:
    # CrossEncoderModel is imported on first access: with an old langchain-core its
    # base class has to come from langchain-classic or langchain-community, and a
    # missing one should not stop the compressor from being imported.
    if name == "CrossEncoderModel":
        from langchain_crossrank.cross_encoders import CrossEncoderModel

        globals()[name] = CrossEncoderModel
        return CrossEncoderModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
