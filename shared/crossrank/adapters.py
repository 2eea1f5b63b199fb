"""What the LlamaIndex and LangChain integrations share.

- the metadata keys under which both report the rerank details, and
  :func:`rerank_details`, which fills them in;
- :data:`ModelSpec`, the type of their ``model`` field;
- :func:`option_field`, a pydantic field whose default and description come from the
  options table (:data:`crossrank.options.OPTIONS`);
- :class:`SyncedReranker` and :class:`SyncedRankingReranker`, pydantic bases that declare
  the option fields once and are the one mechanism that keeps a core
  :class:`~crossrank.Reranker` in step with them (on construction, assignment and
  ``model_copy``), sharing the loaded model whenever the loading options did not change.

The integrations import only :mod:`crossrank` and this module (an import-linter
contract checks it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from crossrank.models.backends import Backend, Precision
from crossrank.option_checks import closest_name, name_hint
from crossrank.options import (
    OPTIONS,
    RANKING_OPTIONS,
    Fusion,
    LongDocuments,
    Normalize,
    WindowAggregation,
    WindowBoundaries,
    validate_options,
)
from crossrank.profiles import load_profile
from crossrank.reranker import Reranker
from crossrank.results import RerankResult
from crossrank.scorer import PairScorer

if TYPE_CHECKING:
    from typing import TypeAlias

    from sentence_transformers import CrossEncoder
    from typing_extensions import Self

    ModelSpec: TypeAlias = "str | CrossEncoder | PairScorer | None"
else:
    # Left open at runtime so that pydantic does not need sentence-transformers (and
    # torch) imported to build the adapter classes; the core checks the model.
    ModelSpec = Any

__all__ = [
    "COARSE_SCORE_KEY",
    "CROSS_ENCODER_SCORE_KEY",
    "CUT_AT_STAGE_KEY",
    "MODEL_DOC",
    "NUM_WINDOWS_KEY",
    "RELEVANCE_SCORE_KEY",
    "RETRIEVAL_RANK_KEY",
    "RETRIEVAL_SCORE_KEY",
    "WINDOW_SPAN_KEY",
    "ModelSpec",
    "SyncedRankingReranker",
    "SyncedReranker",
    "option_field",
    "rerank_details",
    "serializable_model",
]

RELEVANCE_SCORE_KEY = "relevance_score"
"""LangChain metadata key of the final score the output is sorted by (float)."""
RETRIEVAL_SCORE_KEY = "retrieval_score"
"""LlamaIndex metadata key of the node's score before reranking (``keep_retrieval_score=True``)."""
CROSS_ENCODER_SCORE_KEY = "crossrank_cross_encoder_score"
"""Metadata key of the cross-encoder's score for the best window, before fusion (float)."""
WINDOW_SPAN_KEY = "crossrank_window_span"
"""Metadata key of ``[start, end]``: character offsets of the best window in the scored text."""
NUM_WINDOWS_KEY = "crossrank_num_windows"
"""Metadata key of how many windows of the text were scored (int)."""
RETRIEVAL_RANK_KEY = "crossrank_retrieval_rank"
"""Metadata key of the 1-based rank the text had coming out of the retriever (int)."""
COARSE_SCORE_KEY = "crossrank_coarse_score"
"""With a cascade: metadata key of the coarse stage's score (float)."""
CUT_AT_STAGE_KEY = "crossrank_cut_at_stage"
"""With a cascade: metadata key of ``"coarse"`` for a candidate the coarse stage cut, else ``None``."""

MODEL_DOC = (
    "A hub id or local directory of a sentence-transformers cross-encoder, an already-built "
    "sentence_transformers.CrossEncoder, or a crossrank.PairScorer. None uses $CROSSRANK_MODEL, "
    "else cross-encoder/ms-marco-MiniLM-L6-v2."
)
"""The description of every adapter's ``model`` field."""

_NO_DEFAULT: Any = object()


def rerank_details(result: RerankResult) -> dict[str, Any]:
    """The ``crossrank_*`` metadata of one result (JSON-friendly values)."""
    details: dict[str, Any] = {
        CROSS_ENCODER_SCORE_KEY: result.cross_encoder_score,
        WINDOW_SPAN_KEY: list(result.window_span),
        NUM_WINDOWS_KEY: result.num_windows,
        RETRIEVAL_RANK_KEY: result.retrieval_rank,
    }
    if result.coarse_score is not None:
        details[COARSE_SCORE_KEY] = result.coarse_score
        details[CUT_AT_STAGE_KEY] = result.cut_at_stage
    return details


