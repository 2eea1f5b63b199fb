"""Pieces shared by the LangChain adapter's modules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared import PairScorer

if TYPE_CHECKING:
    from typing import TypeAlias

    from sentence_transformers import CrossEncoder

    ModelSpec: TypeAlias = "str | CrossEncoder | PairScorer | None"
else:
    # At runtime (for pydantic) the type stays open so that sentence-transformers, and
    # with it torch, is not imported; the core Reranker checks the value instead.
    ModelSpec = Any

__all__ = ["INSTALL_HINT", "ModelSpec"]

INSTALL_HINT = (
    'crossrank\'s LangChain adapter needs langchain-core: run `pip install "crossrank[langchain]"`.'
)

