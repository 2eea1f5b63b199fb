"""A zoo of tiny, randomly initialised rerankers: one per model family crossrank has to score.

Each family imitates the layout of a real reranker on the Hugging Face hub (architecture,
tokenizer kind, special tokens and pair template, position limits, chat template, the
Sentence Transformers modules) at a size that builds in well under a second: hidden size 64,
2 layers, a vocabulary of ~1000-2000 tokens trained at build time on :data:`CORPUS`. Nothing
is downloaded and nothing is committed but this code: weights are random (seeded, so every
build is identical) and scaled up enough that scores differ visibly from pair to pair.

Every model is saved as a Sentence Transformers CrossEncoder directory, so
``CrossEncoder(path).predict(pairs)`` loads and scores it exactly as it would the hub model
it imitates, through the same code path (plain pair tokenization, chat-template rendering,
a causal LM read through ``LogitScore``).

Use :func:`build_zoo` (all families) or :func:`build_family` (one), and :func:`describe` to read
back the facts crossrank needs to decide a pair format from a saved directory.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

__all__ = [
    "CORPUS",
    "FAMILIES",
    "Family",
    "build_family",
    "build_zoo",
    "describe",
    "training_text",
]

TokenizerKind = Literal["wordpiece", "unigram", "byte-level-bpe"]

# All of crossrank's backends; the ONNX ones export the model's forward pass.
_ALL_BACKENDS = ("torch", "onnx", "onnx-int8", "openvino", "openvino-bf16", "openvino-int8")
# A causal LM exports its LogitScore graph; OpenVINO's static int8 is refused for it (its
# calibration pairs are not laid out with the chat template).
_CAUSAL_BACKENDS = ("torch", "onnx", "onnx-int8", "openvino", "openvino-bf16")

SEED = 20240611

# Sizes shared by every family.
HIDDEN_SIZE = 64
NUM_LAYERS = 2
INTERMEDIATE_SIZE = 128
VOCAB_SIZE = 1500

DEFAULT_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
"""The instruction the Qwen3-Reranker-style templates render when no prompt (system message) is given."""

# ---------------------------------------------------------------------------------------------
# The corpus the tokenizers are trained on: original sentences, varied in topic and form.
# Some start with "yes", "no" and "Yes" so that the byte-level BPE tokenizers learn those words
# as single tokens, as the causal rerankers' LogitScore reads them.
# ---------------------------------------------------------------------------------------------
CORPUS: tuple[str, ...] = (
    "Boiling pasta in well-salted water seasons it from the inside out.",
    "A sourdough starter is a living culture of wild yeast and lactic acid bacteria.",
    "Caramelising onions slowly over low heat takes at least forty minutes.",
    "Resting a roast after cooking lets the juices settle back into the meat.",
    "Baking soda needs an acid, such as buttermilk or yoghurt, to make batter rise.",
    "Fresh herbs like basil should be added at the very end of cooking.",
    "A cast-iron pan keeps its heat well, which is why it sears steak so evenly.",
    "Lentils do not need soaking and cook through in about twenty-five minutes.",
    "Whisking egg whites in a clean copper bowl gives a more stable foam.",
    "Miso soup is traditionally made from dashi stock and fermented soybean paste.",
    "Regular aerobic exercise lowers resting heart rate and blood pressure.",
    "Adults generally need between seven and nine hours of sleep each night.",
    "Vitamin D is produced in the skin when it is exposed to sunlight.",
    "Washing hands with soap for twenty seconds removes most common germs.",
    "Dehydration can cause headaches, tiredness and difficulty concentrating.",
    "A balanced diet includes vegetables, whole grains, legumes and some healthy fats.",
    "Vaccines train the immune system to recognise a pathogen without causing disease.",
    "Chronic stress raises cortisol levels, which may disturb sleep and digestion.",
    "Stretching after a run can ease stiffness, though it does not prevent every injury.",
    "Iron from plants is absorbed better when eaten together with vitamin C.",
    "Photosynthesis converts carbon dioxide and water into glucose and oxygen.",
    "The speed of light in a vacuum is close to three hundred thousand kilometres per second.",
    "DNA carries genetic information in sequences of four chemical bases.",
    "Plate tectonics explains why earthquakes cluster along the edges of continents.",
    "Water expands when it freezes, so ice floats on lakes and rivers.",
    "A black hole forms when a massive star collapses under its own gravity.",
    "Enzymes speed up chemical reactions without being used up themselves.",
    "The Moon's gravity pulls on the oceans and produces the daily tides.",
    "Sound travels faster through water than through air.",
    "Mitochondria release energy from nutrients to power the cell.",
    "Electric cars convert stored chemical energy into motion with few moving parts.",
    "Solar panels generate electricity from sunlight using semiconductor cells.",
    "Wind turbines work best on open plains, hills and coastlines with steady wind.",
    "Recycling aluminium cans saves most of the energy needed to make new metal.",
    "Rainforests store vast amounts of carbon in their trees and soil.",
    "Bees pollinate many of the fruits and vegetables that people eat.",
    "Coral reefs are built over centuries by tiny animals called polyps.",
    "Glaciers carve deep valleys as they slowly flow downhill.",
    "Migrating birds navigate using the sun, the stars and the magnetic field.",
    "Octopuses can change the colour and texture of their skin in an instant.",
    "The printing press made books cheaper and spread literacy across Europe.",
    "Ancient Romans built aqueducts to carry fresh water into their cities.",
    "The first successful powered flight lasted only twelve seconds.",
    "Silk was traded along routes that linked China with the Mediterranean.",
    "Public libraries lend books, music and films to anyone with a card.",
    "A search engine ranks web pages by how well they match the query.",
    "A reranker reads each query and passage together and scores their relevance.",
    "Retrieval augmented generation grounds a language model's answer in documents.",
    "Tokenizers split text into pieces that a model maps to numbers.",
    "Long documents are often cut into overlapping windows before scoring.",
    "A cross-encoder is slower than a bi-encoder but usually more accurate.",
    "Unit tests check that small parts of a program behave as intended.",
    "Compilers translate source code into instructions a processor can run.",
    "Encryption keeps messages private by scrambling them with a secret key.",
    "Spreadsheets organise numbers in rows and columns for quick calculation.",
    "Museums in Berlin hold collections of art, history and natural science.",
    "The train from the capital to the coast takes about three hours.",
    "Hikers should carry water, a map and a warm layer even on sunny days.",
    "Gardeners add compost to improve the structure and fertility of soil.",
    "Tomatoes ripen faster when stored next to bananas.",
    "Cats sleep for around fifteen hours a day on average.",
    "Learning a second language can improve memory and attention.",
    "Chess players plan several moves ahead and anticipate their opponent.",
    "Jazz musicians often improvise solos over a repeating chord progression.",
    "Paper is made from wood pulp that is pressed and dried into thin sheets.",
    "Is water a good conductor of heat? yes, better than air but worse than metal.",
    "yes, the document answers the question directly.",
    "no, the passage talks about something else entirely.",
    "Yes, this paragraph is relevant to the query.",
    "yes",
    "no",
    "Yes",
    "Does the text mention vitamins? no, it only describes exercise.",
    "Can a reranker read long documents? Yes, if they are split into windows.",
    "Is the Moon larger than the Earth? no, it is about a quarter of its width.",
    "Should bread dough rest before baking? yes, so the gluten can relax.",
    "How many hours of sleep do teenagers need? Around eight to ten hours.",
    "What causes the seasons? The tilt of the Earth's axis relative to the Sun.",
    "Which planet is known as the red planet? Mars, because of iron oxide dust.",
    "Why is the sky blue? Air scatters short blue wavelengths more than red ones.",
    "Numbers such as 3, 42, 1999 and 2024 appear in dates, prices and measurements.",
    "Symbols like %, &, #, @, +, =, <, > and / show up in code and formulas.",
    "Note: stir the sauce; taste it; then add salt (a pinch) and pepper!",
    "Tip: label jars with the date [month/year] so nothing stays in the fridge too long.",
)


def training_text() -> list[str]:
    """What the tokenizers are trained on: :data:`CORPUS` as written, lowercased and uppercased.

    The case variants give the small corpus enough distinct pieces for vocabularies of ~1300-1500.
    """
    return [*CORPUS, *(line.lower() for line in CORPUS), *(line.upper() for line in CORPUS)]


# ---------------------------------------------------------------------------------------------
# Chat templates (Jinja, written for this zoo). Flat message format: ``content`` is a string,
# which Sentence Transformers infers because none of its "structured" markers occur here.
# Pairs reach a template as two messages with roles "query" and "document"; a prompt reaches it
# as a leading "system" message.
# ---------------------------------------------------------------------------------------------
def _select(role: str) -> str:
    """Jinja setting the variable ``role`` to the content of the (first) message with that role."""
    return (
        f'{{%- set {role} = messages | selectattr("role", "eq", "{role}")'
        ' | map(attribute="content") | first -%}'
    )


_SELECT_QUERY = _select("query")
_SELECT_DOCUMENT = _select("document")

QWEN3_RERANKER_TEMPLATE = (
    _SELECT_QUERY
    + _SELECT_DOCUMENT
    + '{%- set instruction = messages | selectattr("role", "eq", "system") | map(attribute="content") | first'
    + ' | default("'
    + DEFAULT_INSTRUCTION
    + '") -%}'
    + "{{- '<|im_start|>system\\nJudge whether the Document meets the requirements of the Query and the "
    + 'Instruct. Answer only \\"yes\\" or \\"no\\".<|im_end|>\\n\' -}}'
    + "{{- '<|im_start|>user\\n<Instruct>: ' + instruction + '\\n<Query>: ' + query"
    + " + '\\n<Document>: ' + document + '<|im_end|>\\n' -}}"
    + "{{- '<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n' -}}"
)
"""Qwen3-Reranker layout: fixed system turn, a user turn holding instruction, query and document, then
the assistant turn pre-filled with an empty think block. The instruction is the prompt (a system
message) when one is given, else :data:`DEFAULT_INSTRUCTION`. Needs no ``add_generation_prompt``."""

ZERANK_TEMPLATE = (
    _SELECT_QUERY
    + _SELECT_DOCUMENT
    + "{{- '<|im_start|>system\\n' + query + '<|im_end|>\\n' -}}"
    + "{{- '<|im_start|>user\\n' + document + '<|im_end|>\\n' -}}"
    + "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)
"""zerank layout: the query in a system turn, the document in a user turn; the assistant header only with
``add_generation_prompt``, which the saved model asks for through ``processing_kwargs["chat_template"]``.
A prompt (system message) is not rendered."""


@dataclass(frozen=True)
class Family:
    """What one zoo family is, and the facts about it that tests (and crossrank) rely on."""

    name: str
    architecture: str
    """The transformers class of the saved model (``config.architectures[0]``)."""
    imitates: tuple[str, ...]
    """Hub models whose layout this family copies."""
    tokenizer_kind: TokenizerKind
    tokenizer_class: str
    """``tokenizer_class`` of the saved tokenizer_config.json, as the hub model names it."""
    causal: bool
    """A causal LM scored through ``LogitScore`` (``transformer_task="text-generation"``)."""
    max_position_embeddings: int
    usable_positions: int
    """Tokens one sequence may hold: RoBERTa-style models lose ``pad_token_id + 1`` positions."""
    model_max_length: int | None
    """``model_max_length`` in the saved ``tokenizer_config.json``; None: the key is left out."""
    pair_format: str
    """How a (query, document) pair is laid out, q and d standing for the texts."""
    chat_template: str | None
    logit_tokens: tuple[str, str | None] | None
    """(true token, false token) of the ``LogitScore`` module, for the causal families."""
    type_vocab_size: int | None
    backends: tuple[str, ...]
    """crossrank backends expected to apply (a causal LM: all but ``openvino-int8``)."""
    initializer_range: float
    """Std of the random init: large enough that scores differ visibly between pairs."""
    processing_kwargs: dict[str, Any] | None = None
    """``processing_kwargs`` saved with the Transformer module (sentence_bert_config.json)."""
    notes: str = ""

    @property
    def padding_side(self) -> Literal["left", "right"]:
        """The side Sentence Transformers pads on once loaded: left for a causal LM, whatever files say."""
        return "left" if self.causal else "right"


_FAMILY_LIST: tuple[Family, ...] = (
    Family(
        name="bert",
        architecture="BertForSequenceClassification",
        imitates=("cross-encoder/ms-marco-MiniLM-L6-v2",),
        tokenizer_kind="wordpiece",
        tokenizer_class="BertTokenizer",
        causal=False,
        max_position_embeddings=512,
        usable_positions=512,
        model_max_length=512,
        pair_format="[CLS] q [SEP] d [SEP], token types 0 0 0 1 1",
        chat_template=None,
        logit_tokens=None,
        type_vocab_size=2,
        backends=_ALL_BACKENDS,
        initializer_range=0.2,
    ),
    Family(
        name="electra",
        architecture="ElectraForSequenceClassification",
        imitates=("cross-encoder/ms-marco-electra-base",),
        tokenizer_kind="wordpiece",
        tokenizer_class="BertTokenizer",
        causal=False,
        max_position_embeddings=512,
        usable_positions=512,
        model_max_length=512,
        pair_format="[CLS] q [SEP] d [SEP], token types 0 0 0 1 1",
        chat_template=None,
        logit_tokens=None,
        type_vocab_size=2,
        backends=_ALL_BACKENDS,
        initializer_range=0.2,
        notes="embedding_size 32 < hidden_size 64, so the embeddings go through ELECTRA's projection.",
    ),
    Family(
        name="xlm-roberta-8k",
        architecture="XLMRobertaForSequenceClassification",
        imitates=("BAAI/bge-reranker-v2-m3",),
        tokenizer_kind="unigram",
        tokenizer_class="XLMRobertaTokenizer",
        causal=False,
        max_position_embeddings=8194,
        usable_positions=8192,
        model_max_length=8192,
        pair_format="<s> q </s></s> d </s>",
        chat_template=None,
        logit_tokens=None,
        type_vocab_size=1,
        backends=_ALL_BACKENDS,
        initializer_range=0.2,
    ),
    Family(
        name="xlm-roberta-8k-no-max-length",
        architecture="XLMRobertaForSequenceClassification",
        imitates=("BAAI/bge-reranker-v2-m3",),
        tokenizer_kind="unigram",
        tokenizer_class="XLMRobertaTokenizer",
        causal=False,
        max_position_embeddings=8194,
        usable_positions=8192,
        model_max_length=None,
        pair_format="<s> q </s></s> d </s>",
        chat_template=None,
        logit_tokens=None,
        type_vocab_size=1,
        backends=_ALL_BACKENDS,
        initializer_range=0.2,
        notes=(
            "tokenizer_config.json has no model_max_length, so Sentence Transformers caps the limit at "
            "max_position_embeddings = 8194, two more tokens than the 8192 positions RoBERTa can use."
        ),
    ),
    Family(
        name="modernbert-8k",
        architecture="ModernBertForSequenceClassification",
        imitates=("Alibaba-NLP/gte-reranker-modernbert-base", "jhu-clsp/ettin-encoder rerankers"),
        tokenizer_kind="byte-level-bpe",
        tokenizer_class="PreTrainedTokenizerFast",
        causal=False,
        max_position_embeddings=8192,
        usable_positions=8192,
        model_max_length=8192,
        pair_format="[CLS] q [SEP] d [SEP], no token types",
        chat_template=None,
        logit_tokens=None,
        type_vocab_size=None,
        backends=_ALL_BACKENDS,
        initializer_range=0.2,
        notes="Rotary positions, alternating global and 128-token local attention; sdpa on CPU.",
    ),
    Family(
        name="deberta-v3",
        architecture="DebertaV2ForSequenceClassification",
        imitates=("mixedbread-ai/mxbai-rerank-base-v1",),
        tokenizer_kind="unigram",
        tokenizer_class="DebertaV2Tokenizer",
        causal=False,
        max_position_embeddings=512,
        usable_positions=512,
        model_max_length=512,
        pair_format="[CLS] q [SEP] d [SEP], token types 0 0 0 1 1 (ignored: type_vocab_size 0)",
        chat_template=None,
        logit_tokens=None,
        type_vocab_size=0,
        backends=_ALL_BACKENDS,
        initializer_range=0.2,
        notes="Relative attention (position_buckets 256), no absolute position embeddings.",
    ),
    Family(
        name="qwen3-reranker",
        architecture="Qwen3ForCausalLM",
        imitates=("Qwen/Qwen3-Reranker-0.6B",),
        tokenizer_kind="byte-level-bpe",
        tokenizer_class="Qwen2Tokenizer",
        causal=True,
        max_position_embeddings=40960,
        usable_positions=40960,
        model_max_length=131072,
        pair_format="chat template (QWEN3_RERANKER_TEMPLATE), score = logit('yes') - logit('no'), last token",
        chat_template=QWEN3_RERANKER_TEMPLATE,
        logit_tokens=("yes", "no"),
        type_vocab_size=None,
        backends=_CAUSAL_BACKENDS,
        initializer_range=0.2,
        notes="tie_word_embeddings as Qwen3-0.6B; the prompt (system message) is the <Instruct> line.",
    ),
    Family(
        name="causal-single-logit",
        architecture="Qwen3ForCausalLM",
        imitates=("zeroentropy/zerank-2", "zeroentropy/zerank-1-small"),
        tokenizer_kind="byte-level-bpe",
        tokenizer_class="Qwen2Tokenizer",
        causal=True,
        max_position_embeddings=40960,
        usable_positions=40960,
        model_max_length=131072,
        pair_format="chat template (ZERANK_TEMPLATE, add_generation_prompt), score = logit('Yes')",
        chat_template=ZERANK_TEMPLATE,
        logit_tokens=("Yes", None),
        type_vocab_size=None,
        backends=_CAUSAL_BACKENDS,
        initializer_range=0.2,
        processing_kwargs={"chat_template": {"add_generation_prompt": True}},
        notes="The assistant header comes from add_generation_prompt, saved in processing_kwargs.",
    ),
    Family(
        name="qwen3-seq-cls-template",
        architecture="Qwen3ForSequenceClassification",
        imitates=("tomaarsen/Qwen3-Reranker-0.6B-seq-cls",),
        tokenizer_kind="byte-level-bpe",
        tokenizer_class="Qwen2Tokenizer",
        causal=False,
        max_position_embeddings=40960,
        usable_positions=40960,
        model_max_length=131072,
        pair_format="chat template (QWEN3_RERANKER_TEMPLATE), score head on the last non-pad token",
        chat_template=QWEN3_RERANKER_TEMPLATE,
        logit_tokens=None,
        type_vocab_size=None,
        backends=_ALL_BACKENDS,
        initializer_range=0.2,
        notes="Sentence Transformers renders the chat template for it too; padding stays on the right.",
    ),
)

FAMILIES: dict[str, Family] = {family.name: family for family in _FAMILY_LIST}
"""Every zoo family by name, in build order."""


# ---------------------------------------------------------------------------------------------
# Tokenizers, trained on the corpus with the pipeline the transformers class rebuilds on load
# (transformers 5 rebuilds the normalizer and pre-tokenizer of BertTokenizer, XLMRobertaTokenizer,
# DebertaV2Tokenizer and Qwen2Tokenizer from the class, keeping only the vocabulary, merges and
# post-processor of tokenizer.json), so training and loading split text the same way.
#
# Determinism: the tokenizers library's WordPiece and Unigram trainers are not reproducible from run
# to run (WordPiece numbers its "##" pieces in hash-map order, which breaks ties between equally
# frequent merges differently; Unigram's EM sums floats in hash-map order), while its BPE trainer is.
# So the WordPiece and Unigram vocabularies are learned with the BPE trainer on Metaspace-marked
# words ("▁word") and then written as a WordPiece vocabulary ("▁ab" -> "ab", "cd" -> "##cd") or as
# Unigram pieces with log-frequency scores. The byte-level BPE families use the BPE trainer as is.
# ---------------------------------------------------------------------------------------------
def _learn_pieces(vocab_size: int, normalizer: Any, pre_tokenizer: Any) -> tuple[list[str], list[str]]:
    """Subword pieces learned by the BPE trainer on Metaspace-marked words, and those words.

    Returns the pieces in the order the trainer numbered them (alphabet first, then merges) and
    the training words as the pre-tokenizer produced them (each starting with "▁").
    """
    from tokenizers import Tokenizer, pre_tokenizers
    from tokenizers.models import BPE
    from tokenizers.trainers import BpeTrainer

    marked = pre_tokenizers.Sequence(
        [pre_tokenizer, pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")]
    )
    backend = Tokenizer(BPE())
    if normalizer is not None:
        backend.normalizer = normalizer
    backend.pre_tokenizer = marked
    backend.train_from_iterator(training_text(), BpeTrainer(vocab_size=vocab_size, show_progress=False))
    vocab = backend.get_vocab()
    pieces = sorted(vocab, key=vocab.__getitem__)
    words = []
    for line in training_text():
        text = normalizer.normalize_str(line) if normalizer is not None else line
        words.extend(word for word, _ in marked.pre_tokenize_str(text))
    return pieces, words


def _train_wordpiece(model_max_length: int | None) -> PreTrainedTokenizerBase:
    from tokenizers import normalizers, pre_tokenizers
    from transformers import BertTokenizer

    # BertTokenizer(do_lower_case=True) rebuilds exactly this normalizer and pre-tokenizer.
    pieces, _ = _learn_pieces(
        VOCAB_SIZE - 200, normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    )
    vocab: dict[str, int] = {}
    for token in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]:
        vocab[token] = len(vocab)
    alphabet = [piece for piece in pieces if len(piece) == 1 and piece != "▁"]
    for piece in [*alphabet, *pieces]:
        wordpiece = piece[1:] if piece.startswith("▁") else "##" + piece
        if wordpiece not in ("", "##"):
            vocab.setdefault(wordpiece, len(vocab))
    for char in alphabet:  # every character can also start a word
        vocab.setdefault(char, len(vocab))
    return BertTokenizer(vocab=vocab, do_lower_case=True, **_max_length_kwargs(model_max_length))


def _unigram_vocab(
    specials: list[str], vocab_size: int, normalizer: Any, pre_tokenizer: Any
) -> list[tuple[str, float]]:
    """Unigram pieces: specials (score 0.0), then the learned pieces scored by log relative frequency.

    A piece's frequency is how often it occurs inside the training words (overlaps counted), so
    longer pieces that the corpus repeats outscore the characters they are made of, as in a
    trained SentencePiece model.
    """
    pieces, words = _learn_pieces(vocab_size, normalizer, pre_tokenizer)
    word_counts: dict[str, int] = {}
    for word in words:
        word_counts[word] = word_counts.get(word, 0) + 1
    counts = dict.fromkeys(pieces, 0)
    for word, count in word_counts.items():
        for start in range(len(word)):
            for end in range(start + 1, len(word) + 1):
                if word[start:end] in counts:
                    counts[word[start:end]] += count
    total = sum(counts.values())
    scored = sorted(
        ((piece, round(math.log(counts[piece] / total), 6)) for piece in pieces if counts[piece] > 0),
        key=lambda item: (-item[1], item[0]),
    )
    return [(token, 0.0) for token in specials] + scored


def _train_xlm_roberta(model_max_length: int | None) -> PreTrainedTokenizerBase:
    from tokenizers import pre_tokenizers
    from transformers import XLMRobertaTokenizer

    # XLMRobertaTokenizer rebuilds a Unigram model with unk_id 3 (<s> <pad> </s> <unk> first, as
    # XLM-R), no normalizer and WhitespaceSplit + Metaspace(prepend always).
    vocab = _unigram_vocab(
        ["<s>", "<pad>", "</s>", "<unk>", "<mask>"], VOCAB_SIZE - 200, None, pre_tokenizers.WhitespaceSplit()
    )
    return XLMRobertaTokenizer(vocab=vocab, **_max_length_kwargs(model_max_length))


def _train_deberta_v3(model_max_length: int | None) -> PreTrainedTokenizerBase:
    from tokenizers import Regex, normalizers, pre_tokenizers
    from transformers import DebertaV2Tokenizer

    # DeBERTa-v3's order: [PAD] 0, [CLS] 1, [SEP] 2, [UNK] 3; the normalizer is the one the class builds.
    normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(r"\s{2,}|[\n\r\t]"), " "),
            normalizers.NFC(),
            normalizers.Strip(left=False, right=True),
        ]
    )
    vocab = _unigram_vocab(
        ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"],
        VOCAB_SIZE - 200,
        normalizer,
        pre_tokenizers.WhitespaceSplit(),
    )
    return DebertaV2Tokenizer(vocab=vocab, do_lower_case=False, **_max_length_kwargs(model_max_length))


def _train_modernbert(model_max_length: int | None) -> PreTrainedTokenizerBase:
    from tokenizers import Tokenizer, decoders, pre_tokenizers, processors
    from tokenizers.models import BPE
    from tokenizers.trainers import BpeTrainer
    from transformers import PreTrainedTokenizerFast

    specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
    backend = Tokenizer(BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(training_text(), trainer)
    cls_id, sep_id = backend.token_to_id("[CLS]"), backend.token_to_id("[SEP]")
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0",
        pair="[CLS]:0 $A:0 [SEP]:0 $B:0 [SEP]:0",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        mask_token="[MASK]",
        model_input_names=["input_ids", "attention_mask"],
        clean_up_tokenization_spaces=False,
        **_max_length_kwargs(model_max_length),
    )


def _train_qwen(model_max_length: int | None, chat_template: str | None) -> PreTrainedTokenizerBase:
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import BPE
    from tokenizers.trainers import BpeTrainer
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    backend = Tokenizer(BPE())
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(training_text(), trainer)
    model = json.loads(backend.to_str())["model"]
    merges = [
        tuple(merge.split(" ")) if isinstance(merge, str) else tuple(merge) for merge in model["merges"]
    ]
    kwargs: dict[str, Any] = {}
    if chat_template is not None:
        kwargs["chat_template"] = chat_template
    # Qwen3's special tokens: <|endoftext|> pads, <|im_end|> ends a turn; no BOS, no unk.
    tokenizer = Qwen2Tokenizer(
        vocab=model["vocab"],
        merges=merges,
        unk_token=None,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=["<|im_start|>"],
        errors="replace",
        **kwargs,
        **_max_length_kwargs(model_max_length),
    )
    return tokenizer


def _max_length_kwargs(model_max_length: int | None) -> dict[str, int]:
    return {} if model_max_length is None else {"model_max_length": model_max_length}


def _tokenizer(family: Family) -> PreTrainedTokenizerBase:
    if family.tokenizer_kind == "wordpiece":
        return _train_wordpiece(family.model_max_length)
    if family.name.startswith("xlm-roberta"):
        return _train_xlm_roberta(family.model_max_length)
    if family.name == "deberta-v3":
        return _train_deberta_v3(family.model_max_length)
    if family.name == "modernbert-8k":
        return _train_modernbert(family.model_max_length)
    return _train_qwen(family.model_max_length, family.chat_template)


# ---------------------------------------------------------------------------------------------
# Configs and models.
# ---------------------------------------------------------------------------------------------
def _config(family: Family, tokenizer: PreTrainedTokenizerBase) -> PretrainedConfig:
    import transformers

    vocab_size = len(tokenizer)
    common: dict[str, Any] = {
        "vocab_size": vocab_size,
        "hidden_size": HIDDEN_SIZE,
        "num_hidden_layers": NUM_LAYERS,
        "intermediate_size": INTERMEDIATE_SIZE,
        "max_position_embeddings": family.max_position_embeddings,
        "initializer_range": family.initializer_range,
        "architectures": [family.architecture],
    }
    seq_cls: dict[str, Any] = {
        "num_labels": 1,
        "id2label": {0: "LABEL_0"},
        "label2id": {"LABEL_0": 0},
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
    }
    pad_id = tokenizer.pad_token_id
    if family.name == "bert":
        return transformers.BertConfig(
            **common, **seq_cls, num_attention_heads=4, type_vocab_size=2, pad_token_id=pad_id
        )
    if family.name == "electra":
        return transformers.ElectraConfig(
            **common,
            **seq_cls,
            embedding_size=32,
            num_attention_heads=4,
            type_vocab_size=2,
            pad_token_id=pad_id,
        )
    if family.name.startswith("xlm-roberta"):
        # RoBERTa numbers positions from pad_token_id + 1, so pad must be 1 for 8194 - 2 = 8192.
        assert pad_id == 1, pad_id
        return transformers.XLMRobertaConfig(
            **common,
            **seq_cls,
            num_attention_heads=4,
            type_vocab_size=1,
            pad_token_id=pad_id,
            bos_token_id=tokenizer.cls_token_id,
            eos_token_id=tokenizer.sep_token_id,
        )
    if family.name == "modernbert-8k":
        return transformers.ModernBertConfig(
            vocab_size=vocab_size,
            hidden_size=HIDDEN_SIZE,
            num_hidden_layers=NUM_LAYERS,
            intermediate_size=INTERMEDIATE_SIZE,
            num_attention_heads=4,
            max_position_embeddings=family.max_position_embeddings,
            initializer_range=family.initializer_range,
            architectures=[family.architecture],
            num_labels=1,
            id2label={0: "LABEL_0"},
            label2id={"LABEL_0": 0},
            pad_token_id=pad_id,
            bos_token_id=tokenizer.cls_token_id,
            cls_token_id=tokenizer.cls_token_id,
            eos_token_id=tokenizer.sep_token_id,
            sep_token_id=tokenizer.sep_token_id,
            classifier_pooling="mean",
        )
    if family.name == "deberta-v3":
        return transformers.DebertaV2Config(
            **common,
            **seq_cls,
            num_attention_heads=4,
            type_vocab_size=0,
            relative_attention=True,
            position_buckets=256,
            max_relative_positions=-1,
            norm_rel_ebd="layer_norm",
            share_att_key=True,
            pos_att_type=["p2c", "c2p"],
            position_biased_input=False,
            pad_token_id=pad_id,
        )
    # The Qwen3 families: Qwen3-0.6B's shape at toy size (GQA 4 query heads over 2 KV heads, tied embeddings).
    qwen: dict[str, Any] = {
        "vocab_size": vocab_size,
        "hidden_size": HIDDEN_SIZE,
        "num_hidden_layers": NUM_LAYERS,
        "intermediate_size": INTERMEDIATE_SIZE,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "max_position_embeddings": family.max_position_embeddings,
        "initializer_range": family.initializer_range,
        "architectures": [family.architecture],
        "tie_word_embeddings": True,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1_000_000.0},
        "eos_token_id": tokenizer.convert_tokens_to_ids("<|im_end|>"),
        "bos_token_id": tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        "pad_token_id": pad_id,
    }
    if family.causal:
        return transformers.Qwen3Config(**qwen)
    return transformers.Qwen3Config(**qwen, num_labels=1, id2label={0: "LABEL_0"}, label2id={"LABEL_0": 0})


def _model(family: Family, config: PretrainedConfig) -> PreTrainedModel:
    import torch
    import transformers

    model_class = getattr(transformers, family.architecture)
    torch.manual_seed(SEED)
    model: PreTrainedModel = model_class(config)
    model.eval()
    return model


# ---------------------------------------------------------------------------------------------
# Building.
# ---------------------------------------------------------------------------------------------
def build_family(name: str, root: Path) -> Path:
    """Build the family ``name`` into ``root / name`` and return that directory.

    The directory is a complete Sentence Transformers CrossEncoder: config.json and safetensors
    weights, the trained tokenizer (tokenizer.json, tokenizer_config.json, chat_template.jinja
    where the family has one), modules.json, sentence_bert_config.json and
    config_sentence_transformers.json (plus 1_LogitScore/ for the causal families).
    """
    from sentence_transformers import CrossEncoder
    from sentence_transformers.cross_encoder.modules import LogitScore, Transformer

    family = FAMILIES[name]
    path = Path(root) / name
    path.mkdir(parents=True, exist_ok=True)

    tokenizer = _tokenizer(family)
    _check_tokenizer(family, tokenizer)
    model = _model(family, _config(family, tokenizer))
    model.save_pretrained(path)
    _save_tokenizer(family, tokenizer, path)

    # Let Sentence Transformers assemble the modules as it would for the hub model, then save them.
    local = str(path)
    if family.causal and family.logit_tokens != ("yes", "no"):
        # Not what CrossEncoder assembles by default (LogitScore on "yes"/"no"): build the modules.
        assert family.logit_tokens is not None
        transformer = Transformer(
            local,
            transformer_task="text-generation",
            processing_kwargs=family.processing_kwargs,
            processor_kwargs={"local_files_only": True},
            model_kwargs={"local_files_only": True},
        )
        true_token, false_token = family.logit_tokens
        tokenizer_of = transformer.tokenizer
        logit_score = LogitScore(
            true_token_id=tokenizer_of.convert_tokens_to_ids(true_token),
            false_token_id=None if false_token is None else tokenizer_of.convert_tokens_to_ids(false_token),
        )
        cross_encoder = CrossEncoder(modules=[transformer, logit_score], device="cpu")
    else:
        assert family.processing_kwargs is None, "only the hand-built causal modules take processing_kwargs"
        cross_encoder = CrossEncoder(local, device="cpu", local_files_only=True)
    cross_encoder.save(local, create_model_card=False)

    # Sentence Transformers saved the tokenizer as it holds it: model_max_length capped at
    # max_position_embeddings, padding_side forced left for the causal LMs. Write back the
    # tokenizer files the hub model ships instead.
    for stale in (
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "chat_template.jinja",
    ):
        (path / stale).unlink(missing_ok=True)
    _save_tokenizer(family, tokenizer, path)
    return path


def _save_tokenizer(family: Family, tokenizer: PreTrainedTokenizerBase, path: Path) -> None:
    """Save the tokenizer files as the imitated hub model has them."""
    tokenizer.save_pretrained(path)
    config_file = path / "tokenizer_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    # transformers 5 writes its own class name (TokenizersBackend for a generic fast tokenizer).
    config["tokenizer_class"] = family.tokenizer_class
    if family.model_max_length is None:
        config.pop("model_max_length", None)
    config_file.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def build_zoo(root: Path, names: Iterable[str] | None = None) -> dict[str, Path]:
    """Build every family (or those in ``names``) under ``root``; returns name -> model directory."""
    import transformers

    selected = list(FAMILIES) if names is None else list(names)
    verbosity = transformers.logging.get_verbosity()
    progress_bars = transformers.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    try:
        return {name: build_family(name, root) for name in selected}
    finally:
        transformers.logging.set_verbosity(verbosity)
        if progress_bars:
            transformers.logging.enable_progress_bar()


def _check_tokenizer(family: Family, tokenizer: PreTrainedTokenizerBase) -> None:
    size = len(tokenizer)
    if not 500 <= size <= 2500:
        raise AssertionError(f"{family.name}: vocabulary of {size} tokens, expected ~1000-2000")
    if family.logit_tokens is not None:
        for token in family.logit_tokens:
            if token is None:
                continue
            token_id = tokenizer.convert_tokens_to_ids(token)
            if token_id is None or tokenizer.convert_ids_to_tokens(token_id) != token:
                raise AssertionError(f"{family.name}: {token!r} is not a single token of the vocabulary")


# ---------------------------------------------------------------------------------------------
# Reading a saved model back.
# ---------------------------------------------------------------------------------------------
def describe(path: Path | str) -> dict[str, Any]:
    """The facts about a saved CrossEncoder directory that decide how a pair becomes input ids.

    Read from the files alone (no model is loaded): the Sentence Transformers modules, the
    Transformer's ``transformer_task`` and ``processing_kwargs``, the ``LogitScore`` token ids,
    whether a chat template is present, the tokenizer's ``model_max_length`` (None when
    tokenizer_config.json has none), its class and padding side, and from config.json
    ``model_type``, ``architectures``, ``max_position_embeddings``, ``type_vocab_size`` and
    ``pad_token_id``. The prompts of config_sentence_transformers.json come along too.
    """
    path = Path(path)

    def read(name: str) -> dict[str, Any] | list[Any]:
        file = path / name
        return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else {}

    config = read("config.json")
    tokenizer_config = read("tokenizer_config.json")
    st_config = read("config_sentence_transformers.json")
    modules = read("modules.json")
    assert isinstance(config, dict)
    assert isinstance(tokenizer_config, dict)
    assert isinstance(st_config, dict)
    assert isinstance(modules, list)

    module_types = [module["type"] for module in modules]
    transformer_config: dict[str, Any] = {}
    logit_score: dict[str, Any] | None = None
    for module in modules:
        short = module["type"].rsplit(".", 1)[-1]
        if short == "Transformer":
            loaded = read(str(Path(module["path"]) / "sentence_bert_config.json"))
            assert isinstance(loaded, dict)
            transformer_config = loaded
        elif short == "LogitScore":
            loaded = read(str(Path(module["path"]) / "config.json"))
            assert isinstance(loaded, dict)
            logit_score = {
                "true_token_id": loaded.get("true_token_id"),
                "false_token_id": loaded.get("false_token_id"),
            }

    chat_template = None
    if (path / "chat_template.jinja").is_file():
        chat_template = (path / "chat_template.jinja").read_text(encoding="utf-8")
    elif isinstance(tokenizer_config.get("chat_template"), str):
        chat_template = tokenizer_config["chat_template"]

    architectures = config.get("architectures") or []
    return {
        "modules": module_types,
        "module_names": [module_type.rsplit(".", 1)[-1] for module_type in module_types],
        "transformer_task": transformer_config.get("transformer_task"),
        "processing_kwargs": transformer_config.get("processing_kwargs") or {},
        "logit_score": logit_score,
        "has_chat_template": chat_template is not None,
        "chat_template": chat_template,
        "tokenizer_class": tokenizer_config.get("tokenizer_class"),
        "model_max_length": tokenizer_config.get("model_max_length"),
        "padding_side": tokenizer_config.get("padding_side"),
        "model_type": config.get("model_type"),
        "architectures": architectures,
        "causal_lm": any(arch.endswith("ForCausalLM") for arch in architectures),
        "max_position_embeddings": config.get("max_position_embeddings"),
        "type_vocab_size": config.get("type_vocab_size"),
        "pad_token_id": config.get("pad_token_id"),
        "num_labels": len(config.get("id2label") or {}) or None,
        "prompts": st_config.get("prompts") or {},
        "default_prompt_name": st_config.get("default_prompt_name"),
        "activation_fn": st_config.get("activation_fn"),
    }


def _main(argv: list[str] | None = None) -> None:  # pragma: no cover - a manual helper
    """Build the zoo into a directory given on the command line and print what each model is."""
    import sys
    import time

    from sentence_transformers import CrossEncoder

    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0] if args else "zoo")
    started = time.perf_counter()
    paths = build_zoo(root, args[1:] or None)
    print(f"built {len(paths)} models in {time.perf_counter() - started:.1f} s")
    pairs = [
        ("how long do lentils cook", "Lentils cook through in about twenty-five minutes."),
        ("why is the sky blue", "Cats sleep for around fifteen hours a day on average."),
    ]
    for name, path in paths.items():
        facts = describe(path)
        facts.pop("chat_template")
        scores = CrossEncoder(str(path), device="cpu").predict(pairs).tolist()
        print(name, json.dumps(facts), scores, f"spread {max(scores) - min(scores):.4f}")


if __name__ == "__main__":  # pragma: no cover
    _main()