def option_field(name: str, *, default: Any = _NO_DEFAULT, note: str = "", exclude: bool = False) -> Any:
    """A pydantic field for option ``name``, described by the options table.

    Args:
        name: The option's name in :data:`crossrank.options.OPTIONS`.
        default: The adapter's default when it differs from the core's (as LlamaIndex's
            ``top_n=2`` follows ``SentenceTransformerRerank``).
        note: A sentence on what the option means in this adapter, appended to the doc.
        exclude: Leave the field out of serialization (for a secret).

    Returns:
        A ``pydantic.Field``.
    """
    option = OPTIONS[name]
    value = option.default if default is _NO_DEFAULT else default
    description = f"{option.doc} {note}".strip()
    if isinstance(value, (dict, list)):
        return Field(default_factory=lambda: type(value)(value), description=description, exclude=exclude)
    return Field(default=value, description=description, exclude=exclude)


def serializable_model(model: object, reranker: Reranker) -> str | None:
    """What an adapter's ``model`` field serializes to: something that loads again.

    Args:
        model: The field's value.
        reranker: The adapter's core reranker (for a loaded model's path or id).

    Returns:
        The hub id or path.

    Raises:
        ValueError: For a custom :class:`~crossrank.PairScorer`, which has no path to
            serialize; pass ``model=`` a hub id or a directory to serialize the adapter.
    """
    if model is None or isinstance(model, str):
        return model
    if isinstance(model, PairScorer):
        raise ValueError(
            f"cannot serialize model={type(model).__name__} (a custom PairScorer has no path that "
            "loads it again): give the adapter model= a hub id or a model directory to serialize it."
        )
    return reranker.model_name


