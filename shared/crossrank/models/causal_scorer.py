"""Scoring with a causal-LM reranker: the last real token's logits of the yes (and no) tokens.

sentence-transformers 6 loads Qwen3-Reranker-style models as a causal LM followed by
``LogitScore(true_token_id, false_token_id)``: the score is ``logit(yes) - logit(no)`` (or
``logit(yes)`` alone) at the last position, with left padding so that position is a real
token. crossrank pads on the right instead and reads each pair's own last real token; with
rotary positions and a causal mask the real tokens see exactly what they see unpadded, so
a pair scores the same alone or beside any other. Only the LM head's rows of the true and
false tokens are multiplied, not the whole vocabulary at every position: memory stays flat
in the vocabulary's size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crossrank.errors import ModelLoadError
from crossrank.models.torch_scorer import CrossEncoderScorer, TorchPrecision

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = ["CausalLogitScorer", "logit_score_module"]


def logit_score_module(cross_encoder: CrossEncoder) -> Any | None:
    """The model's ``LogitScore`` module, or ``None`` for a sequence classifier."""
    for module in cross_encoder:
        if type(module).__name__ == "LogitScore":
            return module
    return None


class CausalLogitScorer(CrossEncoderScorer):
    """Scores pairs with a causal LM and its ``LogitScore`` tokens, as ``CrossEncoder.predict`` does.

    Args:
        cross_encoder: The loaded model (a causal LM Transformer module, then ``LogitScore``).
        name: A name for the model; defaults to the model's own path or id.
        precision: ``"fp32"`` (``predict``'s scores), ``"bf16"`` or ``"fp16"``.

    Raises:
        ModelLoadError: If the model has no ``LogitScore`` or its LM head cannot be read.
    """

    def __init__(
        self,
        cross_encoder: CrossEncoder,
        name: str | None = None,
        precision: TorchPrecision = "fp32",
        instruction: str | None = None,
    ) -> None:
        import torch

        super().__init__(cross_encoder, name, precision, instruction)
        scoring = logit_score_module(cross_encoder)
        language_model: Any = cross_encoder[0].auto_model
        head = language_model.get_output_embeddings() if scoring is not None else None
        decoder = getattr(language_model, "model", None)
        if scoring is None or head is None or decoder is None:
            raise ModelLoadError(
                "crossrank scores causal-LM rerankers saved with a LogitScore module; pass such a model "
                "as {option}",
                f"{self.name!r} has no LogitScore module, LM head or decoder to read",
            )
        self._decoder = decoder
        tokens = [int(scoring.true_token_id)]
        if scoring.false_token_id is not None:
            tokens.append(int(scoring.false_token_id))
        # The two rows of the LM head that make the score; a view, so a dtype change follows.
        self._token_ids = torch.tensor(tokens, dtype=torch.long)
        self._head = head

    def _forward(self, features: dict[str, Any]) -> Any:
        import torch

        mask = features["attention_mask"]
        hidden = self._decoder(input_ids=features["input_ids"], attention_mask=mask).last_hidden_state
        last = mask.sum(dim=1) - 1  # right padding: each pair's own last real token
        states = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        rows = self._head.weight[self._token_ids.to(hidden.device)]
        logits = states @ rows.T
        bias = getattr(self._head, "bias", None)
        if bias is not None:
            logits = logits + bias[self._token_ids.to(hidden.device)]
        scores = logits[:, 0] - logits[:, 1] if logits.shape[1] == 2 else logits[:, 0]
        return scores.unsqueeze(1)
