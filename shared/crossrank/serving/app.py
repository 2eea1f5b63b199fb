"""The FastAPI app: the Cohere v2, Jina and TEI rerank routes over one batching model worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

try:
    from fastapi import FastAPI, Request, Response
    from fastapi.responses import JSONResponse, PlainTextResponse
except ImportError as exc:
    raise ImportError('crossrank serve needs FastAPI: run `pip install "crossrank[serve]"`.') from exc

from crossrank.reranker import Reranker
from crossrank.serving.batching import (
    BatchingScorer,
    RequestCancelled,
    RequestHandle,
    request_scope,
)
from crossrank.serving.error_bodies import add_error_handlers, error_body
from crossrank.serving.openapi import ERRORS, ErrorBody, install_openapi, rerank_route_docs
from crossrank.serving.requests import HttpError, check_key, check_limits, parse_body, request_inputs
from crossrank.serving.responses import cohere_response, jina_response, tei_response
from crossrank.serving.schemas import CohereRequest, JinaRequest, TeiRequest
from crossrank.serving.settings import ServeSettings
from crossrank.serving.state import ServerState

if TYPE_CHECKING:
    from crossrank.results import RerankResult

__all__ = ["create_app"]

log = logging.getLogger("crossrank.serve")
_Body = TypeVar("_Body", bound=BaseModel)


def create_app(settings: ServeSettings, *, load_in_background: bool = True) -> FastAPI:
    """The rerank server as an ASGI app (run it with uvicorn).

    Args:
        settings: Model, batching, limits and API key, fixed for the app's life.
        load_in_background: Load the model in a thread at startup (``/ready`` turns true
            when it is warm); ``False`` loads it before the app starts serving.

    Returns:
        The FastAPI app.
    """
    state = ServerState(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loader = threading.Thread(target=state.load, name="crossrank-model-loader", daemon=True)
        loader.start()
        if not load_in_background:
            await asyncio.to_thread(loader.join)
        yield
        # uvicorn has finished the in-flight requests by now (graceful shutdown).
        for worker in (state.batching, state.coarse_batching):
            if worker is not None:
                worker.close()

    app = FastAPI(title="crossrank", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.crossrank = state

    add_error_handlers(app)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", responses={503: {"model": ErrorBody, "description": "Not ready, and why."}})
    async def ready() -> Response:
        if state.reranker is None:
            reason = state.load_error or "the model is loading"
            return JSONResponse({"ready": False, "message": reason}, status_code=503)
        return JSONResponse({"ready": True})

    @app.get("/info", responses={503: ERRORS[503]})
    async def info(request: Request) -> dict[str, Any]:
        check_key(request, settings)
        from crossrank import __version__

        reranker = _ready_reranker(state)
        batching = state.batching
        return {
            "version": __version__,
            "model": reranker.model_name,
            "backend": _backend(batching),
            "coarse_backend": _backend(state.coarse_batching),
            "options": {
                # Never a secret or an arbitrary object in a public answer: the coarse stage
                # is its worker here, so it is named as the server was told.
                **{
                    name: value
                    for name, value in reranker.options.items()
                    if name not in ("cross_encoder_kwargs", "api_key", "coarse_model")
                },
                "coarse_model": _coarse_model_name(state),
                "coarse_backend": settings.options.get("coarse_backend"),
            },
            "limits": {
                "max_documents": settings.max_documents,
                "max_document_chars": settings.max_document_chars,
                "max_body_bytes": settings.max_body_bytes,
                "max_queue": settings.max_queue,
                "max_batch_tokens": settings.max_batch_tokens,
                "max_wait_ms": settings.max_wait_ms,
            },
            "auth": settings.api_key is not None,
        }

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        workers = [worker for worker in (state.batching, state.coarse_batching) if worker is not None]
        if workers:
            state.metrics.queue_depth.set(sum(worker.queued_batches for worker in workers))
        body, content_type = state.metrics.exposition()
        return Response(body, media_type=content_type)

    async def serve(
        request: Request, route: str, body_type: type[_Body], respond: Callable[..., Any]
    ) -> Response:
        request_id = uuid.uuid4().hex
        started = time.perf_counter()
        seen = _Seen()
        try:
            response = await answer(request, request_id, body_type, respond, seen)
        except Exception:
            log.exception("crossrank serve: request %s failed", request_id)
            response = JSONResponse(
                error_body(f"the model failed on this request (request id {request_id}); see the server log"),
                status_code=500,
                headers={"x-request-id": request_id},
            )
        elapsed = time.perf_counter() - started
        # The status actually sent, whichever path made the answer (a 500 included).
        status = response.status_code
        state.metrics.requests.labels(route, str(status)).inc()
        state.metrics.latency.labels(route).observe(elapsed)
        log.info(
            "%s %d documents=%d windows=%d %.1f ms",
            route,
            status,
            seen.documents,
            seen.windows,
            elapsed * 1000,
        )
        return response

    async def answer(
        request: Request,
        request_id: str,
        body_type: type[_Body],
        respond: Callable[..., Any],
        seen: _Seen,
    ) -> Response:
        try:
            check_key(request, settings)
            body = await parse_body(request, body_type, settings)
            reranker = _ready_reranker(state)
            query, texts, options, top_n = request_inputs(body)
            seen.documents = len(texts)
            check_limits(texts, settings)
            count_tokens = body_type is JinaRequest
            results, seen.windows, tokens = await _rerank(
                request, state, reranker, query, texts, options, top_n, count_tokens
            )
        except HttpError as exc:
            return JSONResponse(error_body(exc.message), status_code=exc.status, headers=exc.headers)
        except RequestCancelled:
            return Response(status_code=499)  # the client left; nobody reads this answer
        answer = (
            respond(body, results, request_id, tokens) if count_tokens else respond(body, results, request_id)
        )
        return JSONResponse(answer, headers={"x-request-id": request_id})

    @app.post("/v2/rerank", **rerank_route_docs("/v2/rerank"))
    async def cohere_rerank(request: Request) -> Response:
        return await serve(request, "/v2/rerank", CohereRequest, cohere_response)

    @app.post("/v1/rerank", **rerank_route_docs("/v1/rerank"))
    async def jina_rerank(request: Request) -> Response:
        return await serve(
            request,
            "/v1/rerank",
            JinaRequest,
            jina_response(lambda: state.reranker.model_name if state.reranker else None),
        )

    @app.post("/rerank", **rerank_route_docs("/rerank"))
    async def tei_rerank(request: Request) -> Response:
        return await serve(request, "/rerank", TeiRequest, tei_response)

    install_openapi(app, settings)
    return app


@dataclass
class _Seen:
    """What the request log line reports besides the status."""

    documents: int = 0
    windows: int = 0


def _ready_reranker(state: ServerState) -> Reranker:
    if state.reranker is None:
        if state.load_error is not None:
            raise HttpError(503, f"the model did not load: {state.load_error}")
        raise HttpError(503, "the model is still loading; retry shortly", {"Retry-After": "2"})
    return state.reranker


async def _rerank(
    request: Request,
    state: ServerState,
    reranker: Reranker,
    query: str,
    texts: list[str],
    options: dict[str, Any],
    top_n: int | None,
    count_tokens: bool = False,
) -> tuple[list[RerankResult], int, int]:
    retrieval_scores = options.pop("retrieval_scores", None)
    max_tokens = options.pop("max_tokens_per_doc", None)
    threshold = options.pop("score_threshold", None)
    try:
        configured = reranker.with_options(**options) if options else reranker
    except (ValueError, TypeError) as exc:
        raise HttpError(422, f"crossrank: {exc}") from None
    with state.lock:
        if state.in_flight >= state.settings.max_queue:
            raise HttpError(429, "the server is at its queue limit; retry shortly", {"Retry-After": "1"})
        state.in_flight += 1
        state.metrics.in_flight.set(state.in_flight)
    handle = RequestHandle()

    def work() -> tuple[list[RerankResult], int]:
        if handle.cancelled.is_set():  # the client left while this waited for a thread
            raise RequestCancelled
        with request_scope(handle):
            documents = _first_tokens(configured, texts, max_tokens) if max_tokens else texts
            results = configured.rerank(
                query, documents, retrieval_scores=retrieval_scores, score_threshold=threshold
            )
            tokens = 0
            if count_tokens:  # usage for Jina clients: query and document tokens, as tokenized
                query_tokens = len(configured.scorer.tokenize([query])[0].ids)
                tokens = sum(query_tokens + len(t.ids) for t in configured.scorer.tokenize(documents))
            return results, tokens

    task = asyncio.ensure_future(asyncio.to_thread(work))
    left = asyncio.ensure_future(_client_left(request))
    try:
        await asyncio.wait({task, left}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            # The client left: its queue slot and its waiting batches are freed now, not when
            # the worker reaches them; the thread stops at its next model call.
            for worker in (state.batching, state.coarse_batching):
                if worker is not None:
                    worker.drop(handle)
            handle.cancelled.set()
            task.add_done_callback(_discard)
            raise RequestCancelled
        try:
            results, tokens = task.result()
        except (ValueError, TypeError) as exc:
            raise HttpError(422, str(exc)) from None
    finally:
        left.cancel()
        with state.lock:
            state.in_flight -= 1
            state.metrics.in_flight.set(state.in_flight)
    return (results if top_n is None else results[:top_n]), handle.windows, tokens


async def _client_left(request: Request) -> None:
    """Return when the client disconnects (the body is read: the next message is the disconnect)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _discard(task: asyncio.Future[Any]) -> None:
    # The abandoned request's thread ends in RequestCancelled (or its result): nobody reads it.
    if not task.cancelled():
        task.exception()


def _first_tokens(reranker: Reranker, texts: list[str], max_tokens: int) -> list[str]:
    """Each text cut after its first ``max_tokens`` tokens (Cohere's ``max_tokens_per_doc``)."""
    cut = []
    for text, tokens in zip(texts, reranker.scorer.tokenize(texts), strict=True):
        cut.append(text if len(tokens.ids) <= max_tokens else text[: int(tokens.offsets[max_tokens - 1][1])])
    return cut


def _coarse_model_name(state: ServerState) -> str | None:
    if state.coarse_batching is None:
        return None
    return state.coarse_batching.name


def _backend(batching: BatchingScorer | None) -> str | None:
    if batching is None:
        return None
    from crossrank.models.backends import describe_scorer

    return describe_scorer(batching.inner)
