"""A reranker's model: loaded once, on first use, as a local scorer or a server's client."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from crossrank.models.backends import describe_scorer
from crossrank.models.loading import (
    check_local_model,
    check_model_spec,
    load_scorer,
    resolve_model_name,
)
from crossrank.models.remote_client import RemoteReranker, is_server_url
from crossrank.scorer import PairScorer

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = ["ModelHandle"]


class ModelHandle:
    """The model behind a :class:`~crossrank.Reranker`, loaded on first use (thread-safe).

    Copies of a reranker that load their model the same way share one handle, so the
    model loads once for all of them.

    Args:
        spec: The reranker's ``model``: a hub id, a local directory, ``None`` (the
            default model), a ``CrossEncoder``, a ready :class:`~crossrank.PairScorer`, or
            a server URL.
        loading: The keyword arguments of :func:`crossrank.models.loading.load_scorer`
            (``device``, ``trust_remote_code``, ``cross_encoder_kwargs``, ``backend``,
            ``precision``).
        api_key: The key of a server URL ``spec`` (``None``: ``$CROSSRANK_API_KEY``).

    Raises:
        TypeError: If ``spec`` could never load.
        ModelLoadError: If ``spec`` (or ``$CROSSRANK_MODEL`` for ``None``) is a local path
            that does not exist or holds no model: known now, not on first use.
    """

    def __init__(
        self,
        spec: str | CrossEncoder | PairScorer | None,
        *,
        loading: Mapping[str, Any],
        api_key: str | None = None,
    ) -> None:
        check_model_spec(spec)
        if (spec is None or isinstance(spec, str)) and not is_server_url(spec):
            check_local_model(resolve_model_name(spec))
        self._spec = spec
        self._loading = dict(loading)
        self._api_key = api_key
        self._scorer: PairScorer | None = spec if isinstance(spec, PairScorer) else None
        self._remote: RemoteReranker | None = None
        self._lock = threading.Lock()

    @property
    def spec(self) -> str | CrossEncoder | PairScorer | None:
        """The model as given."""
        return self._spec

    @property
    def is_remote(self) -> bool:
        """Whether the model is a server (its URL) rather than a local model."""
        return is_server_url(self._spec)

    @property
    def name(self) -> str:
        """The model's id or path (without loading it)."""
        spec = self._scorer or self._spec
        if isinstance(spec, PairScorer):
            return spec.name
        if isinstance(spec, str) or spec is None:
            return resolve_model_name(spec)
        from crossrank.models.torch_scorer import cross_encoder_name

        return cross_encoder_name(spec)

    @property
    def remote(self) -> RemoteReranker | None:
        """The server's client for a URL model (made on first use), else ``None``."""
        if self._remote is None and self.is_remote:
            with self._lock:
                if self._remote is None:
                    self._remote = RemoteReranker(str(self._spec), api_key=self._api_key)
        return self._remote

    @property
    def scorer(self) -> PairScorer:
        """The loaded scorer; loads the model on first access.

        Raises:
            TypeError: For a server URL: the server holds the model.
        """
        if self.is_remote:
            raise TypeError(f"the model is the server at {self._spec}; it has no local scorer.")
        if self._scorer is None:
            with self._lock:
                if self._scorer is None:
                    spec = self._spec
                    # A ready PairScorer is its own scorer (taken in __init__ already).
                    scorer = spec if isinstance(spec, PairScorer) else load_scorer(spec, **self._loading)
                    self._scorer = scorer
                    return scorer
        return self._scorer

    @property
    def description(self) -> str:
        """How the model runs (loads it): ``"onnx"``, ``"torch-bf16"``..., or ``"remote"``."""
        return "remote" if self.is_remote else describe_scorer(self.scorer)
