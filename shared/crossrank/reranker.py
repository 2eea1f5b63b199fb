"""The :class:`Reranker`: cross-encoder reranking with chunk-max windows and RRF."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from crossrank.cascade_stage import (
    check_cascade,
    check_coarse_length,
    check_single_stage,
    coarse_stage_options,
)
from crossrank.models.backends import Backend, Precision, describe_scorer
from crossrank.models.lexical_scorer import LEXICAL_COARSE_MODEL, LexicalScorer
from crossrank.models.model_handle import ModelHandle
from crossrank.models.remote_client import RemoteReranker
from crossrank.option_checks import refuses_unknown_keywords
from crossrank.options import (
    LOAD_OPTIONS,
    OPTIONS,
    Fusion,
    LongDocuments,
    Normalize,
    WindowAggregation,
    WindowBoundaries,
    options_docstring,
    validate_options,
)
from crossrank.profiles import load_profile
from crossrank.ranking.cascade import rank_through_stages
from crossrank.ranking.depth import depth_indices, restore_indices
from crossrank.ranking.inputs import check_pairs, check_rerank_call
from crossrank.ranking.score_cache import CacheInfo, ScoreCache
from crossrank.ranking.selection import rank_documents
from crossrank.ranking.window_scoring import TextScore, WindowScores, score_texts
from crossrank.reranker_options import RerankerOptions
from crossrank.results import RerankResult
from crossrank.scorer import PairScorer

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = ["Fusion", "LongDocuments", "Normalize", "Reranker"]


class Reranker(RerankerOptions):
    """Rerank candidate texts for a query with a cross-encoder.

    Long documents are split into overlapping token windows and keep their best
    window's score (chunk-max); the cross-encoder ranking can optionally be fused
    with the retriever's ranking by Reciprocal Rank Fusion. The model loads once,
    on first use, and one instance may be shared by threads. Options are read-only
    attributes (``reranker.top_n``...); :meth:`with_options` makes a changed copy.

    Every option is declared once, in :data:`crossrank.options.OPTIONS`; the
    ``Args`` below are rendered from it.

    Args:
        model: A hub id, a local directory, an already-built
            ``sentence_transformers.CrossEncoder``, any :class:`~crossrank.PairScorer`, or
            the URL of a ``crossrank serve`` server (``http://127.0.0.1:8787``), which then
            does the scoring and ranking with this reranker's ranking options.
            Defaults to ``$CROSSRANK_MODEL``, else ``cross-encoder/ms-marco-MiniLM-L6-v2``.
    {options}

    The query is truncated to half of the model's window (its first tokens), so
    every document window keeps at least half the window for document text.

    Example:
        >>> reranker = Reranker("path/to/cross-encoder", top_n=3)
        >>> results = reranker.rerank("what is chunk-max?", ["doc one", "doc two"])
        >>> results[0].index, results[0].score  # doctest: +SKIP
        (1, 0.93)
    """

    # Python's own error for Reranker(top_k=1) gives no hint; this one says "did you mean `top_n`?".
    @refuses_unknown_keywords(("model", *OPTIONS), "Reranker option")
    def __init__(
        self,
        model: str | CrossEncoder | PairScorer | None = None,
        *,
        device: str | None = None,
        trust_remote_code: bool = False,
        cross_encoder_kwargs: dict[str, Any] | None = None,
        api_key: str | None = None,
        backend: Backend = "auto",
        precision: Precision = "auto",
        instruction: str | None = None,
        coarse_model: str | CrossEncoder | PairScorer | None = None,
        coarse_backend: Backend | None = None,
        coarse_keep: int = 30,
        coarse_max_length: int | None = None,
        fine_windows_per_document: int | None = None,
        fine_window_margin: float | None = None,
        long_documents: LongDocuments = "chunk_max",
        window_overlap: int | None = None,
        max_windows: int | None = 16,
        window_boundaries: WindowBoundaries = "tokens",
        window_aggregation: WindowAggregation = "max",
        fusion: Fusion | None = None,
        rrf_k: float = 60.0,
        rrf_weights: tuple[float, float] = (1.0, 1.0),
        normalize: Normalize | None = None,
        score_threshold: float | None = None,
        top_n: int | None = None,
        rerank_depth: int | None = None,
        batch_size: int = 32,
        max_tokens_per_batch: int = 16384,
        show_progress_bar: bool = False,
        score_cache_size: int = 10_000,
    ) -> None:
        self._options: dict[str, Any] = validate_options(
            {name: value for name, value in locals().items() if name in OPTIONS}
        )
        if isinstance(model, PairScorer) and (backend, precision) != ("auto", "auto"):
            raise ValueError(
                "backend and precision apply to models crossrank loads (a hub id, a path or a "
                f"CrossEncoder), not to a ready PairScorer; got backend={backend!r}, "
                f"precision={precision!r}. Leave them as 'auto'."
            )
        loading = {name: self._options[name] for name in LOAD_OPTIONS if name != "api_key"}
        self._model = ModelHandle(model, loading=loading, api_key=self._options["api_key"])
        self._score_cache: ScoreCache | None = ScoreCache(score_cache_size) if score_cache_size else None
        self._coarse_lock = threading.Lock()
        self._coarse: Reranker | None = None
        if self.is_cascade:
            check_cascade(model, self._options)
        else:
            check_single_stage(self._options)

    @property
    def model_spec(self) -> str | CrossEncoder | PairScorer | None:
        """The ``model`` argument as given (shared by copies from :meth:`with_options`)."""
        return self._model.spec

    @property
    def model_name(self) -> str:
        """The model's id or path (without loading it)."""
        return self._model.name

    @property
    def remote(self) -> RemoteReranker | None:
        """The client of the server named by a URL ``model`` (``None`` for a local model)."""
        return self._model.remote

    @property
    def coarse(self) -> Reranker | None:
        """The coarse stage of a cascade (its model loads on first use), or ``None``."""
        if not self.is_cascade:
            return None
        if self._coarse is None:
            spec = self.coarse_model or self.model_spec
            if spec == LEXICAL_COARSE_MODEL:
                spec = LexicalScorer(self.scorer)
            with self._coarse_lock:
                if self._coarse is None:
                    self._coarse = Reranker(spec, **coarse_stage_options(self._options))
        return self._coarse

    @property
    def scorer(self) -> PairScorer:
        """The loaded scorer; loads the model on first access (thread-safe).

        Raises:
            TypeError: For a server URL ``model``: the server holds the model.
        """
        return self._model.scorer

    @property
    def backend_in_use(self) -> str:
        """How the loaded model runs (loads it): ``"onnx-int8"``, ``"torch-bf16"``...

        One of ``"onnx-int8"``, ``"onnx"``, ``"torch-fp32"``, ``"torch-bf16"``,
        ``"torch-fp16"``, ``"remote"`` (a server URL), or a custom scorer's class name.
        """
        return self._model.description

    def cache_info(self) -> CacheInfo:
        """Hits, misses, bound and size of the window-score cache (all 0 when it is off).

        Example:
            >>> reranker.cache_info()  # doctest: +SKIP
            CacheInfo(hits=40, misses=40, maxsize=10000, size=40)
        """
        if self._score_cache is None:
            return CacheInfo(hits=0, misses=0, maxsize=0, size=0)
        return self._score_cache.info()

    def clear_score_cache(self) -> None:
        """Forget every cached window score (a cascade's coarse stage's too) and reset the counters."""
        if self._score_cache is not None:
            self._score_cache.clear()
        if self._coarse is not None:
            self._coarse.clear_score_cache()

    def rerank(
        self,
        query: str,
        documents: Sequence[str],
        *,
        retrieval_scores: Sequence[float] | None = None,
        top_n: int | None = None,
        score_threshold: float | None = None,
    ) -> list[RerankResult]:
        """Rerank ``documents`` for ``query``.

        Args:
            query: The search query.
            documents: Candidate texts, in the retriever's order.
            retrieval_scores: The retriever's score per document (higher is better);
                when given, they define the retrieval rank instead of input order.
            top_n: Overrides the instance's ``top_n`` for this call.
            score_threshold: Overrides the instance's ``score_threshold`` for this call.

        Returns:
            Results best first; every input appears once unless cut by ``top_n`` or
            ``score_threshold``.

        Raises:
            TypeError: If the query or a document is not a string.
            ValueError: If the query is empty or an option is out of range.
        """
        query, documents, scores_in, top_n, score_threshold = check_rerank_call(
            query, documents, retrieval_scores, top_n, score_threshold
        )
        if not documents:
            return []
        kept = depth_indices(len(documents), scores_in, self.rerank_depth)
        if kept is not None:
            documents = [documents[index] for index in kept]
            scores_in = None if scores_in is None else [scores_in[index] for index in kept]
            return restore_indices(
                self._rerank_checked(query, documents, scores_in, top_n, score_threshold, kept), kept
            )
        return self._rerank_checked(query, documents, scores_in, top_n, score_threshold)

    def _rerank_checked(
        self,
        query: str,
        documents: list[str],
        scores_in: list[float] | None,
        top_n: int | None,
        score_threshold: float | None,
        positions: Sequence[int] | None = None,
    ) -> list[RerankResult]:
        remote = self.remote
        if remote is not None:
            return remote.rerank(query, documents, **self._remote_call(scores_in, top_n, score_threshold))

        # Errors name the caller's own positions, also behind a rerank_depth cut.
        names = [f"documents[{i}]" for i in (positions or range(len(documents)))]
        ranking: dict[str, Any] = {
            "fusion": self.fusion,
            "rrf_k": self.rrf_k,
            "rrf_weights": self.rrf_weights,
            "top_n": self.top_n if top_n is None else top_n,
            "score_threshold": self.score_threshold if score_threshold is None else score_threshold,
        }
        coarse = self.coarse
        if coarse is not None:
            if self.coarse_max_length is not None:
                check_coarse_length(self.coarse_max_length, self.scorer.max_length)
            return rank_through_stages(
                query,
                documents,
                names,
                scores_in,
                coarse=coarse._score_texts,
                fine=self._score_texts,
                keep=self.coarse_keep,
                fine_windows=self.fine_windows_per_document,
                fine_window_margin=self.fine_window_margin,
                ranking=ranking,
            )
        text_scores = self._score_texts(query, documents, names)
        return rank_documents(documents, text_scores, scores_in, **ranking)

    async def arerank(
        self,
        query: str,
        documents: Sequence[str],
        *,
        retrieval_scores: Sequence[float] | None = None,
        top_n: int | None = None,
        score_threshold: float | None = None,
    ) -> list[RerankResult]:
        """Async :meth:`rerank`: scores in a worker thread (or awaits the server) so the event loop runs."""
        remote = self.remote
        if remote is not None:
            query, documents, scores_in, top_n, score_threshold = check_rerank_call(
                query, documents, retrieval_scores, top_n, score_threshold
            )
            if not documents:
                return []
            kept = depth_indices(len(documents), scores_in, self.rerank_depth)
            if kept is not None:
                documents = [documents[index] for index in kept]
                scores_in = None if scores_in is None else [scores_in[index] for index in kept]
            results = await remote.arerank(
                query, documents, **self._remote_call(scores_in, top_n, score_threshold)
            )
            return results if kept is None else restore_indices(results, kept)
        return await asyncio.to_thread(
            self.rerank,
            query,
            documents,
            retrieval_scores=retrieval_scores,
            top_n=top_n,
            score_threshold=score_threshold,
        )

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Cross-encoder score (chunk-max, after ``normalize``) of each (query, text) pair.

        Pairs are grouped by query so each query is tokenized once.

        Args:
            pairs: ``(query, text)`` pairs.

        Returns:
            One float per pair, in input order.
        """
        checked = check_pairs(pairs)
        by_query: dict[str, list[int]] = {}
        for position, (query, _) in enumerate(checked):
            by_query.setdefault(query, []).append(position)
        scores = [0.0] * len(checked)
        for query, positions in by_query.items():
            texts = [checked[position][1] for position in positions]
            names = [f"pairs[{position}][1]" for position in positions]
            query_name = f"pairs[{positions[0]}][0]"
            text_scores = self._score_texts(query, texts, names, query_name)
            for position, text in zip(positions, texts, strict=True):
                scores[position] = text_scores[text].score
        return scores

    def _remote_call(
        self, retrieval_scores: list[float] | None, top_n: int | None, score_threshold: float | None
    ) -> dict[str, Any]:
        return {
            "options": self._options,
            "retrieval_scores": retrieval_scores,
            "top_n": self.top_n if top_n is None else top_n,
            "score_threshold": self.score_threshold if score_threshold is None else score_threshold,
        }

    def _score_texts(
        self,
        query: str,
        texts: Sequence[str],
        names: Sequence[str],
        query_name: str = "query",
        *,
        window_scores_out: WindowScores | None = None,
        only_windows: Mapping[str, Sequence[tuple[int, int]]] | None = None,
    ) -> dict[str, TextScore]:
        remote = self.remote
        if remote is not None:
            # The server scores; fusion and cut-offs are off so every text comes back with its score.
            plain = {**self._options, "fusion": None}
            distinct = list(dict.fromkeys(texts))
            results = remote.rerank(query, distinct, options=plain, top_n=None, score_threshold=None)
            return {
                distinct[r.index]: TextScore(
                    r.cross_encoder_score, r.num_windows, r.window_index, r.window_span
                )
                for r in results
            }
        scorer = self.scorer
        return score_texts(
            scorer,
            query,
            texts,
            options=self._options,
            cache=self._score_cache,
            backend=describe_scorer(scorer),
            names=names,
            query_name=query_name,
            window_scores_out=window_scores_out,
            only_windows=only_windows,
        )

    @classmethod
    def from_profile(cls, path: str | os.PathLike[str], **overrides: Any) -> Reranker:
        """A reranker with the options ``crossrank tune`` chose, read from its profile.

        Args:
            path: The profile (``crossrank tune DATA --output PROFILE.json``).
            **overrides: ``model`` or options that win over the profile's (``top_n=5``).

        Raises:
            FileNotFoundError: If there is no such profile.
            ValueError: If the file is not a profile or holds an option crossrank rejects.

        Warns:
            ProfileMismatchWarning: When this CPU or the model differ from the tuned ones.
        """
        model, options = load_profile(path, overrides)
        return cls(model, **options)

    def __deepcopy__(self, memo: dict[int, Any]) -> Reranker:
        # The lock cannot be copied, and a copy should share the (read-only) model anyway.
        return self.with_options()

    def with_options(self, **options: Any) -> Reranker:
        """A copy with some options changed that shares the already-loaded model.

        The copy also shares the window-score cache unless ``score_cache_size``
        changes. Changing a loading option (``device``, ``backend``, ``precision``,
        ``trust_remote_code``, ``cross_encoder_kwargs``) makes the copy load its own
        model, except for a ready :class:`~crossrank.PairScorer`, which is always shared.

        Args:
            **options: Constructor keyword arguments to change (not ``model``).

        Returns:
            A new Reranker.
        """
        current = self._options
        merged = validate_options({**current, **options})
        reload = any(merged[name] != current[name] for name in LOAD_OPTIONS)
        copy = Reranker(self.model_spec, **merged)
        if self._coarse is not None and copy.is_cascade and _same_spec(merged, current, "coarse_model"):
            # The coarse stage's own with_options shares its loaded model unless its loading changed.
            copy._coarse = self._coarse.with_options(**coarse_stage_options(merged))
        if not reload or isinstance(self.model_spec, PairScorer):
            copy._model = self._model
            # A cache only ever serves one model, so its keys stay unambiguous.
            if self._score_cache is not None and merged["score_cache_size"] == self.score_cache_size:
                copy._score_cache = self._score_cache
        return copy


def _same_spec(merged: dict[str, Any], current: dict[str, Any], name: str) -> bool:
    a, b = merged[name], current[name]
    return a is b or (isinstance(a, str) and a == b)


# The options' documentation lives once, in the table.
Reranker.__doc__ = (Reranker.__doc__ or "").replace("{options}", options_docstring(indent=8))
