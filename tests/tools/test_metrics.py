"""Tests for crossrank.evaluation.metrics against hand-computed values.

Reference logarithms used below:
    log2(2) = 1
    log2(3) = 1.5849625007
    log2(4) = 2
    log2(5) = 2.3219280949
so the discounts 1/log2(rank + 1) for ranks 1..4 are 1, 0.6309297536, 0.5 and
0.4306765581.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import pytest

from crossrank.evaluation.metrics import (
    evaluate_run,
    metric_names,
    mrr_at_k,
    ndcg_at_k,
    per_query_metrics,
    recall_at_k,
)

Metric = Callable[[Sequence[str], Mapping[str, int], int], float]
ALL_METRICS: list[Metric] = [ndcg_at_k, recall_at_k, mrr_at_k]
METRIC_IDS = ["ndcg", "recall", "mrr"]

# Graded judgements: a is highly relevant, b and d are relevant, c is judged
# non-relevant. x and y are unjudged (relevance 0).
GRADED = {"a": 2, "b": 1, "c": 0, "d": 1}
RANKING = ["c", "a", "x", "b", "y"]


@pytest.mark.parametrize(
    ("k", "expected"),
    [
        # k=5: ranks 1..5 are c(0) a(2) x(0) b(1) y(0).
        #   DCG  = 0/1 + 2/log2(3) + 0/2 + 1/log2(5) + 0
        #        = 1.2618595071 + 0.4306765581 = 1.6925360652
        #   IDCG = ideal grades [2, 1, 1] (c's 0 is left out):
        #        = 2/1 + 1/log2(3) + 1/log2(4) = 2 + 0.6309297536 + 0.5
        #        = 3.1309297536
        #   NDCG = 1.6925360652 / 3.1309297536 = 0.5405857679
        pytest.param(5, 0.5405857679450102, id="k5-graded-2-1-0"),
        # k=3: ranks 1..3 are c a x, so DCG = 2/log2(3) = 1.2618595071;
        #   IDCG@3 still uses all three ideal grades = 3.1309297536
        #   NDCG = 1.2618595071 / 3.1309297536 = 0.4030302838
        pytest.param(3, 0.4030302838010049, id="k3-cut-before-b"),
        # k=1: only c (grade 0) is seen, so DCG = 0.
        pytest.param(1, 0.0, id="k1-nonrelevant-first"),
    ],
)
def test_ndcg_graded_hand_computed(k: int, expected: float) -> None:
    assert ndcg_at_k(RANKING, GRADED, k) == pytest.approx(expected, abs=1e-12)


def test_ndcg_uses_linear_gain_not_exponential() -> None:
    # Ranking [b, a] with a=2, b=1, k=2.
    #   Linear gain:      DCG = 1/1 + 2/log2(3) = 2.2618595071
    #                     IDCG = 2/1 + 1/log2(3) = 2.6309297536
    #                     NDCG = 0.8597186998
    #   (Exponential gain 2^rel - 1 would give (1 + 3*0.6309)/(3 + 0.6309)
    #    = 0.7967, which is what this test guards against.)
    assert ndcg_at_k(["b", "a"], {"a": 2, "b": 1}, 2) == pytest.approx(2.2618595071 / 2.6309297536, abs=1e-9)
    assert ndcg_at_k(["b", "a"], {"a": 2, "b": 1}, 2) == pytest.approx(0.8597186998, abs=1e-9)


@pytest.mark.parametrize(
    ("k", "expected_recall", "expected_mrr"),
    [
        # Relevant (grade > 0): a, b, d -> 3 documents.
        # k=5: a (rank 2) and b (rank 4) found -> recall 2/3; first hit rank 2.
        pytest.param(5, 2 / 3, 1 / 2, id="k5"),
        # k=3: only a found -> recall 1/3; first hit still rank 2.
        pytest.param(3, 1 / 3, 1 / 2, id="k3"),
        # k=1: c is non-relevant -> nothing found.
        pytest.param(1, 0.0, 0.0, id="k1"),
    ],
)
def test_recall_and_mrr_hand_computed(k: int, expected_recall: float, expected_mrr: float) -> None:
    assert recall_at_k(RANKING, GRADED, k) == pytest.approx(expected_recall)
    assert mrr_at_k(RANKING, GRADED, k) == pytest.approx(expected_mrr)


@pytest.mark.parametrize("metric", ALL_METRICS, ids=METRIC_IDS)
def test_perfect_ranking_scores_one(metric: Metric) -> None:
    assert metric(["a", "b", "d", "c"], GRADED, 10) == pytest.approx(1.0)


@pytest.mark.parametrize("metric", ALL_METRICS, ids=METRIC_IDS)
@pytest.mark.parametrize(
    "relevance",
    [
        pytest.param({}, id="no-judgements"),
        pytest.param({"a": 0, "b": 0}, id="only-grade-0"),
        pytest.param({"a": -1}, id="only-negative"),
    ],
)
def test_query_without_relevant_documents_scores_zero(metric: Metric, relevance: dict[str, int]) -> None:
    assert metric(["a", "b"], relevance, 10) == 0.0


@pytest.mark.parametrize("metric", ALL_METRICS, ids=METRIC_IDS)
def test_empty_ranking_scores_zero(metric: Metric) -> None:
    assert metric([], GRADED, 10) == 0.0


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        # ["x", "x", "a"] dedups to ["x", "a"], so with k=2 a is at rank 2.
        #   NDCG: DCG = 1/log2(3) = 0.6309297536, IDCG = 1/1 -> 0.6309297536
        #   (without dedup the top 2 would be x, x and score 0).
        pytest.param(ndcg_at_k, 0.6309297535714575, id="ndcg"),
        #   Recall: a found -> 1/1.
        pytest.param(recall_at_k, 1.0, id="recall"),
        #   MRR: first hit at rank 2 -> 1/2.
        pytest.param(mrr_at_k, 0.5, id="mrr"),
    ],
)
def test_duplicate_irrelevant_id_does_not_take_a_rank(metric: Metric, expected: float) -> None:
    assert metric(["x", "x", "a"], {"a": 1}, 2) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        # ["a", "a"] dedups to ["a"]; relevant are a and b (grade 1 each), k=2.
        #   DCG = 1/1 = 1; IDCG = 1/1 + 1/log2(3) = 1.6309297536
        #   NDCG = 1 / 1.6309297536 = 0.6131471928 (a second a would give 1.0).
        pytest.param(ndcg_at_k, 0.6131471927654584, id="ndcg"),
        #   Recall: only a found -> 1/2 (not 2/2).
        pytest.param(recall_at_k, 0.5, id="recall"),
        #   MRR: a at rank 1 -> 1.
        pytest.param(mrr_at_k, 1.0, id="mrr"),
    ],
)
def test_duplicate_relevant_id_counts_once(metric: Metric, expected: float) -> None:
    assert metric(["a", "a"], {"a": 1, "b": 1}, 2) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        # Ranking ["a"] with a=2, b=1 and k=10 (longer than the ranking).
        #   DCG = 2/1 = 2; IDCG = 2/1 + 1/log2(3) = 2.6309297536
        #   NDCG = 2 / 2.6309297536 = 0.7601875334
        pytest.param(ndcg_at_k, 0.7601875334, id="ndcg"),
        #   Recall: a of {a, b} -> 1/2.
        pytest.param(recall_at_k, 0.5, id="recall"),
        #   MRR: a at rank 1 -> 1.
        pytest.param(mrr_at_k, 1.0, id="mrr"),
    ],
)
def test_k_larger_than_ranking(metric: Metric, expected: float) -> None:
    assert metric(["a"], {"a": 2, "b": 1}, 10) == pytest.approx(expected, abs=1e-9)


def test_negative_grade_gives_no_gain() -> None:
    # a=-1 is treated like 0: ranking [a, b], b=1, k=2.
    #   DCG = 0 + 1/log2(3) = 0.6309297536; IDCG = 1/1 -> NDCG 0.6309297536.
    relevance = {"a": -1, "b": 1}
    assert ndcg_at_k(["a", "b"], relevance, 2) == pytest.approx(0.6309297535714575)
    assert recall_at_k(["a", "b"], relevance, 2) == 1.0
    assert mrr_at_k(["a", "b"], relevance, 2) == 0.5


def test_ranking_order_is_authoritative() -> None:
    # The functions must not re-sort: b before a scores lower than a before b.
    relevance = {"a": 2, "b": 1}
    assert ndcg_at_k(["b", "a"], relevance, 2) < ndcg_at_k(["a", "b"], relevance, 2)


@pytest.mark.parametrize("metric", ALL_METRICS, ids=METRIC_IDS)
@pytest.mark.parametrize(
    "bad_k",
    [pytest.param(0, id="zero"), pytest.param(-3, id="negative")],
)
def test_k_below_one_is_rejected(metric: Metric, bad_k: int) -> None:
    with pytest.raises(ValueError, match=re.escape(f"k must be a positive integer, got {bad_k}.")):
        metric(["a"], {"a": 1}, bad_k)


@pytest.mark.parametrize("metric", ALL_METRICS, ids=METRIC_IDS)
def test_bool_k_is_rejected(metric: Metric) -> None:
    with pytest.raises(ValueError, match=re.escape("k must be a positive integer, got True.")):
        metric(["a"], {"a": 1}, True)


@pytest.mark.parametrize("metric", ALL_METRICS, ids=METRIC_IDS)
def test_single_string_ranking_is_rejected(metric: Metric) -> None:
    with pytest.raises(TypeError, match=re.escape("Wrap it in a list: ['abc']")):
        metric("abc", {"a": 1}, 10)


def test_metric_names() -> None:
    assert metric_names(10) == ("ndcg_at_10", "recall_at_10", "mrr_at_10")
    assert metric_names(5) == ("ndcg_at_5", "recall_at_5", "mrr_at_5")


QRELS = {
    "q1": {"a": 1},
    "q2": {"b": 2, "c": 1},
    "q3": {"d": 0},
}
RUN = {
    "q1": ["a", "z"],  # perfect: ndcg 1, recall 1, mrr 1
    # q2 missing from the run: all 0
    # q3 has no relevant documents: all 0
    "q3": ["d"],
    "q9": ["a"],  # not in qrels: ignored
}


def test_per_query_metrics() -> None:
    result = per_query_metrics(RUN, QRELS, k=5)
    assert list(result) == ["q1", "q2", "q3"]
    assert result["q1"] == {"ndcg_at_5": 1.0, "recall_at_5": 1.0, "mrr_at_5": 1.0}
    assert result["q2"] == {"ndcg_at_5": 0.0, "recall_at_5": 0.0, "mrr_at_5": 0.0}
    assert result["q3"] == {"ndcg_at_5": 0.0, "recall_at_5": 0.0, "mrr_at_5": 0.0}


def test_evaluate_run_means_over_qrels_queries() -> None:
    # Three judged queries; only q1 scores (1.0 on every metric) -> mean 1/3.
    result = evaluate_run(RUN, QRELS, k=10)
    assert set(result) == {"ndcg_at_10", "recall_at_10", "mrr_at_10"}
    for value in result.values():
        assert value == pytest.approx(1 / 3)


def test_evaluate_run_mixed_values() -> None:
    # q1: ranking [c, a, x, b, y] on GRADED at k=5 -> ndcg 0.5405857679,
    #     recall 2/3, mrr 1/2 (see the hand computation above).
    # q2: ranking [e], e relevant -> ndcg 1, recall 1, mrr 1.
    # Means: ndcg (0.5405857679 + 1)/2 = 0.7702928840,
    #        recall (2/3 + 1)/2 = 5/6, mrr (1/2 + 1)/2 = 3/4.
    result = evaluate_run({"q1": RANKING, "q2": ["e"]}, {"q1": GRADED, "q2": {"e": 1}}, k=5)
    assert result == pytest.approx({"ndcg_at_5": 0.7702928839725051, "recall_at_5": 5 / 6, "mrr_at_5": 0.75})


def test_evaluate_run_rejects_empty_qrels() -> None:
    with pytest.raises(ValueError, match=re.escape("qrels is empty")):
        evaluate_run({"q1": ["a"]}, {}, k=10)


def test_evaluate_run_rejects_bad_k() -> None:
    with pytest.raises(ValueError, match=re.escape("k must be a positive integer, got 0.")):
        evaluate_run(RUN, QRELS, k=0)


def test_top_k_agreement_counts_the_reference_top_kept_by_the_candidate() -> None:
    from crossrank.evaluation.metrics import top_k_agreement

    teacher = ["a", "b", "c", "d"]
    assert top_k_agreement(teacher, ["d", "c", "b", "a"], reference_k=2, candidate_k=2) == 0.0
    assert top_k_agreement(teacher, ["d", "c", "b", "a"], reference_k=2, candidate_k=3) == 0.5
    assert top_k_agreement(teacher, ["x", "b", "a"], reference_k=2, candidate_k=30) == 1.0
    assert top_k_agreement([], ["a"]) == 1.0
    with pytest.raises(ValueError, match="k must be a positive integer"):
        top_k_agreement(teacher, teacher, candidate_k=0)
