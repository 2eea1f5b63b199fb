"""Reading (and, on Linux, resetting) a process's peak resident memory."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["current_rss_mb", "peak_rss_mb", "reset_peak_rss"]

_STATUS = Path("/proc/self/status")


def _status_mb(field: str) -> float | None:
    try:
        for line in _STATUS.read_text(encoding="utf-8").splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset this process's peak-RSS counter to its current RSS.

    Writing ``5`` to ``/proc/self/clear_refs`` does this on Linux 4.0 and later.

    Returns:
        True if the counter was reset; False where the OS does not allow it (then
        :func:`peak_rss_mb` keeps reporting the peak since the process started).
    """
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB, since start or the last reset.

    Returns:
        ``VmHWM`` from ``/proc/self/status`` on Linux, else ``ru_maxrss``.
    """
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    import resource

    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # macOS reports bytes, Linux kibibytes.
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def current_rss_mb() -> float | None:
    """Resident memory of this process now, in MiB (``None`` where unknown)."""
    return _status_mb("VmRSS")
