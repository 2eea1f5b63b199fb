"""A crossrank server as the model: ``Reranker("http://127.0.0.1:8787")``.

The client sends the query, the documents and the ranking options to the server's Cohere v2
route with crossrank's ``crossrank`` extension, and reads back every result with its
details, so a remote :class:`~crossrank.Reranker` returns what a local one would. Timeouts
bound every call; a 429 or 503 is retried with backoff (honouring ``Retry-After``); a server
that is down or refuses the key gets one clear line. Needs ``httpx``
(``pip install "crossrank[client]"``).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from crossrank.errors import RemoteRerankError
from crossrank.results import RerankResult

__all__ = ["API_KEY_ENV_VAR", "RemoteReranker", "is_server_url"]

API_KEY_ENV_VAR = "CROSSRANK_API_KEY"
_RETRY_STATUSES = frozenset({429, 503})
_MAX_RETRY_WAIT_S = 5.0


def is_server_url(model: object) -> bool:
    """Whether ``model`` names a server (``http://`` or ``https://``) rather than a model."""
    return isinstance(model, str) and model.startswith(("http://", "https://"))


class RemoteReranker:
    """Calls ``POST {url}/v2/rerank`` of a crossrank server.

    Args:
        url: The server's base URL, e.g. ``http://127.0.0.1:8787``.
        api_key: The server's key; ``None`` reads ``$CROSSRANK_API_KEY`` (no key if unset).
        timeout: Seconds to wait for an answer (connecting: at most 5).
        retries: Extra attempts after a 429 or 503.
    """

    def __init__(
        self, url: str, *, api_key: str | None = None, timeout: float = 120.0, retries: int = 3
    ) -> None:
        try:
            import httpx
        except ImportError as exc:
            raise ImportError(
                'a server URL as the model needs httpx: run `pip install "crossrank[client]"`.'
            ) from exc
        self.url = url.rstrip("/")
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV_VAR)
        self._headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 5.0))
        self._retries = retries
        self._client = httpx.Client(timeout=self._timeout, headers=self._headers)

    def _body(
        self,
        query: str,
        documents: Sequence[str],
        options: Mapping[str, Any],
        retrieval_scores: Sequence[float] | None,
        top_n: int | None,
        score_threshold: float | None,
    ) -> dict[str, Any]:
        extension: dict[str, Any] = {"details": True}
        for name in (
            "long_documents",
            "window_overlap",
            "max_windows",
            "fusion",
            "rrf_k",
            "rrf_weights",
            "normalize",
        ):
            if options.get(name) is not None:
                extension[name] = options[name]
        if score_threshold is not None:
            extension["score_threshold"] = score_threshold
        if retrieval_scores is not None:
            extension["retrieval_scores"] = list(retrieval_scores)
        return {"query": query, "documents": list(documents), "top_n": top_n, "crossrank": extension}

    def rerank(
        self,
        query: str,
        documents: Sequence[str],
        *,
        options: Mapping[str, Any],
        retrieval_scores: Sequence[float] | None = None,
        top_n: int | None = None,
        score_threshold: float | None = None,
    ) -> list[RerankResult]:
        """The server's ranking of ``documents``, as :meth:`crossrank.Reranker.rerank` returns it.

        Raises:
            RemoteRerankError: If the server is down, refuses the key, stays busy or fails.
            ValueError: If the server rejects the request (422, 413), with its message.
        """
        import httpx

        body = self._body(query, documents, options, retrieval_scores, top_n, score_threshold)
        for attempt in range(self._retries + 1):
            try:
                response = self._client.post(f"{self.url}/v2/rerank", json=body)
            except httpx.TransportError as exc:
                raise self._unreachable(exc) from None
            if response.status_code not in _RETRY_STATUSES or attempt == self._retries:
                return self._results(response)
            time.sleep(_backoff(response, attempt))
        raise AssertionError("unreachable")

    async def arerank(
        self,
        query: str,
        documents: Sequence[str],
        *,
        options: Mapping[str, Any],
        retrieval_scores: Sequence[float] | None = None,
        top_n: int | None = None,
        score_threshold: float | None = None,
    ) -> list[RerankResult]:
        """Async :meth:`rerank`, with httpx's async client."""
        import httpx

        body = self._body(query, documents, options, retrieval_scores, top_n, score_threshold)
        async with httpx.AsyncClient(timeout=self._timeout, headers=self._headers) as client:
            for attempt in range(self._retries + 1):
                try:
                    response = await client.post(f"{self.url}/v2/rerank", json=body)
                except httpx.TransportError as exc:
                    raise self._unreachable(exc) from None
                if response.status_code not in _RETRY_STATUSES or attempt == self._retries:
                    return self._results(response)
                await asyncio.sleep(_backoff(response, attempt))
        raise AssertionError("unreachable")

    def _unreachable(self, exc: Exception) -> RemoteRerankError:
        return RemoteRerankError(
            f"cannot reach the crossrank server at {self.url} ({type(exc).__name__}: {exc}); "
            "start it with `crossrank serve` or check the URL"
        )

    def _results(self, response: Any) -> list[RerankResult]:
        status = response.status_code
        if status == 401:
            raise RemoteRerankError(
                f"the crossrank server at {self.url} refused the API key: "
                f"pass api_key= or set ${API_KEY_ENV_VAR}"
            )
        message = _message(response)
        if status in (413, 422):
            raise ValueError(f"the crossrank server at {self.url} rejected the request: {message}")
        if status != 200:
            raise RemoteRerankError(f"the crossrank server at {self.url} answered {status}: {message}")
        return [_result(row) for row in response.json()["results"]]


def _backoff(response: Any, attempt: int) -> float:
    retry_after = response.headers.get("retry-after", "")
    wait = float(retry_after) if retry_after.replace(".", "", 1).isdigit() else 0.25 * 2**attempt
    return min(wait, _MAX_RETRY_WAIT_S)


def _message(response: Any) -> str:
    try:
        return str(response.json().get("message", response.text))
    except ValueError:
        return str(response.text)[:200]


def _result(row: Mapping[str, Any]) -> RerankResult:
    details = row["crossrank"]
    start, end = details["window_span"]
    return RerankResult(
        index=int(row["index"]),
        score=float(row["relevance_score"]),
        cross_encoder_score=float(details["cross_encoder_score"]),
        retrieval_rank=int(details["retrieval_rank"]),
        retrieval_score=None if details["retrieval_score"] is None else float(details["retrieval_score"]),
        num_windows=int(details["num_windows"]),
        window_index=int(details["window_index"]),
        window_span=(int(start), int(end)),
    )
