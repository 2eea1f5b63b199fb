"""A description of the machine a benchmark ran on, for its JSON report."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from crossrank.models.cpu import NOTABLE_CPU_FLAGS, cpu_flags, cpu_signature, cpuinfo, usable_cpu_count

__all__ = ["cpu_identity", "cpu_model", "describe_machine", "load_average", "microarchitecture"]


def cpu_model() -> str:
    """The CPU's model name, from ``/proc/cpuinfo`` or the platform module."""
    return cpuinfo().get("model name") or platform.processor() or platform.machine() or "unknown"


# (vendor, family) -> [(first model, last model, name)]: the x86 server cores this project meets.
# The same code runs at different fractions of peak on them (docs/benchmarks.md), so a report
# says which one it ran on.
_MICROARCHITECTURES: dict[tuple[str, int], list[tuple[int, int, str]]] = {
    ("AuthenticAMD", 23): [(0x00, 0x2F, "Zen / Zen+"), (0x30, 0x7F, "Zen 2")],
    ("AuthenticAMD", 25): [
        (0x00, 0x0F, "Zen 3"),
        (0x10, 0x1F, "Zen 4"),
        (0x20, 0x5F, "Zen 3"),
        (0x60, 0xAF, "Zen 4"),
    ],
    ("AuthenticAMD", 26): [(0x00, 0xFF, "Zen 5")],
    ("GenuineIntel", 6): [
        (0x55, 0x55, "Skylake-SP / Cascade Lake"),
        (0x6A, 0x6C, "Ice Lake-SP"),
        (0x8F, 0x8F, "Sapphire Rapids"),
        (0xAD, 0xAE, "Granite Rapids"),
        (0xCF, 0xCF, "Emerald Rapids"),
    ],
}


def microarchitecture(vendor: str, family: int | None, model: int | None) -> str:
    """The core's microarchitecture from its vendor, family and model, or ``"unknown"``."""
    if family is None or model is None:
        return "unknown"
    for first, last, name in _MICROARCHITECTURES.get((vendor, family), []):
        if first <= model <= last:
            return name
    return "unknown"


def cpu_identity() -> dict[str, Any]:
    """``{"vendor", "family", "model", "stepping", "microarchitecture"}`` of the CPU."""
    signature = cpu_signature()
    vendor = str(signature["vendor"])
    if vendor == "unknown":
        vendor = platform.processor() or "unknown"
    family, model = signature["family"], signature["model"]
    return {
        "vendor": vendor,
        "family": family,
        "model": model,
        "stepping": signature["stepping"],
        "microarchitecture": microarchitecture(vendor, family, model),  # type: ignore[arg-type]
    }


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
        ``{"cpu", "cpu_identity", "cpu_count", "usable_cpus", "cpu_flags", "memory_gb", "platform",
        "python", "torch", "torch_threads", "sentence_transformers", "device",
        "load_average_1m"}`` (plus ``"gpu"`` on CUDA).
    """
    import sentence_transformers
    import torch

    flags = cpu_flags()
    machine: dict[str, Any] = {
        "cpu": cpu_model(),
        "cpu_identity": cpu_identity(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable_cpu_count(),
        "cpu_flags": [flag for flag in NOTABLE_CPU_FLAGS if flag in flags],
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
