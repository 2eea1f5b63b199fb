"""crossrank's own contenders, and the registry of every contender the bench can run.

A new configuration is one more entry in :data:`CONTENDERS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crossrank.benchmark.flops import TransformerShape, shape_of_model
from crossrank.benchmark.peers import REFERENCE_CONTENDER, build_langchain, build_llamaindex, build_predict
from crossrank.benchmark.protocol import BenchSettings, Contender, Ranked
from crossrank.scorer import DelegatingScorer, PairScorer

if TYPE_CHECKING:
    from crossrank.benchmark.inputs import BenchInput
    from crossrank.reranker import Reranker

__all__ = ["CONTENDERS", "build_contender", "contender_names"]


class _CountingScorer(DelegatingScorer):
    """A :class:`~crossrank.PairScorer` that notes the tokens of every pair it scores, for FLOP counts."""

    def __init__(self, scorer: PairScorer) -> None:
        super().__init__(scorer)
        self.sequence_lengths: list[int] = []

    def score(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[float]:
        extra = self.num_special_tokens
        self.sequence_lengths.extend(len(query) + len(passage) + extra for query, passage in pairs)
        return self.inner.score(pairs)


@dataclass
class _CrossrankContender:
    name: str
    reranker: Reranker
    counter: _CountingScorer
    compute_dtype: str
    # The FLOPs of a pair depend on the model that scores it: a student has its own shape
    # (``None``: the bench's model).
    shape: TransformerShape | None = None

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


def _crossrank(
    long_documents: str,
    backend: str = "auto",
    precision: str = "auto",
    *,
    student: bool = False,
    cascade: str | None = None,
) -> Callable[[BenchSettings, dict[str, Any]], Contender]:
    def build(settings: BenchSettings, shared: dict[str, Any]) -> Contender:
        from crossrank.models.backends import describe_scorer
        from crossrank.reranker import Reranker

        model = settings.student if student else settings.model
        if model is None:
            raise ValueError("crossrank-student times the model given with --student; pass --student MODEL.")
        key = f"crossrank-{backend}-{precision}" + ("-student" if student else "")
        if key not in shared:
            # Loaded once per backend; the score cache is off so every timed call does its work.
            loaded = Reranker(
                model,
                device=settings.device,
                backend=backend,  # type: ignore[arg-type]
                precision=precision,  # type: ignore[arg-type]
                score_cache_size=0,
            )
            shared[key] = loaded.scorer
        scorer: PairScorer = shared[key]
        counter = _CountingScorer(scorer)
        short_fp32 = cascade is not None and cascade.startswith("short") and backend != "openvino-bf16"
        reranker = Reranker(
            counter,
            long_documents=long_documents,  # type: ignore[arg-type]
            batch_size=settings.batch_size,
            score_cache_size=0,
            coarse_keep=SHORT_CASCADE_KEEP if short_fp32 else CASCADE_KEEP,
            **_coarse_stage(cascade, settings, shared),
        )
        name = "crossrank-student" if student else _crossrank_name(long_documents, backend, precision)
        cascade_name = f"crossrank-cascade-{cascade}" + ("-bf16" if backend == "openvino-bf16" else "")
        return _CrossrankContender(
            cascade_name if cascade else name,
            reranker,
            counter,
            _compute_dtype(describe_scorer(scorer)),
            shape=shape_of_model(model) if student else None,
        )

    return build


CASCADE_KEEP = 30
"""Candidates the bench's cascades pass from the coarse to the fine stage."""
CASCADE_SHORT_LENGTH = 160
"""Tokens per pair the ``short`` cascades' coarse stage reads; 48 and 96 kept fewer of the
fp32 top 10 (docs/benchmarks.md)."""
SHORT_CASCADE_KEEP = 20
"""Candidates ``crossrank-cascade-short`` keeps for the fp32 model (``-short-bf16`` keeps
:data:`CASCADE_KEEP`): the two configurations the quality gate measured."""


def _coarse_stage(cascade: str | None, settings: BenchSettings, shared: dict[str, Any]) -> dict[str, Any]:
    """The coarse-stage options of a bench cascade; a loaded coarse scorer is loaded once.

    ``int8``, ``static-int8``, ``bf16``: the model in ONNX Runtime int8, OpenVINO static
    int8 or OpenVINO bf16; ``student`` (``student-bf16``): the ``--student`` model (in
    OpenVINO bf16); ``short`` (``short-int8``,
    ``short-torch``): the model in OpenVINO bf16 (static int8, PyTorch at the device's
    precision) reading only each candidate's first :data:`CASCADE_SHORT_LENGTH` tokens (a
    path the coarse stage loads itself).
    """
    from crossrank.reranker import Reranker

    if cascade is None:
        return {}
    if cascade.startswith("short"):
        return {
            "coarse_model": settings.model,
            "coarse_backend": {"short-int8": "openvino-int8", "short-torch": "torch"}.get(
                cascade, "openvino-bf16"
            ),
            "coarse_max_length": CASCADE_SHORT_LENGTH,
        }
    student = cascade.startswith("student")
    if student and settings.student is None:
        raise ValueError(f"crossrank-cascade-{cascade} prunes with the --student model; pass --student MODEL")
    key = f"coarse-{cascade}"
    if key not in shared:
        backend = {
            "int8": "onnx-int8",
            "static-int8": "openvino-int8",
            "bf16": "openvino-bf16",
            "student-bf16": "openvino-bf16",
        }.get(cascade, "auto")
        model = settings.student if student else settings.model
        coarse = Reranker(model, device=settings.device, backend=backend, score_cache_size=0)  # type: ignore[arg-type]
        shared[key] = _CountingScorer(coarse.scorer)
    return {"coarse_model": shared[key]}


