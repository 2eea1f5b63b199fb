"""Properties of the core's ranking, over generated inputs and the deterministic fake scorer."""

from __future__ import annotations

import math

from fake_scorer import FakeScorer
from hypothesis import given, settings
from hypothesis import strategies as st

from crossrank import Reranker, ScoringError

WORDS = st.sampled_from(["apple", "pie", "tart", "banana", "bread", "crumble", "plum", "x"])
TEXTS = st.lists(WORDS, min_size=1, max_size=30).map(" ".join)
DOCUMENTS = st.lists(TEXTS, min_size=1, max_size=12)
QUERY = st.lists(WORDS, min_size=1, max_size=4).map(" ".join)
FUSION = st.sampled_from([None, "rrf"])


def _reranker(fusion: str | None) -> Reranker:
    # A small window, so long texts become several windows (chunk-max).
    return Reranker(FakeScorer(max_length=10), fusion=fusion, max_windows=4)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(query=QUERY, documents=DOCUMENTS, fusion=FUSION)
def test_every_input_appears_once_best_first_ties_in_input_order(
    query: str, documents: list[str], fusion: str | None
) -> None:
    results = _reranker(fusion).rerank(query, documents)
    assert sorted(result.index for result in results) == list(range(len(documents)))
    keys = [(-result.score, result.index) for result in results]
    assert keys == sorted(keys)
    assert all(type(result.score) is float and math.isfinite(result.score) for result in results)


@settings(max_examples=100, deadline=None)
@given(query=QUERY, documents=DOCUMENTS, data=st.data())
def test_permuting_the_inputs_permutes_the_results(
    query: str, documents: list[str], data: st.DataObject
) -> None:
    order = data.draw(st.permutations(range(len(documents))))
    reranker = _reranker(None)
    by_text = {documents[r.index]: r.cross_encoder_score for r in reranker.rerank(query, documents)}
    permuted = reranker.rerank(query, [documents[i] for i in order])
    assert {documents[order[r.index]]: r.cross_encoder_score for r in permuted} == by_text


@settings(max_examples=100, deadline=None)
@given(query=QUERY, text=TEXTS, others=DOCUMENTS, data=st.data())
def test_equal_texts_get_equal_scores(query: str, text: str, others: list[str], data: st.DataObject) -> None:
    documents = [*others, text]
    documents.insert(data.draw(st.integers(0, len(others))), text)
    results = _reranker(None).rerank(query, documents)
    scores = {r.cross_encoder_score for r in results if documents[r.index] == text}
    assert len(scores) == 1


class _NanFor(FakeScorer):
    def __init__(self, word: str) -> None:
        super().__init__(max_length=10)
        self._word = word

    def score(self, pairs):  # type: ignore[no-untyped-def]
        scores = super().score(pairs)
        poison = self._id(self._word)
        return [
            math.nan if poison in passage else score
            for (_, passage), score in zip(pairs, scores, strict=True)
        ]


@settings(max_examples=100, deadline=None)
@given(query=QUERY, documents=DOCUMENTS, fusion=FUSION, top_n=st.none() | st.integers(1, 5))
def test_a_nan_never_leaves_an_unsorted_list(
    query: str, documents: list[str], fusion: str | None, top_n: int | None
) -> None:
    # Every window is scored (no cap), so a "plum" anywhere must surface.
    reranker = Reranker(_NanFor("plum"), fusion=fusion, top_n=top_n, max_windows=None)  # type: ignore[arg-type]
    try:
        results = reranker.rerank(query, documents)
    except ScoringError:
        assert any("plum" in document.split() for document in documents)
        return
    assert not any("plum" in document.split() for document in documents)
    keys = [(-result.score, result.index) for result in results]
    assert keys == sorted(keys)
