"""A :class:`~shared.scorer.PairScorer` backed by a sentence-transformers CrossEncoder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.scorer import TokenizedText

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder
    from tokenizers import Tokenizer

__all__ = ["CrossEncoderScorer", "PairTemplate", "cross_encoder_name"]


@dataclass(frozen=True, slots=True)
class PairTemplate:
    """Where a model's special tokens go around a (query, passage) pair.

    Read once from the tokenizer's own post-processor, so BERT's
    ``[CLS] q [SEP] p [SEP]`` and RoBERTa's ``<s> q </s></s> p </s>`` both work
    without model-specific code.
    """

    prefix: tuple[int, ...]
    middle: tuple[int, ...]
    suffix: tuple[int, ...]
    prefix_types: tuple[int, ...]
    middle_types: tuple[int, ...]
    suffix_types: tuple[int, ...]
    query_type: int
    passage_type: int

    @property
    def num_special_tokens(self) -> int:
        """How many special tokens a pair gets."""
        return len(self.prefix) + len(self.middle) + len(self.suffix)

    @classmethod
    def from_tokenizer(cls, tokenizer: Tokenizer) -> PairTemplate:
        """Derive the template by encoding a known pair with special tokens."""
        query_len = len(tokenizer.encode("a", add_special_tokens=False).ids)
        passage_len = len(tokenizer.encode("b", add_special_tokens=False).ids)
        pair = tokenizer.encode("a", "b", add_special_tokens=True)
        sequence_ids = pair.sequence_ids
        query_start = sequence_ids.index(0)
        passage_start = sequence_ids.index(1)
        query_end = query_start + query_len
        passage_end = passage_start + passage_len
        ids, types = pair.ids, pair.type_ids
        return cls(
            prefix=tuple(ids[:query_start]),
            middle=tuple(ids[query_end:passage_start]),
            suffix=tuple(ids[passage_end:]),
            prefix_types=tuple(types[:query_start]),
            middle_types=tuple(types[query_end:passage_start]),
            suffix_types=tuple(types[passage_end:]),
            query_type=types[query_start],
            passage_type=types[passage_start],
        )

    def build(self, query_ids: Sequence[int], passage_ids: Sequence[int]) -> tuple[list[int], list[int]]:
        """Input ids and token type ids of one pair."""
        input_ids = [*self.prefix, *query_ids, *self.middle, *passage_ids, *self.suffix]
        type_ids = [
            *self.prefix_types,
            *([self.query_type] * len(query_ids)),
            *self.middle_types,
            *([self.passage_type] * len(passage_ids)),
            *self.suffix_types,
        ]
        return input_ids, type_ids


class CrossEncoderScorer:
    """Scores token-id pairs with a loaded ``sentence_transformers.CrossEncoder``.

    Scores are what ``CrossEncoder.predict`` returns for the same pair: the model's
    output passed through its own activation (a sigmoid for models saved with one,
    raw logits for ms-marco models).

    Args:
        cross_encoder: The loaded model.
        name: A name for the model; defaults to the model's own path or id.
    """

    def __init__(self, cross_encoder: CrossEncoder, name: str | None = None) -> None:
        import torch

        if cross_encoder.num_labels != 1:
            raise ValueError(
                f"crossrank needs a cross-encoder with one relevance output, got num_labels="
                f"{cross_encoder.num_labels}. Use a reranker model such as "
                "cross-encoder/ms-marco-MiniLM-L6-v2."
            )
        self._model = cross_encoder
        self._name = name or cross_encoder_name(cross_encoder)
        # A private copy: the shared tokenizer's truncation and padding settings are
        # changed by sentence-transformers on use, which is not thread-safe.
        backend_tokenizer = cross_encoder.tokenizer.backend_tokenizer
        self._tokenizer = type(backend_tokenizer).from_str(backend_tokenizer.to_str())
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._template = PairTemplate.from_tokenizer(self._tokenizer)
        self._pad_id = int(cross_encoder.tokenizer.pad_token_id or 0)
        self._input_names = set(cross_encoder.tokenizer.model_input_names)
        activation = cross_encoder.activation_fn
        self._outputs_probabilities = isinstance(activation, torch.nn.Sigmoid)

    @property
    def cross_encoder(self) -> CrossEncoder:
        """The wrapped model."""
        return self._model

    @property
    def name(self) -> str:
        """The model's name."""
        return self._name

    @property
    def max_length(self) -> int:
        """Maximum tokens of one pair, as ``CrossEncoder.predict`` truncates them."""
        configured = self._model.max_seq_length or self._model.tokenizer.model_max_length
        return int(configured)

    @property
    def num_special_tokens(self) -> int:
        """Special tokens added around a pair."""
        return self._template.num_special_tokens

    @property
    def outputs_probabilities(self) -> bool:
        """True when the model's activation is a sigmoid (scores in 0..1)."""
        return self._outputs_probabilities

    def tokenize(self, texts: Sequence[str]) -> list[TokenizedText]:
        """Tokenize texts once, without special tokens, with character offsets."""
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [TokenizedText(ids=encoding.ids, offsets=encoding.offsets) for encoding in encodings]

    def score(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[float]:
        """Score one batch of pairs, padded to its longest pair."""
        import numpy as np
        import torch

        if not pairs:
            return []
        built = [self._template.build(query_ids, passage_ids) for query_ids, passage_ids in pairs]
        longest = max(len(input_ids) for input_ids, _ in built)
        input_ids = np.full((len(built), longest), self._pad_id, dtype=np.int64)
        type_ids = np.zeros((len(built), longest), dtype=np.int64)
        attention = np.zeros((len(built), longest), dtype=np.int64)
        for row, (ids, types) in enumerate(built):
            input_ids[row, : len(ids)] = ids
            type_ids[row, : len(types)] = types
            attention[row, : len(ids)] = 1
        features: dict[str, Any] = {
            "input_ids": torch.from_numpy(input_ids),
            "attention_mask": torch.from_numpy(attention),
        }
        if "token_type_ids" in self._input_names:
            features["token_type_ids"] = torch.from_numpy(type_ids)
        device = self._model.device
        features = {key: value.to(device) for key, value in features.items()}
        with torch.inference_mode():
            scores = self._model(features)["scores"]
            if torch.is_floating_point(scores) and torch.finfo(scores.dtype).bits < 32:
                scores = scores.float()
            activation = self._model.activation_fn
            if activation is not None:
                scores = activation(scores)
        return [float(value) for value in scores.reshape(len(built)).cpu().tolist()]



def cross_encoder_name(cross_encoder: CrossEncoder) -> str:
    """The path or hub id a loaded CrossEncoder came from (its transformers config records it)."""
    config = getattr(getattr(cross_encoder, "model", None), "config", None)
    recorded = getattr(config, "_name_or_path", None) or getattr(cross_encoder, "name_or_path", None)
    return str(recorded or "cross-encoder")
