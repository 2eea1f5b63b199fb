"""Loading a sentence-transformers CrossEncoder with errors that say how to fix them."""

from __future__ import annotations

import difflib
import os
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from crossrank.errors import ModelLoadError
from crossrank.models.devices import default_device
from crossrank.scorer import PairScorer

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

    from crossrank.models.backends import Backend, Precision

__all__ = [
    "DEFAULT_MODEL",
    "MODEL_ENV_VAR",
    "check_local_model",
    "check_model_spec",
    "load_cross_encoder",
    "load_scorer",
    "resolve_model_name",
]

DEFAULT_MODEL = "cross-encoder/ms-marco-MiniLM-L6-v2"
MODEL_ENV_VAR = "CROSSRANK_MODEL"
_HUB_PROBE_TIMEOUT_S = 3.0


def resolve_model_name(model: str | None) -> str:
    """The model to load: the argument, else ``$CROSSRANK_MODEL``, else the default hub id."""
    if model:
        return model
    return os.environ.get(MODEL_ENV_VAR) or DEFAULT_MODEL


def _hub_is_reachable() -> bool:
    """Whether the Hugging Face hub answers a TCP connect within a few seconds.

    Without this check an offline machine spends close to a minute in the hub
    client's retries before failing.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        return False
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=_HUB_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


_LOCAL_FIX = (
    "Point {option} (or $CROSSRANK_MODEL) at a directory that holds a sentence-transformers cross-encoder"
)
_HUB_FIX = (
    "Point {option} (or $CROSSRANK_MODEL) at a local directory that holds the model, or run where the "
    "Hugging Face hub is reachable"
)


def _short(exc: BaseException) -> str:
    """The first line of a library's error, without its trailing period, at most 200 characters."""
    first = (str(exc).strip().splitlines() or [""])[0].rstrip(".")
    text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _looks_local(name: str) -> bool:
    """Whether ``name`` is meant as a local path rather than a hub id or a URL."""
    return name.startswith((".", "/", "~")) or Path(name).expanduser().exists()


def _near_names(path: Path) -> str:
    """``" (did you mean '...'?)"`` naming the closest siblings of a missing ``path``, or ``""``."""
    parent = path.parent
    try:
        siblings = [child.name for child in parent.iterdir()]
    except OSError:
        return ""
    close = difflib.get_close_matches(path.name, siblings, n=2, cutoff=0.75)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(str(parent / name)) for name in close) + "?)"


def check_local_model(name: str) -> None:
    """Refuse, without loading anything, a local model path that cannot hold a model.

    Called where a reranker is built, so a typo'd path fails at once instead of on the
    first call, after a model would have loaded. Hub ids and URLs pass unchecked (the
    hub's answer is only known when loading).

    Args:
        name: A model as the caller named it (already resolved from ``$CROSSRANK_MODEL``).

    Raises:
        ModelLoadError: For a path (it starts with ``.``, ``/`` or ``~``, or exists) that
            does not exist, is not a directory, or holds no ``config.json``.
    """
    if "://" in name or not _looks_local(name):
        return
    path = Path(name).expanduser()
    if not path.exists():
        raise ModelLoadError(_LOCAL_FIX, f"{name!r} does not exist{_near_names(path)}")
    if not path.is_dir():
        raise ModelLoadError(_LOCAL_FIX, f"{name!r} is a file, not a model directory")
    if not (path / "config.json").is_file():
        raise ModelLoadError(
            _LOCAL_FIX,
            f"{name!r} holds no model (no config.json; a saved CrossEncoder directory has one)",
        )


