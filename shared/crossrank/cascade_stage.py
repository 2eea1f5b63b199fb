"""A cascade's coarse stage: the options it inherits, and the cascades that cannot work.

The ranking of a cascade is :mod:`crossrank.ranking.cascade`; the coarse stage itself is
another :class:`~crossrank.Reranker`, built from :func:`coarse_stage_options`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crossrank.models.lexical_scorer import LEXICAL_COARSE_MODEL

__all__ = ["check_cascade", "check_coarse_length", "check_single_stage", "coarse_stage_options"]


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
        ``cross_encoder_kwargs``. With ``coarse_max_length`` the stage loads its model
        with that ``max_length`` and reads only each candidate's first window.
    """
    stage = {name: options[name] for name in _COARSE_INHERITS}
    stage["backend"] = options["coarse_backend"] or "auto"
    if options["coarse_model"] is None:
        stage["cross_encoder_kwargs"] = options["cross_encoder_kwargs"]
    if options["coarse_max_length"] is not None:
        stage["cross_encoder_kwargs"] = {
            **stage.get("cross_encoder_kwargs", {}),
            "max_length": options["coarse_max_length"],
        }
        stage["long_documents"] = "truncate"
    return stage


def check_cascade(model: object, options: Mapping[str, Any]) -> None:
    """Refuse a cascade that cannot work, naming the fix.

    Raises:
        ValueError: For a cascade on a server URL, a self-cascade of a ready scorer, a
            self-cascade whose coarse stage would be the model itself,
            ``fine_window_margin`` without ``fine_windows_per_document``, or
            ``coarse_max_length`` where it cannot apply.
        ModelLoadError: For a ``coarse_model`` path that does not exist or holds no model.
    """
    from crossrank.models.remote_client import is_server_url

    if isinstance(model, str) and is_server_url(model):
        raise ValueError(
            "coarse_model/coarse_backend apply to models crossrank runs here, not to a server URL; "
            "start the server with its own cascade options instead."
        )
    if options["fine_window_margin"] is not None and options["fine_windows_per_document"] is None:
        raise ValueError(
            f"fine_window_margin={options['fine_window_margin']!r} decides when a document's second "
            "and later windows are read, but fine_windows_per_document is None (every window is "
            "read); set fine_windows_per_document (e.g. 2) or drop fine_window_margin."
        )
    coarse = options["coarse_model"]
    if coarse == LEXICAL_COARSE_MODEL:
        _check_lexical(options)
    elif isinstance(coarse, str):
        # A typo'd coarse path fails here, not on the first call after the model loaded.
        from crossrank.models.loading import check_local_model

        check_local_model(coarse)
    if options["coarse_max_length"] is not None:
        _check_coarse_max_length(options)
        _check_length_can_apply(model, options)
    if options["coarse_model"] is not None:
        return
    if not isinstance(model, str | type(None)) and not hasattr(model, "predict"):
        raise ValueError(
            "a self-cascade (coarse_backend without coarse_model) loads the model again in another "
            "backend, which a ready PairScorer cannot be; pass coarse_model= as well."
        )
    same_length = options["coarse_max_length"] is None
    if same_length and options["coarse_backend"] == options["backend"] and options["precision"] == "auto":
        raise ValueError(
            f"coarse_backend={options['coarse_backend']!r} is the model's own backend, so the coarse "
            "stage would be the model itself; choose a cheaper one such as 'openvino-bf16', set "
            "coarse_max_length, or set coarse_model."
        )


def check_single_stage(options: Mapping[str, Any]) -> None:
    """Refuse the window-cascade options on a reranker without a coarse stage.

    They pick the windows the model reads from the coarse stage's scores; with no coarse
    stage they would do nothing while the caller believes the model reads less.

    Raises:
        ValueError: For ``fine_windows_per_document`` or ``fine_window_margin`` set without
            ``coarse_model``, ``coarse_backend`` or ``coarse_max_length``.
    """
    for name in ("fine_windows_per_document", "fine_window_margin"):
        if options[name] is not None:
            raise ValueError(
                f"{name}={options[name]!r} picks the windows the model reads by a coarse stage's "
                "scores, but no coarse stage is set; set coarse_model (e.g. 'lexical' or a student) or "
                f"coarse_backend (the model itself, cheaper), or drop {name}."
            )


def _check_lexical(options: Mapping[str, Any]) -> None:
    # The lexical stage runs no model: a backend or a shorter read would silently do nothing.
    for name in ("coarse_backend", "coarse_max_length"):
        if options[name] is not None:
            raise ValueError(
                f"coarse_model={LEXICAL_COARSE_MODEL!r} counts the query's words in each window and runs "
                f"no model, so {name}={options[name]!r} cannot apply; drop {name} (or pass a folder "
                f"named lexical as './lexical')."
            )


def _check_coarse_max_length(options: Mapping[str, Any]) -> None:
    if options["fine_windows_per_document"] is not None:
        raise ValueError(
            "coarse_max_length makes the coarse stage read only each candidate's start, so it has no "
            "windows to pick from; drop fine_windows_per_document or coarse_max_length."
        )


def _check_length_can_apply(model: object, options: Mapping[str, Any]) -> None:
    # A path or hub id is loaded with max_length=coarse_max_length. A loaded object keeps
    # its own, which must not exceed it: the stage would silently read more than asked.
    coarse = options["coarse_model"]
    spec, role = (model, "model") if coarse is None else (coarse, "coarse_model")
    if isinstance(spec, str | type(None)):
        return
    own = getattr(spec, "max_length", None)
    if not isinstance(own, int) or own > options["coarse_max_length"]:
        raise ValueError(
            f"coarse_max_length={options['coarse_max_length']} loads the coarse stage with that "
            f"max_length, but {role} is a loaded {type(spec).__name__} that reads up to {own} tokens; "
            f"pass {role} as a path or hub id, or one loaded with that max_length."
        )


def check_coarse_length(coarse_max_length: int, model_window: int) -> None:
    """Refuse a ``coarse_max_length`` that would not make the coarse stage read less.

    Args:
        coarse_max_length: The option's value.
        model_window: Tokens per pair the model itself reads (its ``max_length``).

    Raises:
        ValueError: If ``coarse_max_length`` is not below ``model_window``.
    """
    if coarse_max_length >= model_window:
        raise ValueError(
            f"coarse_max_length={coarse_max_length} is not shorter than the model's own window "
            f"({model_window} tokens), so the coarse stage would read as much as the model; pass a "
            f"smaller value (measured: 96) or None."
        )
