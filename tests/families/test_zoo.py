"""The model-family zoo: every family builds, loads in Sentence Transformers and scores as its hub model.

The zoo (tests/model_zoo.py) is what crossrank's family tests run on; these tests pin what each
family is, so a test that uses one can rely on it: the saved files, the tokenizer kind and pair
layout, the Sentence Transformers modules (LogitScore for the causal LMs), left padding, chat
templates that carry the query and the document, the positions of the 8k models, and scores that
are finite, differ from pair to pair and do not depend on the batch a pair is scored in.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from model_zoo import DEFAULT_INSTRUCTION, FAMILIES, Family, build_family, describe
from sentence_transformers import CrossEncoder
from sentence_transformers.cross_encoder.modules import LogitScore, Transformer
from tokenizers import Tokenizer
from transformers import AutoTokenizer

CAUSAL = [name for name, family in FAMILIES.items() if family.causal]
CHAT = [name for name, family in FAMILIES.items() if family.chat_template is not None]
PLAIN = [name for name, family in FAMILIES.items() if family.chat_template is None]

# Pairs of different lengths (one long document, one long query), so a batch of them is padded.
PAIRS = [
    (
        "how long do lentils cook",
        "Lentils do not need soaking and cook through in about twenty-five minutes.",
    ),
    ("why is the sky blue", "Cats sleep for around fifteen hours a day on average."),
    (
        "what does dna carry",
        " ".join(["DNA carries genetic information in sequences of four chemical bases."] * 6),
    ),
    ("sleep", "Adults generally need between seven and nine hours of sleep each night."),
    (
        "which renewable sources make electricity on open plains, hills and windy coastlines",
        "Solar panels.",
    ),
]

IDENTITY = torch.nn.Identity()


def raw_scores(model: CrossEncoder, pairs: list[tuple[str, str]], **kwargs: object) -> np.ndarray:
    """The model's scores before its activation (logits, or the LogitScore difference)."""
    return np.asarray(model.predict(pairs, activation_fn=IDENTITY, **kwargs))


def test_the_catalogue_names_every_family_of_the_brief() -> None:
    from crossrank.models.backends import BACKENDS

    assert list(FAMILIES) == [
        "bert",
        "electra",
        "xlm-roberta-8k",
        "xlm-roberta-8k-no-max-length",
        "modernbert-8k",
        "deberta-v3",
        "qwen3-reranker",
        "causal-single-logit",
        "qwen3-seq-cls-template",
    ]
    for family in FAMILIES.values():
        assert family.imitates
        assert set(family.backends) <= set(BACKENDS)
        assert (family.logit_tokens is not None) == family.causal
        assert family.architecture.endswith("ForCausalLM" if family.causal else "ForSequenceClassification")
        assert family.usable_positions <= family.max_position_embeddings
    # A causal LM exports its LogitScore graph, but OpenVINO's static int8 refuses it.
    for name in CAUSAL:
        assert set(FAMILIES[name].backends) == set(BACKENDS) - {"auto", "openvino-int8"}


def test_each_family_is_saved_as_a_cross_encoder_directory(family: Family, family_path: Path) -> None:
    expected = {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "modules.json",
        "sentence_bert_config.json",
        "config_sentence_transformers.json",
    }
    names = {path.name for path in family_path.iterdir()}
    assert expected <= names
    assert ("chat_template.jinja" in names) == (family.chat_template is not None)
    assert (family_path / "1_LogitScore" / "config.json").is_file() == family.causal
    config = json.loads((family_path / "config.json").read_text(encoding="utf-8"))
    assert config["architectures"] == [family.architecture]
    assert config["hidden_size"] == 64
    assert config["num_hidden_layers"] == 2


def test_each_family_scores_pairs_finitely_and_distinctly(family_model: CrossEncoder) -> None:
    scores = raw_scores(family_model, PAIRS)
    assert scores.shape == (len(PAIRS),)
    assert np.isfinite(scores).all()
    gaps = np.diff(np.sort(scores))
    assert gaps.min() > 1e-3, scores
    probabilities = family_model.predict(PAIRS)  # the saved activation: a sigmoid
    assert ((probabilities > 0) & (probabilities < 1)).all()


def test_a_pair_alone_scores_as_it_does_in_a_mixed_length_batch(family_model: CrossEncoder) -> None:
    alone = np.array([raw_scores(family_model, [pair])[0] for pair in PAIRS])
    np.testing.assert_allclose(
        raw_scores(family_model, PAIRS, batch_size=len(PAIRS)), alone, rtol=0, atol=1e-5
    )
    np.testing.assert_allclose(raw_scores(family_model, PAIRS, batch_size=2), alone, rtol=0, atol=1e-5)


