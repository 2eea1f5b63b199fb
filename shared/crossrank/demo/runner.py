"""The demo: vector search over the sample corpus in Chroma, then crossrank reranking."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from crossrank.demo.sample_corpus import load_sample_corpus, load_sample_queries
from crossrank.evaluation.chroma_store import Hit, chroma_client, ensure_collection, query_collection
from crossrank.evaluation.metrics import ndcg_at_k
from crossrank.models.cache_dir import default_cache_dir
from crossrank.options import OPTIONS
from crossrank.reranker import Reranker

__all__ = [
    "DEMO_OPTIONS",
    "DEMO_TOP_K",
    "DEMO_TOP_N",
    "DemoQueryReport",
    "DemoRow",
    "DemoSettings",
    "default_persist_dir",
    "mean_ndcg",
    "run_demo",
]

COLLECTION_NAME = "crossrank-demo"
_SNIPPET_CHARS = 160


def default_persist_dir() -> Path:
    """Where the embedded demo store lives: ``demo-chroma`` in the crossrank cache directory."""
    return default_cache_dir() / "demo-chroma"


DEMO_TOP_N = 5
"""Results the demo shows per query (the library's ``top_n`` default keeps every candidate)."""

# Chosen by mean NDCG@5 over all ten built-in queries with the test model (minilm-l6-reranker):
# vector search 0.701; chunk-max alone 0.730 at top-20 (helped 4, hurt 4); chunk-max with RRF
# 0.742 at top-20 and 0.772 at top-30 (helped 4, hurt 2), flat from top-25 to the whole corpus
# (0.769-0.783); truncation scored lower at every depth.
DEMO_TOP_K = 30
"""Candidates the demo takes from vector search per query."""

DEMO_OPTIONS: Mapping[str, Any] = MappingProxyType({"long_documents": "chunk_max", "fusion": "rrf"})
"""The reranking options the demo sets unless told otherwise (every other one is the library's):
chunk-max for long documents, and RRF of the cross-encoder's ranking with the vector ranking."""


@dataclass(frozen=True)
class DemoSettings:
    """What the demo runs; the CLI fills it from its options.

    Attributes:
        queries: The queries to run.
        model: The cross-encoder (``None``: ``$CROSSRANK_MODEL`` or the hub default).
        embedding_model: The bi-encoder for Chroma (``None``: the offline all-MiniLM-L6-v2).
        top_k: Candidates from Chroma per query.
        top_n: Results shown per query (and the depth of the NDCG it prints).
        options: Every other reranking option, by its name in
            :data:`crossrank.options.OPTIONS`, handed to :class:`~crossrank.Reranker` as
            given (so the demo never re-declares them, and the Reranker checks the values);
            :data:`DEMO_OPTIONS` fills in the ones not given, and the result is what runs.

    Raises:
        ValueError: For an ``options`` name that is not a reranking option, or ``top_n`` or
            ``show_progress_bar`` given there instead of as the settings' own field.
    """

    queries: Sequence[str]
    model: str | None = None
    embedding_model: str | None = None
    top_k: int = DEMO_TOP_K
    top_n: int = DEMO_TOP_N
    options: Mapping[str, Any] = field(default_factory=dict)
    chroma_host: str | None = None
    chroma_port: int = 8000
    persist_dir: Path = field(default_factory=default_persist_dir)
    reset: bool = False
    show_progress: bool = False

    def __post_init__(self) -> None:
        unknown = sorted(set(self.options) - set(OPTIONS))
        if unknown:
            raise ValueError(
                f"DemoSettings.options: {unknown} are not reranking options; the names are those of "
                "crossrank.options.OPTIONS"
            )
        for name in ("top_n", "show_progress_bar"):
            if name in self.options:
                raise ValueError(f"DemoSettings.options: give {name!r} as the settings' own field")
        # A copy, so the caller's mapping can change later without changing what ran; with the
        # demo's own defaults in it, so what the demo says it runs is what the Reranker gets.
        object.__setattr__(self, "options", MappingProxyType({**DEMO_OPTIONS, **self.options}))

    def option(self, name: str) -> Any:
        """The reranking option ``name`` as the demo runs it (the library's default if not set)."""
        return self.options.get(name, OPTIONS[name].default)


@dataclass(frozen=True)
class DemoRow:
    """One reranked document as the demo shows it."""

    rank: int
    vector_rank: int
    doc_id: str
    title: str
    cross_encoder_score: float
    score: float
    num_windows: int
    window_index: int
    window_span: tuple[int, int]
    snippet: str
    relevance: int | None = None
    """The sample corpus's grade for this query (2 answers it, 1 helps, 0 does not); ``None``
    for a query of the user's own, which has no labels."""

    @property
    def move(self) -> int:
        """Positions gained by reranking (positive: it rose)."""
        return self.vector_rank - self.rank


@dataclass(frozen=True)
class DemoQueryReport:
    """The reranked top-n of one query and what changed."""

    query: str
    rows: list[DemoRow]
    candidates: int
    ndcg_vector: float | None = None
    """NDCG@top_n of the vector-search order, for a built-in query (``None`` otherwise)."""
    ndcg_reranked: float | None = None
    """NDCG@top_n of the reranked order, for a built-in query (``None`` otherwise)."""

    @property
    def changed(self) -> int:
        """How many shown documents are not where vector search put them."""
        return sum(1 for row in self.rows if row.move != 0)

    @property
    def biggest_riser(self) -> DemoRow | None:
        """The shown document that rose most, if any rose."""
        risers = [row for row in self.rows if row.move > 0]
        return max(risers, key=lambda row: (row.move, -row.rank)) if risers else None


def _snippet(text: str, span: tuple[int, int]) -> str:
    start, end = span
    words = " ".join(text[start:end].split())
    return words if len(words) <= _SNIPPET_CHARS else words[: _SNIPPET_CHARS - 3].rstrip() + "..."


def run_demo(
    settings: DemoSettings,
    *,
    on_query: Callable[[DemoQueryReport], None] | None = None,
) -> list[DemoQueryReport]:
    """Index the sample corpus (if needed), then retrieve and rerank every query.

    Args:
        settings: What to run.
        on_query: Called with each query's report as soon as it is ready.

    Returns:
        One report per query, in order.
    """
    documents = load_sample_corpus()
    if settings.chroma_host is None:
        settings.persist_dir.mkdir(parents=True, exist_ok=True)
    client = chroma_client(
        path=str(settings.persist_dir), host=settings.chroma_host, port=settings.chroma_port
    )
    collection = ensure_collection(
        client,
        COLLECTION_NAME,
        ids=[document.id for document in documents],
        texts=[document.full_text for document in documents],
        metadatas=[{"title": document.title, "topic": document.topic} for document in documents],
        embedding_model=settings.embedding_model,
        reset=settings.reset,
        show_progress=settings.show_progress,
    )
    reranker = Reranker(
        settings.model, top_n=settings.top_n, show_progress_bar=settings.show_progress, **settings.options
    )
    labels = {query.text: query.relevant for query in load_sample_queries()}
    reports = []
    for query in settings.queries:
        hits = query_collection(collection, query, settings.top_k)
        report = _rerank_hits(reranker, query, hits, labels.get(query), settings.top_n)
        if on_query is not None:
            on_query(report)
        reports.append(report)
    return reports


def _rerank_hits(
    reranker: Reranker, query: str, hits: list[Hit], relevant: Mapping[str, int] | None, top_n: int
) -> DemoQueryReport:
    results = reranker.rerank(query, [hit.text for hit in hits])
    rows = [
        DemoRow(
            rank=rank,
            vector_rank=hits[result.index].rank,
            doc_id=hits[result.index].id,
            title=str(hits[result.index].metadata.get("title", "")),
            cross_encoder_score=result.cross_encoder_score,
            score=result.score,
            num_windows=result.num_windows,
            window_index=result.window_index,
            window_span=result.window_span,
            snippet=_snippet(hits[result.index].text, result.window_span),
            relevance=None if relevant is None else relevant.get(hits[result.index].id, 0),
        )
        for rank, result in enumerate(results, start=1)
    ]
    if relevant is None:
        return DemoQueryReport(query=query, rows=rows, candidates=len(hits))
    return DemoQueryReport(
        query=query,
        rows=rows,
        candidates=len(hits),
        ndcg_vector=ndcg_at_k([hit.id for hit in hits], relevant, k=top_n),
        ndcg_reranked=ndcg_at_k([row.doc_id for row in rows], relevant, k=top_n),
    )


def mean_ndcg(reports: Sequence[DemoQueryReport]) -> tuple[float, float] | None:
    """Mean NDCG@top_n before and after reranking over the labelled queries (``None``: none)."""
    pairs = [
        (report.ndcg_vector, report.ndcg_reranked)
        for report in reports
        if report.ndcg_vector is not None and report.ndcg_reranked is not None
    ]
    if not pairs:
        return None
    return (sum(v for v, _ in pairs) / len(pairs), sum(r for _, r in pairs) / len(pairs))
