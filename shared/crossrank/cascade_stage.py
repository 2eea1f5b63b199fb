"""A cascade's coarse stage: the options it inherits, and the cascades that cannot work.

The ranking of a cascade is :mod:`crossrank.ranking.cascade`; the coarse stage itself is
another :class:`~crossrank.Reranker`, built from :func:`coarse_stage_options`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["check_cascade", "coarse_stage_options"]


# What the coarse stage of a cascade inherits from the whole reranker: where and how models
# load, and how candidates become windows and batches, so both stages read the same windows.
_COARSE_INHERITS = (
    "device",
    "trust_remote_code",
    "long_documents",
    "window_overlap",
    "max_windows",
    "window_boundaries",
    "normalize",
    "batch_size",
    "max_tokens_per_batch",
    "show_progress_bar",
    "score_cache_size",
)


def coarse_stage_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options of a cascade's coarse stage, from the whole reranker's.

    Args:
        options: The reranker's validated options.

    Returns:
        Keyword arguments for the coarse stage's ``Reranker``: the inherited options, its
        backend (``coarse_backend``, else ``"auto"``) and, for a self-cascade, the model's
        ``cross_encoder_kwargs``.
    """
    stage = {name: options[name] for name in _COARSE_INHERITS}
    stage["backend"] = options["coarse_backend"] or "auto"
    if options["coarse_model"] is None:
        stage["cross_encoder_kwargs"] = options["cross_encoder_kwargs"]
    return stage


def check_cascade(model: object, options: Mapping[str, Any]) -> None:
    """Refuse a cascade that cannot work, naming the fix.

    Raises:
        ValueError: For a cascade on a server URL, a self-cascade of a ready scorer, or a
            self-cascade whose coarse backend is the model's own.
    """
    from crossrank.models.remote_client import is_server_url

    if isinstance(model, str) and is_server_url(model):
        raise ValueError(
            "coarse_model/coarse_backend apply to models crossrank runs here, not to a server URL; "
            "start the server with its own cascade options instead."
        )
    if options["coarse_model"] is not None:
        return
    if not isinstance(model, str | type(None)) and not hasattr(model, "predict"):
        raise ValueError(
            "a self-cascade (coarse_backend without coarse_model) loads the model again in another "
            "backend, which a ready PairScorer cannot be; pass coarse_model= as well."
        )
    if options["coarse_backend"] == options["backend"] and options["precision"] == "auto":
        raise ValueError(
            f"coarse_backend={options['coarse_backend']!r} is the model's own backend, so the coarse "
            "stage would be the model itself; choose a cheaper one such as 'onnx-int8', or set coarse_model."
        )