def test_describe_reads_the_facts_of_each_family(family: Family, family_path: Path) -> None:
    facts = describe(family_path)
    tokenizer = AutoTokenizer.from_pretrained(family_path)

    assert facts["architectures"] == [family.architecture]
    assert facts["causal_lm"] == family.causal
    assert facts["transformer_task"] == ("text-generation" if family.causal else "sequence-classification")
    assert facts["module_names"] == (["Transformer", "LogitScore"] if family.causal else ["Transformer"])
    assert facts["max_position_embeddings"] == family.max_position_embeddings
    assert facts["model_max_length"] == family.model_max_length
    assert facts["type_vocab_size"] == family.type_vocab_size
    assert facts["tokenizer_class"] == family.tokenizer_class
    assert facts["has_chat_template"] == (family.chat_template is not None)
    assert facts["chat_template"] == family.chat_template
    assert facts["processing_kwargs"] == (family.processing_kwargs or {})
    assert facts["pad_token_id"] == tokenizer.pad_token_id
    assert facts["activation_fn"] == "torch.nn.modules.activation.Sigmoid"
    if family.logit_tokens is None:
        assert facts["logit_score"] is None
        assert facts["num_labels"] == 1
    else:
        true_token, false_token = family.logit_tokens
        assert facts["logit_score"] == {
            "true_token_id": tokenizer.convert_tokens_to_ids(true_token),
            "false_token_id": None if false_token is None else tokenizer.convert_tokens_to_ids(false_token),
        }


def test_each_tokenizer_is_of_its_kind_and_loads_as_it_was_trained(family: Family, family_path: Path) -> None:
    saved = json.loads((family_path / "tokenizer.json").read_text(encoding="utf-8"))
    model_type = {"wordpiece": "WordPiece", "unigram": "Unigram", "byte-level-bpe": "BPE"}
    assert saved["model"]["type"] == model_type[family.tokenizer_kind]
    pre_tokenizer = json.dumps(saved["pre_tokenizer"])
    if family.tokenizer_kind == "unigram":
        assert '"Metaspace"' in pre_tokenizer
    if family.tokenizer_kind == "byte-level-bpe":
        assert '"ByteLevel"' in pre_tokenizer

    tokenizer = AutoTokenizer.from_pretrained(family_path)
    assert 1000 <= len(tokenizer) <= 2000
    # transformers rebuilds the tokenizer from its class; it must split text as tokenizer.json does.
    backend = Tokenizer.from_file(str(family_path / "tokenizer.json"))
    for query, document in PAIRS:
        assert tokenizer(query, document)["input_ids"] == backend.encode(query, document).ids
    for text in ("Caramelising onions slowly, yes! 42 km; naïve Ångström", "  two  spaces\tand a tab"):
        assert tokenizer(text)["input_ids"] == backend.encode(text).ids
    unknown = tokenizer.unk_token_id
    assert unknown is None or unknown not in tokenizer(PAIRS[0][1])["input_ids"]


# Where each plain family puts its special tokens around a pair: (before q, between q and d, after d).
PAIR_SPECIALS = {
    "wordpiece": (["[CLS]"], ["[SEP]"], ["[SEP]"]),
    "unigram-xlm": (["<s>"], ["</s>", "</s>"], ["</s>"]),
    "unigram-deberta": (["[CLS]"], ["[SEP]"], ["[SEP]"]),
    "byte-level-bpe": (["[CLS]"], ["[SEP]"], ["[SEP]"]),
}


@pytest.mark.parametrize("family", PLAIN, indirect=True)
def test_plain_families_tokenize_a_pair_with_their_pair_template(
    family: Family, family_model: CrossEncoder
) -> None:
    transformer = family_model[0]
    tokenizer = transformer.tokenizer
    assert "message" not in transformer.modality_config
    query, document = PAIRS[0]
    features = transformer.preprocess([(query, document)])
    assert features["modality"] == "text"

    kind = family.tokenizer_kind
    if kind == "unigram":
        kind += "-xlm" if family.name.startswith("xlm") else "-deberta"
    before, between, after = PAIR_SPECIALS[kind]
    query_tokens = tokenizer.tokenize(query)
    document_tokens = tokenizer.tokenize(document)
    expected = [*before, *query_tokens, *between, *document_tokens, *after]
    assert tokenizer.convert_ids_to_tokens(features["input_ids"][0].tolist()) == expected
    if family.type_vocab_size == 2:
        first = len(before) + len(query_tokens) + len(between)
        assert features["token_type_ids"][0].tolist() == [0] * first + [1] * (len(expected) - first)
    if family.tokenizer_kind == "byte-level-bpe" or kind == "unigram-xlm":
        assert "token_type_ids" not in features


