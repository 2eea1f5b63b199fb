"""``to_dict``/``from_dict`` (and JSON) rebuild a working ``CrossEncoderRerank``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fake_scorer import FakeScorer
from llama_index.core.schema import NodeWithScore, TextNode

from llama_index.postprocessor.crossrank import CrossEncoderRerank

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

QUERY = "Aerobic exercise lowers blood pressure."
TEXTS = [
    "Bananas are rich in potassium.",
    "Regular aerobic exercise lowered resting blood pressure in adults with hypertension.",
    "Blood pressure cuffs must match the arm size to read correctly.",
]


def _nodes() -> list[NodeWithScore]:
    return [
        NodeWithScore(node=TextNode(text=text, id_=f"n{i}"), score=0.5 - i / 10)
        for i, text in enumerate(TEXTS)
    ]


def _ranking(rerank: CrossEncoderRerank) -> list[tuple[str, float]]:
    return [
        (node.node.node_id, node.score or 0.0) for node in rerank.postprocess_nodes(_nodes(), query_str=QUERY)
    ]


def test_round_trip_through_json_rebuilds_a_working_postprocessor(model_path: str) -> None:
    rerank = CrossEncoderRerank(
        model=model_path,
        top_n=2,
        fusion="rrf",
        max_windows=4,
        rrf_weights=(1.0, 0.5),
        keep_retrieval_score=True,
    )
    rebuilt = CrossEncoderRerank.from_json(rerank.to_json())
    assert rebuilt is not rerank
    assert rebuilt.model == model_path
    assert rebuilt.reranker.options == rerank.reranker.options
    assert rebuilt.keep_retrieval_score is True
    assert _ranking(rebuilt) == _ranking(rerank)


def test_a_loaded_cross_encoder_serializes_to_where_it_came_from(
    cross_encoder: CrossEncoder, model_path: str
) -> None:
    rerank = CrossEncoderRerank(model=cross_encoder, top_n=3, backend="torch", precision="fp32")
    data = rerank.to_dict()
    assert data["class_name"] == "CrossEncoderRerank"
    assert Path(data["model"]).resolve() == Path(model_path).resolve()
    rebuilt = CrossEncoderRerank.from_dict(data)
    assert isinstance(rebuilt.model, str)
    got, expected = _ranking(rebuilt), _ranking(rerank)
    assert [node_id for node_id, _ in got] == [node_id for node_id, _ in expected]
    assert [score for _, score in got] == pytest.approx([score for _, score in expected], abs=1e-5)


def test_a_custom_pair_scorer_refuses_to_serialize_and_says_why() -> None:
    rerank = CrossEncoderRerank(model=FakeScorer())
    with pytest.raises(Exception, match="a custom PairScorer has no path that loads it again"):
        rerank.to_dict()
