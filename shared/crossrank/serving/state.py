"""The server's state: the model loaded in the background, its batching workers, the queue count."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crossrank.errors import ModelLoadError
from crossrank.options import LOAD_OPTIONS, OPTIONS
from crossrank.reranker import Reranker
from crossrank.serving.batching import MERGE_CALLS, BatchingScorer
from crossrank.serving.metrics import ServerMetrics
from crossrank.serving.settings import ServeSettings

if TYPE_CHECKING:
    from crossrank.scorer import PairScorer

__all__ = ["ServerState"]

log = logging.getLogger("crossrank.serve")


@dataclass
class ServerState:
    """What the app holds: the settings, the metrics, the loaded model and its workers."""

    settings: ServeSettings
    metrics: ServerMetrics = field(default_factory=ServerMetrics)
    reranker: Reranker | None = None
    batching: BatchingScorer | None = None
    coarse_batching: BatchingScorer | None = None
    load_error: str | None = None
    in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def load(self) -> None:
        """Load and warm the model (in a thread: /health answers meanwhile)."""
        settings = self.settings
        try:
            configured = Reranker(settings.model, **settings.options)
            ranking = {name: value for name, value in settings.options.items() if name not in LOAD_OPTIONS}
            self.batching = self._batching(configured.scorer)
            # A request hands all its windows to the worker in one piece (up to a merge
            # group's tokens); the worker sorts them with other requests' and makes the calls.
            whole_request: dict[str, Any] = {
                "batch_size": 1 << 20,
                "max_tokens_per_batch": MERGE_CALLS * settings.max_batch_tokens,
            }
            coarse = configured.coarse
            if coarse is not None:
                # A cascade's coarse stage gets a worker of its own: both stages batch
                # across requests, and the fine stage never waits behind pruning calls.
                self.coarse_batching = self._batching(coarse.scorer)
                whole_request.update(coarse_model=self.coarse_batching, coarse_backend=None)
            reranker = Reranker(self.batching, **{**ranking, **whole_request})
            reranker.rerank("warm up the model", ["a first call loads and compiles what it needs"])
            reranker.clear_score_cache()
            self.reranker = reranker
            log.info("crossrank serve: %s ready", reranker.model_name)
        except (ModelLoadError, ImportError, ValueError, TypeError, OSError) as exc:
            self.load_error = str(exc)
            log.error("crossrank serve: the model did not load: %s", exc)

    def _batching(self, scorer: PairScorer) -> BatchingScorer:
        settings = self.settings
        return BatchingScorer(
            scorer,
            max_batch_tokens=settings.max_batch_tokens,
            max_wait_ms=settings.max_wait_ms,
            batch_size=settings.options.get("batch_size", OPTIONS["batch_size"].default),
            on_batch=self.metrics.record_batch,
        )
