"""Both adapters' option fields come from the options table: same names, defaults and docs."""

from __future__ import annotations

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
