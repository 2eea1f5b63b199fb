"""Reading a rerank request: the key, the body and its limits, and the options it carries."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from crossrank.option_checks import closest_name, name_hint
from crossrank.options import OPTIONS
from crossrank.serving.schemas import CohereRequest, CrossrankOptions, JinaRequest, TeiRequest
from crossrank.serving.settings import ServeSettings

__all__ = [
    "HttpError",
    "check_json",
    "check_key",
    "check_limits",
    "describe_errors",
    "parse_body",
    "request_inputs",
]

Body = TypeVar("Body", bound=BaseModel)


class HttpError(Exception):
    """Answered as ``{"message": ...}`` with its status (and headers)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def check_key(request: Request, settings: ServeSettings) -> None:
    """Raise 401 unless the request carries the server's key (when it has one)."""
    if settings.api_key is None:
        return
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    # compare_digest: the time taken says nothing about how much of the key was right.
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), settings.api_key.encode()
    ):
        raise HttpError(401, "missing or wrong API key: send Authorization: Bearer <key>")


def check_json(request: Request) -> None:
    """Raise 415 unless the body is declared JSON (``application/json`` or ``application/*+json``)."""
    given = request.headers.get("content-type", "")
    media = given.partition(";")[0].strip().lower()
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return
    # A JSON body under another type is a client bug (a form post, a proxy rewriting it):
    # reading it anyway would hide that bug until the first body that is not JSON.
    raise HttpError(
        415,
        f"the request body must be JSON sent with Content-Type: application/json, "
        f"got {given or 'no Content-Type'}",
    )


async def parse_body(request: Request, body_type: type[Body], settings: ServeSettings) -> Body:
    """The body parsed as ``body_type``; 415 unless JSON, 413 past the size limit, 422 naming a bad field."""
    check_json(request)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > settings.max_body_bytes:
        raise HttpError(413, f"the request body has {declared} bytes; the limit is {settings.max_body_bytes}")
    raw = await request.body()
    if len(raw) > settings.max_body_bytes:
        raise HttpError(413, f"the request body has {len(raw)} bytes; the limit is {settings.max_body_bytes}")
    try:
        return body_type.model_validate_json(raw)
    except ValidationError as exc:
        raise HttpError(422, describe_errors(exc.errors(), body_type)) from None


def describe_errors(errors: Sequence[Any], body_type: type[BaseModel] | None = None) -> str:
    """The first of pydantic's (or FastAPI's) validation errors, as ``field.path: what is wrong``.

    An unknown name in the ``crossrank`` object also says the name it likely meant.
    """
    if not errors:
        return "the request is not valid"
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    message = f"{where}: {first['msg']}"
    if first["type"] == "extra_forbidden" and tuple(first["loc"][:1]) == ("crossrank",):
        message += f"; {_option_hint(str(first['loc'][-1]), body_type)}"
    return message


def _option_hint(name: str, body_type: type[BaseModel] | None) -> str:
    per_request = CrossrankOptions.model_fields
    # top_n is not the server's: a field of the request itself (Cohere, Jina), or none (TEI).
    if name in OPTIONS and name not in per_request and name != "top_n":
        return f"{name} is fixed when the server starts (see crossrank serve --help), not per request"
    if name == "model":
        return "the model is fixed when the server starts (crossrank serve --model)"
    match = closest_name(name, per_request)
    if match is not None:
        return f"did you mean `{match}`?"
    own_fields = set(body_type.model_fields) - {"crossrank"} if body_type is not None else set()
    beside = closest_name(name, own_fields)
    if beside is not None:  # top_k: top_n is a field of the request itself
        return f"did you mean `{beside}`? It is a field of the request itself, beside query"
    return name_hint(name, per_request)


def request_inputs(body: BaseModel) -> tuple[str, list[str], dict[str, Any], int | None]:
    """The query, texts, per-request options and top_n of any of the three request shapes."""
    extension: CrossrankOptions | None = getattr(body, "crossrank", None)
    options: dict[str, Any] = {}
    if extension is not None:
        options = extension.model_dump(exclude_none=True, exclude={"details"})
    if isinstance(body, TeiRequest):
        # TEI: truncate=true means the first window only; raw_scores=false means 0..1 scores.
        options.setdefault("long_documents", "truncate" if body.truncate else "chunk_max")
        if not body.raw_scores:
            options.setdefault("normalize", "sigmoid")
        return body.query, list(body.texts), options, None
    if isinstance(body, JinaRequest):
        return body.query, body.texts(), options, body.top_n
    assert isinstance(body, CohereRequest)
    options["max_tokens_per_doc"] = body.max_tokens_per_doc
    return body.query, list(body.documents), options, body.top_n


def check_limits(texts: list[str], settings: ServeSettings) -> None:
    """413 for too many documents, or a document too long, naming it and the limit."""
    if len(texts) > settings.max_documents:
        raise HttpError(
            413, f"documents: {len(texts)} documents, the limit is {settings.max_documents} per request"
        )
    for index, text in enumerate(texts):
        if len(text) > settings.max_document_chars:
            raise HttpError(
                413,
                f"documents[{index}]: {len(text)} characters, the limit is {settings.max_document_chars}",
            )
