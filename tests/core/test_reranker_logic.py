"""The Reranker's pure logic, driven by a deterministic fake scorer."""

import asyncio
import copy
import math
import re

import pytest
from fake_scorer import FakeScorer

from crossrank import Reranker, RerankResult

# FakeScorer(max_length=16, num_special_tokens=3): 13 tokens for query + window.


def make(**options: object) -> tuple[Reranker, FakeScorer]:
    scorer = FakeScorer()
    return Reranker(scorer, **options), scorer  # type: ignore[arg-type]


def test_short_documents_rank_by_score_and_carry_their_details() -> None:
    reranker, _ = make()
    results = reranker.rerank("red apple", ["green pear", "red apple pie", "a red car"])
    assert [r.index for r in results] == [1, 2, 0]
    top = results[0]
    assert top.score == top.cross_encoder_score == 2.0
    assert top.retrieval_rank == 2
    assert top.retrieval_score is None
    assert (top.num_windows, top.window_index, top.window_span) == (1, 0, (0, 13))
    assert all(type(r.score) is float and type(r.cross_encoder_score) is float for r in results)


def test_chunk_max_scores_every_window_and_reports_the_winner() -> None:
    # Query "apple" (1 token) leaves 12-token windows; overlap 2 -> stride 10.
    filler = " ".join(f"w{i}" for i in range(30))
    text = f"{filler} apple apple {filler}"
    reranker, scorer = make(window_overlap=2)
    (result,) = reranker.rerank("apple", [text])
    assert result.cross_encoder_score == 2.0
    assert result.num_windows == scorer.pairs_scored == 6
    start, end = result.window_span
    assert "apple apple" in text[start:end]
    truncating, _ = make(long_documents="truncate", window_overlap=2)
    (truncated,) = truncating.rerank("apple", [text])
    assert (truncated.cross_encoder_score, truncated.num_windows) == (0.0, 1)


def test_max_windows_caps_the_pairs_scored() -> None:
    text = " ".join(f"w{i}" for i in range(200))
    reranker, scorer = make(window_overlap=0, max_windows=3)
    (result,) = reranker.rerank("apple", [text])
    assert result.num_windows == scorer.pairs_scored == 3


def test_ties_go_to_the_earliest_window_and_keep_input_order() -> None:
    filler = " ".join(f"w{i}" for i in range(12))
    reranker, _ = make(window_overlap=0)
    (result,) = reranker.rerank("apple", [f"apple {filler} apple {filler}"])
    assert result.window_index == 0
    results = reranker.rerank("apple", ["apple one", "two apple", "apple three"])
    assert [r.index for r in results] == [0, 1, 2]


def test_long_query_is_truncated_to_half_the_window() -> None:
    reranker, scorer = make()
    reranker.rerank(" ".join(f"q{i}" for i in range(40)), ["doc"])
    ((query_ids, _),) = scorer.batches[0]
    assert len(query_ids) == (16 - 3) // 2


def test_identical_texts_are_scored_once_but_each_gets_a_result() -> None:
    reranker, scorer = make()
    results = reranker.rerank("apple", ["apple", "pear", "apple", "apple"])
    assert scorer.pairs_scored == 2
    assert sorted(r.index for r in results) == [0, 1, 2, 3]
    assert [r.index for r in results[:3]] == [0, 2, 3]


def test_batches_respect_batch_size_and_token_budget() -> None:
    texts = [" ".join(f"w{i}" for i in range(n)) + f" t{n}" for n in range(1, 25)]
    reranker, scorer = make(batch_size=4, max_tokens_per_batch=40)
    reranker.rerank("apple", texts)
    for batch in scorer.batches:
        assert len(batch) <= 4
        padded = len(batch) * max(len(q) + len(p) + 3 for q, p in batch)
        assert padded <= 40 or len(batch) == 1
    lengths = [max(len(p) for _, p in batch) for batch in scorer.batches]
    assert lengths == sorted(lengths, reverse=True)


def test_threshold_and_top_n_apply_to_the_final_score() -> None:
    reranker, _ = make(top_n=2)
    docs = ["a b c", "a b", "a", "z"]
    assert [r.index for r in reranker.rerank("a b c", docs)] == [0, 1]
    assert [r.index for r in reranker.rerank("a b c", docs, score_threshold=1.0, top_n=10)] == [0, 1, 2]
    strict, _ = make(score_threshold=2.0)
    assert [r.index for r in strict.rerank("a b c", docs)] == [0, 1]


def test_sigmoid_normalize_maps_logits_into_zero_one() -> None:
    reranker, _ = make(normalize="sigmoid")
    results = reranker.rerank("a b", ["a b", "a", "z"])
    assert [r.cross_encoder_score for r in results] == pytest.approx(
        [1 / (1 + math.exp(-2)), 1 / (1 + math.exp(-1)), 0.5]
    )


def test_rrf_fuses_cross_encoder_and_input_order() -> None:
    reranker, _ = make(fusion="rrf")
    # Cross-encoder ranks: doc2 (2 hits) 1st, doc1 (1 hit) 2nd, doc0 (0) 3rd; retrieval = input order.
    results = reranker.rerank("a b", ["z", "a", "a b"])
    by_index = {r.index: r for r in results}
    assert by_index[0].score == pytest.approx(1 / 63 + 1 / 61)
    assert by_index[1].score == pytest.approx(1 / 62 + 1 / 62)
    assert by_index[2].score == pytest.approx(1 / 61 + 1 / 63)
    assert by_index[2].cross_encoder_score == 2.0
    # 1/61 + 1/63 > 2/62, so docs 0 and 2 tie above doc 1, and the tie keeps input order.
    assert [r.index for r in results] == [0, 2, 1]


