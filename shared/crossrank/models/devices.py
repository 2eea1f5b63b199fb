"""Choosing the device a model runs on."""

from __future__ import annotations

__all__ = ["default_device"]


def default_device() -> str:
    """The best available device: ``"cuda"``, then ``"mps"``, then ``"cpu"``."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"
