"""The :class:`Reranker`: cross-encoder reranking with chunk-max windows and RRF."""

from __future__ import annotations

import asyncio
import math
import sys
import threading
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from crossrank.models.backends import Backend, Precision, describe_scorer
from crossrank.models.loading import load_cross_encoder, resolve_model_name
from crossrank.options import (
    LOAD_OPTIONS,
    OPTIONS,
    Fusion,
    LongDocuments,
    Normalize,
    check_int,
    check_threshold,
    options_docstring,
    validate_options,
)
from crossrank.ranking.batching import plan_batches
from crossrank.ranking.fusion import ranks_by_score, reciprocal_rank_fusion
from crossrank.ranking.score_cache import CacheInfo, ScoreCache
from crossrank.ranking.selection import select_top
from crossrank.ranking.windows import TokenWindow, plan_windows, window_char_span
from crossrank.results import RerankResult
from crossrank.scorer import PairScorer, TokenizedText

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = ["Fusion", "LongDocuments", "Normalize", "Reranker"]

_T = TypeVar("_T")


class _OptionValue(Generic[_T]):
    """A read-only attribute that reads one option of the Reranker it belongs to."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type) -> _OptionValue[_T]: ...
    @overload
    def __get__(self, instance: Reranker, owner: type) -> _T: ...
    def __get__(self, instance: Reranker | None, owner: type) -> _OptionValue[_T] | _T:
        if instance is None:
            return self
        value: _T = instance._options[self._name]
        return value

    def __set__(self, instance: Reranker, value: object) -> None:
        # A Reranker is shared by threads and adapters: changing it in place would race.
        raise AttributeError(
            f"Reranker options are read-only; use reranker.with_options({self._name}=...) for a copy."
        )


@dataclass(frozen=True, slots=True)
class _TextScore:
    """The cross-encoder's verdict on one distinct text."""

    score: float
    num_windows: int
    window_index: int
    window_span: tuple[int, int]


