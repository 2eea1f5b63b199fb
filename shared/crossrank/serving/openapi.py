"""The server's OpenAPI schema: what a generated client or a fuzzer needs to speak to it.

The rerank routes read their raw body themselves (the size limit comes before parsing),
so FastAPI cannot see their request models; they are declared here instead, with the
server's limits, every error answer (``{"message": ...}``), the bearer key when the
server has one, and ``/metrics`` as the text it is.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from crossrank.serving.schemas import CohereRequest, JinaRequest, TeiRequest
from crossrank.serving.settings import ServeSettings

__all__ = ["ERRORS", "REQUEST_MODELS", "ErrorBody", "install_openapi", "rerank_route_docs"]

REQUEST_MODELS: dict[str, type[BaseModel]] = {
    "/v2/rerank": CohereRequest,
    "/v1/rerank": JinaRequest,
    "/rerank": TeiRequest,
}
"""Each rerank route's request body."""

_BEARER = "bearer"


class ErrorBody(BaseModel):
    """Every error answer: what went wrong and how to fix it."""

    message: str


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("Missing or wrong API key (servers started with --api-key)."),
    413: _error("Past a limit: body bytes, documents per request or characters per document."),
    415: _error("The body is not sent as Content-Type: application/json."),
    422: _error("A field is missing, of the wrong type or out of range, named in the message."),
    429: _error("The server is at its queue limit; retry after Retry-After seconds."),
    503: _error("The model is loading (retry after Retry-After seconds) or did not load."),
}
"""The error answers of a rerank route."""


def rerank_route_docs(route: str) -> dict[str, Any]:
    """The keyword arguments of a rerank route's decorator that document it.

    Args:
        route: ``/v2/rerank``, ``/v1/rerank`` or ``/rerank``.

    Returns:
        ``responses`` (every error) and ``openapi_extra`` (the request body).
    """
    model = REQUEST_MODELS[route].__name__
    body = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}},
    }
    return {"responses": ERRORS, "openapi_extra": {"requestBody": body}}


def install_openapi(app: FastAPI, settings: ServeSettings) -> None:
    """Make ``app.openapi()`` describe the request bodies, limits and key of ``settings``.

    Args:
        app: The server's app, its routes added.
        settings: The limits and key the schema states.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            components = schema.setdefault("components", {})
            models = components.setdefault("schemas", {})
            for route, body_type in REQUEST_MODELS.items():
                declared = body_type.model_json_schema(ref_template="#/components/schemas/{model}")
                models.update(declared.pop("$defs", {}))
                models[body_type.__name__] = declared
                _limit_documents(models, declared, settings)
                if settings.api_key is not None:
                    schema["paths"][route]["post"]["security"] = [{_BEARER: []}]
            if settings.api_key is not None:
                components["securitySchemes"] = {_BEARER: {"type": "http", "scheme": "bearer"}}
                schema["paths"]["/info"]["get"]["security"] = [{_BEARER: []}]
                schema["paths"]["/info"]["get"]["responses"]["401"] = _error_response(ERRORS[401])
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _error_response(error: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": error["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }


def _limit_documents(models: dict[str, Any], declared: dict[str, Any], settings: ServeSettings) -> None:
    """State the server's document limits on a request's ``documents`` (or ``texts``)."""
    properties = declared["properties"]
    listed = properties.get("documents") or properties["texts"]
    listed["maxItems"] = settings.max_documents
    items = listed["items"]
    for item in items.get("anyOf", [items]):
        if item.get("type") == "string":
            item["maxLength"] = settings.max_document_chars
        elif "$ref" in item:  # a Jina {"text": ...} document
            name = item["$ref"].rsplit("/", 1)[-1]
            models[name]["properties"]["text"]["maxLength"] = settings.max_document_chars
