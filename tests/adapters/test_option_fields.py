"""Both adapters' option fields come from the options table: same names, defaults and docs."""

from __future__ import annotations

import re
from typing import Any

import pytest

from crossrank.options import OPTIONS, RANKING_OPTIONS
from langchain_crossrank import CrossEncoderCompressor, CrossEncoderModel
from llama_index.postprocessor.crossrank import CrossEncoderRerank

# Where an adapter follows its framework's own reranker instead of the core.
_ADAPTER_DEFAULTS: dict[type, dict[str, Any]] = {
    CrossEncoderRerank: {"top_n": 2, "cross_encoder_kwargs": {}},  # SentenceTransformerRerank's
    CrossEncoderCompressor: {"top_n": 3},  # CrossEncoderReranker's
    CrossEncoderModel: {},
}
# Not offered by the adapters: a progress bar has no place in a retrieval pipeline.
_NOT_IN_ADAPTERS = {"show_progress_bar"}


@pytest.mark.parametrize("adapter", list(_ADAPTER_DEFAULTS), ids=lambda cls: cls.__name__)
def test_option_fields_follow_the_table(adapter: type) -> None:
    fields = adapter.model_fields  # type: ignore[attr-defined]
    expected = set(OPTIONS) - _NOT_IN_ADAPTERS
    if adapter is CrossEncoderModel:
        # A BaseCrossEncoder only scores: ranking belongs to LangChain's CrossEncoderReranker.
        expected -= RANKING_OPTIONS
    assert expected <= set(fields)
    assert not (set(fields) & (set(OPTIONS) - expected))
    overrides = _ADAPTER_DEFAULTS[adapter]
    for name in expected:
        field = fields[name]
        default = field.default_factory() if field.default_factory else field.default
        assert default == overrides.get(name, OPTIONS[name].default), (adapter.__name__, name)
        assert (field.description or "").startswith(OPTIONS[name].doc), (adapter.__name__, name)


def test_adapter_only_fields_keep_their_defaults_and_docs() -> None:
    from llama_index.core.schema import MetadataMode

    assert CrossEncoderRerank.model_fields["metadata_mode"].default is MetadataMode.EMBED
    assert CrossEncoderRerank.model_fields["keep_retrieval_score"].default is False
    assert CrossEncoderCompressor.model_fields["retrieval_score_key"].default is None
    for adapter in _ADAPTER_DEFAULTS:
        own = adapter.__annotations__  # the fields this adapter declares, not its framework base's
        fields = adapter.model_fields  # type: ignore[attr-defined]
        undocumented = [name for name in own if name in fields and not fields[name].description]
        assert not undocumented, (adapter.__name__, undocumented)


_RANKING_ADAPTERS = [CrossEncoderRerank, CrossEncoderCompressor]


@pytest.mark.parametrize("adapter", _RANKING_ADAPTERS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("top_k", "did you mean `top_n`?"),
        ("fussion", "did you mean `fusion`?"),
        ("colour", "the valid names are"),
    ],
)
def test_an_unknown_field_names_itself_and_what_it_likely_meant(adapter: type, name: str, hint: str) -> None:
    from pydantic import ValidationError

    said = f"Extra inputs are not permitted: '{name}' is not a field of {adapter.__name__}; {hint}"
    # pydantic said "Extra inputs are not permitted" alone: no hint.
    with pytest.raises(ValidationError, match=rf"{name}\s+{re.escape(said)}"):
        adapter(**{name: 1})
    with pytest.raises(ValidationError, match=re.escape(said)):
        adapter.model_validate({name: 1})  # type: ignore[attr-defined]
    adapted = adapter()
    # model_copy(update=...) does not validate: it used to set top_k and leave top_n as it was.
    with pytest.raises(ValidationError, match=re.escape(said)):
        adapted.model_copy(update={name: 1})
    with pytest.raises(ValidationError, match=re.escape(f"Object has no attribute '{name}'; {hint}")):
        setattr(adapted, name, 1)
    assert adapted.model_copy(update={"top_n": 4}).top_n == 4


def test_llama_index_from_dict_names_an_unknown_field() -> None:
    from pydantic import ValidationError

    data = {**CrossEncoderRerank(top_n=3).to_dict(), "top_k": 5}
    with pytest.raises(ValidationError, match=re.escape("did you mean `top_n`?")):
        CrossEncoderRerank.from_dict(data)
    assert CrossEncoderRerank.from_dict(CrossEncoderRerank(top_n=3).to_dict()).top_n == 3


def test_the_langchain_scorer_sends_ranking_options_to_the_reranker() -> None:
    from pydantic import ValidationError

    # A BaseCrossEncoder only scores: top_n belongs to LangChain's CrossEncoderReranker.
    with pytest.raises(
        ValidationError, match=re.escape("did you mean `top_n`? It is a ranking option: give it")
    ):
        CrossEncoderModel(top_k=3)
    with pytest.raises(
        ValidationError, match=re.escape("fusion is a ranking option: give it to LangChain's")
    ):
        CrossEncoderModel(fusion="rrf")
    with pytest.raises(ValidationError, match=re.escape("did you mean `batch_size`?")):
        CrossEncoderModel(batch=8)
    # HuggingFaceCrossEncoder's names are still taken (mapped before the check).
    assert CrossEncoderModel(model_name="m", model_kwargs={"device": "cpu"}).device == "cpu"