class SyncedReranker(BaseModel):
    """Base of the adapters: ``model``, the scoring options, and a core reranker kept in step.

    The fields are declared here once, from the options table. The core reranker is
    built at construction (so a bad option fails there), kept in step on every field
    assignment (a value the core rejects leaves the adapter unchanged) and after
    ``model_copy(update=...)``, and shares the loaded model unless ``model`` or a
    loading option changed. An adapter adds its framework's base class and its own
    fields (``top_n``, whose default follows the framework's reranker).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, validate_assignment=True)

    model: ModelSpec = Field(default=None, description=MODEL_DOC)
    device: str | None = option_field("device")
    trust_remote_code: bool = option_field("trust_remote_code")
    cross_encoder_kwargs: dict[str, Any] | None = option_field("cross_encoder_kwargs")
    # A secret: never in to_dict / model_dump / JSON.
    api_key: str | None = option_field("api_key", exclude=True)
    backend: Backend = option_field("backend")
    precision: Precision = option_field("precision")
    instruction: str | None = option_field("instruction")
    long_documents: LongDocuments = option_field("long_documents")
    window_overlap: int | None = option_field("window_overlap")
    max_windows: int | None = option_field("max_windows")
    window_boundaries: WindowBoundaries = option_field("window_boundaries")
    window_aggregation: WindowAggregation = option_field("window_aggregation")
    normalize: Normalize | None = option_field("normalize")
    batch_size: int = option_field("batch_size")
    max_tokens_per_batch: int = option_field("max_tokens_per_batch")
    score_cache_size: int = option_field("score_cache_size")

    _reranker: Reranker | None = PrivateAttr(default=None)
    _ranking_belongs_to: ClassVar[str | None] = None
    """For a pure scorer: where the ranking options it has no field for belong instead."""

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown_names(cls, data: Any) -> Any:
        # pydantic's own refusal ("Extra inputs are not permitted") gives no hint.
        if isinstance(data, Mapping):
            cls._check_names(data)
        return data

    @classmethod
    def _check_names(cls, values: Mapping[str, Any], kind: str = "extra_forbidden") -> None:
        """Raise a ``ValidationError`` naming each unknown name and what it likely meant."""
        known = cls._field_names()
        unknown = [name for name in values if isinstance(name, str) and name not in known]
        if not unknown:
            return
        errors = []
        for name in unknown:
            # pydantic's own words first, so code matching them keeps working; then the hint.
            if kind == "no_such_attribute":
                said = f"Object has no attribute {name!r}"
            else:
                said = f"Extra inputs are not permitted: {name!r} is not a field of {cls.__name__}"
            error = PydanticCustomError(kind, f"{said}; {cls._hint(name)}")
            errors.append(InitErrorDetails(type=error, loc=(name,), input=values[name]))
        raise ValidationError.from_exception_data(cls.__name__, errors)

    @classmethod
    def _field_names(cls) -> set[str]:
        fields = cls.model_fields
        aliases = (field.alias for field in fields.values() if field.alias)
        return {*fields, *aliases}

    @classmethod
    def _hint(cls, name: str) -> str:
        public = sorted(field for field in cls._field_names() if not field.startswith("_"))
        ranking = closest_name(name, RANKING_OPTIONS)
        if cls._ranking_belongs_to and ranking is not None and ranking not in public:
            meant = f"{ranking} is" if ranking == name else f"did you mean `{ranking}`? It is"
            return f"{meant} a ranking option: give it to {cls._ranking_belongs_to}, not to {cls.__name__}."
        return name_hint(name, public)

    @classmethod
    def from_profile(cls, path: str | os.PathLike[str], **overrides: Any) -> Self:
        """An adapter with the options ``crossrank tune`` chose, read from its profile.

        Args:
            path: The profile (``crossrank tune DATA --output PROFILE.json``).
            **overrides: ``model`` or fields that win over the profile's (``top_n=5``).

        Raises:
            FileNotFoundError: If there is no such profile.
            ValueError: If the file is not a profile, or chose an option this adapter has no
                field for (a ranking option on a pure scorer: it names the one that has it).

        Warns:
            ProfileMismatchWarning: When this CPU or the model differ from the tuned ones.
        """
        model, options = load_profile(path, overrides)
        known = cls._field_names()
        foreign = sorted(name for name in options if name not in known and name not in overrides)
        if foreign:
            # Dropping them would rank differently from what the profile measured.
            where = f"; use {cls._ranking_belongs_to}" if cls._ranking_belongs_to else ""
            raise ValueError(
                f"{path} chose {', '.join(foreign)}, which {cls.__name__} has no field for{where}"
            )
        return cls(model=model, **options)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with ``update`` applied; an unknown name in it is an error, not a silent no-op."""
        if update:
            self._check_names(update)
        return super().model_copy(update=update, deep=deep)

    def model_post_init(self, context: Any, /) -> None:
        """Build the core reranker, so option errors surface at construction."""
        super().model_post_init(context)
        self._synced_reranker()

    @property
    def reranker(self) -> Reranker:
        """The core :class:`crossrank.Reranker` for the current field values."""
        return self._synced_reranker()

    def _option_values(self) -> dict[str, Any]:
        fields = type(self).model_fields
        return {name: getattr(self, name) for name in OPTIONS if name in fields}

    def _synced_reranker(self) -> Reranker:
        previous = self._reranker
        options = validate_options(self._option_values())
        if previous is not None and _same_model(previous.model_spec, self.model):
            if previous.options == options:
                return previous
            reranker = previous.with_options(**options)
        else:
            reranker = Reranker(self.model, **options)
        self._reranker = reranker
        return reranker

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._field_names() and not name.startswith("_") and not hasattr(type(self), name):
            self._check_names({name: value}, kind="no_such_attribute")
        if name != "model" and name not in OPTIONS:
            super().__setattr__(name, value)
            return
        previous = getattr(self, name)
        super().__setattr__(name, value)
        try:
            self._synced_reranker()
        except Exception:
            super().__setattr__(name, previous)
            raise


class SyncedRankingReranker(SyncedReranker):
    """:class:`SyncedReranker` plus the options that shape the final ranking (all but ``top_n``)."""

    fusion: Fusion | None = option_field("fusion")
    rrf_k: float = option_field("rrf_k")
    rrf_weights: tuple[float, float] = option_field("rrf_weights")
    score_threshold: float | None = option_field("score_threshold")
    rerank_depth: int | None = option_field("rerank_depth")
    coarse_model: ModelSpec = option_field("coarse_model")
    coarse_backend: Backend | None = option_field("coarse_backend")
    coarse_keep: int = option_field("coarse_keep")
    coarse_max_length: int | None = option_field("coarse_max_length")
    fine_windows_per_document: int | None = option_field("fine_windows_per_document")
    fine_window_margin: float | None = option_field("fine_window_margin")


def _same_model(a: object, b: object) -> bool:
    # The same object, or the same id or path: either way the loaded model serves.
    return a is b or (isinstance(a, str) and a == b)
