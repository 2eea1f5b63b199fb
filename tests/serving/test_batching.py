"""The model worker merges concurrent callers' batches and routes every score back."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest
from fake_scorer import FakeScorer

from crossrank import Reranker
from crossrank.serving.batching import (
    BatchingScorer,
    BatchStats,
    RequestCancelled,
    RequestHandle,
    request_scope,
)


class _SlowScorer(FakeScorer):
    def score(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[float]:
        time.sleep(0.05)
        return super().score(pairs)


def test_concurrent_callers_are_merged_and_get_their_own_scores() -> None:
    stats: list[BatchStats] = []
    batching = BatchingScorer(_SlowScorer(), max_batch_tokens=10_000, max_wait_ms=30, on_batch=stats.append)
    try:
        shared = Reranker(batching, score_cache_size=0)
        queries = [f"word{i} apple" for i in range(8)]
        documents = [[f"word{i} apple pie", "banana", f"word{i} word{i}"] for i in range(8)]
        results: dict[int, list[float]] = {}

        def call(i: int) -> None:
            results[i] = [r.score for r in shared.rerank(queries[i], documents[i])]

        threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        alone = Reranker(FakeScorer(), score_cache_size=0)
        for i in range(8):
            assert results[i] == [r.score for r in alone.rerank(queries[i], documents[i])]
        assert max(stat.requests for stat in stats) > 1  # at least one model call served several requests
        assert sum(stat.pairs for stat in stats) == 8 * 3
    finally:
        batching.close()


def test_a_cancelled_request_is_dropped_before_the_model_sees_it() -> None:
    scorer = FakeScorer()
    batching = BatchingScorer(scorer, max_batch_tokens=10_000, max_wait_ms=1)
    try:
        handle = RequestHandle()
        handle.cancelled.set()
        with request_scope(handle), pytest.raises(RequestCancelled):
            batching.score([([1], [1, 2])])
        assert scorer.pairs_scored == 0
    finally:
        batching.close()


def test_a_model_failure_reaches_every_caller_in_the_batch_and_the_worker_lives_on() -> None:
    class _Fails(FakeScorer):
        def score(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[float]:
            if any(len(passage) > 3 for _, passage in pairs):
                raise RuntimeError("boom")
            return super().score(pairs)

    batching = BatchingScorer(_Fails(), max_batch_tokens=10_000, max_wait_ms=1)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            batching.score([([1], [1, 2, 3, 4, 5])])
        assert batching.score([([1], [1, 2])]) == [1.0]
    finally:
        batching.close()


class _RecordingScorer(FakeScorer):
    """Records the pair lengths of every model call, and holds the first call back."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[int]] = []
        self.release = threading.Event()

    def score(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[float]:
        if not self.calls:
            self.release.wait(timeout=10)
        self.calls.append([len(query) + len(passage) for query, passage in pairs])
        return super().score(pairs)


def test_merged_requests_are_scored_in_length_sorted_calls_within_the_limits() -> None:
    scorer = _RecordingScorer()
    stats: list[BatchStats] = []
    batching = BatchingScorer(
        scorer, max_batch_tokens=60, max_wait_ms=50, batch_size=4, on_batch=stats.append
    )
    try:
        first = threading.Thread(target=batching.score, args=([([1], [1])],))
        first.start()  # occupies the worker, so the next callers queue up together
        time.sleep(0.1)
        lengths = [[2, 9, 3], [8, 2, 9], [3, 8, 2]]
        results: dict[int, list[float]] = {}

        def call(number: int) -> None:
            results[number] = batching.score([([1], [1] * (length - 1)) for length in lengths[number]])

        threads = [threading.Thread(target=call, args=(number,)) for number in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(0.2)
        scorer.release.set()
        for thread in [first, *threads]:
            thread.join(timeout=10)
        merged = scorer.calls[1:]
        special = scorer.num_special_tokens
        # The three requests were pooled and grouped by length: longest first, <= 4 pairs a call.
        assert [length for call in merged for length in call] == sorted(
            (length for request in lengths for length in request), reverse=True
        )
        assert all(len(call) <= 4 and len(call) * (max(call) + special) <= 60 for call in merged)
        assert max(stat.requests for stat in stats) == 3
        for number in range(3):
            alone = FakeScorer().score([([1], [1] * (length - 1)) for length in lengths[number]])
            assert results[number] == alone
    finally:
        scorer.release.set()
        batching.close()


def test_bad_batching_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="batch_size and max_batch_tokens must be positive"):
        BatchingScorer(FakeScorer(), max_batch_tokens=100, max_wait_ms=1, batch_size=0)


def test_drop_frees_a_waiting_request_at_once() -> None:
    release = threading.Event()

    class _Blocked(FakeScorer):
        def score(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[float]:
            release.wait(timeout=10)
            return super().score(pairs)

    batching = BatchingScorer(_Blocked(), max_batch_tokens=8, max_wait_ms=0)
    try:
        busy = threading.Thread(target=batching.score, args=([([1], [2])],))
        busy.start()  # the worker is now inside a model call
        time.sleep(0.1)
        handle = RequestHandle()
        failures: list[BaseException] = []

        def wait() -> None:
            try:
                with request_scope(handle):
                    batching.score([([1], [3])] * 4)
            except RequestCancelled as exc:
                failures.append(exc)

        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(0.1)
        assert batching.queued_batches == 1
        batching.drop(handle)  # the client left: forgotten now, not when the model call ends
        waiter.join(timeout=2)
        assert not waiter.is_alive()
        assert len(failures) == 1
        assert batching.queued_batches == 0
    finally:
        release.set()
        busy.join(timeout=10)
        batching.close()
