"""The server's Prometheus metrics, on a registry of its own (one per app)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crossrank.serving.batching import BatchStats

__all__ = ["ServerMetrics"]


class ServerMetrics:
    """Requests by route and status, latency, queue depth, batch sizes and pairs scored."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter(
            "crossrank_requests",
            "Requests answered, by route and status.",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "crossrank_request_seconds",
            "Time to answer a rerank request.",
            ["route"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "crossrank_requests_in_flight", "Rerank requests being served.", registry=self.registry
        )
        self.queue_depth = Gauge(
            "crossrank_queue_depth", "Batches waiting for the model worker.", registry=self.registry
        )
        self.batch_pairs = Histogram(
            "crossrank_batch_pairs",
            "(query, window) pairs per model call.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            registry=self.registry,
        )
        self.batch_tokens = Histogram(
            "crossrank_batch_tokens",
            "Padded tokens per model call.",
            buckets=(512, 1024, 2048, 4096, 8192, 16384, 32768, 65536),
            registry=self.registry,
        )
        self.batch_requests = Histogram(
            "crossrank_batch_requests",
            "Requests whose windows one model call merged.",
            buckets=(1, 2, 3, 4, 6, 8, 12, 16, 32, 64),
            registry=self.registry,
        )
        self.pairs = Counter(
            "crossrank_pairs_scored", "(query, window) pairs scored.", registry=self.registry
        )

    def record_batch(self, stats: BatchStats) -> None:
        """Count one model call of the worker."""
        self.batch_pairs.observe(stats.pairs)
        self.batch_tokens.observe(stats.padded_tokens)
        self.batch_requests.observe(stats.requests)
        self.pairs.inc(stats.pairs)

    def exposition(self) -> tuple[bytes, str]:
        """The metrics in Prometheus' text format, and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
