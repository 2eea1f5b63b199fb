"""Choosing how a CrossEncoder runs: PyTorch, ONNX Runtime (fp32, int8) or OpenVINO (fp32, bf16, int8).

``"auto"`` picks by measurement on a CPU: the first load of a model on a CPU times the exact
fp32 backends that are installed (PyTorch, ONNX Runtime, OpenVINO) for a few seconds,
interleaved, and keeps the fastest (PyTorch unless another beats it by more than the
probe's noise); the choice is cached per model and CPU (:mod:`crossrank.models.backend_probe`;
``CROSSRANK_AUTO_BACKEND`` pins it). On CUDA, ``"auto"`` is PyTorch in fp16. bf16 and int8
are never chosen by ``"auto"``: they change scores (bf16 by up to 0.02, int8 by up to a few
tenths) and so can reorder close candidates; ``crossrank tune`` measures whether they keep
the ranking on the user's own data. OpenVINO runs the same cached ONNX export as ONNX Runtime,
and its int8 runs a graph quantized statically once (NNCF, calibrated on crossrank's sample
pairs) and cached beside it. A causal-LM reranker exports too (its LogitScore graph,
crossrank.models.causal_export), on every export backend but OpenVINO's int8.
How much faster each is depends on the machine: docs/benchmarks.md has the measurements,
each with the machine it ran on. A backend ``"auto"`` cannot use (onnxruntime missing, an
export that fails or does not reproduce PyTorch's scores...) is left out of the probe with
a warning on the ``crossrank`` logger saying why, and ``backend_in_use`` says what runs; a
backend named explicitly never changes silently: it raises :class:`~crossrank.ModelLoadError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from crossrank.errors import ModelLoadError, OnnxExportError
from crossrank.log import logger
from crossrank.models.cpu import cpu_flags
from crossrank.models.supported import check_supported_model
from crossrank.models.tokenizer_check import check_tokenizer
from crossrank.scorer import PairScorer

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

    from crossrank.models.onnx_export import OnnxVariant
    from crossrank.models.openvino_scorer import OpenVinoPrecision
    from crossrank.models.torch_scorer import TorchPrecision

__all__ = [
    "BACKENDS",
    "PRECISIONS",
    "Backend",
    "Precision",
    "build_scorer",
    "check_backend_options",
    "cpu_has_native_bf16",
    "describe_scorer",
]

Backend = Literal["auto", "torch", "onnx", "onnx-int8", "openvino", "openvino-bf16", "openvino-int8"]
Precision = Literal["auto", "fp32", "bf16", "fp16"]
BACKENDS: tuple[Backend, ...] = (
    "auto",
    "torch",
    "onnx",
    "onnx-int8",
    "openvino",
    "openvino-bf16",
    "openvino-int8",
)
# The backends that run the ONNX export, and the precision each runs it in.
_EXPORT_BACKENDS: dict[str, Literal["fp32", "int8", "bf16"]] = {
    "onnx": "fp32",
    "onnx-int8": "int8",
    "openvino": "fp32",
    "openvino-bf16": "bf16",
    "openvino-int8": "int8",
}
PRECISIONS: tuple[Precision, ...] = ("auto", "fp32", "bf16", "fp16")


def check_backend_options(backend: object, precision: object) -> None:
    """Reject unknown or contradictory ``backend`` / ``precision`` values.

    Raises:
        ValueError: Naming the value and the choices.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}.")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}.")
    if backend in _EXPORT_BACKENDS and precision in ("bf16", "fp16"):
        hint = " or backend='openvino-bf16'" if precision == "bf16" else ""
        raise ValueError(
            f"precision={precision!r} applies to backend='torch'; backend={backend!r} runs in "
            f"{_EXPORT_BACKENDS[backend]}. Pass backend='torch'{hint}, or precision='auto'."
        )


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (AVX512-BF16 or AMX), where bf16 pays off.

    bf16 is opt-in (``precision="bf16"``): it changes scores. This check only warns
    when it is asked for on a CPU that would emulate it.

    oneDNN also runs bf16 on plain AVX-512 by emulation, which is slower than fp32.
    """
    import torch

    cpu = torch.cpu
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        check = getattr(cpu, probe, None)
        if check is not None and check():
            return True
    flags = cpu_flags()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def build_scorer(
    cross_encoder: CrossEncoder,
    *,
    name: str,
    backend: Backend = "auto",
    precision: Precision = "auto",
    instruction: str | None = None,
) -> PairScorer:
    """The scorer for a loaded CrossEncoder with the requested backend and precision.

    Args:
        cross_encoder: The loaded model.
        name: Its path or hub id.
        backend: ``"auto"``, ``"torch"``, ``"onnx"`` (fp32), ``"onnx-int8"``,
            ``"openvino"`` (fp32), ``"openvino-bf16"`` or ``"openvino-int8"`` (static
            int8, calibrated; NNCF quantizes it once). ``"auto"``: on a CPU the fastest
            exact fp32 backend, measured once per model and CPU; PyTorch fp16 on CUDA,
            PyTorch fp32 elsewhere. A causal-LM reranker runs on every backend but
            ``"openvino-int8"``. ONNX Runtime and OpenVINO run on the CPU; for a model
            on a GPU they fall back to PyTorch.
        precision: For PyTorch: ``"auto"`` (fp16 on CUDA, else fp32), ``"fp32"``,
            ``"bf16"`` or ``"fp16"``. An explicit precision with ``backend="auto"``
            means PyTorch.
        instruction: The prompt every pair gets, as sentence-transformers' ``prompt``
            (``None``: the model's saved default prompt, if any).

    Returns:
        An ONNX Runtime or OpenVINO scorer, or a PyTorch one (also, for ``"auto"``, when
        those cannot be used).

    Raises:
        ValueError: If the options are unknown or contradict each other.
        ModelLoadError: If the tokenizer cannot be the model's own, or a backend named
            explicitly cannot run the model (the message names the cause and the fix).
    """
    from crossrank.models.causal_scorer import logit_score_module

    check_backend_options(backend, precision)
    check_supported_model(cross_encoder, name)
    check_tokenizer(cross_encoder, name)
    device_type = cross_encoder.device.type
    causal = logit_score_module(cross_encoder) is not None
    chosen = backend
    if chosen == "auto":
        if device_type == "cpu" and precision == "auto":
            return _auto_cpu_scorer(cross_encoder, name, instruction)
        chosen = "torch"
    elif causal and chosen == "openvino-int8":
        raise ModelLoadError(
            "Pass backend='onnx-int8' (int8 without calibration), 'openvino' or 'onnx' for a causal-LM "
            "reranker",
            f"backend='openvino-int8' cannot run {name!r}: its static int8 scales are calibrated on "
            "pairs laid out with the tokenizer's plain pair template, not the chat template a causal-LM "
            "reranker reads, so they would be fixed on inputs the model never sees",
        )
    if chosen in _EXPORT_BACKENDS:
        try:
            if chosen.startswith("openvino"):
                return _openvino_scorer(cross_encoder, chosen, name, instruction)
            variant: OnnxVariant = "fp32" if chosen == "onnx" else "int8"
            return _onnx_scorer(cross_encoder, variant, name, instruction)
        except (ImportError, OSError, OnnxExportError) as exc:
            if backend != "auto":
                # The caller named this backend: running another one instead would be a
                # silent change of speed and, for the lower precisions, of scores.
                raise ModelLoadError(
                    "Fix the cause below, or pass backend='auto' (it falls back to PyTorch and "
                    "says so) or backend='torch'",
                    f"backend={backend!r} cannot run {name!r}: {_reason(exc)}",
                ) from exc
            logger.warning(
                "crossrank: backend %r is not usable for %s: %s. Scoring with PyTorch instead.",
                chosen,
                name,
                _reason(exc),
            )
        # Only "auto" gets here, from ONNX Runtime in fp32: PyTorch fp32 keeps its exact scores.
        precision = "fp32"
    return _torch_scorer(cross_encoder, name, precision, instruction)


def _auto_cpu_scorer(cross_encoder: CrossEncoder, name: str, instruction: str | None) -> PairScorer:
    """``auto`` on a CPU: the fastest exact fp32 backend here, measured once per model and CPU."""
    from crossrank.models.backend_probe import model_fingerprint, probe_fastest_backend

    candidates = {
        "torch": lambda: _torch_scorer(cross_encoder, name, "fp32", instruction),
        "onnx": lambda: _onnx_scorer(cross_encoder, "fp32", name, instruction),
        "openvino": lambda: _openvino_scorer(cross_encoder, "openvino", name, instruction),
    }
    choice = probe_fastest_backend(
        candidates, model_key=model_fingerprint(cross_encoder, name), explain=_reason
    )
    return choice.scorer


def describe_scorer(scorer: PairScorer) -> str:
    """A short label of how a scorer runs: ``"onnx-int8"``, ``"torch-bf16"``..., or its class name."""
    from crossrank.models.onnx_scorer import OnnxScorer
    from crossrank.models.openvino_scorer import OpenVinoScorer
    from crossrank.models.torch_scorer import CrossEncoderScorer

    if isinstance(scorer, OnnxScorer | OpenVinoScorer):
        return scorer.backend
    if isinstance(scorer, CrossEncoderScorer):
        return f"torch-{scorer.precision}"
    return type(scorer).__name__


def _onnx_scorer(
    cross_encoder: CrossEncoder, variant: OnnxVariant, name: str, instruction: str | None = None
) -> PairScorer:
    from crossrank.models.onnx_export import exported_model_path
    from crossrank.models.onnx_scorer import OnnxScorer

    model_file = exported_model_path(cross_encoder, variant, name=name)
    try:
        return OnnxScorer(cross_encoder, model_file, variant=variant, name=name, instruction=instruction)
    except Exception as exc:  # ONNX Runtime raises its own exception types
        raise OnnxExportError(f"ONNX Runtime cannot load {model_file} ({type(exc).__name__}: {exc})") from exc


def _openvino_scorer(
    cross_encoder: CrossEncoder, backend: str, name: str, instruction: str | None = None
) -> PairScorer:
    from crossrank.models.onnx_export import exported_model_path
    from crossrank.models.openvino_scorer import OpenVinoScorer

    try:
        import openvino  # noqa: F401
    except ImportError as exc:
        raise ImportError(f'backend={backend!r} needs OpenVINO: pip install "crossrank[openvino]"') from exc
    precision: OpenVinoPrecision = _EXPORT_BACKENDS[backend]
    variant: OnnxVariant = "int8-static" if precision == "int8" else "fp32"
    model_file = exported_model_path(cross_encoder, variant, name=name)
    if precision == "bf16" and not cpu_has_native_bf16():
        logger.warning(
            "crossrank: this CPU has no native bf16 (AVX512-BF16 or AMX); OpenVINO will run "
            "backend='openvino-bf16' in fp32 (its scores, not faster than backend='openvino')."
        )
    try:
        return OpenVinoScorer(
            cross_encoder, model_file, precision=precision, name=name, instruction=instruction
        )
    except Exception as exc:  # OpenVINO raises its own exception types
        raise OnnxExportError(f"OpenVINO cannot compile {model_file} ({type(exc).__name__}: {exc})") from exc


def _torch_scorer(
    cross_encoder: CrossEncoder, name: str, precision: Precision, instruction: str | None = None
) -> PairScorer:
    import torch

    from crossrank.models.causal_scorer import CausalLogitScorer, logit_score_module
    from crossrank.models.cpu import usable_cpu_count
    from crossrank.models.torch_scorer import CrossEncoderScorer

    device_type = cross_encoder.device.type
    automatic: TorchPrecision = "fp16" if device_type == "cuda" else "fp32"
    resolved: TorchPrecision = automatic if precision == "auto" else precision
    if resolved == "bf16" and device_type == "cpu" and not cpu_has_native_bf16():
        logger.warning(
            "crossrank: this CPU has no native bf16 (AVX512-BF16 or AMX); bf16 is emulated "
            "and usually slower than fp32. Pass precision='fp32' or backend='onnx'."
        )
    # torch sizes its pool by physical cores and can exceed a container's CPU share.
    if device_type == "cpu" and torch.get_num_threads() > usable_cpu_count():
        torch.set_num_threads(usable_cpu_count())
    if logit_score_module(cross_encoder) is not None:
        return CausalLogitScorer(cross_encoder, name=name, precision=resolved, instruction=instruction)
    return CrossEncoderScorer(cross_encoder, name=name, precision=resolved, instruction=instruction)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ImportError):
        if "crossrank[" in str(exc):
            return str(exc)
        return f"{exc} (install it with `pip install onnxruntime onnx`)"
    return str(exc) or type(exc).__name__