def test_rrf_takes_the_retrieval_rank_from_retrieval_scores() -> None:
    reranker, _ = make(fusion="rrf", rrf_weights=(0.0, 1.0))
    results = reranker.rerank("a", ["a", "b", "c"], retrieval_scores=[0.1, 0.9, 0.5])
    assert [r.index for r in results] == [1, 2, 0]
    assert [r.retrieval_rank for r in results] == [1, 2, 3]
    assert [r.retrieval_score for r in results] == [0.9, 0.5, 0.1]


def test_empty_candidates_return_nothing_without_loading_the_model() -> None:
    reranker = Reranker("crossrank-tests/never-loaded")  # a hub id: checked only when loaded
    assert reranker.rerank("query", []) == []


def test_empty_string_candidates_are_scored_not_dropped() -> None:
    reranker, _ = make()
    results = reranker.rerank("apple", ["", "apple"])
    assert [r.index for r in results] == [1, 0]
    assert results[1].window_span == (0, 0)


def test_inputs_are_not_mutated() -> None:
    reranker, _ = make(fusion="rrf")
    docs = ["a b", "b", "c"]
    scores = [0.3, 0.2, 0.1]
    before = copy.deepcopy((docs, scores))
    reranker.rerank("a b", docs, retrieval_scores=scores)
    assert (docs, scores) == before


@pytest.mark.parametrize(
    ("query", "documents", "error", "message"),
    [
        ("", ["a"], ValueError, "query must be a non-empty string, got ''."),
        ("   ", ["a"], ValueError, "query must be a non-empty string, got '   '."),
        (None, ["a"], TypeError, "query must be a string, got NoneType."),
        ("q", ["a", 3], TypeError, "documents[1] must be a string, got int."),
        ("q", "abc", TypeError, "documents must be a sequence of strings, got str."),
    ],
    ids=["empty-query", "blank-query", "none-query", "non-string-candidate", "bare-string"],
)
def test_bad_inputs_name_the_value(query: object, documents: object, error: type, message: str) -> None:
    reranker, _ = make()
    with pytest.raises(error, match=re.escape(message)):
        reranker.rerank(query, documents)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"top_n": 0}, "top_n must be a positive integer, got 0."),
        ({"window_overlap": -1}, "window_overlap must be an integer >= 0, got -1."),
        ({"batch_size": 0}, "batch_size must be a positive integer, got 0."),
        ({"max_tokens_per_batch": 0}, "max_tokens_per_batch must be a positive integer, got 0."),
        ({"max_windows": 0}, "max_windows must be a positive integer, got 0."),
        ({"long_documents": "split"}, "long_documents must be 'chunk_max' or 'truncate', got 'split'."),
        ({"fusion": "sum"}, "fusion must be None or 'rrf', got 'sum'."),
        ({"normalize": "softmax"}, "normalize must be None or 'sigmoid', got 'softmax'."),
        ({"rrf_k": -5}, "rrf_k must be a number >= 0, got -5."),
        (
            {"rrf_weights": (1.0,)},
            "rrf_weights must be two numbers >= 0 (cross-encoder, retrieval), got (1.0,).",
        ),
        ({"score_threshold": "high"}, "score_threshold must be a number or None, got 'high'."),
    ],
    ids=lambda value: str(value) if isinstance(value, dict) else "",
)
def test_bad_options_name_the_value(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Reranker(FakeScorer(), **options)  # type: ignore[arg-type]


def test_overlap_as_large_as_the_window_is_reported_at_call_time() -> None:
    reranker, _ = make(window_overlap=12)  # window = 13 - 1 query token = 12
    with pytest.raises(ValueError, match=re.escape("smaller than the window of 12 tokens, got 12")):
        reranker.rerank("apple", ["a b c"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"top_n": 0}, "top_n must be a positive integer, got 0."),
        (
            {"retrieval_scores": [1.0]},
            "retrieval_scores must have one score per document: got 1 scores for 2",
        ),
        ({"retrieval_scores": [1.0, float("nan")]}, "retrieval_scores[1] must be a number, got nan."),
    ],
    ids=["per-call-top-n", "scores-length", "nan-score"],
)
def test_bad_call_options(kwargs: dict[str, object], message: str) -> None:
    reranker, _ = make()
    with pytest.raises(ValueError, match=re.escape(message)):
        reranker.rerank("q", ["a", "b"], **kwargs)  # type: ignore[arg-type]


def test_score_pairs_groups_by_query_and_keeps_input_order() -> None:
    reranker, _ = make()
    scores = reranker.score_pairs([("a b", "a"), ("c", "c c"), ("a b", "a b")])
    assert scores == [1.0, 2.0, 2.0]


async def test_arerank_matches_rerank() -> None:
    reranker, _ = make(fusion="rrf")
    docs = ["a", "b a", "c"]
    expected = reranker.rerank("a b", docs)
    got = await reranker.arerank("a b", docs)
    assert got == expected
    assert isinstance(got[0], RerankResult)
    assert await asyncio.gather(reranker.arerank("a", docs), reranker.arerank("a", docs))


def test_with_options_shares_the_scorer() -> None:
    reranker, scorer = make()
    truncating = reranker.with_options(long_documents="truncate")
    assert truncating.scorer is scorer
    assert truncating.long_documents == "truncate"
    with pytest.raises(TypeError, match="Unknown Reranker option"):
        reranker.with_options(colour="red")
