"""How much arithmetic a cross-encoder does, and how much this machine can do.

``crossrank bench`` reports each configuration's achieved GFLOP/s as a fraction of
a matrix-multiply peak measured on the same machine in the same run, so "fast"
means "close to what the hardware allows", not only "faster than a peer".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "GEMM_DTYPES",
    "GEMM_SIZE",
    "GemmDtype",
    "TransformerShape",
    "gemm_size_for",
    "measure_gemm_peak_gflops",
    "pair_flops",
    "shape_of_model",
]

GemmDtype = Literal["fp32", "bf16", "fp16", "int8"]
GEMM_DTYPES: tuple[GemmDtype, ...] = ("fp32", "bf16", "fp16", "int8")
"""The element types :func:`measure_gemm_peak_gflops` can measure."""
GEMM_SIZE = 2048
"""Side of the square matrices whose multiply sets the peak."""


@dataclass(frozen=True, slots=True)
class TransformerShape:
    """The sizes of a BERT-style encoder that decide its FLOPs.

    Attributes:
        layers: Transformer layers.
        hidden: Hidden size.
        intermediate: Feed-forward inner size.
        num_labels: Outputs of the classification head.
    """

    layers: int
    hidden: int
    intermediate: int
    num_labels: int = 1

    @classmethod
    def from_config(cls, config: Any) -> TransformerShape:
        """Read the shape from a Hugging Face model config.

        Args:
            config: A ``transformers`` config with ``num_hidden_layers``,
                ``hidden_size`` and ``intermediate_size``.

        Returns:
            The shape.

        Raises:
            ValueError: If the config lacks one of those sizes (not a BERT-style encoder).
        """
        try:
            return cls(
                layers=int(config.num_hidden_layers),
                hidden=int(config.hidden_size),
                intermediate=int(config.intermediate_size),
                num_labels=int(getattr(config, "num_labels", 1) or 1),
            )
        except AttributeError as exc:
            raise ValueError(f"cannot read the encoder's sizes from its config: {exc}") from exc


def shape_of_model(model: str) -> TransformerShape | None:
    """The sizes of the model saved at ``model`` (a path or hub id).

    Returns:
        The shape; ``None`` when the config cannot be read or is not a BERT-style encoder's.
    """
    try:
        from transformers import AutoConfig

        return TransformerShape.from_config(AutoConfig.from_pretrained(model))
    except (OSError, ValueError):
        return None


def pair_flops(shape: TransformerShape, num_tokens: int) -> float:
    """Floating-point operations (a multiply-add counts 2) to score one pair of ``num_tokens`` tokens.

    Per layer: the Q, K, V and output projections (``8·L·H²``), attention scores and
    their weighted sum (``4·L²·H``) and the feed-forward block (``4·L·H·I``); then the
    pooler and the classifier on the first token. Embedding lookups, softmax,
    layer norms and activations are left out: they are memory-bound and a few
    percent of the total.

    Args:
        shape: The encoder's sizes.
        num_tokens: Tokens of the pair, special tokens included, padding excluded.

    Returns:
        FLOPs.

    Example:
        >>> pair_flops(TransformerShape(layers=1, hidden=2, intermediate=4), 3)
        276.0
    """
    tokens, hidden = num_tokens, shape.hidden
    per_layer = 8 * tokens * hidden**2 + 4 * tokens**2 * hidden + 4 * tokens * hidden * shape.intermediate
    head = 2 * hidden**2 + 2 * hidden * shape.num_labels
    return float(shape.layers * per_layer + head)


def gemm_size_for(device: str) -> int:
    """The GEMM side that reaches a device's peak: a GPU needs far larger matrices than a CPU."""
    return 8192 if device.startswith("cuda") else GEMM_SIZE


def measure_gemm_peak_gflops(
    dtype: GemmDtype, *, device: str = "cpu", size: int = GEMM_SIZE, repeat: int = 5
) -> float | None:
    """The best GFLOP/s of a large square matrix multiply in ``dtype``, with torch's current threads.

    Args:
        dtype: Element type of the operands (``"int8"`` uses ``torch._int_mm``,
            which accumulates in int32).
        device: Where to run it.
        size: Matrix side.
        repeat: Timed multiplies; the fastest counts.

    Returns:
        GFLOP/s (giga-operations for int8), or ``None`` where this torch build cannot
        multiply in that dtype on that device.
    """
    import torch

    torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16, "int8": torch.int8}
    try:
        if dtype == "int8":
            left = torch.randint(-64, 64, (size, size), dtype=torch.int8, device=device)
            right = torch.randint(-64, 64, (size, size), dtype=torch.int8, device=device)

            def multiply() -> object:
                return torch._int_mm(left, right)
        else:
            left = torch.randn(size, size, dtype=torch_dtype[dtype], device=device)
            right = torch.randn(size, size, dtype=torch_dtype[dtype], device=device)

            def multiply() -> object:
                return left @ right

        multiply()  # warm-up: kernel selection, page faults
        best = float("inf")
        for _ in range(repeat):
            _synchronize(device)
            started = time.perf_counter()
            multiply()
            _synchronize(device)
            best = min(best, time.perf_counter() - started)
    except (RuntimeError, NotImplementedError, AttributeError):
        return None
    return 2.0 * size**3 / best / 1e9


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
