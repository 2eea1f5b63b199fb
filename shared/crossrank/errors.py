"""crossrank's exceptions: one tree under :class:`CrossrankError`.

::

    CrossrankError
     ├── ModelLoadError          the cross-encoder could not be loaded
     ├── OnnxExportError         the model could not be exported to ONNX (scoring falls back)
     ├── ScoringError            the model returned a score that is not finite (NaN, inf)
     ├── RemoteRerankError       a crossrank server (the model given as a URL) failed or is down
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
    "RemoteRerankError",
    "ScoringError",
]


class CrossrankError(Exception):
    """Base of every error crossrank raises on its own account."""


class ModelLoadError(CrossrankError, RuntimeError):
    """The cross-encoder model could not be loaded.

    The message puts the fix first and the cause after it. The fix names the option
    that chooses the model as the caller knows it: ``model=`` in Python,
    ``--model DIR`` on the command line (:meth:`message`).

    Args:
        fix: What to do, with ``{option}`` where the model option is named.
        problem: What went wrong, short.
    """

    def __init__(self, fix: str, problem: str) -> None:
        self.fix = fix
        self.problem = problem
        # args stay (fix, problem), so the error pickles (to a worker process and back).
        super().__init__(fix, problem)

    def __str__(self) -> str:
        return self.message()

    def message(self, option: str = "model=") -> str:
        """The one-line message, naming the model option as ``option``."""
        return f"{self.fix.format(option=option)}: {self.problem.rstrip('.')}."


class OnnxExportError(CrossrankError, RuntimeError):
    """The model could not be exported to (or quantized in) ONNX."""


class ScoringError(CrossrankError, RuntimeError):
    """The model returned a score that is not finite; nothing is ranked with it."""


class RemoteRerankError(CrossrankError, RuntimeError):
    """A crossrank server given as the model is unreachable, refused the key, or failed."""


class ChromaUnavailableError(CrossrankError, RuntimeError):
    """The Chroma server could not be reached."""


class MissingPeerError(CrossrankError, ImportError):
    """A peer library under comparison (``crossrank bench``) is not installed."""
