"""Reranking speed of crossrank and its peers on the same inputs, in one process.

Each configuration under test (a *contender*) turns a :class:`BenchInput` (a query
and its candidate texts) into a ranking and says how many (query, window) pairs
its model scored. The runner warms every contender up, then times them
interleaved, round-robin, so slow drift of the machine (other jobs, thermal
state) spreads over all of them alike. Peak memory is measured per contender in a
fresh process (:mod:`shared.memory_probe`), because in a shared process the peak
would include every other contender's model.

A new configuration is one more entry in :data:`CONTENDERS`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from shared.flops import TransformerShape, pair_flops
from shared.latency import LatencySummary, summarize_latency
from shared.metrics import evaluate_run
from shared.scorer import PairScorer, TokenizedText

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

    from shared.beir import BeirDataset
    from shared.reranker import Reranker

__all__ = [
    "CONTENDERS",
    "REFERENCE_CONTENDER",
    "BenchInput",
    "BenchSettings",
    "Contender",
    "ContenderResult",
    "Measured",
    "MissingPeerError",
    "PeakMemory",
    "Ranked",
    "bench_inputs",
    "build_contender",
    "contender_names",
    "measure_peak_memory",
    "model_shape",
    "run_benchmark",
    "summarize_contenders",
]

REFERENCE_CONTENDER = "llamaindex-sbert-rerank"
_BENCH_EXTRA = 'pip install "crossrank[bench]"'


class MissingPeerError(ImportError):
    """A peer library under comparison is not installed."""


@dataclass(frozen=True)
class BenchSettings:
    """What every contender shares.

    Attributes:
        model: Cross-encoder path or hub id, loaded by every contender.
        device: Device every contender runs on.
        batch_size: Pairs per model call.
        candidates: Candidates per query (the peers' ``top_n``, so they return a full ranking).
    """

    model: str
    device: str = "cpu"
    batch_size: int = 32
    candidates: int = 50


@dataclass(frozen=True)
class BenchInput:
    """One query and its candidates, as retrieved.

    Attributes:
        query_id: The query id.
        query: The query text.
        doc_ids: Candidate document ids, in retrieval order.
        texts: Candidate texts, one per id.
        retrieval_scores: The first stage's score per candidate.
    """

    query_id: str
    query: str
    doc_ids: tuple[str, ...]
    texts: tuple[str, ...]
    retrieval_scores: tuple[float, ...]


@dataclass(frozen=True)
class Ranked:
    """A contender's answer for one input.

    Attributes:
        order: Candidate positions, best first.
        pairs: (query, window) pairs the model scored; one per candidate for a
            reranker that truncates, more for chunk-max on long candidates.
        sequence_lengths: Tokens of each scored pair (special tokens included,
            padding excluded), from which the bench counts FLOPs; empty when the
            contender does not say.
    """

    order: list[int]
    pairs: int
    sequence_lengths: tuple[int, ...] = ()


class Contender(Protocol):
    """A configuration under test.

    Attributes:
        name: Its name in the report.
        compute_dtype: The element type its matrix multiplies run in (``"fp32"``,
            ``"bf16"``, ``"fp16"``, ``"int8"``), which picks the GEMM peak it is
            compared with.
    """

    name: str
    compute_dtype: str

    def prepare(self, item: BenchInput) -> Any:
        """Convert the input to the framework's own objects (not timed)."""
        ...

    def rank(self, prepared: Any) -> Ranked:
        """Rerank one prepared input (timed)."""
        ...


class _CountingScorer:
    """A :class:`~shared.PairScorer` that notes the tokens of every pair it scores, for FLOP counts."""

    def __init__(self, scorer: PairScorer) -> None:
        self._scorer = scorer
        self.sequence_lengths: list[int] = []

    @property
    def name(self) -> str:
        return self._scorer.name

    @property
    def max_length(self) -> int:
        return self._scorer.max_length

    @property
    def num_special_tokens(self) -> int:
        return self._scorer.num_special_tokens

    @property
    def outputs_probabilities(self) -> bool:
        return self._scorer.outputs_probabilities

    def tokenize(self, texts: Sequence[str]) -> list[TokenizedText]:
        return self._scorer.tokenize(texts)

    def score(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[float]:
        extra = self._scorer.num_special_tokens
        self.sequence_lengths.extend(len(query) + len(passage) + extra for query, passage in pairs)
        return self._scorer.score(pairs)


@dataclass
class _CrossrankContender:
    name: str
    reranker: Reranker
    counter: _CountingScorer
    compute_dtype: str

    def prepare(self, item: BenchInput) -> tuple[str, list[str]]:
        return item.query, list(item.texts)

    def rank(self, prepared: tuple[str, list[str]]) -> Ranked:
        query, texts = prepared
        self.counter.sequence_lengths = []
        results = self.reranker.rerank(query, texts)
        return Ranked(
            order=[result.index for result in results],
            pairs=sum(r.num_windows for r in results),
            sequence_lengths=tuple(self.counter.sequence_lengths),
        )


def _truncated_lengths(model: CrossEncoder, query: str, texts: Sequence[str]) -> tuple[int, ...]:
    """Tokens of each (query, text) pair as ``CrossEncoder.predict`` feeds them: truncated, unpadded."""
    encoded = model.tokenizer([query] * len(texts), list(texts), truncation=True, max_length=model.max_length)
    return tuple(len(ids) for ids in encoded["input_ids"])


@dataclass
class _PredictContender:
    name: str
    model: CrossEncoder
    batch_size: int
    compute_dtype: str = "fp32"

    def prepare(self, item: BenchInput) -> tuple[str, list[str], tuple[int, ...]]:
        return item.query, list(item.texts), _truncated_lengths(self.model, item.query, item.texts)

    def rank(self, prepared: tuple[str, list[str], tuple[int, ...]]) -> Ranked:
        query, texts, lengths = prepared
        scores = self.model.predict(
            [(query, text) for text in texts], batch_size=self.batch_size, show_progress_bar=False
        )
        values = [float(score) for score in scores]
        order = sorted(range(len(values)), key=lambda index: (-values[index], index))
        return Ranked(order=order, pairs=len(values), sequence_lengths=lengths)


@dataclass
class _LlamaIndexContender:
    name: str
    postprocessor: Any
    model: CrossEncoder
    compute_dtype: str = "fp32"

    def prepare(self, item: BenchInput) -> tuple[list[Any], Any, dict[str, int], tuple[int, ...]]:
        from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

        nodes = [
            NodeWithScore(node=TextNode(text=text, id_=doc_id), score=score)
            for doc_id, text, score in zip(item.doc_ids, item.texts, item.retrieval_scores, strict=True)
        ]
        positions = {doc_id: i for i, doc_id in enumerate(item.doc_ids)}
        lengths = _truncated_lengths(self.model, item.query, item.texts)
        return nodes, QueryBundle(item.query), positions, lengths

    def rank(self, prepared: tuple[list[Any], Any, dict[str, int], tuple[int, ...]]) -> Ranked:
        nodes, query_bundle, positions, lengths = prepared
        ranked = self.postprocessor.postprocess_nodes(nodes, query_bundle=query_bundle)
        order = [positions[node.node.node_id] for node in ranked]
        return Ranked(order=order, pairs=len(nodes), sequence_lengths=lengths)


@dataclass
class _LangChainContender:
    name: str
    compressor: Any
    model: CrossEncoder
    compute_dtype: str = "fp32"

    def prepare(self, item: BenchInput) -> tuple[list[Any], str, tuple[int, ...]]:
        from langchain_core.documents import Document

        documents = [
            Document(page_content=text, metadata={"position": position})
            for position, text in enumerate(item.texts)
        ]
        return documents, item.query, _truncated_lengths(self.model, item.query, item.texts)

    def rank(self, prepared: tuple[list[Any], str, tuple[int, ...]]) -> Ranked:
        documents, query, lengths = prepared
        ranked = self.compressor.compress_documents(documents, query)
        return Ranked(
            order=[doc.metadata["position"] for doc in ranked], pairs=len(documents), sequence_lengths=lengths
        )


def _load_cross_encoder(settings: BenchSettings) -> CrossEncoder:
    from shared.loading import load_cross_encoder

    return load_cross_encoder(settings.model, device=settings.device)


def _crossrank(
    long_documents: str, backend: str = "auto", precision: str = "auto"
) -> Callable[[BenchSettings, dict[str, Any]], Contender]:
    def build(settings: BenchSettings, shared: dict[str, Any]) -> Contender:
        from shared.backends import describe_scorer
        from shared.reranker import Reranker

        key = f"crossrank-{backend}-{precision}"
        if key not in shared:
            # Loaded once per backend; the score cache is off so every timed call does its work.
            loaded = Reranker(
                settings.model,
                device=settings.device,
                backend=backend,  # type: ignore[arg-type]
                precision=precision,  # type: ignore[arg-type]
                score_cache_size=0,
            )
            shared[key] = loaded.scorer
        scorer: PairScorer = shared[key]
        counter = _CountingScorer(scorer)
        reranker = Reranker(
            counter,
            long_documents=long_documents,  # type: ignore[arg-type]
            batch_size=settings.batch_size,
            score_cache_size=0,
        )
        return _CrossrankContender(
            _crossrank_name(long_documents, backend, precision),
            reranker,
            counter,
            _compute_dtype(describe_scorer(scorer)),
        )

    return build


def _crossrank_name(long_documents: str, backend: str, precision: str) -> str:
    if (backend, precision) == ("auto", "auto"):
        return "crossrank-default" if long_documents == "chunk_max" else "crossrank-truncate"
    return f"crossrank-{precision if backend == 'torch' else backend}" + (
        "" if long_documents == "chunk_max" else "-truncate"
    )


def _compute_dtype(scorer_label: str) -> str:
    """The GEMM element type of a scorer labelled by :func:`shared.backends.describe_scorer`."""
    if scorer_label == "onnx-int8":
        return "int8"
    for dtype in ("bf16", "fp16"):
        if scorer_label.endswith(dtype):
            return dtype
    return "fp32"


def model_shape(settings: BenchSettings, shared: dict[str, Any]) -> TransformerShape | None:
    """The encoder's sizes, for FLOP counts (``None`` when its config cannot be read).

    Args:
        settings: The bench settings.
        shared: Models already loaded by the contenders; a loaded peer model's config is
            used, otherwise only the model's config file is read.

    Returns:
        The shape, or ``None``.
    """
    if "shape" not in shared:
        loaded = shared.get("cross_encoder")
        config = getattr(getattr(loaded, "model", None), "config", None)
        if config is None:
            try:
                from transformers import AutoConfig

                config = AutoConfig.from_pretrained(settings.model)
            except (OSError, ValueError):
                config = None
        try:
            shared["shape"] = None if config is None else TransformerShape.from_config(config)
        except ValueError:
            shared["shape"] = None
    shape: TransformerShape | None = shared["shape"]
    return shape


def _shared_cross_encoder(settings: BenchSettings, shared: dict[str, Any]) -> CrossEncoder:
    """One plain CrossEncoder for the peers that take a model object and for token counts."""
    if "cross_encoder" not in shared:
        shared["cross_encoder"] = _load_cross_encoder(settings)
    model: CrossEncoder = shared["cross_encoder"]
    return model


def _llamaindex(settings: BenchSettings, shared: dict[str, Any]) -> Contender:
    try:
        from llama_index.postprocessor.sbert_rerank import SentenceTransformerRerank
    except ImportError as exc:
        raise MissingPeerError(
            f"llama-index-postprocessor-sbert-rerank is not installed ({_BENCH_EXTRA})"
        ) from exc
    # The stock postprocessor loads its own CrossEncoder and calls predict() with its defaults.
    postprocessor = SentenceTransformerRerank(
        model=settings.model, device=settings.device, top_n=settings.candidates
    )
    return _LlamaIndexContender(REFERENCE_CONTENDER, postprocessor, _shared_cross_encoder(settings, shared))


def _langchain(settings: BenchSettings, shared: dict[str, Any]) -> Contender:
    try:
        from langchain_classic.retrievers.document_compressors import CrossEncoderReranker
        from langchain_core.cross_encoders import BaseCrossEncoder
    except ImportError as exc:
        raise MissingPeerError(f"langchain-classic is not installed ({_BENCH_EXTRA})") from exc

    class SentenceTransformersCrossEncoder(BaseCrossEncoder):
        """The smallest ``BaseCrossEncoder``: ``CrossEncoder.predict`` on the text pairs."""

        def __init__(self, model: CrossEncoder) -> None:
            self.model = model

        def score(self, text_pairs: list[tuple[str, str]]) -> list[float]:
            scores = self.model.predict(text_pairs, batch_size=settings.batch_size, show_progress_bar=False)
            return [float(value) for value in scores]

    model = _shared_cross_encoder(settings, shared)
    compressor = CrossEncoderReranker(
        model=SentenceTransformersCrossEncoder(model), top_n=settings.candidates
    )
    return _LangChainContender("langchain-cross-encoder-reranker", compressor, model)


def _predict(settings: BenchSettings, shared: dict[str, Any]) -> Contender:
    return _PredictContender(
        "sentence-transformers-predict", _shared_cross_encoder(settings, shared), settings.batch_size
    )


CONTENDERS: dict[str, Callable[[BenchSettings, dict[str, Any]], Contender]] = {
    "crossrank-default": _crossrank("chunk_max"),
    "crossrank-truncate": _crossrank("truncate"),
    REFERENCE_CONTENDER: _llamaindex,
    "langchain-cross-encoder-reranker": _langchain,
    "sentence-transformers-predict": _predict,
    # crossrank before its speed work (PyTorch fp32), and its opt-in speed options.
    "crossrank-fp32": _crossrank("chunk_max", backend="torch", precision="fp32"),
    "crossrank-bf16": _crossrank("chunk_max", backend="torch", precision="bf16"),
    "crossrank-onnx-int8": _crossrank("chunk_max", backend="onnx-int8"),
}
"""Contender name to its builder, in report order. A builder raises
:class:`MissingPeerError` when its library is not installed."""


def build_contender(name: str, settings: BenchSettings, shared: dict[str, Any] | None = None) -> Contender:
    """Build one contender by name.

    Args:
        name: A key of :data:`CONTENDERS`.
        settings: Model, device and batch size.
        shared: Models already loaded by other contenders (crossrank's two
            configurations share one); pass the same dict for every build.

    Returns:
        The contender, with its model loaded.

    Raises:
        ValueError: If ``name`` is unknown.
        MissingPeerError: If the peer library is not installed.
    """
    if name not in CONTENDERS:
        raise ValueError(f"unknown bench configuration {name!r}; choose from {', '.join(CONTENDERS)}.")
    return CONTENDERS[name](settings, shared if shared is not None else {})


def bench_inputs(dataset: BeirDataset, *, queries: int, candidates: int) -> list[BenchInput]:
    """The first ``queries`` judged queries by id, each with its top ``candidates`` by BM25.

    Args:
        dataset: A BEIR dataset (SciFact for the published numbers).
        queries: How many queries.
        candidates: Candidates per query.

    Returns:
        The inputs, with each candidate's title and text.
    """
    from shared.evaluation import select_query_ids
    from shared.first_stage import Bm25Search

    ids = list(dataset.corpus)
    search = Bm25Search(ids, [dataset.corpus[doc_id].full_text for doc_id in ids])
    inputs = []
    for query_id in select_query_ids(dataset, queries):
        query = dataset.queries[query_id]
        hits = search.search(query, candidates)
        inputs.append(
            BenchInput(
                query_id=query_id,
                query=query,
                doc_ids=tuple(hit.doc_id for hit in hits),
                texts=tuple(dataset.corpus[hit.doc_id].full_text for hit in hits),
                retrieval_scores=tuple(hit.score for hit in hits),
            )
        )
    return inputs


@dataclass
class _Timings:
    seconds: list[float] = field(default_factory=list)
    pairs: int = 0
    rankings: dict[str, list[str]] = field(default_factory=dict)
    flops: float = 0.0
    counted: bool = True


@dataclass(frozen=True)
class Measured:
    """What the timed run found about one contender.

    Attributes:
        latency: Its latency summary over all timed calls.
        rankings: Its ranking of every input as doc ids, from the first round.
        flops: FLOPs of the pairs it scored over all timed calls (from the model's
            shape and each pair's tokens), or ``None`` when unknown.
        compute_dtype: The element type of its matrix multiplies, or ``None``.
    """

    latency: LatencySummary
    rankings: dict[str, list[str]]
    flops: float | None = None
    compute_dtype: str | None = None


def run_benchmark(
    contenders: Sequence[Contender],
    inputs: Sequence[BenchInput],
    *,
    repeat: int = 3,
    warmup: int = 1,
    on_call: Callable[[], object] | None = None,
    shape: TransformerShape | None = None,
) -> dict[str, Measured]:
    """Time every contender on every input, interleaved, after a warm-up.

    In each of ``repeat`` rounds, every input is ranked by every contender before the
    next input; the contenders' order rotates from one input to the next, so none is
    always first after a cache-cold switch.

    Args:
        contenders: The configurations under test.
        inputs: The queries and candidates.
        repeat: Timed rounds over all inputs.
        warmup: Untimed calls per contender (on the first inputs) before timing.
        on_call: Called after each timed call (for a progress bar).
        shape: The model's sizes, to count FLOPs from the pairs' tokens (none counted
            without it).

    Returns:
        Contender name to what was measured.

    Raises:
        ValueError: If ``repeat`` is below 1 or ``warmup`` below 0.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be a positive integer, got {repeat}.")
    if warmup < 0:
        raise ValueError(f"warmup must be an integer >= 0, got {warmup}.")
    for contender in contenders:
        for item in inputs[:warmup] if inputs else ():
            contender.rank(contender.prepare(item))

    timings = {contender.name: _Timings() for contender in contenders}
    count = len(contenders)
    for round_index in range(repeat):
        for position, item in enumerate(inputs):
            shift = (round_index * len(inputs) + position) % count if count else 0
            for contender in [*contenders[shift:], *contenders[:shift]]:
                prepared = contender.prepare(item)
                started = time.perf_counter()
                ranked = contender.rank(prepared)
                elapsed = time.perf_counter() - started
                record = timings[contender.name]
                record.seconds.append(elapsed)
                record.pairs += ranked.pairs
                if shape is None or len(ranked.sequence_lengths) != ranked.pairs:
                    record.counted = False
                else:
                    record.flops += sum(pair_flops(shape, length) for length in ranked.sequence_lengths)
                if round_index == 0:
                    record.rankings[item.query_id] = [item.doc_ids[i] for i in ranked.order]
                if on_call is not None:
                    on_call()
    dtypes = {contender.name: getattr(contender, "compute_dtype", None) for contender in contenders}
    return {
        name: Measured(
            latency=summarize_latency(record.seconds, record.pairs),
            rankings=record.rankings,
            flops=record.flops if record.counted and record.seconds else None,
            compute_dtype=dtypes[name],
        )
        for name, record in timings.items()
    }


@dataclass(frozen=True)
class PeakMemory:
    """Peak resident memory of a fresh process that ran one contender.

    Attributes:
        peak_rss_mb: Peak RSS while ranking every input once, in MiB; the process holds
            Python, torch and this contender's model, nothing else.
        rss_before_mb: RSS after loading and one warm-up call, before the measured run.
        scope: ``"ranking"`` when the peak counter was reset after loading, or
            ``"process"`` when it could not be and the peak includes model loading.
    """

    peak_rss_mb: float
    rss_before_mb: float | None
    scope: str


def measure_peak_memory(
    name: str, settings: BenchSettings, inputs: Sequence[BenchInput], *, threads: int, timeout_s: float = 900
) -> PeakMemory:
    """Run one contender over every input in a fresh Python process and read its peak RSS.

    Args:
        name: The contender.
        settings: As for the timed run.
        inputs: As for the timed run.
        threads: torch threads in the child, as in the parent.
        timeout_s: Give up after this long.

    Returns:
        The child's peak memory.

    Raises:
        RuntimeError: If the child fails; the message carries its last error line.
    """
    spec = {
        "name": name,
        "settings": asdict(settings),
        "threads": threads,
        "inputs": [asdict(item) for item in inputs],
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as handle:
        json.dump(spec, handle)
        spec_path = handle.name
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "shared.memory_probe", spec_path],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            env={**os.environ, "TQDM_DISABLE": "1"},
        )
    finally:
        os.unlink(spec_path)
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"memory probe for {name} failed (exit {completed.returncode}): {last}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    return PeakMemory(
        peak_rss_mb=float(result["peak_rss_mb"]),
        rss_before_mb=result.get("rss_before_mb"),
        scope=str(result["scope"]),
    )


@dataclass(frozen=True)
class ContenderResult:
    """One row of the bench report.

    Attributes:
        name: The contender.
        latency: Its latency summary.
        ndcg_at_10: Mean NDCG@10 of its rankings over the inputs.
        memory: Its peak memory, or ``None`` when not measured.
        flops: FLOPs of its timed calls, or ``None``.
        compute_dtype: Element type of its matrix multiplies, or ``None``.
        gemm_peak_gflop_per_s: The measured GEMM peak in that type, or ``None``.
    """

    name: str
    latency: LatencySummary
    ndcg_at_10: float
    memory: PeakMemory | None
    flops: float | None = None
    compute_dtype: str | None = None
    gemm_peak_gflop_per_s: float | None = None


def summarize_contenders(
    measured: Mapping[str, Measured],
    qrels: Mapping[str, Mapping[str, int]],
    memory: Mapping[str, PeakMemory | None],
    gemm_peaks: Mapping[str, float | None] | None = None,
) -> list[dict[str, Any]]:
    """The ``"configs"`` list of the bench JSON, with ratios to the LlamaIndex reranker.

    Args:
        measured: As returned by :func:`run_benchmark`.
        qrels: Judgements of the benchmarked queries.
        memory: Contender name to its peak memory (or ``None``).
        gemm_peaks: Element type (``"fp32"``, ``"bf16"``, ``"int8"``...) to the GEMM
            GFLOP/s measured in this run, for each contender's fraction of peak.

    Returns:
        One dict per contender, in the order of ``measured``: ``name``, ``pairs_per_s``,
        ``median_latency_ms``, ``p95_latency_ms``, ``peak_rss_mb``, ``ndcg_at_10``,
        ``speedup_vs_sentence_transformer_rerank`` (pairs/s ratio; ``None`` without the
        reference), ``gflop_per_s`` and ``fraction_of_gemm_peak`` (``None`` when unknown)
        and further detail.
    """
    peaks = gemm_peaks or {}
    results = [
        ContenderResult(
            name=name,
            latency=result.latency,
            ndcg_at_10=evaluate_run(result.rankings, {q: qrels[q] for q in result.rankings}, 10)["ndcg_at_10"]
            if result.rankings
            else 0.0,
            memory=memory.get(name),
            flops=result.flops,
            compute_dtype=result.compute_dtype,
            gemm_peak_gflop_per_s=peaks.get(result.compute_dtype) if result.compute_dtype else None,
        )
        for name, result in measured.items()
    ]
    reference = next((result for result in results if result.name == REFERENCE_CONTENDER), None)
    return [_config_json(result, reference) for result in results]


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _config_json(result: ContenderResult, reference: ContenderResult | None) -> dict[str, Any]:
    latency = result.latency
    peak = result.memory.peak_rss_mb if result.memory else None
    ref_latency = reference.latency if reference else None
    ref_peak = reference.memory.peak_rss_mb if reference and reference.memory else None
    gflop_per_s = (
        result.flops / latency.total_s / 1e9 if result.flops is not None and latency.total_s > 0 else None
    )
    return {
        "name": result.name,
        "pairs_per_s": latency.pairs_per_s,
        "median_latency_ms": latency.median_ms,
        "p95_latency_ms": latency.p95_ms,
        "peak_rss_mb": peak,
        "ndcg_at_10": result.ndcg_at_10,
        "speedup_vs_sentence_transformer_rerank": _ratio(
            latency.pairs_per_s, ref_latency.pairs_per_s if ref_latency else None
        ),
        "median_latency_speedup_vs_sentence_transformer_rerank": _ratio(
            ref_latency.median_ms if ref_latency else None, latency.median_ms
        ),
        "peak_rss_ratio_vs_sentence_transformer_rerank": _ratio(peak, ref_peak),
        "compute_dtype": result.compute_dtype,
        "gflop_per_pair": result.flops / latency.pairs / 1e9 if result.flops and latency.pairs else None,
        "gflop_per_s": gflop_per_s,
        "gemm_peak_gflop_per_s": result.gemm_peak_gflop_per_s,
        "fraction_of_gemm_peak": _ratio(gflop_per_s, result.gemm_peak_gflop_per_s),
        "pairs_scored": latency.pairs,
        "calls": latency.calls,
        "total_s": latency.total_s,
        "rss_before_mb": result.memory.rss_before_mb if result.memory else None,
        "peak_rss_scope": result.memory.scope if result.memory else None,
    }


def contender_names(selected: Iterable[str] | None = None) -> list[str]:
    """Contender names in report order, optionally restricted to ``selected``."""
    if selected is None:
        return list(CONTENDERS)
    wanted = set(selected)
    unknown = wanted - set(CONTENDERS)
    if unknown:
        raise ValueError(
            f"unknown bench configuration(s) {sorted(unknown)}; choose from {', '.join(CONTENDERS)}."
        )
    return [name for name in CONTENDERS if name in wanted]
