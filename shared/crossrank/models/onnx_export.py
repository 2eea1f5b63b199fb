"""Exporting a CrossEncoder to ONNX once, optionally int8-quantized, and caching it on disk.

The export is keyed by what decides its result: the model's weights and config (so
a path, a hub id at any revision and a model changed in memory all get their own
entry), its activation, the export options and the versions of the exporting
libraries. An entry is written to a temporary directory and renamed into place, so
processes exporting the same model at once never see a half-written file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from crossrank.errors import OnnxExportError
from crossrank.log import logger
from crossrank.models.onnx_cache import MODEL_FILE, publish, verified_model_file
from crossrank.models.onnx_quantize import INT8_OPTIONS, quantize

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = ["OnnxVariant", "export_unfused", "exported_model_path", "onnx_cache_dir"]

OnnxVariant = Literal["fp32", "int8", "int8-static"]

_OPSET = 17
# Bump when the export or quantization code changes what it writes.
_EXPORT_FORMAT = 3  # 3: export.json records the model file's size and SHA-256
# Architectures whose attention ONNX Runtime's transformer optimizer fuses (its "bert" pass).
# Decoders (Qwen3, the causal-LM rerankers) are not among them: their rotary, GQA, causal
# attention is not the pattern that pass fuses, so their graph runs unfused, still exact.
_FUSABLE_MODEL_TYPES = frozenset({"bert", "roberta", "xlm-roberta", "electra"})
# fp32 ONNX must match PyTorch to float rounding; beyond this the export is wrong.
_VALIDATION_TOLERANCE = 1e-3
# Static int8 moves scores (measured: docs/benchmarks.md); a graph off by more than this on
# the validation pairs is broken, not merely quantized.
_STATIC_INT8_TOLERANCE = 0.1


def onnx_cache_dir() -> Path:
    """Where exported models are kept: ``<crossrank cache>/onnx``.

    The crossrank cache is ``$CROSSRANK_CACHE_DIR``, else ``$XDG_CACHE_HOME/crossrank``,
    else ``~/.cache/crossrank``.
    """
    from crossrank.models.cache_dir import default_cache_dir

    return default_cache_dir() / "onnx"


def exported_model_path(
    cross_encoder: CrossEncoder,
    variant: OnnxVariant,
    *,
    name: str,
    cache_dir: Path | None = None,
) -> Path:
    """The ONNX file of ``cross_encoder`` in ``variant``, exported on first use and then re-used.

    The graph computes the model's scores after its activation, exactly what
    ``CrossEncoder.predict`` returns. ``"int8"`` is the fp32 export with its weights
    dynamically quantized to int8 by ONNX Runtime; ``"int8-static"`` is the plain graph
    quantized by NNCF with activation scales calibrated on crossrank's sample pairs
    (:mod:`crossrank.models.onnx_static_quantize`), for OpenVINO.

    Args:
        cross_encoder: The model, in float32 on the CPU.
        variant: ``"fp32"``, ``"int8"`` or ``"int8-static"``.
        name: The model's path or hub id, used only to name the cache entry.
        cache_dir: Where entries live; :func:`onnx_cache_dir` when ``None``.

    Returns:
        The path of the ``.onnx`` file.

    Raises:
        OnnxExportError: If the model cannot be exported or its export does not
            reproduce its PyTorch scores; the message says why.
        ImportError: If ``onnx`` or ``onnxruntime`` (or, for ``"int8-static"``, NNCF) is missing.
    """
    import onnxruntime  # noqa: F401

    from crossrank.models.causal_export import causal_graph_fingerprint

    _check_exportable(cross_encoder)
    root = cache_dir if cache_dir is not None else onnx_cache_dir()
    key = _cache_key(cross_encoder, variant)
    entry = root / f"{_slug(name)}-{variant}-{key[:20]}"
    verified = verified_model_file(entry, key=key, variant=variant)
    if verified is not None:
        return verified
    # Only an export needs onnx: importing it costs about 2 s of a cold start (ml_dtypes).
    import onnx  # noqa: F401

    model_file = entry / MODEL_FILE

    root.mkdir(parents=True, exist_ok=True)
    source = None
    if variant == "int8":
        source = exported_model_path(cross_encoder, "fp32", name=name, cache_dir=root)
    logger.warning("crossrank: exporting %s to ONNX (%s), once; later runs re-use %s", name, variant, entry)
    started = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=root))
    try:
        fused: dict[str, int] = {}
        if variant == "int8-static":
            _export_static_int8(cross_encoder, staging)
        elif source is None:
            fused = _export(cross_encoder, staging / MODEL_FILE)
            _validate(cross_encoder, staging / MODEL_FILE)
        else:
            quantize(source, staging / MODEL_FILE)
            if causal_graph_fingerprint(cross_encoder):
                # A decoder's activations have outliers that per-batch int8 scales may not
                # survive: its int8 graph is checked as static int8's is.
                _validate(cross_encoder, staging / MODEL_FILE, tolerance=_STATIC_INT8_TOLERANCE)
        info = {
            "model": name,
            "variant": variant,
            "key": key,
            "opset": _OPSET,
            "fused_operators": fused if variant == "fp32" else "none: a quantized graph",
            "export_seconds": round(time.perf_counter() - started, 1),
            **_library_versions(),
        }
        publish(staging, entry, info)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("Exported %s to ONNX (%s) in %.1f s: %s", name, variant, time.perf_counter() - started, entry)
    return model_file


def _export_static_int8(cross_encoder: CrossEncoder, staging: Path) -> None:
    """Write the statically quantized plain graph to ``staging/model.onnx``, checked twice."""
    from crossrank.models.onnx_static_quantize import quantize_calibrated

    unfused = staging / "unfused.onnx"
    export_unfused(cross_encoder, unfused)
    _validate(cross_encoder, unfused)
    quantize_calibrated(cross_encoder, unfused, staging / MODEL_FILE)
    unfused.unlink()
    _validate(cross_encoder, staging / MODEL_FILE, tolerance=_STATIC_INT8_TOLERANCE)


def _transformers_config(cross_encoder: CrossEncoder) -> Any:
    return getattr(getattr(cross_encoder, "model", None), "config", None)


def _check_exportable(cross_encoder: CrossEncoder) -> None:
    import torch

    config = _transformers_config(cross_encoder)
    if config is None:
        raise OnnxExportError("the CrossEncoder has no transformers model to export")
    # auto_map alone is harmless: without trust_remote_code the model runs transformers' own
    # classes. Remote code proper lives in a dynamic "transformers_modules" package.
    if type(cross_encoder.model).__module__.startswith("transformers_modules"):
        raise OnnxExportError("the model runs its own remote code, which the export cache cannot key on")
    if cross_encoder.device.type != "cpu":
        raise OnnxExportError(f"ONNX runs on the CPU here and the model is on {cross_encoder.device}")
    dtypes = {parameter.dtype for parameter in cross_encoder.parameters()}
    if dtypes != {torch.float32}:
        raise OnnxExportError(f"the model's weights are {sorted(map(str, dtypes))}, not float32")


def _cache_key(cross_encoder: CrossEncoder, variant: OnnxVariant) -> str:
    """A digest of everything the exported file depends on."""
    import torch

    from crossrank.models.causal_export import causal_graph_fingerprint
    from crossrank.models.pair_encoder import PairEncoder

    digest = hashlib.sha256()
    header = {
        "format": _EXPORT_FORMAT,
        "variant": variant,
        "opset": _OPSET,
        "int8_options": INT8_OPTIONS if variant == "int8" else None,
        "modules": [type(module).__qualname__ for module in cross_encoder.children()],
        "model_class": type(cross_encoder.model).__qualname__,
        "config": _transformers_config(cross_encoder).to_json_string(use_diff=False),
        "activation": repr(cross_encoder.activation_fn),
        "inputs": PairEncoder(cross_encoder.tokenizer).input_names,
        **_library_versions(),
        # A causal LM's graph (LogitScore's tokens only) is told apart from a classifier's.
        **causal_graph_fingerprint(cross_encoder),
    }
    if variant == "int8-static":
        from crossrank.models.onnx_static_quantize import static_int8_fingerprint

        header["static_int8"] = static_int8_fingerprint()
    digest.update(json.dumps(header, sort_keys=True, default=str).encode())
    for parameter_name, tensor in cross_encoder.state_dict().items():
        data = tensor.detach().cpu().contiguous()
        digest.update(f"{parameter_name}:{data.dtype}:{tuple(data.shape)}".encode())
        digest.update(data.reshape(-1).view(torch.uint8).numpy().data)
    return digest.hexdigest()


def _library_versions() -> dict[str, str]:
    from importlib.metadata import version

    import onnxruntime
    import sentence_transformers
    import torch
    import transformers

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        # Read without importing onnx (2 s): a cache hit needs only its version.
        "onnx": version("onnx"),
        "onnxruntime": onnxruntime.__version__,
    }


def export_unfused(cross_encoder: CrossEncoder, path: Path) -> None:
    """Export the plain scores graph (standard ONNX operators, nothing fused) to ``path``.

    The fused export starts from it; static int8 quantizes it, because NNCF knows the
    standard attention operators and not ONNX Runtime's fused ones. For a causal-LM
    reranker it is the LogitScore graph of :mod:`crossrank.models.causal_export`, checked
    to compute no vocabulary-sized logits.

    Raises:
        OnnxExportError: If the exporter fails, naming why.
    """
    import torch

    from crossrank.models.causal_export import check_graph, export_module, probe_inputs

    probe = probe_inputs(cross_encoder)
    names = tuple(probe)
    module = export_module(cross_encoder, names)
    dynamic_axes: dict[str, dict[int, str]] = {name: {0: "batch", 1: "sequence"} for name in names}
    dynamic_axes["scores"] = {0: "batch"}
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            # The TorchScript exporter is deprecated but exports these encoders with
            # dynamic shapes reliably; its tracer warnings are checked by _validate.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                tuple(torch.from_numpy(probe[name]) for name in names),
                str(path),
                input_names=list(names),
                output_names=["scores"],
                dynamic_axes=dynamic_axes,
                opset_version=_OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
    except Exception as exc:  # any exporter failure means "use PyTorch"
        raise OnnxExportError(f"torch.onnx.export failed ({type(exc).__name__}: {exc})") from exc
    check_graph(cross_encoder, path)


def _export(cross_encoder: CrossEncoder, path: Path) -> dict[str, int]:
    """Export the scores graph to ``path``, with attention fused where ONNX Runtime knows how.

    Returns:
        How many of each fused operator the graph got (empty when not fused).
    """
    unfused = path.with_name("unfused.onnx")
    export_unfused(cross_encoder, unfused)
    fused = _fuse(unfused, path, _transformers_config(cross_encoder))
    if not fused:
        os.replace(unfused, path)
    unfused.unlink(missing_ok=True)
    return fused


def _fuse(source: Path, path: Path, config: Any) -> dict[str, int]:
    """Fuse attention, layer norms and GELU with ONNX Runtime's transformer optimizer.

    Returns:
        Counts of the fused operators; empty (and nothing written) when the
        architecture is not one the optimizer handles or it fails.
    """
    if getattr(config, "model_type", None) not in _FUSABLE_MODEL_TYPES:
        return {}
    from onnxruntime.transformers import optimizer

    try:
        optimized = optimizer.optimize_model(
            str(source),
            model_type="bert",
            num_heads=int(config.num_attention_heads),
            hidden_size=int(config.hidden_size),
            opt_level=0,
        )
        counts = {name: int(n) for name, n in optimized.get_fused_operator_statistics().items() if n}
        if not counts.get("Attention"):
            return {}
        optimized.save_model_to_file(str(path))
    except Exception:  # an unfused graph is still correct, only slower
        logger.debug("ONNX Runtime could not fuse the exported graph", exc_info=True)
        return {}
    return counts


def _validate(cross_encoder: CrossEncoder, path: Path, *, tolerance: float = _VALIDATION_TOLERANCE) -> None:
    """Check the exported graph, fed as crossrank feeds it, reproduces ``CrossEncoder.predict``.

    The reference is sentence-transformers' own ``predict`` on the text pairs, not
    crossrank's PyTorch path: a pair built wrongly by crossrank (a template it missed, a
    padding side) would pass a check against itself. The pairs are padded in one batch,
    longer than the export probe. ``tolerance`` is on the largest score difference,
    scaled by the largest score when that exceeds 1 (a model without a sigmoid scores in
    logits).
    """
    import numpy as np
    import onnxruntime

    from crossrank.models.pair_encoder import PairEncoder, graph_input_names

    query = "is the validation batch longer than the export probe"
    documents = [
        "Yes: three pairs, one of them much longer than anything the exporter traced, "
        "so a shape baked into the graph by mistake shows up here as a wrong score. " * 3,
        "No.",
        "Padding must not change a score.",
    ]
    expected = np.asarray(
        cross_encoder.predict(
            [(query, document) for document in documents],
            batch_size=len(documents),
            show_progress_bar=False,
            convert_to_numpy=True,
        ),
        dtype=np.float64,
    )
    encoder = PairEncoder(cross_encoder.tokenizer, cross_encoder)
    query_part = encoder.query_ids(query, 10**9)
    inputs = encoder.encode([(query_part, text.ids) for text in encoder.tokenize(documents)])
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        declared = graph_input_names([value.name for value in session.get_inputs()], tuple(inputs), str(path))
        got = session.run(None, {name: inputs[name] for name in declared})[0]
    except OnnxExportError:
        raise
    except Exception as exc:  # an unloadable graph means "use PyTorch"
        raise OnnxExportError(f"ONNX Runtime cannot run the export ({type(exc).__name__}: {exc})") from exc
    difference = float(np.max(np.abs(np.asarray(got, dtype=np.float64).reshape(-1) - expected.reshape(-1))))
    scale = max(1.0, float(np.max(np.abs(expected))))
    if not difference <= tolerance * scale:
        raise OnnxExportError(
            f"the ONNX export, fed as crossrank feeds it, differs from CrossEncoder.predict by "
            f"{difference:.2g} (tolerance {tolerance * scale:.2g})"
        )


def _slug(name: str) -> str:
    tail = "-".join(Path(name.rstrip("/\\")).parts[-2:]) or "model"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", tail).strip("-.")[:60] or "model"
