"""Every reranking option, declared once: name, type, default, doc, validation, reload.

:class:`~crossrank.Reranker`, :meth:`~crossrank.Reranker.with_options`, the LlamaIndex
and LangChain fields and the CLI flags are built from (or checked against) :data:`OPTIONS`,
so a default or a description changes in one place.

Example:
    >>> from crossrank.options import OPTIONS
    >>> OPTIONS["max_windows"].default
    16
    >>> OPTIONS["backend"].reloads_model
    True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from crossrank.models.backends import BACKENDS, PRECISIONS, check_backend_options
from crossrank.option_checks import (
    boolean,
    check_int,
    check_threshold,
    choice,
    integer,
    kwargs_dict,
    optional_int,
    optional_key,
    optional_non_negative,
    optional_str,
    rrf_k,
    rrf_weights,
    unknown_names_message,
)

__all__ = [
    "LOAD_OPTIONS",
    "OPTIONS",
    "RANKING_OPTIONS",
    "Fusion",
    "LongDocuments",
    "Normalize",
    "Option",
    "WindowAggregation",
    "WindowBoundaries",
    "check_int",
    "check_threshold",
    "default_options",
    "options_docstring",
    "validate_options",
]

LongDocuments = Literal["chunk_max", "truncate"]
Fusion = Literal["rrf"]
Normalize = Literal["sigmoid"]
WindowBoundaries = Literal["tokens", "sentences"]
WindowAggregation = Literal["max", "first_blend", "top2_mean"]


@dataclass(frozen=True, slots=True)
class Option:
    """One reranking option.

    Attributes:
        name: The keyword argument, field and (with dashes) CLI flag name.
        default: The core's default (an adapter may document a different one).
        doc: What it does, in a sentence or two.
        check: Validates a value and returns it normalized; raises ``ValueError`` or
            ``TypeError`` naming the value.
        reloads_model: Changing it loads the model again.
        ranking: It shapes the final ranking (fusion, cut-offs), not the scores, so a
            pure scorer such as LangChain's ``BaseCrossEncoder`` has no use for it.
        choices: The allowed strings, for a ``Literal`` option.
    """

    name: str
    default: Any
    doc: str
    check: Callable[[Any], Any]
    reloads_model: bool = False
    ranking: bool = False
    choices: tuple[str, ...] | None = None


def _optional_instruction(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise TypeError(
            f"instruction must be a non-empty string (the model's task instruction) or None, got {value!r}."
        )
    return value


def _optional_model(value: Any) -> Any:
    from crossrank.models.loading import check_model_spec

    if isinstance(value, str) and not value.strip():
        raise ValueError(
            "coarse_model must be a model path or hub id, not an empty string; None turns it off."
        )
    try:
        check_model_spec(value)
    except TypeError as exc:
        raise TypeError(
            str(exc).replace("model must be None (the default model)", "coarse_model must be None")
        ) from None
    return value


_OPTION_LIST = (
    Option(
        "device",
        None,
        "Device to load the model on ('cpu', 'cuda', 'mps'...); None picks cuda, then mps, then "
        "cpu. Ignored for an already-built model.",
        optional_str,
        reloads_model=True,
    ),
    Option(
        "trust_remote_code",
        False,
        "Let the model repository run its own code.",
        boolean("trust_remote_code"),
        reloads_model=True,
    ),
    Option(
        "cross_encoder_kwargs",
        None,
        "Extra keyword arguments for sentence_transformers.CrossEncoder(...).",
        kwargs_dict,
        reloads_model=True,
    ),
    Option(
        "api_key",
        None,
        "For a model given as a crossrank server URL (http://host:port): the key the server "
        "requires; None reads $CROSSRANK_API_KEY. Never serialized by the adapters.",
        optional_key,
        reloads_model=True,
    ),
    Option(
        "backend",
        "auto",
        "How the model runs: 'auto' (ONNX Runtime in fp32 on a CPU, PyTorch on a GPU), 'torch', "
        "'onnx' (ONNX Runtime in fp32: PyTorch's scores), 'onnx-int8' (int8 weights: faster, but "
        "scores move by up to a few tenths and rankings change), 'openvino' (OpenVINO in fp32), "
        "'openvino-bf16' (OpenVINO in bf16 on CPUs with AVX512-BF16 or AMX: scores move by a few "
        "thousandths) or 'openvino-int8' (static int8 calibrated once on crossrank's sample pairs "
        'by NNCF: a score does not depend on its batch; pip install "crossrank[openvino]" for the '
        "OpenVINO ones). ONNX models are exported once and "
        "cached under $CROSSRANK_CACHE_DIR/onnx (default ~/.cache/crossrank/onnx), and OpenVINO "
        "runs the same files. When 'auto' cannot use ONNX Runtime it falls back to PyTorch, "
        "says so in a warning on the 'crossrank' logger and in backend_in_use; a backend named "
        "explicitly never changes: it loads or raises an error naming the cause. Measured "
        "speed-ups, with the machine they were measured on, are in docs/benchmarks.md.",
        choice("backend", BACKENDS),
        reloads_model=True,
        choices=BACKENDS,
    ),
    Option(
        "precision",
        "auto",
        "PyTorch's precision: 'auto' (fp16 on CUDA, else fp32), 'fp32', 'bf16' (pays off on CPUs "
        "with AVX512-BF16 or AMX; scores move by up to 0.02) or 'fp16'. An explicit precision with "
        "backend='auto' selects PyTorch, so precision='fp32' scores exactly like CrossEncoder.predict.",
        choice("precision", PRECISIONS),
        reloads_model=True,
        choices=PRECISIONS,
    ),
    Option(
        "instruction",
        None,
        "The instruction the model reads with every pair, as sentence-transformers' prompt: the "
        "<Instruct> line of a Qwen3-Reranker-style chat template (a system message), or text put "
        "before the query for a model without a template. None: the model's saved default prompt, "
        "if any (for Qwen3-Reranker, its template's own default instruction).",
        _optional_instruction,
        reloads_model=True,
    ),
    Option(
        "coarse_model",
        None,
        "A cheaper cross-encoder (a path, a hub id, a CrossEncoder or a PairScorer; e.g. a student "
        "from crossrank distill) for a "
        "coarse-to-fine cascade: it scores every candidate and only its best coarse_keep are scored "
        "by the main model. 'lexical': no model, the query's words counted in each window (with "
        "fine_windows_per_document, the main model reads only each candidate's best windows by that "
        "count). None with coarse_backend set: the main model itself in that backend (a "
        "self-cascade); both None: a single stage.",
        _optional_model,
        ranking=True,
    ),
    Option(
        "coarse_backend",
        None,
        "The coarse stage's backend, one of the main model's backends (e.g. 'onnx-int8'); None is "
        "'auto' for a coarse_model and no cascade without one.",
        choice("coarse_backend", (None, *BACKENDS)),
        ranking=True,
        choices=BACKENDS,
    ),
    Option(
        "coarse_keep",
        30,
        "Candidates the coarse stage passes on to the main model; the rest follow them, marked "
        "cut_at_stage='coarse'. Measured cost and quality are in docs/benchmarks.md.",
        integer("coarse_keep", 1),
        ranking=True,
    ),
    Option(
        "coarse_max_length",
        None,
        "Tokens of each (query, candidate) pair the coarse stage reads: it scores only the start "
        "of each candidate, cut to this length, which makes pruning several times cheaper (the "
        "cost of a pair grows with its length); None: the coarse stage reads every window the "
        "model reads. Not with fine_windows_per_document, which needs the coarse stage's windows.",
        optional_int("coarse_max_length", 16),
        ranking=True,
    ),
    Option(
        "fine_windows_per_document",
        None,
        "With a cascade and chunk_max: the fine stage scores only each surviving document's best "
        "this many windows by the coarse stage's scores (the windows of its own that overlap them "
        "most), and the document keeps the fine stage's max; None scores every window. Without a "
        "coarse stage it is an error (nothing would pick the windows).",
        optional_int("fine_windows_per_document", 1),
        ranking=True,
    ),
    Option(
        "fine_window_margin",
        None,
        "With fine_windows_per_document: a window after a document's best is read by the main model "
        "only if its coarse score is within this margin of the best window's, so a clear winner costs "
        "one window and a close call up to fine_windows_per_document; None reads that many "
        "always. For coarse_model='lexical' the unit is log(1 + count) of one query word. "
        "Measured in docs/benchmarks.md.",
        optional_non_negative("fine_window_margin"),
        ranking=True,
    ),
    Option(
        "long_documents",
        "chunk_max",
        "How a long document is scored: 'chunk_max', every window, keeping the best; 'truncate', "
        "only its first window, like other rerankers.",
        choice("long_documents", ("chunk_max", "truncate")),
        choices=("chunk_max", "truncate"),
    ),
    Option(
        "window_overlap",
        None,
        "Tokens shared by consecutive windows; None uses one eighth of the window (63 tokens for a "
        "512-token model and a short query). An explicit value must be smaller than the window.",
        optional_int("window_overlap", 0),
    ),
    Option(
        "max_windows",
        16,
        "Most windows scored per document (None: no cap). Beyond the cap, windows evenly spaced "
        "over the document are kept, always including the first and the last.",
        optional_int("max_windows", 1),
    ),
    Option(
        "window_boundaries",
        "tokens",
        "Where a long document's windows start: 'tokens' every window minus window_overlap tokens; "
        "'sentences' at the paragraph or sentence start nearest that point, found from the "
        "tokenizer's character offsets, so a window holds whole sentences (the overlap then "
        "stays between 0 and twice window_overlap).",
        choice("window_boundaries", ("tokens", "sentences")),
        choices=("tokens", "sentences"),
    ),
    Option(
        "window_aggregation",
        "max",
        "How a long document's window scores become its score: 'max' (chunk-max, the best "
        "window); 'first_blend' (the mean of the first window's score and the best); "
        "'top2_mean' (the mean of the two best). The winning window reported is the best one.",
        choice("window_aggregation", ("max", "first_blend", "top2_mean")),
        choices=("max", "first_blend", "top2_mean"),
    ),
    Option(
        "fusion",
        None,
        "How results are ranked: 'rrf', by Reciprocal Rank Fusion of the cross-encoder ranking "
        "with the retrieval ranking, w_ce/(k + rank_ce) + w_ret/(k + rank_ret); None, by the "
        "cross-encoder alone.",
        choice("fusion", (None, "rrf")),
        ranking=True,
        choices=("rrf",),
    ),
    Option("rrf_k", 60.0, "The Reciprocal Rank Fusion constant k.", rrf_k, ranking=True),
    Option(
        "rrf_weights",
        (1.0, 1.0),
        "(cross_encoder_weight, retrieval_weight) for RRF.",
        rrf_weights,
        ranking=True,
    ),
    Option(
        "normalize",
        None,
        "'sigmoid' maps logits to 0..1 (a model that already outputs 0..1 is left as it is); None "
        "keeps the model's raw output.",
        choice("normalize", (None, "sigmoid")),
        choices=("sigmoid",),
    ),
    Option(
        "score_threshold",
        None,
        "Drop results whose final score is below this.",
        check_threshold,
        ranking=True,
    ),
    Option(
        "top_n",
        None,
        "Keep only this many of the best results (None: all of them).",
        optional_int("top_n", 1),
        ranking=True,
    ),
    Option(
        "rerank_depth",
        None,
        "Rerank only the retriever's first N candidates (by retrieval rank); the others are not "
        "scored and not returned, as if the retriever had returned N. crossrank tune measures it. "
        "None: every candidate.",
        optional_int("rerank_depth", 1),
        ranking=True,
    ),
    Option("batch_size", 32, "Most (query, window) pairs per model call.", integer("batch_size", 1)),
    Option(
        "max_tokens_per_batch",
        16384,
        "Most padded tokens per model call, so memory stays bounded however many or long the candidates are.",
        integer("max_tokens_per_batch", 1),
    ),
    Option(
        "show_progress_bar",
        False,
        "Show a tqdm bar over the model calls.",
        boolean("show_progress_bar"),
    ),
    Option(
        "score_cache_size",
        10_000,
        "Most window scores kept in an LRU cache keyed by the model and the exact query and window "
        "tokens, so repeated queries over the same documents cost nothing; 0 turns the cache off "
        "(do so when measuring speed). See Reranker.cache_info().",
        integer("score_cache_size", 0),
    ),
)

OPTIONS: Mapping[str, Option] = {option.name: option for option in _OPTION_LIST}
"""Every option of :class:`~crossrank.Reranker`, in its signature's order."""
LOAD_OPTIONS: frozenset[str] = frozenset(name for name, option in OPTIONS.items() if option.reloads_model)
"""Options that decide how the model is loaded: changing one loads it again."""
RANKING_OPTIONS: frozenset[str] = frozenset(name for name, option in OPTIONS.items() if option.ranking)
"""Options that shape the final ranking rather than the scores."""


