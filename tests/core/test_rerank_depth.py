"""``rerank_depth``: only the retriever's first candidates are scored and returned."""

from __future__ import annotations

import asyncio

import pytest

from crossrank import Reranker
from tests.fake_scorer import FakeScorer

QUERY = "apple banana cherry"
DOCUMENTS = ["apple", "apple banana", "nothing here", "apple banana cherry", "cherry"]


def test_depth_scores_and_returns_only_the_first_candidates_in_input_order() -> None:
    scorer = FakeScorer()
    results = Reranker(scorer, rerank_depth=3).rerank(QUERY, DOCUMENTS)
    # The best document (index 3) is beyond the depth: it is neither scored nor returned.
    assert [result.index for result in results] == [1, 0, 2]
    assert [result.retrieval_rank for result in results] == [2, 1, 3]
    scored = {tuple(ids) for batch in scorer.batches for _, ids in batch}
    assert len(scored) == 3


def test_depth_follows_the_retrieval_scores_and_indexes_the_callers_list() -> None:
    retrieval = [0.1, 0.2, 0.3, 0.9, 0.8]  # the retriever ranks 3, 4, 2 first
    full = Reranker(FakeScorer()).rerank(QUERY, DOCUMENTS, retrieval_scores=retrieval)
    cut = Reranker(FakeScorer(), rerank_depth=3).rerank(QUERY, DOCUMENTS, retrieval_scores=retrieval)
    assert sorted(result.index for result in cut) == [2, 3, 4]
    by_index = {result.index: result for result in full}
    for result in cut:
        # The same candidate, the same score, rank and retrieval score as without the cut.
        assert result.cross_encoder_score == by_index[result.index].cross_encoder_score
        assert result.retrieval_rank == by_index[result.index].retrieval_rank
        assert result.retrieval_score == retrieval[result.index]


def test_depth_with_fusion_equals_reranking_the_retrievers_top_alone() -> None:
    reranker = Reranker(FakeScorer(), fusion="rrf", rerank_depth=2)
    cut = reranker.rerank(QUERY, DOCUMENTS)
    alone = Reranker(FakeScorer(), fusion="rrf").rerank(QUERY, DOCUMENTS[:2])
    assert [(r.index, r.score) for r in cut] == [(r.index, r.score) for r in alone]


def test_depth_at_or_above_the_count_changes_nothing_and_the_async_path_agrees() -> None:
    full = Reranker(FakeScorer()).rerank(QUERY, DOCUMENTS)
    assert Reranker(FakeScorer(), rerank_depth=5).rerank(QUERY, DOCUMENTS) == full
    cut = Reranker(FakeScorer(), rerank_depth=2)
    assert asyncio.run(cut.arerank(QUERY, DOCUMENTS)) == cut.rerank(QUERY, DOCUMENTS)


def test_the_callers_list_is_not_changed_and_a_bad_depth_is_named() -> None:
    documents = list(DOCUMENTS)
    Reranker(FakeScorer(), rerank_depth=2).rerank(QUERY, documents)
    assert documents == DOCUMENTS
    with pytest.raises(ValueError, match="rerank_depth"):
        Reranker(FakeScorer(), rerank_depth=0)
    with pytest.raises(ValueError, match="rerank_depth must be a positive integer, got '10'"):
        Reranker(FakeScorer(), rerank_depth="10")  # type: ignore[arg-type]
