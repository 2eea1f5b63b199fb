"""A :class:`~crossrank.scorer.PairScorer` backed by a sentence-transformers CrossEncoder in PyTorch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from crossrank.models.pair_encoder import CrossEncoderPairScorer

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = ["CrossEncoderScorer", "TorchPrecision", "cross_encoder_name"]

TorchPrecision = Literal["fp32", "bf16", "fp16"]
_PRECISIONS = ("fp32", "bf16", "fp16")


class CrossEncoderScorer(CrossEncoderPairScorer):
    """Scores token-id pairs with a loaded ``sentence_transformers.CrossEncoder``.

    Scores are what ``CrossEncoder.predict`` returns for the same pair: the model's
    output passed through its own activation (a sigmoid for models saved with one,
    raw logits for ms-marco models). With ``precision="bf16"`` or ``"fp16"`` the
    forward pass runs under ``torch.autocast``; the model's weights are left as they are.

    Args:
        cross_encoder: The loaded model.
        name: A name for the model; defaults to the model's own path or id.
        precision: ``"fp32"`` (exactly ``predict``), ``"bf16"`` or ``"fp16"``.

    Raises:
        ValueError: If the model has more than one output or ``precision`` is unknown.
    """

    def __init__(
        self,
        cross_encoder: CrossEncoder,
        name: str | None = None,
        precision: TorchPrecision = "fp32",
        instruction: str | None = None,
    ) -> None:
        import torch

        if cross_encoder.num_labels != 1:
            raise ValueError(
                f"crossrank needs a cross-encoder with one relevance output, got num_labels="
                f"{cross_encoder.num_labels}. Use a reranker model such as "
                "cross-encoder/ms-marco-MiniLM-L6-v2."
            )
        if precision not in _PRECISIONS:
            raise ValueError(f"precision must be one of {_PRECISIONS}, got {precision!r}.")
        super().__init__(cross_encoder, name or cross_encoder_name(cross_encoder), instruction=instruction)
        self._model = cross_encoder
        self._precision: TorchPrecision = precision
        self._autocast_dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]

    @property
    def precision(self) -> TorchPrecision:
        """The precision the forward pass runs in."""
        return self._precision

    def score(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[float]:
        """Score one batch of pairs, padded to its longest pair."""
        import torch

        if not pairs:
            return []
        device = self._model.device
        with torch.inference_mode(), self._autocast(device):
            scores = self._scores(pairs)
            if torch.is_floating_point(scores) and torch.finfo(scores.dtype).bits < 32:
                scores = scores.float()
            activation = self._model.activation_fn
            if activation is not None:
                scores = activation(scores)
        return [float(value) for value in scores.reshape(len(pairs)).cpu().tolist()]

    def _scores(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> Any:
        """The model's scores of a batch of pairs, before its activation (a tensor)."""
        import torch

        device = self._model.device
        features: dict[str, Any] = {
            name: torch.from_numpy(array).to(device) for name, array in self._encoder.encode(pairs).items()
        }
        return self._forward(features)

    def _forward(self, features: dict[str, Any]) -> Any:
        """The model's scores for padded features, before its activation."""
        return self._model(features)["scores"]

    def _autocast(self, device: Any) -> Any:
        import contextlib

        import torch

        if self._autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=torch.device(device).type, dtype=self._autocast_dtype)


def cross_encoder_name(cross_encoder: CrossEncoder) -> str:
    """The path or hub id a loaded CrossEncoder came from (its transformers config records it)."""
    config = getattr(getattr(cross_encoder, "model", None), "config", None)
    recorded = getattr(config, "_name_or_path", None) or getattr(cross_encoder, "name_or_path", None)
    return str(recorded or "cross-encoder")
