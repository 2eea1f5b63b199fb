"""The one directory where crossrank keeps what it builds between runs."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_DIR_ENV_VAR", "default_cache_dir"]

CACHE_DIR_ENV_VAR = "CROSSRANK_CACHE_DIR"


def default_cache_dir() -> Path:
    """Where the demo store, the eval's dense index and exported ONNX models are kept.

    Returns:
        ``$CROSSRANK_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/crossrank``, else
        ``~/.cache/crossrank``.
    """
    explicit = os.environ.get(CACHE_DIR_ENV_VAR)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "crossrank"
