"""The request and response bodies of the three rerank APIs, and crossrank's extension.

The Cohere v2, Jina (Infinity) and TEI shapes are the ones their clients send; crossrank's
own options ride in an optional ``crossrank`` object that other clients never send.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from crossrank.options import Fusion, LongDocuments, Normalize, WindowAggregation, WindowBoundaries

__all__ = [
    "CohereRequest",
    "CrossrankOptions",
    "JinaRequest",
    "TeiRequest",
]

# Strict everywhere: "2" or true is not a number, 0 is not a boolean (a client that sends
# them has a bug the server must not guess around).
_STRICT = ConfigDict(strict=True, extra="ignore")

Finite = Annotated[float, Field(allow_inf_nan=False)]
"""A JSON number that is a finite float: ``Infinity``, ``NaN`` and ``1e400`` are 422s."""
NonNegative = Annotated[float, Field(allow_inf_nan=False, ge=0)]

# Only in the schema: the core refuses a blank query with a clearer message than pydantic's,
# and whether a query has tokens is the model's to say (a 422 naming it).
_QUERY = Field(json_schema_extra={"minLength": 1})


class CrossrankOptions(BaseModel):
    """Per-request ranking options (the model and how it runs are fixed by the server)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    long_documents: LongDocuments | None = None
    window_overlap: int | None = Field(default=None, ge=0)
    max_windows: int | None = Field(default=None, ge=1)
    window_boundaries: WindowBoundaries | None = None
    window_aggregation: WindowAggregation | None = None
    coarse_keep: int | None = Field(default=None, ge=1)
    """With a server started as a cascade: candidates its coarse stage passes on."""
    fusion: Fusion | None = None
    retrieval_scores: list[Finite] | None = None
    rrf_k: NonNegative | None = None
    rrf_weights: tuple[NonNegative, NonNegative] | None = None
    normalize: Normalize | None = None
    score_threshold: Finite | None = None
    rerank_depth: int | None = Field(default=None, ge=1)
    """Rerank only the first N candidates by retrieval rank (the others are not returned)."""
    details: bool = True
    """Return each result's ``crossrank`` details (windows, spans, scores before fusion)."""


class CohereRequest(BaseModel):
    """``POST /v2/rerank`` as ``cohere.ClientV2.rerank`` sends it."""

    model_config = _STRICT

    model: str | None = None
    query: str = _QUERY
    documents: list[str]
    top_n: int | None = Field(default=None, ge=1)
    max_tokens_per_doc: int | None = Field(default=None, ge=1)
    crossrank: CrossrankOptions | None = None


class _JinaDocument(BaseModel):
    model_config = _STRICT

    text: str


class JinaRequest(BaseModel):
    """``POST /v1/rerank`` in the Jina / Infinity shape."""

    model_config = _STRICT

    model: str | None = None
    query: str = _QUERY
    documents: list[str | _JinaDocument]
    top_n: int | None = Field(default=None, ge=1)
    return_documents: bool = False
    crossrank: CrossrankOptions | None = None

    def texts(self) -> list[str]:
        """The documents as plain strings."""
        return [document if isinstance(document, str) else document.text for document in self.documents]


class TeiRequest(BaseModel):
    """``POST /rerank`` as Text Embeddings Inference takes it."""

    model_config = _STRICT

    query: str = _QUERY
    texts: list[str]
    raw_scores: bool = False
    return_text: bool = False
    truncate: bool = False
    truncation_direction: Literal["Right", "Left", "right", "left"] = "Right"
    crossrank: CrossrankOptions | None = None


def details_of(result: Any) -> dict[str, Any]:
    """The ``crossrank`` details of one :class:`~crossrank.RerankResult`."""
    return {
        "cross_encoder_score": result.cross_encoder_score,
        "retrieval_rank": result.retrieval_rank,
        "retrieval_score": result.retrieval_score,
        "num_windows": result.num_windows,
        "window_index": result.window_index,
        "window_span": list(result.window_span),
        "coarse_score": result.coarse_score,
        "cut_at_stage": result.cut_at_stage,
    }
