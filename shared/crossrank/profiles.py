"""Tuned profiles: the options ``crossrank tune`` chose, for the model and machine it measured.

A profile is a JSON file. It holds the chosen options, the model, the machine (CPU vendor,
model, notable flags, CPUs), what was measured (latency and quality with intervals, for the
chosen configuration and the reference) and the whole frontier, so a reader can see why.
:meth:`crossrank.Reranker.from_profile`, the same classmethod on both adapters, ``crossrank
serve --profile`` and ``crossrank eval --profile`` load it; loaded on another CPU or for
another model it still loads, with a :class:`ProfileMismatchWarning` naming the difference,
because what was fastest there may not be here.

Example:
    >>> profile = read_profile("profile.json")  # doctest: +SKIP
    >>> profile.options  # doctest: +SKIP
    {'backend': 'onnx-int8', 'rerank_depth': 30}
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossrank.atomic_file import write_text_atomically
from crossrank.models.cpu import cpu_signature
from crossrank.options import OPTIONS, validate_options

__all__ = [
    "PROFILE_FORMAT",
    "Profile",
    "ProfileMismatchWarning",
    "load_profile",
    "profile_differences",
    "read_profile",
    "warn_profile_differences",
    "write_profile",
]

PROFILE_FORMAT = "crossrank-profile/1"
"""The ``format`` field of the profiles this version writes and reads."""

# Options that say where and how the model loads, not how fast it ranks: a profile made on
# one machine must not carry them (a key, a device, the caller's own kwargs) to another.
_NOT_TUNED = frozenset({"api_key", "device", "cross_encoder_kwargs", "trust_remote_code", "top_n"})


class ProfileMismatchWarning(UserWarning):
    """A profile is loaded on another CPU or for another model than it was tuned for."""


@dataclass(frozen=True)
class Profile:
    """A tuned profile, as written by ``crossrank tune``.

    Attributes:
        model: The model tuned (the path or hub id tune loaded).
        options: The chosen reranking options (only those that differ from the defaults).
        machine: ``{"vendor", "model_name", "family", "model", "flags", "cpus"}`` of the CPU
            it was measured on (:func:`crossrank.models.cpu.cpu_signature`), plus ``threads``.
        measured: The chosen configuration's measurements (latency in ms, quality, the
            paired difference to the reference, each with its interval).
        reference: The reference configuration's measurements (fp32, every candidate).
        frontier: Every configuration measured, with its numbers and whether it is on the
            Pareto frontier of latency and quality.
        tuned_on: What it was measured on: data, queries, candidates, first stage, quality
            metric, and the goal (``max_loss`` or ``budget_ms``).
        reason: Why this configuration was chosen, in a sentence.
        created: When (ISO 8601, UTC).
        crossrank_version: The crossrank that wrote it.
    """

    model: str
    options: Mapping[str, Any]
    machine: Mapping[str, Any]
    measured: Mapping[str, Any] = field(default_factory=dict)
    reference: Mapping[str, Any] = field(default_factory=dict)
    frontier: Sequence[Mapping[str, Any]] = ()
    tuned_on: Mapping[str, Any] = field(default_factory=dict)
    reason: str = ""
    created: str = ""
    crossrank_version: str = ""

    def to_json(self) -> dict[str, Any]:
        """The profile as the JSON object :func:`write_profile` writes."""
        return {
            "format": PROFILE_FORMAT,
            "model": self.model,
            "options": dict(self.options),
            "machine": dict(self.machine),
            "tuned_on": dict(self.tuned_on),
            "measured": dict(self.measured),
            "reference": dict(self.reference),
            "reason": self.reason,
            "frontier": [dict(row) for row in self.frontier],
            "created": self.created,
            "crossrank_version": self.crossrank_version,
        }


def write_profile(profile: Profile, path: str | os.PathLike[str]) -> Path:
    """Write ``profile`` as JSON, atomically (a reader never sees half a file).

    Returns:
        The path written.
    """
    target = Path(path)
    check_profile_options(profile.options, str(target))
    write_text_atomically(target, json.dumps(profile.to_json(), indent=2, allow_nan=False) + "\n")
    return target


def read_profile(path: str | os.PathLike[str]) -> Profile:
    """Read and check a profile written by ``crossrank tune``.

    Raises:
        FileNotFoundError: If there is no such file (naming it and how to make one).
        ValueError: If it is not JSON, not a crossrank profile, of another format version,
            or holds an option crossrank does not have or a value it rejects (naming it).
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no profile at {source}: make one with `crossrank tune DATA --output {source}`"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source} is not a crossrank profile: not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != PROFILE_FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ValueError(
            f"{source} is not a crossrank profile of format {PROFILE_FORMAT!r} (found {found!r}); "
            "make it again with `crossrank tune`"
        )
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise ValueError(f"{source}: 'model' must be the tuned model's path or hub id, got {model!r}")
    options = data.get("options")
    if not isinstance(options, dict):
        raise ValueError(f"{source}: 'options' must be an object of reranking options, got {options!r}")
    check_profile_options(options, str(source))
    machine = data.get("machine")
    if not isinstance(machine, dict):
        raise ValueError(f"{source}: 'machine' must describe the CPU it was tuned on, got {machine!r}")
    return Profile(
        model=model,
        options=_as_option_values(options),
        machine=machine,
        measured=data.get("measured") or {},
        reference=data.get("reference") or {},
        frontier=list(data.get("frontier") or []),
        tuned_on=data.get("tuned_on") or {},
        reason=str(data.get("reason", "")),
        created=str(data.get("created", "")),
        crossrank_version=str(data.get("crossrank_version", "")),
    )


