"""What a server is started with: the model, the batching, the limits and the key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ServeSettings"]


@dataclass(frozen=True)
class ServeSettings:
    """Fixed when the server starts; no request can change them.

    Attributes:
        model: The served model (path or hub id); ``None``: ``$CROSSRANK_MODEL`` or the default.
        options: Reranker options for every request (backend, precision, device...); a
            request's ``crossrank`` object may change the ranking ones only.
        api_key: When set, every rerank route and ``/info`` need ``Authorization: Bearer KEY``.
        max_batch_tokens: Most padded tokens per merged model call.
        max_wait_ms: How long the model worker waits for more requests to merge into a batch.
        max_documents: Most documents in one request.
        max_document_chars: Most characters in one document.
        max_body_bytes: Largest request body accepted.
        max_queue: Most requests in flight at once; beyond it, 429 with ``Retry-After``.
    """

    model: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    api_key: str | None = None
    max_batch_tokens: int = 16384
    max_wait_ms: float = 5.0
    max_documents: int = 1000
    max_document_chars: int = 100_000
    max_body_bytes: int = 16 * 2**20
    max_queue: int = 64
