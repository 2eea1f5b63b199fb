"""Where ``backend="auto"``'s probe keeps its choice: one JSON record per model, CPU and versions.

A record is keyed by a digest of what decides which exact backend is fastest: the model's
architecture (:func:`model_fingerprint`), the CPU (vendor,
model, family, stepping, every flag, usable CPUs, threads, ``OMP_NUM_THREADS``), the candidate
backends and the library versions. Any change gives another key, hence another file, and a new
probe. A record that is unreadable, for another key or of the wrong shape is refused with a
warning (the caller probes again and rewrites it); one is written atomically, so a reader
never sees half of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from crossrank.atomic_file import write_text_atomically
from crossrank.log import logger
from crossrank.models.cache_dir import default_cache_dir
from crossrank.models.cpu import cpu_flags, cpu_signature, usable_cpu_count

__all__ = [
    "RECORDED_FIELDS",
    "RECORD_FORMAT",
    "cpu_identity",
    "digest",
    "model_fingerprint",
    "probe_cache_dir",
    "probe_identity",
    "read_probe_record",
    "write_probe_record",
]

RECORD_FORMAT = 2
"""Bumped when the record or the probe's rule changes (2: the CPU as :func:`cpu_signature` reads it)."""

RECORDED_FIELDS: dict[str, type | tuple[type, ...]] = {
    "backend": str,
    "seconds": dict,
    "ratio": dict,
    "noise": dict,
    "skipped": dict,
    "pairs": int,
    "rounds": int,
    "probe_seconds": (int, float),
    "probed_at": str,
}
"""What a record keeps of a choice, and the JSON type each field must have."""

_VERSIONED = ("crossrank", "torch", "transformers", "sentence-transformers", "onnxruntime", "openvino")


def probe_cache_dir() -> Path:
    """Where probe results are kept: ``<crossrank cache>/backend-probe``."""
    return default_cache_dir() / "backend-probe"


def digest(value: Any) -> str:
    """The SHA-256 hex digest of ``value`` as sorted JSON."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def cpu_identity() -> dict[str, Any]:
    """The CPU facts a probe's result depends on: :func:`cpu_signature`, every flag and the threads."""
    signature = cpu_signature()
    torch = sys.modules.get("torch")  # read, never imported here: the caller's process has it
    threads = torch.get_num_threads() if torch is not None else None
    cpus = usable_cpu_count()
    return {
        "vendor": signature["vendor"] if signature["vendor"] != "unknown" else platform.machine(),
        "model": signature["model_name"] if signature["model_name"] != "unknown" else platform.processor(),
        "family": signature["family"],
        "model_number": signature["model"],
        "stepping": signature["stepping"],
        "flags": digest(sorted(cpu_flags()))[:16],
        "cpus": cpus,
        # PyTorch's scorer caps its threads at the usable CPUs (backends._torch_scorer).
        "threads": min(threads, cpus) if threads else None,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }


def _versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str | None] = {"python": platform.python_version()}
    for package in _VERSIONED:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return found


def model_fingerprint(cross_encoder: Any, name: str) -> str:
    """A key for a loaded model: its name and a digest of what decides its speed.

    Speed depends on the architecture (config, classes, dtypes, device, window), not on the
    weights' values, so the weights are not hashed: keying is instant even for large models.

    Args:
        cross_encoder: The loaded model (a sentence-transformers ``CrossEncoder``).
        name: Its path or hub id.
    """
    inner = getattr(cross_encoder, "model", cross_encoder)
    to_json = getattr(getattr(inner, "config", None), "to_json_string", None)
    parameters = getattr(cross_encoder, "parameters", None)
    children = getattr(cross_encoder, "children", None)
    described = {
        "class": type(inner).__qualname__,
        "config": to_json(use_diff=False) if callable(to_json) else None,
        "modules": [type(m).__qualname__ for m in children()] if callable(children) else [],
        "dtypes": sorted({str(p.dtype) for p in parameters()}) if callable(parameters) else [],
        "device": str(getattr(cross_encoder, "device", "")),
        "max_length": getattr(cross_encoder, "max_length", None),
        "activation": type(getattr(cross_encoder, "activation_fn", None)).__qualname__,
    }
    return f"{name}@{digest(described)[:16]}"


def probe_identity(model_key: str, candidates: Sequence[str]) -> tuple[dict[str, Any], str]:
    """What a probe's choice depends on, and its key (a digest of it).

    Args:
        model_key: The model's identity (:func:`model_fingerprint`).
        candidates: The backends the probe chooses among.

    Returns:
        ``(identity, key)``; the record's file is ``probe-<key[:24]>.json``.
    """
    identity = {
        "format": RECORD_FORMAT,
        "model": model_key,
        "cpu": cpu_identity(),
        "candidates": sorted(candidates),
        "versions": _versions(),
    }
    return identity, digest(identity)


def read_probe_record(path: Path, key: str, backends: Sequence[str]) -> dict[str, Any] | None:
    """The recorded fields (:data:`RECORDED_FIELDS`) of the choice at ``path``, if it is valid.

    Args:
        path: The record's file.
        key: The key it must carry (:func:`probe_identity`).
        backends: The backends its choice may name.

    Returns:
        The fields; ``None`` when there is no file, or (with a warning naming the file and
        the reason) when it is unreadable, for another key or of the wrong shape.
    """
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or record.get("key") != key or record.get("format") != RECORD_FORMAT:
            raise ValueError("it is not a probe record for this model, CPU and crossrank")
        fields = {name: record[name] for name in RECORDED_FIELDS}
        wrong = [name for name, kind in RECORDED_FIELDS.items() if not isinstance(fields[name], kind)]
        numbers = [v for part in ("seconds", "ratio", "noise") for v in fields[part].values()]
        if wrong or not all(isinstance(v, int | float) for v in numbers) or fields["backend"] not in backends:
            raise ValueError(f"its fields {wrong or ['backend', 'seconds', 'ratio', 'noise']} are not valid")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError) as exc:
        logger.warning("crossrank: ignoring the backend probe cache %s (%s); probing again.", path, exc)
        return None
    return fields


def write_probe_record(path: Path, record: Mapping[str, Any]) -> None:
    """Write the record to a temporary file beside ``path`` and rename it into place.

    An unwritable cache costs a probe next time, nothing more: it is logged, not raised.
    """
    text = json.dumps(record, indent=2, default=str) + "\n"
    try:
        # mkstemp's 0600 would hide the record from a shared cache's other users.
        write_text_atomically(path, text, mode=0o644)
    except OSError as exc:
        logger.warning("crossrank: could not save the backend probe to %s (%s).", path, exc)