def check_profile_options(options: Mapping[str, Any], where: str) -> None:
    """Refuse options a profile must not hold: unknown ones, loading secrets, bad values.

    Raises:
        ValueError: Naming the option, the value and the file.
    """
    not_tuned = sorted(set(options) & _NOT_TUNED)
    if not_tuned:
        raise ValueError(
            f"{where}: a profile holds how the model ranks, not {', '.join(not_tuned)} (pass those "
            "when loading it: from_profile(path, top_n=...))"
        )
    try:
        validate_options(_as_option_values(options))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None


def machine_description() -> dict[str, Any]:
    """This machine as a profile records it: :func:`cpu_signature` plus torch's threads (when loaded)."""
    import sys

    machine: dict[str, Any] = dict(cpu_signature())
    torch = sys.modules.get("torch")
    machine["threads"] = torch.get_num_threads() if torch is not None else machine["cpus"]
    return machine


def profile_differences(profile: Profile, *, model: object = None) -> list[str]:
    """How this machine (and ``model``, when given) differ from what ``profile`` was tuned for.

    Args:
        profile: The profile.
        model: The model it is about to be used with; ``None`` means the profile's own.

    Returns:
        One sentence per difference (the CPU, its notable flags, its CPU count, the model);
        empty when they match.
    """
    here = cpu_signature()
    tuned = profile.machine
    differences = []
    for key, what in (("vendor", "CPU vendor"), ("model_name", "CPU")):
        if tuned.get(key) != here.get(key):
            differences.append(f"{what}: tuned on {tuned.get(key)!r}, this machine has {here.get(key)!r}")
    tuned_flags, here_flags = set(tuned.get("flags") or ()), set(here["flags"])  # type: ignore[call-overload]
    if tuned_flags != here_flags:
        missing, extra = sorted(tuned_flags - here_flags), sorted(here_flags - tuned_flags)
        parts = ([f"lacks {', '.join(missing)}"] if missing else []) + (
            [f"adds {', '.join(extra)}"] if extra else []
        )
        differences.append(f"CPU flags: this CPU {' and '.join(parts)} (tuned with {sorted(tuned_flags)})")
    if tuned.get("cpus") != here.get("cpus"):
        differences.append(f"CPUs: tuned with {tuned.get('cpus')}, this process may use {here.get('cpus')}")
    if model is not None and model != profile.model:
        shown = model if isinstance(model, str) else type(model).__name__
        differences.append(f"model: tuned for {profile.model!r}, loading {shown!r}")
    return differences


def warn_profile_differences(profile: Profile, *, model: object = None, source: str = "the profile") -> None:
    """Warn (:class:`ProfileMismatchWarning`) naming every difference :func:`profile_differences` finds."""
    differences = profile_differences(profile, model=model)
    if differences:
        warnings.warn(_mismatch_message(source, differences), ProfileMismatchWarning, stacklevel=3)


def load_profile(
    path: str | os.PathLike[str], overrides: Mapping[str, Any], *, stacklevel: int = 3
) -> tuple[Any, dict[str, Any]]:
    """The model and options to build a reranker from a profile, with the caller's overrides.

    Warns (:class:`ProfileMismatchWarning`) when this CPU or the model differ from the tuned ones.

    Args:
        path: The profile file.
        overrides: Keyword arguments that win over the profile (``model``, ``top_n``, ...).
        stacklevel: Where the warning points (the caller of ``from_profile``).

    Returns:
        ``(model, options)``.
    """
    profile = read_profile(path)
    options = dict(overrides)
    model = options.pop("model", profile.model)
    differences = profile_differences(profile, model=model)
    if differences:
        message = _mismatch_message(str(path), differences)
        warnings.warn(message, ProfileMismatchWarning, stacklevel=stacklevel)
    return model, {**profile.options, **options}


def _mismatch_message(source: str, differences: Sequence[str]) -> str:
    return (
        f"{source} was tuned elsewhere; its choice may not be the fastest here ("
        + "; ".join(differences)
        + "). Run `crossrank tune` on this machine for a profile of its own."
    )


def _as_option_values(options: Mapping[str, Any]) -> dict[str, Any]:
    # JSON has no tuples: rrf_weights comes back as a list.
    return {
        name: tuple(value) if name in OPTIONS and isinstance(value, list) else value
        for name, value in options.items()
    }
