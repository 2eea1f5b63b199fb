"""How a (query, document) pair becomes a model's input ids, read from what sentence-transformers saved.

Two layouts cover the rerankers sentence-transformers 6 loads:

- :class:`TextPairFormat`: the tokenizer's own pair template (``[CLS] q [SEP] d [SEP]``,
  ``<s> q </s></s> d </s>``), with a saved prompt before the query, as
  ``CrossEncoder.predict`` prepends it;
- :class:`ChatPairFormat`: a chat template (Qwen3-Reranker, zerank, Qwen3 sequence
  classifiers) that places the query and the document in a conversation. It is rendered
  once per query with the document left open: the text before the document (system turn,
  instruction, query) is the pair's *head*, the text after it the *tail*, and every
  window's ids are spliced between them. Documents are tokenized in the template's
  context (after the separator the template puts before them), so the splice gives the
  ids the rendered text would.

:func:`read_pair_format` picks the layout from the loaded model, and
:func:`check_pair_format` proves it on probe pairs against sentence-transformers' own
preprocessing, so a layout crossrank gets wrong fails at load instead of ranking.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from crossrank.errors import ModelLoadError

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerBase

    from crossrank.models.pair_encoder import PairEncoder, PairTemplate
    from crossrank.scorer import TokenIds

__all__ = ["ChatPairFormat", "PairFormat", "TextPairFormat", "check_pair_format", "read_pair_format"]

# Stands for the document while a chat template is rendered; private-use characters, so no
# real document or template contains them.
_DOCUMENT_SLOT = "\ue000crossrank-document\ue001"
# Documents whose first and last characters test the splice at both seams.
_PROBE_QUERY = "does regular aerobic exercise lower blood pressure?"
_PROBE_DOCUMENTS = (
    "Aerobic exercise lowered resting blood pressure.",
    '"Quoted" findings, 42 trials (n=1,204): café-au-lait naïve?',
    "Multi-line\n\nparagraphs end with a line break.\n",
    "x",
)


class TextPairFormat:
    """The tokenizer's pair template; a prompt, if any, goes before the query's text.

    Args:
        template: The tokenizer's pair template.
        prompt: The prompt ``CrossEncoder.predict`` prepends to the query, or ``None``.
    """

    kind = "text"
    document_prefix = ""

    def __init__(self, template: PairTemplate, prompt: str | None) -> None:
        self._template = template
        self._prompt = prompt

    @property
    def num_special_tokens(self) -> int:
        """Tokens a pair gets beyond the query part and the document."""
        return self._template.num_special_tokens

    def query_text(self, query: str) -> str:
        """The first text of the pair: the prompt, then the query."""
        return f"{self._prompt}{query}" if self._prompt else query

    def query_ids(self, query: str, max_tokens: int, tokenizer: Tokenizer) -> list[int]:
        """The query part of every pair: the first ``max_tokens`` tokens of prompt and query."""
        ids = tokenizer.encode(self.query_text(query), add_special_tokens=False).ids
        return list(ids[:max_tokens])

    def build(self, query_ids: TokenIds, passage_ids: TokenIds) -> tuple[list[int], list[int]]:
        """Input ids and token type ids of one pair."""
        return self._template.build(query_ids, passage_ids)


class ChatPairFormat:
    """A chat template around the pair: a head (through the query) and a tail around each window.

    Args:
        tokenizer: The model's transformers tokenizer, which renders the template.
        backend: A private copy of its fast tokenizer, which tokenizes.
        template_kwargs: ``apply_chat_template`` keyword arguments the model was saved with
            (``add_generation_prompt``...).
        prompt: The system message sentence-transformers adds (the instruction), or ``None``.

    Raises:
        ModelLoadError: If the template does not place the document verbatim exactly once,
            or its text after the document depends on the query.
    """

    kind = "chat"

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        backend: Tokenizer,
        template_kwargs: Mapping[str, Any],
        prompt: str | None,
    ) -> None:
        self._tokenizer = tokenizer
        self._backend = backend
        self._template_kwargs = dict(template_kwargs)
        self._prompt = prompt
        head, tail = self._split(_PROBE_QUERY)
        # The spaces before the document slot travel with the document: a byte-level BPE
        # token carries the space before its word (" Aerobic"), so the seam stays clean.
        stripped = head.rstrip(" ")
        self.document_prefix = head[len(stripped) :]
        self._tail_text = tail
        self._tail = backend.encode(tail, add_special_tokens=False).ids

    @property
    def num_special_tokens(self) -> int:
        """Tokens after the document (the tail); the head is the query part."""
        return len(self._tail)

    def render(self, query: str, document: str) -> str:
        """The text sentence-transformers tokenizes for this pair."""
        messages: list[dict[str, str]] = [
            {"role": "query", "content": query},
            {"role": "document", "content": document},
        ]
        if self._prompt:
            messages.insert(0, {"role": "system", "content": self._prompt})
        rendered = self._tokenizer.apply_chat_template(messages, tokenize=False, **self._template_kwargs)
        return str(rendered)

    def _split(self, query: str) -> tuple[str, str]:
        rendered = self.render(query, _DOCUMENT_SLOT)
        if rendered.count(_DOCUMENT_SLOT) != 1:
            raise ModelLoadError(
                "crossrank cannot split this model's chat template around the document; score it with "
                "sentence-transformers directly, or pass a model without a chat template as {option}",
                f"the template renders the document {rendered.count(_DOCUMENT_SLOT)} times",
            )
        head, tail = rendered.split(_DOCUMENT_SLOT)
        return head, tail

    def query_ids(self, query: str, max_tokens: int, tokenizer: Tokenizer) -> list[int]:
        """The head of every pair of ``query``: the template through the query's first ``max_tokens`` tokens.

        Raises:
            ModelLoadError: If the text after the document changes with the query.
        """
        encoding = tokenizer.encode(query, add_special_tokens=False)
        if len(encoding.ids) > max_tokens:
            query = query[: encoding.offsets[max_tokens - 1][1]] if max_tokens > 0 else ""
        head, tail = self._split(query)
        if tail != self._tail_text:
            raise ModelLoadError(
                "crossrank cannot splice documents into this model's chat template; score it with "
                "sentence-transformers directly",
                "the template's text after the document changes with the query",
            )
        head = head[: len(head) - len(self.document_prefix)]
        return list(tokenizer.encode(head, add_special_tokens=False).ids)

    def build(self, query_ids: TokenIds, passage_ids: TokenIds) -> tuple[list[int], list[int]]:
        """Input ids (head, window, tail) and token type ids (all 0) of one pair."""
        input_ids = [*query_ids, *passage_ids, *self._tail]
        return input_ids, [0] * len(input_ids)


PairFormat = TextPairFormat | ChatPairFormat
"""Either layout."""


def read_pair_format(
    cross_encoder: CrossEncoder, backend: Tokenizer, prompt: str | None = None
) -> PairFormat:
    """The layout sentence-transformers uses for this model's pairs.

    A chat template when the model's Transformer module takes messages (its tokenizer has
    one), else the tokenizer's pair template; the model's default prompt either way.

    Args:
        cross_encoder: The loaded model.
        backend: A private copy of its fast tokenizer.
        prompt: The instruction every pair gets; ``None``: the model's saved default prompt.

    Returns:
        The layout.
    """
    from crossrank.models.pair_encoder import PairTemplate

    transformer = cross_encoder[0]
    prompt = cross_encoder._resolve_prompt(prompt, None)
    if "message" in getattr(transformer, "modality_config", {}):
        processing = getattr(transformer, "processing_kwargs", None) or {}
        saved = processing.get("chat_template") or {}
        # restore_suffix is sentence-transformers' own switch for truncated rows, not the template's.
        template_kwargs = {key: value for key, value in saved.items() if key != "restore_suffix"}
        return ChatPairFormat(cross_encoder.tokenizer, backend, template_kwargs, prompt)
    return TextPairFormat(PairTemplate.from_tokenizer(backend), prompt)


def check_pair_format(
    cross_encoder: CrossEncoder, encoder: PairEncoder, name: str, *, prompt: str | None = None
) -> None:
    """Prove crossrank's pairs against sentence-transformers' own input ids on probe pairs.

    Args:
        cross_encoder: The loaded model.
        encoder: crossrank's encoder for it (layout, query part, document tokenization).
        name: The model's path or hub id, for the message.
        prompt: The instruction crossrank gives every pair (``None``: the saved default).

    Raises:
        ModelLoadError: Naming the first pair whose ids differ, and where.
    """
    query = encoder.query_ids(_PROBE_QUERY, 10**9)
    prompt = cross_encoder._resolve_prompt(prompt, None)
    window = cross_encoder.max_length or 10**9
    for document, tokens in zip(_PROBE_DOCUMENTS, encoder.tokenize(list(_PROBE_DOCUMENTS)), strict=True):
        ours, _ = encoder.layout.build(query, [int(token) for token in tokens.ids])
        if len(ours) > window:
            continue  # sentence-transformers truncates this pair; crossrank would window it
        features = cross_encoder.preprocess([(_PROBE_QUERY, document)], prompt=prompt)
        mask = features["attention_mask"][0].bool()
        theirs = [int(token) for token in features["input_ids"][0][mask].tolist()]
        if ours != theirs:
            pairs = zip(ours, theirs, strict=False)
            at = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(ours), len(theirs)))
            raise ModelLoadError(
                "crossrank cannot reproduce how sentence-transformers lays out this model's pairs; score it "
                "with sentence-transformers directly, or report the model to crossrank",
                f"for {name!r} and the document {document!r}, crossrank's {encoder.layout.kind} layout gives "
                f"{len(ours)} ids and sentence-transformers {len(theirs)}, first differing at position {at}",
            )
