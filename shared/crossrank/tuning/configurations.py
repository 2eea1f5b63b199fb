"""The configurations ``crossrank tune`` measures: those that apply to this model, data and CPU.

Four levers, from docs/benchmarks.md's studies: the backend and its precision (exact fp32 on
PyTorch, ONNX Runtime and OpenVINO; int8 everywhere, since every x86 CPU with AVX2 runs it in
integer arithmetic, though tune then leaves out an int8 backend that is not
:data:`LOWER_PRECISION_MIN_SPEEDUP` times as fast as exact fp32 here (:func:`unaccelerated`);
bf16 only where the CPU computes it natively), how many of the first stage's candidates are
reranked (``rerank_depth``), a self-cascade (the model in int8, or
reading only each candidate's first tokens, keeps the best for the exact model), and, when
candidates are longer than the model's window, the window cap and the lexical window cascade.
Every backend is crossed with every depth; cascades and caps run on the exact ONNX Runtime
model over every candidate. The search prunes what is clearly dominated.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from typing import Any

from crossrank.tuning.records import Configuration

__all__ = [
    "EXACT_BACKENDS",
    "LOWER_PRECISION_MIN_SPEEDUP",
    "REFERENCE_NAME",
    "candidate_depths",
    "configuration_options",
    "lower_precision_speedups",
    "reference_configuration",
    "tuning_configurations",
    "unaccelerated",
]

REFERENCE_NAME = "reference: torch fp32, every candidate"
EXACT_BACKENDS = ("torch", "onnx", "openvino")
# Share of candidates with more windows than a cap above which the cap (and, past two windows,
# the lexical window cascade) is worth measuring (on abstracts they save little: docs/benchmarks.md).
_LONG_SHARE = 0.1
# The coarse stage of a self-cascade keeps this many for the exact model (bench's cascades).
_CASCADE_KEEP = 20
LOWER_PRECISION_MIN_SPEEDUP = 1.2
"""How much faster than the fastest exact backend a lower precision must score here to be measured.

