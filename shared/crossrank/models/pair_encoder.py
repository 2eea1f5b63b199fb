"""Turning (query ids, passage ids) pairs into a model's padded input arrays.

Every backend (PyTorch, ONNX Runtime) feeds the same arrays, built here once from
the model's own tokenizer, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING

from crossrank.scorer import TokenizedText

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from sentence_transformers import CrossEncoder
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerBase

    from crossrank.models.pair_format import PairFormat
    from crossrank.scorer import TokenIds

__all__ = ["CrossEncoderPairScorer", "PairEncoder", "PairTemplate", "graph_input_names", "model_window"]


# Texts per tokenizer call: large enough for its thread pool, small enough to bound memory.
_TOKENIZE_CHUNK = 256


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

    def build(self, query_ids: TokenIds, passage_ids: TokenIds) -> tuple[list[int], list[int]]:
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


class PairEncoder:
    """A model's tokenizer, pair template and padding, as plain numpy arrays.

    Args:
        tokenizer: The model's (fast) transformers tokenizer. It is copied: the
            shared one has its truncation and padding changed by sentence-transformers
            on use, which is not thread-safe.

    Example:
        >>> encoder = PairEncoder(cross_encoder.tokenizer)  # doctest: +SKIP
        >>> query, passage = encoder.tokenize(["a query", "a passage"])  # doctest: +SKIP
        >>> encoder.encode([(query.ids, passage.ids)])["input_ids"].shape  # doctest: +SKIP
        (1, 7)
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        cross_encoder: CrossEncoder | None = None,
        *,
        prompt: str | None = None,
    ) -> None:
        from crossrank.models.pair_format import TextPairFormat, read_pair_format

        backend_tokenizer = tokenizer.backend_tokenizer
        self._tokenizer: Tokenizer = type(backend_tokenizer).from_str(backend_tokenizer.to_str())
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._layout: PairFormat = (
            TextPairFormat(PairTemplate.from_tokenizer(self._tokenizer), None)
            if cross_encoder is None
            else read_pair_format(cross_encoder, self._tokenizer, prompt)
        )
        self._pad_id = int(tokenizer.pad_token_id or 0)
        names = tuple(tokenizer.model_input_names)
        self._input_names = tuple(
            name for name in ("input_ids", "attention_mask", "token_type_ids") if name in names
        )

    @property
    def layout(self) -> PairFormat:
        """How a pair is laid out: the tokenizer's pair template or a chat template."""
        return self._layout

    @property
    def num_special_tokens(self) -> int:
        """Tokens a pair gets beyond its query part and its document."""
        return self._layout.num_special_tokens

    def query_ids(self, query: str, max_tokens: int) -> list[int]:
        """The query part of every pair: prompt and query, or a chat template's head."""
        return self._layout.query_ids(query, max_tokens, self._tokenizer)

    @property
    def pad_id(self) -> int:
        """The id padding positions get."""
        return self._pad_id

    @property
    def input_names(self) -> tuple[str, ...]:
        """The inputs the model takes, of ``input_ids``, ``attention_mask``, ``token_type_ids``."""
        return self._input_names

    def tokenize(self, texts: Sequence[str]) -> list[TokenizedText]:
        """Tokenize texts once, without special tokens, with character offsets.

        Texts go through the tokenizer a chunk at a time and each result is kept as
        two int32 arrays, so neither the tokenizer's own encodings nor Python lists of
        every token are alive for all candidates at once.
        """
        import numpy as np

        # A chat template's separator before the document (a space) is tokenized with it, as
        # in the rendered text; offsets stay offsets into the text itself.
        prefix = self._layout.document_prefix
        tokenized: list[TokenizedText] = []
        for start in range(0, len(texts), _TOKENIZE_CHUNK):
            chunk = [prefix + text for text in texts[start : start + _TOKENIZE_CHUNK]]
            for encoding in self._tokenizer.encode_batch(chunk, add_special_tokens=False):
                ids = np.asarray(encoding.ids, dtype=np.int32)
                offsets = np.asarray(encoding.offsets, dtype=np.int32).reshape(-1, 2)
                if prefix:
                    offsets = np.clip(offsets - len(prefix), 0, None).astype(np.int32)
                tokenized.append(TokenizedText(ids=ids, offsets=offsets))
        return tokenized

    def pair_length(self, query_ids: TokenIds, passage_ids: TokenIds) -> int:
        """Tokens of one pair once its special tokens are added (before padding)."""
        return len(query_ids) + len(passage_ids) + self._layout.num_special_tokens

    def encode(
        self, pairs: Sequence[tuple[TokenIds, TokenIds]], *, pad_to: int | None = None
    ) -> dict[str, npt.NDArray[np.int64]]:
        """Padded int64 arrays of the model's inputs, padded to the longest pair.

        Args:
            pairs: ``(query_ids, passage_ids)`` pairs without special tokens; at least one.
            pad_to: Pad to this many tokens instead (at least the longest pair's).

        Returns:
            ``{name: array of shape (len(pairs), longest)}`` for each of :attr:`input_names`.

        Raises:
            ValueError: If ``pad_to`` is shorter than the longest pair.
        """
        import numpy as np

        built = [self._layout.build(query_ids, passage_ids) for query_ids, passage_ids in pairs]
        lengths = np.fromiter((len(ids) for ids, _ in built), dtype=np.int64, count=len(built))
        total = int(lengths.sum())
        width = int(lengths.max())
        if pad_to is not None:
            if pad_to < width:
                raise ValueError(f"pad_to={pad_to} is shorter than the longest pair ({width} tokens).")
            width = pad_to
        # The ids of all pairs, flattened in C, land in the padded matrix through a
        # boolean mask: no Python-level loop over tokens.
        attention = np.arange(width) < lengths[:, None]
        input_ids = np.full(attention.shape, self._pad_id, dtype=np.int64)
        flat_ids = chain.from_iterable(ids for ids, _ in built)
        input_ids[attention] = np.fromiter(flat_ids, np.int64, total)
        arrays = {"input_ids": input_ids, "attention_mask": attention.astype(np.int64)}
        if "token_type_ids" in self._input_names:
            type_ids = np.zeros(attention.shape, dtype=np.int64)
            flat_types = chain.from_iterable(types for _, types in built)
            type_ids[attention] = np.fromiter(flat_types, np.int64, total)
            arrays["token_type_ids"] = type_ids
        return {name: arrays[name] for name in self._input_names}


