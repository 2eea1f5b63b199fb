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

import copy
import inspect
import threading
from collections.abc import Sequence
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
        instruction: The prompt every pair gets (``None``: the model's saved default).
        share_prefix: Score the pairs of one query against its head's key/value cache,
            computed once (the template and the query come before every document), instead
            of each pair in full.

    Raises:
        ModelLoadError: If the model has no ``LogitScore`` or its LM head cannot be read.
    """

    def __init__(
        self,
        cross_encoder: CrossEncoder,
        name: str | None = None,
        precision: TorchPrecision = "fp32",
        instruction: str | None = None,
        share_prefix: bool = True,
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
        self._share_prefix = share_prefix
        # transformers 5 renamed the decoder's cache argument; older versions take the old name.
        parameters = inspect.signature(decoder.forward).parameters
        self._cache_argument = "cache" if "cache" in parameters else "past_key_values"
        self._cache_lock = threading.Lock()
        self._cached_head: tuple[tuple[int, ...], Any] | None = None

    @property
    def shares_prefix(self) -> bool:
        """Whether pairs of one query are scored against its head's key/value cache, computed once."""
        return self._share_prefix

    def _scores(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> Any:
        heads = {tuple(int(token) for token in head) for head, _ in pairs}
        if self._share_prefix and len(heads) == 1:
            return self._scores_after_prefix(next(iter(heads)), pairs)
        return super()._scores(pairs)

    def _forward(self, features: dict[str, Any]) -> Any:
        mask = features["attention_mask"]
        hidden = self._decoder(input_ids=features["input_ids"], attention_mask=mask).last_hidden_state
        return self._logit_scores(hidden, mask.sum(dim=1) - 1)  # right padding: each pair's own last token

    def _scores_after_prefix(
        self, head: tuple[int, ...], pairs: Sequence[tuple[Sequence[int], Sequence[int]]]
    ) -> Any:
        """Score pairs that share their head: the head's key/value cache once, then each continuation.

        The continuations (window, then the template's tail) are right-padded and numbered
        after the head, so every real token sees the head and its own earlier tokens at the
        positions it has in the full pair.
        """
        import numpy as np
        import torch

        device = self._model.device
        cache = self._head_cache(head)
        continuations = [self._encoder.layout.build(head, passage)[0][len(head) :] for _, passage in pairs]
        lengths = [len(ids) for ids in continuations]
        width = max(lengths)
        ids = np.full((len(pairs), width), self._encoder.pad_id, dtype=np.int64)
        for row, continuation in enumerate(continuations):
            ids[row, : len(continuation)] = continuation
        real = torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]
        mask = torch.cat([torch.ones(len(pairs), len(head), dtype=torch.long), real.long()], dim=1).to(device)
        positions = (len(head) + torch.arange(width)).expand(len(pairs), width).to(device)
        batch_cache = copy.deepcopy(cache)
        batch_cache.batch_repeat_interleave(len(pairs))
        hidden = self._decoder(
            input_ids=torch.from_numpy(ids).to(device),
            attention_mask=mask,
            position_ids=positions,
            **{self._cache_argument: batch_cache},
            use_cache=True,
        ).last_hidden_state
        return self._logit_scores(hidden, torch.tensor(lengths, device=device) - 1)

    def _head_cache(self, head: tuple[int, ...]) -> Any:
        """The key/value cache of ``head`` (the last one is kept: a call scores one query's pairs)."""
        import torch

        with self._cache_lock:
            if self._cached_head is not None and self._cached_head[0] == head:
                return self._cached_head[1]
        device = self._model.device
        output = self._decoder(
            input_ids=torch.tensor([head], dtype=torch.long, device=device),
            attention_mask=torch.ones(1, len(head), dtype=torch.long, device=device),
            use_cache=True,
        )
        cache = output.past_key_values if getattr(output, "cache", None) is None else output.cache
        with self._cache_lock:
            self._cached_head = (head, cache)
        return cache

    def _logit_scores(self, hidden: Any, last: Any) -> Any:
        import torch

        states = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        token_ids = self._token_ids.to(hidden.device)
        logits = states @ self._head.weight[token_ids].T
        bias = getattr(self._head, "bias", None)
        if bias is not None:
            logits = logits + bias[token_ids]
        scores = logits[:, 0] - logits[:, 1] if logits.shape[1] == 2 else logits[:, 0]
        return scores.unsqueeze(1)