class Reranker:
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
            ``sentence_transformers.CrossEncoder``, or any :class:`~crossrank.PairScorer`.
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

    device: _OptionValue[str | None] = _OptionValue()
    trust_remote_code: _OptionValue[bool] = _OptionValue()
    cross_encoder_kwargs: _OptionValue[dict[str, Any]] = _OptionValue()
    backend: _OptionValue[Backend] = _OptionValue()
    """The requested backend (see :attr:`backend_in_use` for the one that runs)."""
    precision: _OptionValue[Precision] = _OptionValue()
    long_documents: _OptionValue[LongDocuments] = _OptionValue()
    window_overlap: _OptionValue[int | None] = _OptionValue()
    max_windows: _OptionValue[int | None] = _OptionValue()
    fusion: _OptionValue[Fusion | None] = _OptionValue()
    rrf_k: _OptionValue[float] = _OptionValue()
    rrf_weights: _OptionValue[tuple[float, float]] = _OptionValue()
    normalize: _OptionValue[Normalize | None] = _OptionValue()
    score_threshold: _OptionValue[float | None] = _OptionValue()
    top_n: _OptionValue[int | None] = _OptionValue()
    batch_size: _OptionValue[int] = _OptionValue()
    max_tokens_per_batch: _OptionValue[int] = _OptionValue()
    show_progress_bar: _OptionValue[bool] = _OptionValue()
    score_cache_size: _OptionValue[int] = _OptionValue()

    def __init__(
        self,
        model: str | CrossEncoder | PairScorer | None = None,
        *,
        device: str | None = None,
        trust_remote_code: bool = False,
        cross_encoder_kwargs: dict[str, Any] | None = None,
        backend: Backend = "auto",
        precision: Precision = "auto",
        long_documents: LongDocuments = "chunk_max",
        window_overlap: int | None = None,
        max_windows: int | None = 16,
        fusion: Fusion | None = None,
        rrf_k: float = 60.0,
        rrf_weights: tuple[float, float] = (1.0, 1.0),
        normalize: Normalize | None = None,
        score_threshold: float | None = None,
        top_n: int | None = None,
        batch_size: int = 32,
        max_tokens_per_batch: int = 16384,
        show_progress_bar: bool = False,
        score_cache_size: int = 10_000,
    ) -> None:
        self._options: dict[str, Any] = validate_options(
            {name: value for name, value in locals().items() if name in OPTIONS}
        )
        _check_model_spec(model)
        if isinstance(model, PairScorer) and (backend, precision) != ("auto", "auto"):
            raise ValueError(
                "backend and precision apply to models crossrank loads (a hub id, a path or a "
                f"CrossEncoder), not to a ready PairScorer; got backend={backend!r}, "
                f"precision={precision!r}. Leave them as 'auto'."
            )
        self._model_spec: str | CrossEncoder | PairScorer | None = model
        self._score_cache: ScoreCache | None = ScoreCache(score_cache_size) if score_cache_size else None
        self._scorer: PairScorer | None = model if isinstance(model, PairScorer) else None
        self._load_lock: threading.Lock = threading.Lock()

    @property
    def options(self) -> dict[str, Any]:
        """Every option's value (a copy), as :func:`crossrank.options.validate_options` gives it."""
        return dict(self._options)

    @property
    def model_spec(self) -> str | CrossEncoder | PairScorer | None:
        """The ``model`` argument as given (shared by copies from :meth:`with_options`)."""
        return self._model_spec

    @property
    def model_name(self) -> str:
        """The model's id or path (without loading it)."""
        spec = self._scorer or self._model_spec
        if isinstance(spec, PairScorer):
            return spec.name
        if isinstance(spec, str) or spec is None:
            return resolve_model_name(spec)
        from crossrank.models.torch_scorer import cross_encoder_name

        return cross_encoder_name(spec)

    @property
    def scorer(self) -> PairScorer:
        """The loaded scorer; loads the model on first access (thread-safe)."""
        if self._scorer is None:
            with self._load_lock:
                if self._scorer is None:
                    self._scorer = self._load_scorer()
        return self._scorer

    @property
    def backend_in_use(self) -> str:
        """How the loaded model runs (loads it): ``"onnx-int8"``, ``"torch-bf16"``...

        One of ``"onnx-int8"``, ``"onnx"``, ``"torch-fp32"``, ``"torch-bf16"``,
        ``"torch-fp16"``, or a custom scorer's class name.
        """
        return describe_scorer(self.scorer)

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
        """Forget every cached window score and reset the counters."""
        if self._score_cache is not None:
            self._score_cache.clear()

    def _load_scorer(self) -> PairScorer:
        from crossrank.models.backends import build_scorer

        spec = self._model_spec
        if spec is None or isinstance(spec, str):
            name = resolve_model_name(spec)
            cross_encoder = load_cross_encoder(
                name,
                device=self.device,
                trust_remote_code=self.trust_remote_code,
                cross_encoder_kwargs=self.cross_encoder_kwargs,
            )
            return build_scorer(cross_encoder, name=name, backend=self.backend, precision=self.precision)
        from sentence_transformers import CrossEncoder

        from crossrank.models.torch_scorer import cross_encoder_name

        if isinstance(spec, CrossEncoder):
            return build_scorer(
                spec, name=cross_encoder_name(spec), backend=self.backend, precision=self.precision
            )
        raise TypeError(
            "model must be a hub id or local path (str), a sentence_transformers.CrossEncoder "
            f"or a crossrank.PairScorer, got {type(spec).__name__}."
        )

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
        _check_query(query)
        documents = _check_documents(documents)
        scores_in = _check_retrieval_scores(retrieval_scores, len(documents))
        if top_n is not None:
            top_n = check_int("top_n", top_n, minimum=1)
        score_threshold = check_threshold(score_threshold)
        if not documents:
            return []

        text_scores = self._score_texts(query, documents)
        ce_scores = [text_scores[text].score for text in documents]
        if scores_in is None:
            retrieval_ranks = list(range(1, len(documents) + 1))
        else:
            retrieval_ranks = ranks_by_score(scores_in)
        if self.fusion == "rrf":
            final_scores = reciprocal_rank_fusion(
                ranks_by_score(ce_scores), retrieval_ranks, k=self.rrf_k, weights=self.rrf_weights
            )
        else:
            final_scores = ce_scores

        results = [
            RerankResult(
                index=index,
                score=float(final_scores[index]),
                cross_encoder_score=float(ce_scores[index]),
                retrieval_rank=retrieval_ranks[index],
                retrieval_score=None if scores_in is None else scores_in[index],
                num_windows=text_scores[text].num_windows,
                window_index=text_scores[text].window_index,
                window_span=text_scores[text].window_span,
            )
            for index, text in enumerate(documents)
        ]
        return select_top(
            results,
            top_n=self.top_n if top_n is None else top_n,
            score_threshold=self.score_threshold if score_threshold is None else score_threshold,
        )

    async def arerank(
        self,
        query: str,
        documents: Sequence[str],
        *,
        retrieval_scores: Sequence[float] | None = None,
        top_n: int | None = None,
        score_threshold: float | None = None,
    ) -> list[RerankResult]:
        """Async :meth:`rerank`: scores in a worker thread so the event loop keeps running."""
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
        by_query: dict[str, list[int]] = {}
        for position, pair in enumerate(pairs):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise TypeError(f"pairs[{position}] must be a (query, text) pair, got {pair!r}.")
            query, text = pair
            _check_query(query)
            if not isinstance(text, str):
                raise TypeError(f"pairs[{position}][1] must be a string, got {type(text).__name__}.")
            by_query.setdefault(query, []).append(position)
        scores = [0.0] * len(pairs)
        for query, positions in by_query.items():
            texts = [pairs[position][1] for position in positions]
            text_scores = self._score_texts(query, texts)
            for position, text in zip(positions, texts, strict=True):
                scores[position] = text_scores[text].score
        return scores

    def _score_texts(self, query: str, texts: Sequence[str]) -> dict[str, _TextScore]:
        """Score each distinct text once: every window, then the best per text."""
        scorer = self.scorer
        distinct = list(dict.fromkeys(texts))
        room = scorer.max_length - scorer.num_special_tokens
        query_ids = list(scorer.tokenize([query])[0].ids)[: room // 2]
        window_size = room - len(query_ids)
        tokenized = scorer.tokenize(distinct)

        pair_owner: list[int] = []
        pair_windows: list[TokenWindow] = []
        windows_per_text: list[list[TokenWindow]] = []
        for text_index, tokens in enumerate(tokenized):
            windows = self._windows_for(len(tokens.ids), window_size)
            windows_per_text.append(windows)
            pair_owner.extend([text_index] * len(windows))
            pair_windows.extend(windows)

        pair_scores = self._score_windows(scorer, query_ids, tokenized, pair_owner, pair_windows)

        best: dict[str, _TextScore] = {}
        cursor = 0
        for text, tokens, windows in zip(distinct, tokenized, windows_per_text, strict=True):
            window_scores = pair_scores[cursor : cursor + len(windows)]
            cursor += len(windows)
            # max() keeps the first of equal scores: ties go to the earliest window.
            winner = max(range(len(windows)), key=window_scores.__getitem__)
            best[text] = _TextScore(
                score=self._normalized(window_scores[winner], scorer),
                num_windows=len(windows),
                window_index=winner,
                window_span=window_char_span(windows[winner], tokens.offsets),
            )
        return best

    def _windows_for(self, num_tokens: int, window_size: int) -> list[TokenWindow]:
        if self.long_documents == "truncate":
            return [TokenWindow(0, min(num_tokens, window_size))]
        overlap = window_size // 8 if self.window_overlap is None else self.window_overlap
        return plan_windows(num_tokens, window_size, overlap, self.max_windows)

    def _score_windows(
        self,
        scorer: PairScorer,
        query_ids: list[int],
        tokenized: list[TokenizedText],
        pair_owner: list[int],
        pair_windows: list[TokenWindow],
    ) -> list[float]:
        passages = [
            tokenized[owner].ids[window.start : window.end]
            for owner, window in zip(pair_owner, pair_windows, strict=True)
        ]
        cache = self._score_cache
        keys: list[Hashable] = (
            list(range(len(passages)))
            if cache is None
            else list(cache.keys((scorer.name, describe_scorer(scorer)), query_ids, passages))
        )
        cached = [None] * len(keys) if cache is None else cache.get_many(keys)
        scores: dict[Hashable, float] = {
            key: score for key, score in zip(keys, cached, strict=True) if score is not None
        }
        # A window repeated within the call (same tokens, same key) is scored once.
        first_of_key: dict[Hashable, int] = {}
        for i, key in enumerate(keys):
            if key not in scores:
                first_of_key.setdefault(key, i)
        todo = list(first_of_key.values())
        lengths = [len(query_ids) + len(passages[i]) + scorer.num_special_tokens for i in todo]
        batches = plan_batches(lengths, self.batch_size, self.max_tokens_per_batch)
        for batch in self._progress(batches):
            items = [todo[j] for j in batch]
            values = [float(v) for v in scorer.score([(query_ids, passages[i]) for i in items])]
            batch_keys = [keys[i] for i in items]
            scores.update(zip(batch_keys, values, strict=True))
            if cache is not None:
                cache.put_many(batch_keys, values)
        return [scores[key] for key in keys]

    def _progress(self, batches: list[list[int]]) -> Iterable[list[int]]:
        if not self.show_progress_bar or len(batches) < 2:
            return batches
        from tqdm.auto import tqdm

        return tqdm(batches, desc="Reranking", unit="batch")

    def _normalized(self, score: float, scorer: PairScorer) -> float:
        if self.normalize == "sigmoid" and not scorer.outputs_probabilities:
            return 1.0 / (1.0 + math.exp(-score))
        return score

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
        copy = Reranker(self._model_spec, **merged)
        if self._scorer is not None and (not reload or isinstance(self._model_spec, PairScorer)):
            copy._scorer = self._scorer
            # A cache only ever serves one scorer object, so its keys stay unambiguous.
            if self._score_cache is not None and merged["score_cache_size"] == self.score_cache_size:
                copy._score_cache = self._score_cache
        return copy


def _check_model_spec(model: object) -> None:
    """Reject a ``model`` that could never load, without importing sentence-transformers.

    A CrossEncoder instance can only exist once sentence-transformers was imported,
    so looking it up in ``sys.modules`` is enough.
    """
    if model is None or isinstance(model, (str, PairScorer)):
        return
    sentence_transformers = sys.modules.get("sentence_transformers")
    cross_encoder_class = getattr(sentence_transformers, "CrossEncoder", None)
    if isinstance(cross_encoder_class, type) and isinstance(model, cross_encoder_class):
        return
    raise TypeError(
        "model must be None (the default model), a hub id or local path (str), a "
        "sentence_transformers.CrossEncoder or a crossrank.PairScorer, "
        f"got {type(model).__name__}: {model!r}."
    )


def _check_query(query: object) -> None:
    if not isinstance(query, str):
        raise TypeError(f"query must be a string, got {type(query).__name__}.")
    if not query.strip():
        raise ValueError(f"query must be a non-empty string, got {query!r}.")


def _check_documents(documents: object) -> list[str]:
    if isinstance(documents, str) or not isinstance(documents, Sequence):
        raise TypeError(
            f"documents must be a sequence of strings, got {type(documents).__name__}. "
            "Wrap a single text in a list."
        )
    for index, document in enumerate(documents):
        if not isinstance(document, str):
            raise TypeError(f"documents[{index}] must be a string, got {type(document).__name__}.")
    return list(documents)


def _check_retrieval_scores(scores: Sequence[float] | None, count: int) -> list[float] | None:
    if scores is None:
        return None
    if len(scores) != count:
        raise ValueError(
            f"retrieval_scores must have one score per document: got {len(scores)} scores "
            f"for {count} documents."
        )
    checked: list[float] = []
    for index, score in enumerate(scores):
        if isinstance(score, bool) or not isinstance(score, Real) or math.isnan(score):
            raise ValueError(f"retrieval_scores[{index}] must be a number, got {score!r}.")
        checked.append(float(score))
    return checked


# The options' documentation lives once, in the table.
Reranker.__doc__ = (Reranker.__doc__ or "").replace("{options}", options_docstring(indent=8))