# Tokenizers without a model_max_length report this sentinel (transformers' VERY_LARGE_INTEGER).
_NO_TOKENIZER_LIMIT = 10**12


def model_window(cross_encoder: CrossEncoder) -> int:
    """Tokens of one pair the model can read: its tokenizer's limit, within its positions.

    sentence-transformers caps the tokenizer's ``model_max_length`` at the config's
    ``max_position_embeddings``, but RoBERTa-family models (XLM-R, bge-reranker-v2-m3)
    number positions from ``padding_idx + 1``: with 8,194 positions they read 8,192
    tokens, and 8,194 would index past the table.

    Args:
        cross_encoder: The loaded model.

    Returns:
        The window, at least 1.

    Raises:
        ValueError: If neither the tokenizer nor the config gives a limit.
    """
    declared = cross_encoder.max_seq_length or cross_encoder.tokenizer.model_max_length
    limit = int(declared) if declared and declared < _NO_TOKENIZER_LIMIT else None
    model = getattr(cross_encoder, "model", None)
    config = getattr(model, "config", None)
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        embeddings = getattr(getattr(model, "base_model", None), "embeddings", None)
        position_table = getattr(embeddings, "position_embeddings", None)
        # RoBERTa's position embedding table is indexed from padding_idx + 1.
        offset = int(getattr(embeddings, "padding_idx", -1)) + 1 if position_table is not None else 0
        usable = positions - max(offset, 0)
        limit = usable if limit is None else min(limit, usable)
    if limit is None or limit < 1:
        raise ValueError(
            "cannot tell how many tokens the model reads: the tokenizer has no model_max_length and "
            "the config no max_position_embeddings; pass cross_encoder_kwargs={'max_length': N}."
        )
    return limit


def graph_input_names(declared: Sequence[str], produced: Sequence[str], graph: str) -> tuple[str, ...]:
    """The inputs an exported graph declares, checked against the ones crossrank produces.

    An exporter drops an input the model ignores (DeBERTa-v3 ignores ``token_type_ids``),
    so a graph is fed exactly what it declares, never more.

    Args:
        declared: The graph's input names.
        produced: :attr:`PairEncoder.input_names`.
        graph: The graph's file, for the message.

    Returns:
        ``declared``, as a tuple, in the graph's order.

    Raises:
        OnnxExportError: If the graph declares an input crossrank does not produce.
    """
    from crossrank.errors import OnnxExportError

    unknown = [name for name in declared if name not in produced]
    if unknown:
        raise OnnxExportError(
            f"the graph {graph} takes {', '.join(unknown)}, which crossrank does not produce "
            f"(it produces {', '.join(produced)}); delete the file so it is exported again"
        )
    return tuple(declared)


class CrossEncoderPairScorer:
    """What every backend's scorer for a loaded CrossEncoder shares: name, limits, tokenizer.

    Subclasses add ``score`` (and say how they run). Nothing here keeps a reference to
    the model, so a backend that does not need its weights lets them go.

    Args:
        cross_encoder: The loaded model, read for its tokenizer, maximum length and activation.
        name: The model's path or hub id.
    """

    def __init__(self, cross_encoder: CrossEncoder, name: str, *, instruction: str | None = None) -> None:
        import torch

        from crossrank.models.pair_format import check_pair_format

        self._name = name
        self._encoder = PairEncoder(cross_encoder.tokenizer, cross_encoder, prompt=instruction)
        check_pair_format(cross_encoder, self._encoder, name, prompt=instruction)
        self._max_length = model_window(cross_encoder)
        self._outputs_probabilities = isinstance(cross_encoder.activation_fn, torch.nn.Sigmoid)

    @property
    def name(self) -> str:
        """The model's name."""
        return self._name

    @property
    def max_length(self) -> int:
        """Maximum tokens of one pair, as ``CrossEncoder.predict`` truncates them."""
        return self._max_length

    @property
    def num_special_tokens(self) -> int:
        """Tokens a pair gets beyond its query part and its document."""
        return self._encoder.num_special_tokens

    @property
    def outputs_probabilities(self) -> bool:
        """True when the model's activation is a sigmoid (scores in 0..1)."""
        return self._outputs_probabilities

    def tokenize(self, texts: Sequence[str]) -> list[TokenizedText]:
        """Tokenize texts once, without special tokens, with character offsets."""
        return self._encoder.tokenize(texts)

    def query_ids(self, query: str, max_tokens: int) -> list[int]:
        """The query part of every pair (see :func:`crossrank.scorer.query_ids`)."""
        return self._encoder.query_ids(query, max_tokens)