@pytest.mark.parametrize("family", CAUSAL, indirect=True)
def test_causal_families_pad_left_and_score_through_logit_score(
    family: Family, family_path: Path, family_model: CrossEncoder
) -> None:
    transformer, logit_score = list(family_model)
    assert isinstance(transformer, Transformer)
    assert isinstance(logit_score, LogitScore)
    assert transformer.transformer_task == "text-generation"
    tokenizer = transformer.tokenizer
    # The files do not ask for left padding; Sentence Transformers sets it when it loads a causal LM.
    assert describe(family_path)["padding_side"] != "left"
    assert tokenizer.padding_side == "left" == family.padding_side

    assert family.logit_tokens is not None
    true_token, false_token = family.logit_tokens
    assert tokenizer.convert_ids_to_tokens(logit_score.true_token_id) == true_token
    if false_token is None:
        assert logit_score.false_token_id is None
    else:
        assert tokenizer.convert_ids_to_tokens(logit_score.false_token_id) == false_token

    features = transformer.preprocess(PAIRS)
    mask = features["attention_mask"]
    assert mask[:, -1].all()  # left padded: every row ends on a real token
    assert not mask[:, 0].all()
    assert features["logits_to_keep"] == 1

    # The score is the true token's logit (minus the false token's) at the last position.
    with torch.inference_mode():
        logits = transformer.auto_model(input_ids=features["input_ids"], attention_mask=mask).logits[:, -1]
    expected = logits[:, logit_score.true_token_id]
    if logit_score.false_token_id is not None:
        expected = expected - logits[:, logit_score.false_token_id]
    np.testing.assert_allclose(
        raw_scores(family_model, PAIRS, batch_size=len(PAIRS)), expected.numpy(), atol=1e-5
    )


@pytest.mark.parametrize("family", CHAT, indirect=True)
def test_chat_template_families_render_the_query_and_the_document(
    family: Family, family_model: CrossEncoder
) -> None:
    transformer = family_model[0]
    assert "message" in transformer.modality_config
    assert transformer.input_formatter.message_format == "flat"
    tokenizer = transformer.tokenizer
    query, document = PAIRS[0]

    features = transformer.preprocess([(query, document)])
    assert features["modality"] == "message"
    text = tokenizer.decode(features["input_ids"][0])
    assert query in text
    assert document in text
    assert text.index(query) < text.index(document)
    messages = [{"role": "query", "content": query}, {"role": "document", "content": document}]
    template_kwargs = (family.processing_kwargs or {}).get("chat_template", {})
    assert text == tokenizer.apply_chat_template(messages, tokenize=False, **template_kwargs)

    if family.chat_template is not None and "<Instruct>" in family.chat_template:
        assert (
            f"<Instruct>: {DEFAULT_INSTRUCTION}\n<Query>: {query}\n<Document>: {document}<|im_end|>" in text
        )
        assert text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
        # A prompt reaches the template as a system message: it replaces the default instruction.
        prompted = tokenizer.decode(
            transformer.preprocess([(query, document)], prompt="Find cooking facts")["input_ids"][0]
        )
        assert "<Instruct>: Find cooking facts\n" in prompted
        assert DEFAULT_INSTRUCTION not in prompted
        assert not np.allclose(
            raw_scores(family_model, PAIRS, prompt="Find cooking facts"), raw_scores(family_model, PAIRS)
        )
    else:
        assert text == (
            f"<|im_start|>system\n{query}<|im_end|>\n<|im_start|>user\n{document}<|im_end|>\n"
            "<|im_start|>assistant\n"
        )


