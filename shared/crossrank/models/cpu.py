"""What this process knows about its CPU: usable cores and ``/proc/cpuinfo``."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

__all__ = ["NOTABLE_CPU_FLAGS", "cpu_flags", "cpu_signature", "cpuinfo", "parse_cpuinfo", "usable_cpu_count"]

# CPU features that decide which fast paths (int8 VNNI, bf16, AMX) a backend can use.
NOTABLE_CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


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


def cpu_signature() -> dict[str, object]:
    """The facts about this CPU that decide which backend and precision are fastest.

    Returns:
        ``{"vendor", "model_name", "family", "model", "stepping", "flags", "cpus"}``:
        ``flags`` are the notable ones this CPU has, ``cpus`` the CPUs this process may use.
    """
    fields = cpuinfo()

    def number(key: str) -> int | None:
        try:
            return int(fields[key], 0)
        except (KeyError, ValueError):
            return None

    flags = cpu_flags()
    return {
        "vendor": fields.get("vendor_id", "unknown"),
        "model_name": fields.get("model name", "unknown"),
        "family": number("cpu family"),
        "model": number("model"),
        "stepping": number("stepping"),
        "flags": [flag for flag in NOTABLE_CPU_FLAGS if flag in flags],
        "cpus": usable_cpu_count(),
    }