def default_options() -> dict[str, Any]:
    """Every option at its default, normalized as :func:`validate_options` returns it."""
    return validate_options({})


def validate_options(values: Mapping[str, Any]) -> dict[str, Any]:
    """Check option values and fill in the defaults.

    Args:
        values: Option values by name; missing ones take their defaults.

    Returns:
        Every option, validated and normalized (ints as ``int``, numbers as ``float``,
        ``cross_encoder_kwargs`` as a dict).

    Raises:
        TypeError: For an unknown option name (naming the option it likely meant), or a
            value of the wrong type.
        ValueError: For a value out of range, naming it.
    """
    unknown = set(values) - set(OPTIONS)
    if unknown:
        raise TypeError(unknown_names_message(unknown, OPTIONS, what="Reranker option"))
    checked = {name: option.check(values.get(name, option.default)) for name, option in OPTIONS.items()}
    check_backend_options(checked["backend"], checked["precision"])
    return checked


def options_docstring(indent: int = 8, names: tuple[str, ...] | None = None) -> str:
    """Google-style ``Args:`` lines for the options, for docstrings built from the table.

    Args:
        indent: Spaces before each argument name.
        names: Which options, in table order when ``None`` (all).

    Returns:
        One ``name: doc`` entry per option, wrapped at 88 columns.
    """
    import textwrap

    lines: list[str] = []
    for name in names or tuple(OPTIONS):
        option = OPTIONS[name]
        lines.extend(
            textwrap.wrap(
                f"{name}: {option.doc}",
                width=88,
                initial_indent=" " * indent,
                subsequent_indent=" " * (indent + 4),
                break_on_hyphens=False,
            )
        )
    return "\n".join(lines)
