"""The :class:`Reranker`: cross-encoder reranking with chunk-max windows and RRF."""

from __future__ import annotations

import asyncio
import math
import sys
import threading
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import TYPE_CHECKING, Any, Literal

from shared.backends import Backend, Precision, check_backend_options, describe_scorer
from shared.batching import plan_batches
from shared.fusion import ranks_by_score, reciprocal_rank_fusion
from shared.loading import load_cross_encoder, resolve_model_name
from shared.ranking import select_top
from shared.results import RerankResult
from shared.score_cache import CacheInfo, ScoreCache
from shared.scorer import PairScorer, TokenizedText
from shared.windows import TokenWindow, plan_windows, window_char_span

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = ["Fusion", "LongDocuments", "Normalize", "Reranker"]

LongDocuments = Literal["chunk_max", "truncate"]
Fusion = Literal["rrf"]
Normalize = Literal["sigmoid"]

_LONG_DOCUMENT_MODES = ("chunk_max", "truncate")
# Options that decide how the model is loaded: changing one in with_options reloads it.
_LOAD_OPTIONS = ("device", "trust_remote_code", "cross_encoder_kwargs", "backend", "precision")


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
    on first use, and one instance may be shared by threads.

    Args:
        model: A hub id, a local directory, an already-built
            ``sentence_transformers.CrossEncoder``, or any :class:`~shared.PairScorer`.
            Defaults to ``$CROSSRANK_MODEL``, else ``cross-encoder/ms-marco-MiniLM-L6-v2``.
        device: ``"cpu"``, ``"cuda"``, ``"mps"``...; chosen automatically (cuda, then
            mps, then cpu) when ``None``. Ignored for an already-built model.
        trust_remote_code: Let the model repository run its own code.
        cross_encoder_kwargs: Extra keyword arguments for ``CrossEncoder(...)``.
        backend: How the model runs: ``"auto"`` (the default), ``"torch"``,
            ``"onnx"`` (ONNX Runtime in fp32: PyTorch's scores, about 1.8x faster on
            a CPU) or ``"onnx-int8"`` (int8 weights: about 3x on a CPU, but scores
            move by up to a few tenths and rankings change). ``"auto"`` runs ONNX
            Runtime in fp32 on a CPU and PyTorch on a GPU. ONNX models are exported
            once and cached under ``$CROSSRANK_CACHE_DIR/onnx`` (default
            ``~/.cache/crossrank/onnx``); when ONNX cannot be used, scoring falls
            back to PyTorch with a logged warning.
        precision: PyTorch's precision: ``"auto"`` (fp16 on CUDA, else fp32),
            ``"fp32"``, ``"bf16"`` (about 2.2x fp32 on a CPU with AVX512-BF16 or
            AMX; scores move by up to 0.02) or ``"fp16"``. An explicit precision with
            ``backend="auto"`` selects PyTorch, so ``precision="fp32"`` scores
            exactly like ``CrossEncoder.predict``.
        long_documents: ``"chunk_max"`` scores every window of a long document and
            keeps the best; ``"truncate"`` scores only its first window, like
            today's rerankers.
        window_overlap: Tokens shared by consecutive windows; ``None`` (the default)
            uses one eighth of the window (63 tokens for a 512-token model and a short
            query). An explicit value must be smaller than the window.
        max_windows: Most windows scored per document (``None``: no cap). Beyond the
            cap, windows evenly spaced over the document are kept, always including
            the first and the last.
        fusion: ``"rrf"`` to fuse the cross-encoder ranking with the retrieval
            ranking; ``None`` to rank by the cross-encoder alone.
        rrf_k: The RRF constant ``k``.
        rrf_weights: ``(cross_encoder_weight, retrieval_weight)`` for RRF.
        normalize: ``"sigmoid"`` maps logits to 0..1 (left as is when the model
            already outputs 0..1); ``None`` keeps the model's raw output.
        score_threshold: Drop results whose final score is below this.
        top_n: Keep only the best ``top_n`` results (``None``: all).
        batch_size: Most pairs per model call.
        max_tokens_per_batch: Most padded tokens per model call, so memory stays
            bounded however many or long the candidates are.
        show_progress_bar: Show a tqdm bar over batches.
        score_cache_size: Most window scores kept in an LRU cache keyed by the
            model and the exact query and window tokens, so repeated queries over
            the same documents cost nothing; ``0`` turns the cache off (do so when
            measuring speed). See :meth:`cache_info`.

    The query is truncated to half of the model's window (its first tokens), so
    every document window keeps at least half the window for document text.

    Example:
        >>> reranker = Reranker("path/to/cross-encoder", top_n=3)
        >>> results = reranker.rerank("what is chunk-max?", ["doc one", "doc two"])
        >>> results[0].index, results[0].score  # doctest: +SKIP
        (1, 0.93)
    """

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
        if long_documents not in _LONG_DOCUMENT_MODES:
            raise ValueError(f"long_documents must be 'chunk_max' or 'truncate', got {long_documents!r}.")
        if window_overlap is not None:
            _check_int("window_overlap", window_overlap, minimum=0)
        if max_windows is not None:
            _check_int("max_windows", max_windows, minimum=1)
        if fusion not in (None, "rrf"):
            raise ValueError(f"fusion must be None or 'rrf', got {fusion!r}.")
        if isinstance(rrf_k, bool) or not isinstance(rrf_k, (int, float)) or rrf_k < 0:
            raise ValueError(f"rrf_k must be a number >= 0, got {rrf_k!r}.")
        if len(rrf_weights) != 2 or not all(isinstance(w, (int, float)) and w >= 0 for w in rrf_weights):
            raise ValueError(
                f"rrf_weights must be two numbers >= 0 (cross-encoder, retrieval), got {rrf_weights!r}."
            )
        if normalize not in (None, "sigmoid"):
            raise ValueError(f"normalize must be None or 'sigmoid', got {normalize!r}.")
        _check_threshold(score_threshold)
        if top_n is not None:
            _check_int("top_n", top_n, minimum=1)
        _check_int("batch_size", batch_size, minimum=1)
        _check_int("max_tokens_per_batch", max_tokens_per_batch, minimum=1)
        _check_int("score_cache_size", score_cache_size, minimum=0)
        check_backend_options(backend, precision)

        _check_model_spec(model)
        if isinstance(model, PairScorer) and (backend, precision) != ("auto", "auto"):
            raise ValueError(
                "backend and precision apply to models crossrank loads (a hub id, a path or a "
                f"CrossEncoder), not to a ready PairScorer; got backend={backend!r}, "
                f"precision={precision!r}. Leave them as 'auto'."
            )
        self._model_spec: str | CrossEncoder | PairScorer | None = model
        self._device: str | None = device
        self._trust_remote_code: bool = trust_remote_code
        self._cross_encoder_kwargs: dict[str, Any] = dict(cross_encoder_kwargs or {})
        self._backend: Backend = backend
        self._precision: Precision = precision
        self.long_documents: LongDocuments = long_documents
        self.window_overlap: int | None = window_overlap
        self.max_windows: int | None = max_windows
        self.fusion: Fusion | None = fusion
        self.rrf_k: float = float(rrf_k)
        self.rrf_weights: tuple[float, float] = (float(rrf_weights[0]), float(rrf_weights[1]))
        self.normalize: Normalize | None = normalize
        self.score_threshold: float | None = score_threshold
        self.top_n: int | None = top_n
        self.batch_size: int = batch_size
        self.max_tokens_per_batch: int = max_tokens_per_batch
        self.show_progress_bar: bool = show_progress_bar
        self._score_cache_size: int = score_cache_size
        self._score_cache: ScoreCache | None = ScoreCache(score_cache_size) if score_cache_size else None
        self._scorer: PairScorer | None = model if isinstance(model, PairScorer) else None
        self._load_lock: threading.Lock = threading.Lock()

    @property
    def model_name(self) -> str:
        """The model's id or path (without loading it)."""
        spec = self._scorer or self._model_spec
        if isinstance(spec, PairScorer):
            return spec.name
        if isinstance(spec, str) or spec is None:
            return resolve_model_name(spec)
        from shared.cross_encoder_scorer import cross_encoder_name

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
    def backend(self) -> Backend:
        """The requested backend (see :attr:`backend_in_use` for the one that runs)."""
        return self._backend

    @property
    def precision(self) -> Precision:
        """The requested PyTorch precision."""
        return self._precision

    @property
    def score_cache_size(self) -> int:
        """Most window scores cached (0: no cache)."""
        return self._score_cache_size

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
        from shared.backends import build_scorer

        spec = self._model_spec
        if spec is None or isinstance(spec, str):
            name = resolve_model_name(spec)
            cross_encoder = load_cross_encoder(
                name,
                device=self._device,
                trust_remote_code=self._trust_remote_code,
                cross_encoder_kwargs=self._cross_encoder_kwargs,
            )
            return build_scorer(cross_encoder, name=name, backend=self._backend, precision=self._precision)
        from sentence_transformers import CrossEncoder

        from shared.cross_encoder_scorer import cross_encoder_name

        if isinstance(spec, CrossEncoder):
            return build_scorer(
                spec, name=cross_encoder_name(spec), backend=self._backend, precision=self._precision
            )
        raise TypeError(
            "model must be a hub id or local path (str), a sentence_transformers.CrossEncoder "
            f"or a shared.PairScorer, got {type(spec).__name__}."
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
            _check_int("top_n", top_n, minimum=1)
        _check_threshold(score_threshold)
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
        model, except for a ready :class:`~shared.PairScorer`, which is always shared.

        Args:
            **options: Constructor keyword arguments to change (not ``model``).

        Returns:
            A new Reranker.
        """
        current = {
            "device": self._device,
            "trust_remote_code": self._trust_remote_code,
            "cross_encoder_kwargs": self._cross_encoder_kwargs,
            "backend": self.backend,
            "precision": self.precision,
            "long_documents": self.long_documents,
            "window_overlap": self.window_overlap,
            "max_windows": self.max_windows,
            "fusion": self.fusion,
            "rrf_k": self.rrf_k,
            "rrf_weights": self.rrf_weights,
            "normalize": self.normalize,
            "score_threshold": self.score_threshold,
            "top_n": self.top_n,
            "batch_size": self.batch_size,
            "max_tokens_per_batch": self.max_tokens_per_batch,
            "show_progress_bar": self.show_progress_bar,
            "score_cache_size": self.score_cache_size,
        }
        unknown = set(options) - set(current)
        if unknown:
            raise TypeError(f"Unknown Reranker option(s): {sorted(unknown)}.")
        merged = {**current, **options}
        reload = any(merged[name] != current[name] for name in _LOAD_OPTIONS)
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
        "sentence_transformers.CrossEncoder or a shared.PairScorer, "
        f"got {type(model).__name__}: {model!r}."
    )


def _check_int(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        qualifier = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {qualifier}, got {value!r}.")


def _check_threshold(value: object) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, Real) or math.isnan(value)):
        raise ValueError(f"score_threshold must be a number or None, got {value!r}.")


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
