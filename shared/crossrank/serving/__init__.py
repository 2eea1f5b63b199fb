"""``crossrank serve``: the reranker behind the Cohere, Jina and TEI rerank APIs.

One model worker owns the model and merges the windows of concurrent requests into
token-budget batches; limits, an optional API key and Prometheus metrics make it safe to
put in front of several app replicas. Needs ``pip install "crossrank[serve]"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crossrank.serving.settings import ServeSettings

if TYPE_CHECKING:
    from crossrank.serving.app import create_app

__all__ = ["ServeSettings", "create_app"]


def __getattr__(name: str) -> Any:
    # The app needs FastAPI; importing the settings (as the CLI does) must not.
    if name == "create_app":
        from crossrank.serving.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