def load_cross_encoder(
    name: str,
    *,
    device: str | None = None,
    trust_remote_code: bool = False,
    cross_encoder_kwargs: dict[str, Any] | None = None,
) -> CrossEncoder:
    """Load a CrossEncoder from a local directory or a hub id.

    A hub id is looked up in the local cache first; the network is tried only when
    it is not there and the hub can be reached.

    Args:
        name: A local directory or a Hugging Face hub id.
        device: Device to run on; chosen automatically when ``None``.
        trust_remote_code: Allow the model repository's own code to run.
        cross_encoder_kwargs: Further keyword arguments for ``CrossEncoder``; they
            win over the ones above.

    Returns:
        The loaded model.

    Raises:
        ModelLoadError: If the model cannot be loaded; the message names the model,
            the cause and the fix.
        ImportError: If sentence-transformers is not installed.
    """
    try:
        from sentence_transformers import CrossEncoder
    except ImportError as exc:
        raise ImportError(
            f"crossrank needs sentence-transformers (and torch) to score, and importing it failed "
            f"({exc}): run `pip install crossrank` to install them."
        ) from exc

    kwargs: dict[str, Any] = {
        "device": device or default_device(),
        "trust_remote_code": trust_remote_code,
        **(cross_encoder_kwargs or {}),
    }
    if _looks_local(name):
        path = Path(name).expanduser()
        if not path.exists():
            raise ModelLoadError(_LOCAL_FIX, f"{str(path)!r} does not exist")
        with _no_loading_bars():
            return _load(CrossEncoder, str(path), kwargs, local=True)

    try:
        with _no_loading_bars():
            cached: CrossEncoder = CrossEncoder(name, **{**kwargs, "local_files_only": True})
        return cached
    except Exception as cached_exc:  # any failure means "not usable from the cache"
        if kwargs.get("local_files_only") or not _hub_is_reachable():
            raise ModelLoadError(
                _HUB_FIX,
                f"the hub id {name!r} is not in the local Hugging Face cache and the hub cannot be reached",
            ) from cached_exc
    # A download keeps the hub's progress bars: minutes without a sign of life are worse.
    return _load(CrossEncoder, name, kwargs, local=False)


def _load(
    cross_encoder_class: type[CrossEncoder], name: str, kwargs: dict[str, Any], *, local: bool
) -> CrossEncoder:
    try:
        model: CrossEncoder = cross_encoder_class(name, **kwargs)
    except Exception as exc:
        where = f"the directory {name!r}" if local else f"the hub id {name!r}"
        raise ModelLoadError(
            _LOCAL_FIX if local else _HUB_FIX, f"{where} did not load ({_short(exc)})"
        ) from exc
    return model


_bars_lock = threading.Lock()
_quiet_loads = 0  # loads in progress with transformers' bars turned off by us


@contextmanager
def _no_loading_bars() -> Iterator[None]:
    """Turn off transformers' "Loading weights" bar while a local model loads.

    A library call prints no progress bar unless asked (``show_progress_bar=True`` is
    about scoring). transformers has one process-wide switch, so loads in several
    threads are counted and the switch is put back, as the caller had it, by the last.
    """
    global _quiet_loads
    from transformers.utils import logging as transformers_logging

    with _bars_lock:
        # Bars the caller turned off already stay off, and the switch stays theirs.
        ours = _quiet_loads > 0 or transformers_logging.is_progress_bar_enabled()
        if ours:
            _quiet_loads += 1
            transformers_logging.disable_progress_bar()
    if not ours:
        yield
        return
    try:
        yield
    finally:
        with _bars_lock:
            _quiet_loads -= 1
            if _quiet_loads == 0:
                transformers_logging.enable_progress_bar()


def check_model_spec(model: object) -> None:
    """Reject a ``model`` that could never load, without importing sentence-transformers.

    A CrossEncoder instance can only exist once sentence-transformers was imported,
    so looking it up in ``sys.modules`` is enough.

    Raises:
        TypeError: Naming what was passed and what is accepted.
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


def load_scorer(
    model: str | CrossEncoder | None,
    *,
    device: str | None,
    trust_remote_code: bool,
    cross_encoder_kwargs: dict[str, Any],
    backend: Backend,
    precision: Precision,
    instruction: str | None = None,
) -> PairScorer:
    """The scorer for a hub id, a path (``None``: the default model) or a loaded CrossEncoder.

    Args:
        model: What to load, or the loaded model.
        device: Device to load on (ignored for a loaded model).
        trust_remote_code: Let the model repository run its own code.
        cross_encoder_kwargs: More ``CrossEncoder(...)`` arguments.
        backend: How the model runs (see :func:`crossrank.models.backends.build_scorer`).
        precision: PyTorch's precision.
        instruction: The prompt every pair gets (``None``: the model's saved default).

    Returns:
        The scorer, ready to use.

    Raises:
        ModelLoadError: If the model cannot be loaded or cannot score.
    """
    from crossrank.models.backends import build_scorer

    if model is None or isinstance(model, str):
        name = resolve_model_name(model)
        cross_encoder = load_cross_encoder(
            name,
            device=device,
            trust_remote_code=trust_remote_code,
            cross_encoder_kwargs=cross_encoder_kwargs,
        )
        return build_scorer(
            cross_encoder, name=name, backend=backend, precision=precision, instruction=instruction
        )
    from crossrank.models.torch_scorer import cross_encoder_name

    return build_scorer(
        model, name=cross_encoder_name(model), backend=backend, precision=precision, instruction=instruction
    )