A lower precision trades ranking quality for speed; one that is barely faster than exact fp32
on this CPU offers no trade worth its risk, yet costs the tune a full pass per query (its
quality can only be known by running it): OpenVINO int8 on an AVX2 CPU without VNNI, for one
(docs/tuning.md).
"""
# Tokens a "short" coarse stage reads of each candidate (bench's CASCADE_SHORT_LENGTH).
_SHORT_LENGTH = 160


def reference_configuration(k: int) -> Configuration:
    """The model in fp32 on PyTorch over every candidate with chunk-max: what quality is measured against."""
    return Configuration(REFERENCE_NAME, {"backend": "torch", "precision": "fp32"}, candidates=k, exact=True)


def candidate_depths(k: int) -> list[int]:
    """``k`` and the shallower depths worth trying: 30, 20 and 10 candidates, where at most half of ``k``.

    Each depth is one more configuration per backend on every query; one just under ``k``
    saves little and costs nearly a full pass (50 candidates: 50, 20 and 10).
    """
    return sorted({k, *(depth for depth in (30, 20, 10) if depth <= k / 2)}, reverse=True)


def tuning_configurations(
    k: int,
    *,
    native_bf16: bool,
    windows_over: Mapping[int, float],
    openvino: bool | None = None,
    backends: Sequence[str] | None = None,
    depths: Sequence[int] | None = None,
    cascades: bool = True,
    fastest_exact: str | None = None,
) -> list[Configuration]:
    """Every configuration worth measuring here, the reference first.

    Args:
        k: Candidates per query the first stage gives.
        native_bf16: Whether the CPU computes bf16 in hardware (AVX512-BF16 or AMX); bf16 is
            emulated, and slower than fp32, elsewhere.
        windows_over: Share of the candidates that chunk-max splits into more than 1, 2 and
            4 windows (:meth:`crossrank.tuning.measure.Measurer.windows_over`).
        openvino: Whether OpenVINO is installed (``None``: look).
        backends: Restrict to these backends (``--backends``); ``None``: all that apply.
        depths: Restrict to these depths; ``None``: :func:`candidate_depths`.
        cascades: Measure the self-cascades (and, on long candidates, the lexical one).
        fastest_exact: The exact backend ``backend="auto"`` measured fastest here: the other
            exact backends are measured over every candidate only (they rank alike, so
            shallower depths would only repeat the comparison at a fraction of the size), and
            the cascades' exact stage runs on it. ``None``: every backend at every depth, and
            the cascades on ONNX Runtime.

    Returns:
        The reference, then the others; names are unique.
    """
    if openvino is None:
        openvino = importlib.util.find_spec("openvino") is not None
    chosen = _backends(native_bf16=native_bf16, openvino=openvino)
    if backends is not None:
        unknown = sorted(set(backends) - set(chosen))
        if unknown:
            raise ValueError(f"backend(s) {unknown} do not apply here; choose from {', '.join(chosen)}")
        chosen = [backend for backend in chosen if backend in backends]
    configurations = [reference_configuration(k)]
    for backend in chosen:
        for depth in depths or candidate_depths(k):
            if (backend, depth) == ("torch", k):
                continue  # the reference itself
            if depth < k and backend in EXACT_BACKENDS and fastest_exact not in (None, backend):
                continue
            options: dict[str, Any] = {"backend": backend} | ({"rerank_depth": depth} if depth < k else {})
            configurations.append(
                Configuration(_name(backend, depth), options, depth, exact=backend in EXACT_BACKENDS)
            )
    if cascades:
        exact = [backend for backend in chosen if backend in EXACT_BACKENDS]
        preferred = fastest_exact if fastest_exact in exact else "onnx"
        fine = preferred if preferred in exact else next(iter(exact), "onnx")
        configurations.extend(_cascades(k, windows_over=windows_over, fine=fine))
    return configurations


def _backends(*, native_bf16: bool, openvino: bool) -> list[str]:
    backends = ["torch", "onnx"] + (["openvino"] if openvino else [])
    backends.append("onnx-int8")
    if openvino:
        backends.append("openvino-int8")
        if native_bf16:
            backends.append("openvino-bf16")
    if native_bf16:
        backends.append("torch-bf16")
    return backends


def _name(backend: str, depth: int) -> str:
    return f"{backend}, {depth} candidates"


def _cascades(k: int, *, windows_over: Mapping[int, float], fine: str = "onnx") -> list[Configuration]:
    keep = min(_CASCADE_KEEP, k)
    if keep >= k:
        cascades: list[tuple[str, Mapping[str, Any]]] = []
    else:
        cascades = [
            (
                f"cascade: onnx-int8 keeps {keep} for {fine}",
                {"coarse_backend": "onnx-int8", "coarse_keep": keep},
            ),
            (
                f"cascade: first {_SHORT_LENGTH} tokens keep {keep} for {fine}",
                {"coarse_backend": fine, "coarse_max_length": _SHORT_LENGTH, "coarse_keep": keep},
            ),
        ]
    # A cap or the lexical cascade (two windows a candidate) only saves work on candidates
    # with more windows than that: on abstracts of one or two windows it measures nothing new.
    if windows_over.get(2, 0.0) >= _LONG_SHARE:
        cascades.append(
            (
                "lexical window cascade: 2 windows per candidate",
                {
                    "coarse_model": "lexical",
                    "coarse_keep": k,
                    "fine_windows_per_document": 2,
                    "fine_window_margin": 0.5,
                },
            )
        )
    cascades.extend(
        (f"{fine}, at most {cap} windows", {"max_windows": cap})
        for cap in (4, 2)
        if windows_over.get(cap, 0.0) >= _LONG_SHARE
    )
    return [Configuration(name, {"backend": fine, **options}, k, exact=False) for name, options in cascades]


def configuration_options(configuration: Configuration) -> dict[str, Any]:
    """The reranker options of a configuration (``torch-bf16`` is PyTorch with ``precision='bf16'``)."""
    options = dict(configuration.options)
    if options.get("backend") == "torch-bf16":
        options.update(backend="torch", precision="bf16")
    return options


def lower_precision_speedups(
    first_query_seconds: Mapping[str, float], exact_names: Sequence[str]
) -> tuple[str, dict[str, float]]:
    """The fastest exact configuration, and each other one's speed-up over it.

    Args:
        first_query_seconds: Seconds of the exact configurations and of each lower-precision
            backend over every candidate, on the same query
            (:meth:`crossrank.tuning.measure.Measurer.time_first_query`).
        exact_names: The exact configurations among them.

    Returns:
        The fastest exact configuration's name, and the speed-up of every configuration not in
        ``exact_names``, rounded to two decimals: compared as printed, so a reason never reads
        "1.20x (below 1.2x)".
    """
    fastest = min(exact_names, key=lambda name: (first_query_seconds[name], name))
    speedups = {
        name: round(first_query_seconds[fastest] / max(seconds, 1e-9), 2)
        for name, seconds in first_query_seconds.items()
        if name not in exact_names
    }
    return fastest, speedups


def unaccelerated(
    configurations: Sequence[Configuration],
    first_query_seconds: Mapping[str, float],
    exact_names: Sequence[str],
) -> dict[str, str]:
    """The configurations of lower-precision backends that are not accelerated here, with why.

    Args:
        configurations: The grid.
        first_query_seconds: See :func:`lower_precision_speedups`.
        exact_names: The exact configurations among them: a lower precision is compared with
            the fastest of these.

    Returns:
        By name, every configuration that runs (or cascades through) a backend whose speed-up
        over the fastest exact one is below :data:`LOWER_PRECISION_MIN_SPEEDUP`, and the reason.
    """
    by_name = {configuration.name: configuration for configuration in configurations}
    fastest, speedups = lower_precision_speedups(first_query_seconds, exact_names)
    slow = {
        str(by_name[name].options["backend"]): speedup
        for name, speedup in speedups.items()
        if speedup < LOWER_PRECISION_MIN_SPEEDUP
    }
    reasons: dict[str, str] = {}
    for configuration in configurations:
        for backend in (configuration.options.get("backend"), configuration.options.get("coarse_backend")):
            if backend in slow:
                reasons[configuration.name] = (
                    f"{backend} is not accelerated on this CPU: {slow[backend]:.2f}x as fast as the fastest "
                    f"exact backend ({by_name[fastest].name!r}) on the first query "
                    f"(below {LOWER_PRECISION_MIN_SPEEDUP}x; pass --backends {backend} to measure it anyway)"
                )
                break
    return reasons
