"""A description of the machine a benchmark ran on, for its JSON report."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from crossrank.models.cpu import cpu_flags, cpuinfo, usable_cpu_count

__all__ = ["cpu_model", "describe_machine", "load_average"]

# CPU features that decide which fast paths (int8 VNNI, bf16, AMX) a backend can use.
_NOTABLE_CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def cpu_model() -> str:
    """The CPU's model name, from ``/proc/cpuinfo`` or the platform module."""
    return cpuinfo().get("model name") or platform.processor() or platform.machine() or "unknown"


def load_average() -> float | None:
    """The 1-minute load average, or ``None`` where the OS does not report it."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        return None
    return None


def describe_machine(device: str = "cpu") -> dict[str, Any]:
    """Hardware and software facts that decide reranking speed.

    Args:
        device: The device the benchmark runs on; on CUDA the GPU's name is added.

    Returns:
        ``{"cpu", "cpu_count", "usable_cpus", "cpu_flags", "memory_gb", "platform",
        "python", "torch", "torch_threads", "sentence_transformers", "device",
        "load_average_1m"}`` (plus ``"gpu"`` on CUDA).
    """
    import sentence_transformers
    import torch

    flags = cpu_flags()
    machine: dict[str, Any] = {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable_cpu_count(),
        "cpu_flags": [flag for flag in _NOTABLE_CPU_FLAGS if flag in flags],
        "memory_gb": _memory_gb(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "sentence_transformers": sentence_transformers.__version__,
        "device": device,
        "load_average_1m": load_average(),
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        machine["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return machine