def _crossrank_name(long_documents: str, backend: str, precision: str) -> str:
    if (backend, precision) == ("auto", "auto"):
        return "crossrank-default" if long_documents == "chunk_max" else "crossrank-truncate"
    return f"crossrank-{precision if backend == 'torch' else backend}" + (
        "" if long_documents == "chunk_max" else "-truncate"
    )


def _compute_dtype(scorer_label: str) -> str:
    """The GEMM element type of a scorer labelled by :func:`crossrank.models.backends.describe_scorer`."""
    if scorer_label.endswith("int8"):
        return "int8"
    for dtype in ("bf16", "fp16"):
        if scorer_label.endswith(dtype):
            return dtype
    return "fp32"


CONTENDERS: dict[str, Callable[[BenchSettings, dict[str, Any]], Contender]] = {
    "crossrank-default": _crossrank("chunk_max"),
    "crossrank-truncate": _crossrank("truncate"),
    REFERENCE_CONTENDER: build_llamaindex,
    "langchain-cross-encoder-reranker": build_langchain,
    "sentence-transformers-predict": build_predict,
    # crossrank before its speed work (PyTorch fp32), and its opt-in speed options.
    "crossrank-fp32": _crossrank("chunk_max", backend="torch", precision="fp32"),
    "crossrank-bf16": _crossrank("chunk_max", backend="torch", precision="bf16"),
    "crossrank-onnx-int8": _crossrank("chunk_max", backend="onnx-int8"),
    "crossrank-openvino": _crossrank("chunk_max", backend="openvino"),
    "crossrank-openvino-bf16": _crossrank("chunk_max", backend="openvino-bf16"),
    "crossrank-openvino-int8": _crossrank("chunk_max", backend="openvino-int8"),
    # A distilled student (--student), with the default's settings: the cascade's cheap stage.
    "crossrank-student": _crossrank("chunk_max", student=True),
    # Coarse-to-fine: a cheaper stage keeps 30 for the model (ONNX Runtime fp32, the default's
    # scores, unless the name ends in -bf16): the model in int8 or bf16 (self-cascades), the
    # model in bf16 or static int8 reading each candidate's first 160 tokens (-short and
    # -short-int8 keep 20), or the student.
    "crossrank-cascade-int8": _crossrank("chunk_max", cascade="int8"),
    "crossrank-cascade-static-int8": _crossrank("chunk_max", cascade="static-int8"),
    "crossrank-cascade-bf16": _crossrank("chunk_max", cascade="bf16"),
    "crossrank-cascade-short": _crossrank("chunk_max", cascade="short"),
    "crossrank-cascade-short-int8": _crossrank("chunk_max", cascade="short-int8"),
    "crossrank-cascade-short-bf16": _crossrank("chunk_max", backend="openvino-bf16", cascade="short"),
    # The short cascade for a GPU: both stages in PyTorch (fp16 on CUDA), the coarse one
    # reading each candidate's first 160 tokens; OpenVINO runs on CPUs only.
    "crossrank-cascade-short-torch": _crossrank("chunk_max", cascade="short-torch"),
    "crossrank-cascade-student": _crossrank("chunk_max", cascade="student"),
    # The student in OpenVINO bf16 prunes; the model (ONNX Runtime fp32) ranks the survivors.
    "crossrank-cascade-student-bf16": _crossrank("chunk_max", cascade="student-bf16"),
}
"""Contender name to its builder, in report order. A builder raises
:class:`~crossrank.errors.MissingPeerError` when its library is not installed."""


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


_NEED_STUDENT = {"crossrank-student", "crossrank-cascade-student", "crossrank-cascade-student-bf16"}


def contender_names(selected: Iterable[str] | None = None, *, student: bool = False) -> list[str]:
    """Contender names in report order, optionally restricted to ``selected``.

    Args:
        selected: The names to run; ``None`` runs all (``crossrank-student`` only with a student).
        student: Whether a student model was given.

    Raises:
        ValueError: For an unknown name, or ``crossrank-student`` selected without a student.
    """
    if selected is None:
        return [name for name in CONTENDERS if student or name not in _NEED_STUDENT]
    wanted = set(selected)
    if wanted & _NEED_STUDENT and not student:
        raise ValueError(f"{sorted(wanted & _NEED_STUDENT)} time the --student model; pass --student MODEL.")
    unknown = wanted - set(CONTENDERS)
    if unknown:
        raise ValueError(
            f"unknown bench configuration(s) {sorted(unknown)}; choose from {', '.join(CONTENDERS)}."
        )
    return [name for name in CONTENDERS if name in wanted]
