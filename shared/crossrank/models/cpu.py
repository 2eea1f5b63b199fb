"""What this process knows about its CPU: usable cores and ``/proc/cpuinfo``."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

__all__ = ["cpu_flags", "cpuinfo", "parse_cpuinfo", "usable_cpu_count"]


def usable_cpu_count() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity masks
        return os.cpu_count() or 1


@cache
def cpuinfo() -> dict[str, str]:
    """The first processor's fields of ``/proc/cpuinfo`` (empty where it does not exist)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    return parse_cpuinfo(text)


def parse_cpuinfo(text: str) -> dict[str, str]:
    """The first processor's fields of a ``/proc/cpuinfo`` text."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_flags(text: str | None = None) -> frozenset[str]:
    """The CPU's feature flags (``avx512f``, ``avx512_bf16``...; empty where unknown).

    Args:
        text: A ``/proc/cpuinfo`` text to read them from instead of this machine's.
    """
    fields = cpuinfo() if text is None else parse_cpuinfo(text)
    return frozenset(fields.get("flags", "").split())
