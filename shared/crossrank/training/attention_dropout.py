"""Attention-probability dropout of a transformer, set for the length of a training run.

With dropout on the attention probabilities PyTorch's ``scaled_dot_product_attention``
cannot use its fused kernel on a CPU and falls back to materialising every attention
matrix; without it the fused kernel runs (the measured step times are in docs/training.md,
from ``benchmarks/training_precision_probe.py``).
The dropout of hidden states is left alone; only the module values change, never the
saved config, so the model reranks and fine-tunes later exactly as it would have.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["attention_dropout_set", "attention_dropouts", "check_attention_dropout"]

# How transformers names the dropout of attention probabilities: BERT, RoBERTa, XLM-R,
# ELECTRA and MiniLM keep an ``nn.Dropout`` called ``dropout`` in their ``*SelfAttention``
# module; other families call it ``attention_dropout`` or ``attn_dropout``.
_ATTENTION_DROPOUT_NAMES = ("attention_dropout", "attn_dropout")


def attention_dropouts(model: Any) -> list[Any]:
    """The ``nn.Dropout`` modules that drop attention probabilities in ``model``.

    Args:
        model: A ``torch.nn.Module`` (a CrossEncoder's ``model``).

    Returns:
        The modules, in the model's order (empty when the architecture names them otherwise).
    """
    import torch

    found = []
    for parent in model.modules():
        in_self_attention = type(parent).__name__.endswith("SelfAttention")
        for name, child in parent.named_children():
            if isinstance(child, torch.nn.Dropout) and (
                name in _ATTENTION_DROPOUT_NAMES or (in_self_attention and name == "dropout")
            ):
                found.append(child)
    return found


def check_attention_dropout(model: Any, probability: float | None) -> list[Any]:
    """The modules :func:`attention_dropout_set` will change; checked before a run spends time.

    Raises:
        ValueError: If ``probability`` is set but the model has no attention dropout that
            crossrank recognises (rather than train with a setting that did nothing).
    """
    if probability is None:
        return []
    modules = attention_dropouts(model)
    if not modules:
        raise ValueError(
            f"attention_dropout={probability} was asked for, but {type(model).__name__} has no attention "
            "dropout crossrank recognises (an nn.Dropout named 'dropout' in a *SelfAttention module, or "
            f"one named {' or '.join(_ATTENTION_DROPOUT_NAMES)}): leave attention_dropout unset."
        )
    return modules


@contextlib.contextmanager
def attention_dropout_set(model: Any, probability: float | None) -> Iterator[int]:
    """Set the attention dropout to ``probability`` inside the block, and restore it after.

    Args:
        model: A ``torch.nn.Module``.
        probability: The dropout probability, or ``None`` to leave the model as it is.

    Yields:
        How many dropout modules were set (0 when ``probability`` is ``None``).

    Raises:
        ValueError: From :func:`check_attention_dropout`.
    """
    modules = check_attention_dropout(model, probability)
    if probability is None:
        yield 0
        return
    before = [module.p for module in modules]
    for module in modules:
        module.p = probability
    try:
        yield len(modules)
    finally:
        for module, value in zip(modules, before, strict=True):
            module.p = value