@pytest.mark.parametrize("family", CHAT, indirect=True)
def test_truncating_a_chat_template_render_keeps_its_suffix(family: Family, family_path: Path) -> None:
    # Sentence Transformers truncates the rendered text on the right, then writes the template's
    # fixed tail (the assistant turn) back over the last tokens of every truncated row.
    short = CrossEncoder(str(family_path), device="cpu", local_files_only=True, max_length=160)
    tokenizer = short[0].tokenizer
    long_document = " ".join(["Resting a roast lets the juices settle back into the meat."] * 20)
    features = short[0].preprocess([("how long should a roast rest", long_document), PAIRS[1]])
    assert features["input_ids"].shape[1] == 160
    real = features["attention_mask"].bool()
    truncated = tokenizer.decode(features["input_ids"][0][real[0]])
    suffix = (
        "<|im_start|>assistant\n<think>\n\n</think>\n\n"
        if "<Instruct>" in (family.chat_template or "")
        else "<|im_end|>\n<|im_start|>assistant\n"
    )
    assert truncated.endswith(suffix)
    assert "how long should a roast rest" in truncated
    assert "Resting a roast" in truncated
    assert long_document not in truncated
    untouched = tokenizer.decode(features["input_ids"][1][real[1]])
    assert PAIRS[1][0] in untouched
    assert PAIRS[1][1] in untouched


@pytest.mark.parametrize("family", ["qwen3-seq-cls-template"], indirect=True)
def test_a_sequence_classifier_with_a_chat_template_is_fed_the_template(
    family: Family, family_model: CrossEncoder
) -> None:
    transformer = family_model[0]
    assert transformer.transformer_task == "sequence-classification"
    assert len(family_model) == 1
    features = transformer.preprocess(PAIRS)
    assert features["modality"] == "message"
    assert "logits_to_keep" not in features
    # Not a causal LM, so the padding side stays the tokenizer's own (right); the score head reads
    # the last non-pad token either way.
    assert transformer.tokenizer.padding_side == "right" == family.padding_side
    assert not features["attention_mask"][:, -1].all()


def test_the_8k_families_have_their_positions(
    zoo: dict[str, Path], load_zoo_model: Callable[[str], CrossEncoder]
) -> None:
    bge = load_zoo_model("xlm-roberta-8k")
    config = bge.model.config
    assert config.max_position_embeddings == 8194
    assert config.pad_token_id == 1
    # RoBERTa numbers positions from pad_token_id + 1: 8194 embeddings hold 8192 tokens.
    positions = bge.model.roberta.embeddings.position_embeddings.weight.shape[0]
    assert positions - config.pad_token_id - 1 == 8192 == FAMILIES["xlm-roberta-8k"].usable_positions
    assert bge.max_seq_length == 8192

    # Without model_max_length in tokenizer_config.json the limit comes from the config: 8194,
    # two tokens more than the model can take.
    assert "model_max_length" not in json.loads(
        (zoo["xlm-roberta-8k-no-max-length"] / "tokenizer_config.json").read_text(encoding="utf-8")
    )
    assert AutoTokenizer.from_pretrained(zoo["xlm-roberta-8k-no-max-length"]).model_max_length > 10**9
    unlimited = load_zoo_model("xlm-roberta-8k-no-max-length")
    assert unlimited.max_seq_length == 8194

    modernbert = load_zoo_model("modernbert-8k")
    assert modernbert.model.config.max_position_embeddings == 8192
    assert modernbert.max_seq_length == 8192

    # Past BERT's 512 positions, the 8k models score as usual.
    medium = ("renewable energy", " ".join(["Wind turbines work best on open plains."] * 80))
    for model in (bge, modernbert):
        assert len(model[0].preprocess([medium])["input_ids"][0]) > 600
        assert math.isfinite(float(model.predict([medium])[0]))


def test_the_no_max_length_variant_overflows_its_positions_in_sentence_transformers(
    load_zoo_model: Callable[[str], CrossEncoder],
) -> None:
    # What a caller trusting max_seq_length meets: a pair truncated to 8194 tokens indexes past the
    # 8194 position embeddings (the first usable position is pad_token_id + 1 = 2).
    model = load_zoo_model("xlm-roberta-8k-no-max-length")
    pair = ("renewable energy", " ".join(["solar panels and wind turbines"] * 1800))
    assert model[0].preprocess([pair])["input_ids"].shape[1] == 8194
    with pytest.raises((IndexError, RuntimeError), match="out of"):
        model.predict([pair])


def test_builds_are_deterministic(zoo: dict[str, Path], tmp_path: Path) -> None:
    for name in ("bert", "deberta-v3", "qwen3-reranker"):
        rebuilt = build_family(name, tmp_path)
        for file in ("model.safetensors", "tokenizer.json", "tokenizer_config.json", "config.json"):
            assert (rebuilt / file).read_bytes() == (zoo[name] / file).read_bytes(), (name, file)
