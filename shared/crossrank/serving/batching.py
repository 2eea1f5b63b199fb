"""Dynamic batching: one model worker merges the windows of concurrent requests.

Each request reranks in its own thread with a :class:`~crossrank.Reranker` whose scorer is
a :class:`BatchingScorer`. Its ``score`` hands the batch to the worker and waits; the worker
takes the oldest waiting batch and adds more (from any request), waiting at most
``max_wait_ms`` for them, until the group holds ``MERGE_CALLS`` model calls' worth of tokens.
It then pools the group's pairs, sorts them by length and scores them in model calls of at
most ``batch_size`` pairs and ``max_batch_tokens`` padded tokens, and routes each request's
scores back in order. Sorting across requests is what makes merging pay: one request's 20
candidates padded to their longest waste more than a few hundred candidates grouped by length.
A request whose client went away (see :func:`request_scope`) has its waiting work dropped.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from crossrank.ranking.batching import plan_batches
from crossrank.scorer import DelegatingScorer, PairScorer

__all__ = [
    "MERGE_CALLS",
    "BatchStats",
    "BatchingScorer",
    "RequestCancelled",
    "RequestHandle",
    "request_scope",
]

# How many model calls' worth of tokens one merged group may hold: enough to sort a busy
# queue by length, few enough that the oldest request waits for a handful of calls only.
MERGE_CALLS = 8


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
    tokens: int
    handle: RequestHandle | None
    done: threading.Event = field(default_factory=threading.Event)
    scores: list[float] | None = None
    error: BaseException | None = None


class BatchingScorer(DelegatingScorer):
    """A :class:`~crossrank.PairScorer` that merges concurrent callers' batches.

    Args:
        scorer: The real scorer (the one model).
        max_batch_tokens: Most padded tokens per model call.
        max_wait_ms: Longest wait for more batches before scoring what is there.
        batch_size: Most pairs per model call.
        on_batch: Called after every model call (for metrics).
    """

    def __init__(
        self,
        scorer: PairScorer,
        *,
        max_batch_tokens: int,
        max_wait_ms: float,
        batch_size: int = 32,
        on_batch: Callable[[BatchStats], object] | None = None,
    ) -> None:
        super().__init__(scorer)
        if batch_size < 1 or max_batch_tokens < 1:
            raise ValueError(
                f"batch_size and max_batch_tokens must be positive, got {batch_size} and {max_batch_tokens}."
            )
        self._max_batch_tokens = max_batch_tokens
        self._batch_size = batch_size
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
        special = self.inner.num_special_tokens
        tokens = sum(len(query) + len(passage) + special for query, passage in pairs)
        job = _Job(pairs, tokens, handle)
        with self._ready:
            self._jobs.append(job)
            self._ready.notify()
        job.done.wait()
        if job.error is not None:
            raise job.error
        assert job.scores is not None
        return job.scores

    def drop(self, handle: RequestHandle) -> None:
        """Forget ``handle``'s waiting batches now: its client left.

        Its callers get :class:`RequestCancelled` at once (not when the worker reaches
        their batches), and its later batches are refused in :meth:`score`.
        """
        handle.cancelled.set()
        with self._ready:
            dropped = [job for job in self._jobs if job.handle is handle]
            for job in dropped:
                self._jobs.remove(job)
        for job in dropped:
            job.error = RequestCancelled()
            job.done.set()

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
            tokens = taken[0].tokens
            budget = MERGE_CALLS * self._max_batch_tokens
            deadline = time.monotonic() + self._max_wait_s
            while True:
                while self._jobs:
                    if tokens + self._jobs[0].tokens > budget:
                        return taken
                    job = self._jobs.popleft()
                    taken.append(job)
                    tokens += job.tokens
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
            if live:
                self._score_group(live)

    def _score_group(self, jobs: list[_Job]) -> None:
        """Score the pooled pairs of ``jobs`` in length-sorted calls; route the scores back."""
        pooled = [(number, pair) for number, job in enumerate(jobs) for pair in job.pairs]
        special = self.inner.num_special_tokens
        lengths = [len(query) + len(passage) + special for _, (query, passage) in pooled]
        scores: list[float] = [0.0] * len(pooled)
        try:
            for call in plan_batches(lengths, self._batch_size, self._max_batch_tokens):
                started = time.perf_counter()
                called = self.inner.score([pooled[index][1] for index in call])
                if len(called) != len(call):
                    raise ValueError(f"the scorer returned {len(called)} scores for {len(call)} pairs")
                for index, score in zip(call, called, strict=True):
                    scores[index] = float(score)
                if self._on_batch is not None:
                    padded = len(call) * max(lengths[index] for index in call)
                    requests = len({pooled[index][0] for index in call})
                    elapsed = time.perf_counter() - started
                    self._on_batch(BatchStats(len(call), padded, requests, elapsed))
        except Exception as exc:  # noqa: BLE001 - the model failed: every request in the group gets it
            for job in jobs:
                job.error = exc
                job.done.set()
            return
        cursor = 0
        for job in jobs:
            job.scores = scores[cursor : cursor + len(job.pairs)]
            cursor += len(job.pairs)
            job.done.set()
