"""Dynamic batching: one model worker merges the windows of concurrent requests.

Each request reranks in its own thread with a :class:`~crossrank.Reranker` whose scorer is
a :class:`BatchingScorer`. Its ``score`` hands the batch to the worker and waits; the worker
takes the oldest waiting batch, adds more (from any request) while they fit in
``max_batch_tokens`` padded tokens, waiting at most ``max_wait_ms`` for them, scores the lot
in one model call and routes each request's scores back in order. A request whose client
went away (see :func:`request_scope`) has its waiting work dropped.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from crossrank.scorer import DelegatingScorer, PairScorer

__all__ = ["BatchStats", "BatchingScorer", "RequestCancelled", "RequestHandle", "request_scope"]


class RequestCancelled(Exception):
    """The request's client disconnected; its queued work was dropped."""


@dataclass
class RequestHandle:
    """One HTTP request's stake in the model worker: cancelled when its client leaves."""

    cancelled: threading.Event = field(default_factory=threading.Event)
    windows: int = 0


_CURRENT: contextvars.ContextVar[RequestHandle | None] = contextvars.ContextVar(
    "crossrank_request", default=None
)


@contextlib.contextmanager
def request_scope(handle: RequestHandle) -> Iterator[RequestHandle]:
    """Tag the batches scored in this context (and threads started from it) with ``handle``."""
    token = _CURRENT.set(handle)
    try:
        yield handle
    finally:
        _CURRENT.reset(token)


@dataclass(frozen=True)
class BatchStats:
    """What one merged model call held."""

    pairs: int
    padded_tokens: int
    requests: int
    seconds: float


@dataclass
class _Job:
    pairs: Sequence[tuple[Sequence[int], Sequence[int]]]
    longest: int
    handle: RequestHandle | None
    done: threading.Event = field(default_factory=threading.Event)
    scores: list[float] | None = None
    error: BaseException | None = None


class BatchingScorer(DelegatingScorer):
    """A :class:`~crossrank.PairScorer` that merges concurrent callers' batches.

    Args:
        scorer: The real scorer (the one model).
        max_batch_tokens: Most padded tokens per merged call.
        max_wait_ms: Longest wait for more batches before scoring what is there.
        on_batch: Called after every model call (for metrics).
    """

    def __init__(
        self,
        scorer: PairScorer,
        *,
        max_batch_tokens: int,
        max_wait_ms: float,
        on_batch: Callable[[BatchStats], object] | None = None,
    ) -> None:
        super().__init__(scorer)
        self._max_batch_tokens = max_batch_tokens
        self._max_wait_s = max_wait_ms / 1000
        self._on_batch = on_batch
        self._jobs: deque[_Job] = deque()
        self._ready = threading.Condition()
        self._stopped = False
        self._worker = threading.Thread(target=self._run, name="crossrank-model-worker", daemon=True)
        self._worker.start()

    @property
    def queued_batches(self) -> int:
        """Batches waiting for the model worker."""
        return len(self._jobs)

    def score(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[float]:
        """Queue ``pairs`` for the model worker and wait for their scores.

        Raises:
            RequestCancelled: If the request's client disconnected meanwhile.
        """
        handle = _CURRENT.get()
        if handle is not None:
            if handle.cancelled.is_set():
                raise RequestCancelled
            handle.windows += len(pairs)
        longest = max((len(query) + len(passage) for query, passage in pairs), default=0)
        job = _Job(pairs, longest + self.inner.num_special_tokens, handle)
        with self._ready:
            self._jobs.append(job)
            self._ready.notify()
        job.done.wait()
        if job.error is not None:
            raise job.error
        assert job.scores is not None
        return job.scores

    def close(self) -> None:
        """Stop the worker once the queue is empty."""
        with self._ready:
            self._stopped = True
            self._ready.notify()
        self._worker.join(timeout=10)

    def _take(self) -> list[_Job] | None:
        with self._ready:
            while not self._jobs and not self._stopped:
                self._ready.wait()
            if not self._jobs:
                return None
            taken = [self._jobs.popleft()]
            longest = taken[0].longest
            count = len(taken[0].pairs)
            deadline = time.monotonic() + self._max_wait_s
            while True:
                while self._jobs:
                    job = self._jobs[0]
                    grown = (count + len(job.pairs)) * max(longest, job.longest)
                    if grown > self._max_batch_tokens:
                        return taken
                    taken.append(self._jobs.popleft())
                    longest, count = max(longest, job.longest), count + len(job.pairs)
                left = deadline - time.monotonic()
                if left <= 0 or self._stopped:
                    return taken
                self._ready.wait(timeout=left)

    def _run(self) -> None:
        while (taken := self._take()) is not None:
            live = []
            for job in taken:
                if job.handle is not None and job.handle.cancelled.is_set():
                    job.error = RequestCancelled()
                    job.done.set()
                else:
                    live.append(job)
            if not live:
                continue
            merged = [pair for job in live for pair in job.pairs]
            started = time.perf_counter()
            try:
                scores = self.inner.score(merged)
            except Exception as exc:  # noqa: BLE001 - the model failed: every request in the batch gets it
                for job in live:
                    job.error = exc
                    job.done.set()
                continue
            elapsed = time.perf_counter() - started
            cursor = 0
            for job in live:
                job.scores = [float(score) for score in scores[cursor : cursor + len(job.pairs)]]
                cursor += len(job.pairs)
                job.done.set()
            if self._on_batch is not None:
                longest = max(job.longest for job in live)
                self._on_batch(BatchStats(len(merged), len(merged) * longest, len(live), elapsed))
