"""crossrank's exceptions: one tree under :class:`CrossrankError`.

::

    CrossrankError
     ├── ModelLoadError          the cross-encoder could not be loaded
     ├── OnnxExportError         the model could not be exported to ONNX (scoring falls back)
     ├── ScoringError            the model returned a score that is not finite (NaN, inf)
     ├── ChromaUnavailableError  a Chroma server could not be reached
     └── MissingPeerError        a peer library under comparison is not installed (also an ImportError)

Bad arguments keep raising ``ValueError`` and ``TypeError``, as Python code expects.
"""

from __future__ import annotations

__all__ = [
    "ChromaUnavailableError",
    "CrossrankError",
    "MissingPeerError",
    "ModelLoadError",
    "OnnxExportError",
    "ScoringError",
]


class CrossrankError(Exception):
    """Base of every error crossrank raises on its own account."""


class ModelLoadError(CrossrankError, RuntimeError):
    """The cross-encoder model could not be loaded."""


class OnnxExportError(CrossrankError, RuntimeError):
    """The model could not be exported to (or quantized in) ONNX."""


class ScoringError(CrossrankError, RuntimeError):
    """The model returned a score that is not finite; nothing is ranked with it."""


class ChromaUnavailableError(CrossrankError, RuntimeError):
    """The Chroma server could not be reached."""


class MissingPeerError(CrossrankError, ImportError):
    """A peer library under comparison (``crossrank bench``) is not installed."""
