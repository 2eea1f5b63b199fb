"""``RerankerOptions``: a reranker's options as typed, read-only attributes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crossrank.models.backends import Backend, Precision
from crossrank.option_value import OptionValue
from crossrank.options import Fusion, LongDocuments, Normalize, WindowAggregation, WindowBoundaries
from crossrank.scorer import PairScorer

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = ["RerankerOptions"]


class RerankerOptions:
    """Every option of a :class:`~crossrank.Reranker` as a typed, read-only attribute.

    Each attribute reads the validated options the reranker keeps (``_options``);
    ``reranker.with_options(top_n=3)`` makes a changed copy instead of changing one in place,
    since a reranker is shared by threads and adapters.
    """

    _options: dict[str, Any]

    device: OptionValue[str | None] = OptionValue()
    trust_remote_code: OptionValue[bool] = OptionValue()
    cross_encoder_kwargs: OptionValue[dict[str, Any]] = OptionValue()
    api_key: OptionValue[str | None] = OptionValue()
    backend: OptionValue[Backend] = OptionValue()
    """The requested backend (see :attr:`backend_in_use` for the one that runs)."""
    precision: OptionValue[Precision] = OptionValue()
    instruction: OptionValue[str | None] = OptionValue()
    coarse_model: OptionValue[str | CrossEncoder | PairScorer | None] = OptionValue()
    coarse_backend: OptionValue[Backend | None] = OptionValue()
    coarse_keep: OptionValue[int] = OptionValue()
    coarse_max_length: OptionValue[int | None] = OptionValue()
    fine_windows_per_document: OptionValue[int | None] = OptionValue()
    fine_window_margin: OptionValue[float | None] = OptionValue()
    long_documents: OptionValue[LongDocuments] = OptionValue()
    window_overlap: OptionValue[int | None] = OptionValue()
    max_windows: OptionValue[int | None] = OptionValue()
    window_boundaries: OptionValue[WindowBoundaries] = OptionValue()
    window_aggregation: OptionValue[WindowAggregation] = OptionValue()
    fusion: OptionValue[Fusion | None] = OptionValue()
    rrf_k: OptionValue[float] = OptionValue()
    rrf_weights: OptionValue[tuple[float, float]] = OptionValue()
    normalize: OptionValue[Normalize | None] = OptionValue()
    score_threshold: OptionValue[float | None] = OptionValue()
    top_n: OptionValue[int | None] = OptionValue()
    rerank_depth: OptionValue[int | None] = OptionValue()
    batch_size: OptionValue[int] = OptionValue()
    max_tokens_per_batch: OptionValue[int] = OptionValue()
    show_progress_bar: OptionValue[bool] = OptionValue()
    score_cache_size: OptionValue[int] = OptionValue()

    @property
    def options(self) -> dict[str, Any]:
        """Every option's value (a copy), as :func:`crossrank.options.validate_options` gives it."""
        return dict(self._options)

    @property
    def is_cascade(self) -> bool:
        """Whether a coarse stage runs first (a ``coarse_*`` model, backend or length is set)."""
        return any(
            value is not None for value in (self.coarse_model, self.coarse_backend, self.coarse_max_length)
        )
