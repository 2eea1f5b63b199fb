"""Both adapters run a cascade from the same option fields as the core (fake scorers: pure logic)."""

from __future__ import annotations

from collections.abc import Sequence

from fake_scorer import FakeScorer
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, TextNode

from crossrank.adapters import COARSE_SCORE_KEY, CUT_AT_STAGE_KEY
from langchain_crossrank import CrossEncoderCompressor
from llama_index.postprocessor.crossrank import CrossEncoderRerank

QUERY = "red apple pie"
TEXTS = ["green pear", "red apple pie", "a red car", "apple pie recipe", "red red wine", "blue sky"]


class FirstWordScorer(FakeScorer):
    """A cruder judge: counts only the query's first word."""

    def score(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[float]:
        self.batches.append([(list(q), list(p)) for q, p in pairs])
        return [float(sum(1 for token in passage if token == query[0])) for query, passage in pairs]


def test_llama_index_cascade_reports_each_stage() -> None:
    fine, coarse = FakeScorer(), FirstWordScorer()
    rerank = CrossEncoderRerank(model=fine, coarse_model=coarse, coarse_keep=3, top_n=4)
    nodes = [NodeWithScore(node=TextNode(text=text, id_=f"n{i}"), score=0.0) for i, text in enumerate(TEXTS)]
    ranked = rerank.postprocess_nodes(nodes, query_str=QUERY)
    assert [n.node.node_id for n in ranked] == ["n1", "n4", "n2", "n0"]
    assert [n.node.metadata[CUT_AT_STAGE_KEY] for n in ranked] == [None, None, None, "coarse"]
    assert ranked[1].node.metadata[COARSE_SCORE_KEY] == 2.0
    assert fine.pairs_scored == 3
    assert all(COARSE_SCORE_KEY not in node.node.metadata for node in nodes)  # the input is not mutated
    # The fields sync: dropping the coarse model makes it a single stage again.
    rerank.coarse_model = None
    single = rerank.postprocess_nodes(nodes, query_str=QUERY)
    assert all(CUT_AT_STAGE_KEY not in n.node.metadata for n in single)


def test_langchain_cascade_keeps_the_survivors_first() -> None:
    compressor = CrossEncoderCompressor(
        model=FakeScorer(), coarse_model=FirstWordScorer(), coarse_keep=2, top_n=3
    )
    documents = [Document(page_content=text) for text in TEXTS]
    kept = compressor.compress_documents(documents, QUERY)
    assert [d.page_content for d in kept] == ["red apple pie", "red red wine", "a red car"]
    assert [d.metadata[CUT_AT_STAGE_KEY] for d in kept] == [None, None, "coarse"]
