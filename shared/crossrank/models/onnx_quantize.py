"""Dynamic int8 quantization of an exported ONNX model, with ONNX Runtime's quantizer."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from crossrank.errors import OnnxExportError
from crossrank.log import logger

__all__ = ["INT8_OPTIONS", "quantize"]

# Dynamic int8 quantization of the weight matrices (activations are quantized per
# batch at run time). Chosen by measurement; see docs/benchmarks.md.
INT8_OPTIONS: dict[str, Any] = {"per_channel": True, "reduce_range": False}


def quantize(source: Path, path: Path) -> None:
    """Write the int8 version of the fp32 graph ``source`` to ``path``.

    Raises:
        OnnxExportError: If the quantizer fails, naming why.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # A step of a first load: say what it is, and roughly how long, before it starts.
    logger.info(
        "crossrank: quantizing the weights of %s to int8 with ONNX Runtime (dynamic: no calibration; "
        "seconds for a small model)",
        source,
    )
    # The quantizer logs advice about calibration pre-processing to the root logger; it
    # does not apply to dynamic quantization of a transformer. A filter drops it for the
    # duration of the call without touching any logger's level (that is not thread-safe).
    root = logging.getLogger()
    root.addFilter(_drop_quantizer_advice)
    try:
        quantize_dynamic(
            str(source),
            str(path),
            weight_type=QuantType.QInt8,
            # Fused operators are outside ONNX's own type inference.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            **INT8_OPTIONS,
        )
    except Exception as exc:  # any quantizer failure means "use PyTorch"
        raise OnnxExportError(f"int8 quantization failed ({type(exc).__name__}: {exc})") from exc
    finally:
        root.removeFilter(_drop_quantizer_advice)


def _drop_quantizer_advice(record: logging.LogRecord) -> bool:
    """Keep a root-logger record unless it is the quantizer's below-error chatter."""
    from_quantizer = "onnxruntime" in record.pathname and "quantization" in record.pathname
    return record.levelno >= logging.ERROR or not from_quantizer
