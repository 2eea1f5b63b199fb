"""Every error the server answers has one body: ``{"message": ...}``.

The server's own refusals (:class:`~crossrank.serving.requests.HttpError`), Starlette's
404 and 405, FastAPI's request validation and any unexpected failure all answer in that
shape, so a client reads ``message`` whatever went wrong; FastAPI's default would be
``{"detail": ...}`` for some of them.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from crossrank.serving.requests import HttpError, describe_errors

__all__ = ["RERANK_ROUTES", "add_error_handlers", "error_body"]

log = logging.getLogger("crossrank.serve")

RERANK_ROUTES = "POST /v2/rerank (Cohere), POST /v1/rerank (Jina) and POST /rerank (TEI)"
"""The routes a client most likely meant, named in a 404."""


def error_body(message: str) -> dict[str, str]:
    """The body of every error answer."""
    return {"message": message}


def add_error_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` as ``{"message": ...}``, with its status and headers.

    Args:
        app: The server's FastAPI app.
    """
    app.add_exception_handler(HttpError, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _starlette_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error)


async def _http_error(request: Request, exc: HttpError) -> Response:
    return JSONResponse(error_body(exc.message), status_code=exc.status, headers=exc.headers)


async def _starlette_error(request: Request, exc: HTTPException) -> Response:
    where = f"{request.method} {request.url.path}"
    if exc.status_code == 404:
        message = f"no route {where}; the rerank routes are {RERANK_ROUTES}"
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "another method")
        message = f"{where}: method not allowed; use {allowed} {request.url.path}"
    else:
        message = str(exc.detail)
    return JSONResponse(error_body(message), status_code=exc.status_code, headers=exc.headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    return JSONResponse(error_body(describe_errors(exc.errors())), status_code=422)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    # The rerank routes answer their own failures; this is for anything else (a bug).
    log.error("crossrank serve: %s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        error_body(f"the server failed on {request.method} {request.url.path}; see the server log"),
        status_code=500,
    )
