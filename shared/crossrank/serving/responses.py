"""The response bodies of the three rerank APIs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from crossrank.serving.schemas import CohereRequest, CrossrankOptions, JinaRequest, TeiRequest, details_of

if TYPE_CHECKING:
    from crossrank.results import RerankResult

__all__ = ["cohere_response", "jina_response", "tei_response"]


def _wants_details(body: BaseModel) -> bool:
    extension: CrossrankOptions | None = getattr(body, "crossrank", None)
    return extension is not None and extension.details


def cohere_response(body: CohereRequest, results: list[RerankResult], request_id: str) -> dict[str, Any]:
    """Cohere v2: ``id``, ``results`` of ``{index, relevance_score}`` best first, ``meta``."""
    details = _wants_details(body)
    return {
        "id": request_id,
        "results": [
            {
                "index": r.index,
                "relevance_score": r.score,
                **({"crossrank": details_of(r)} if details else {}),
            }
            for r in results
        ],
        "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
    }


def jina_response(model_name: Callable[[], str | None]) -> Callable[..., dict[str, Any]]:
    """Jina: ``model``, ``results`` with ``document`` when asked, ``usage`` in tokens."""

    def respond(
        body: JinaRequest, results: list[RerankResult], request_id: str, tokens: int = 0
    ) -> dict[str, Any]:
        texts = body.texts()
        details = _wants_details(body)
        rows = []
        for r in results:
            row: dict[str, Any] = {"index": r.index, "relevance_score": r.score}
            if body.return_documents:
                row["document"] = {"text": texts[r.index]}
            if details:
                row["crossrank"] = details_of(r)
            rows.append(row)
        model = model_name() or body.model
        return {"model": model, "results": rows, "usage": {"total_tokens": tokens, "prompt_tokens": tokens}}

    return respond


def tei_response(body: TeiRequest, results: list[RerankResult], request_id: str) -> list[dict[str, Any]]:
    """TEI: a list of ``{index, score, text?}`` best first."""
    details = _wants_details(body)
    rows = []
    for r in results:
        row: dict[str, Any] = {"index": r.index, "score": r.score}
        if body.return_text:
            row["text"] = body.texts[r.index]
        if details:
            row["crossrank"] = details_of(r)
        rows.append(row)
    return rows
