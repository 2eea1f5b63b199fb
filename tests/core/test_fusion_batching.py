import re

import pytest

from crossrank.ranking.batching import plan_batches
from crossrank.ranking.fusion import ranks_by_score, reciprocal_rank_fusion


def test_ranks_by_score_are_one_based_and_ties_keep_input_order() -> None:
    assert ranks_by_score([0.5, 0.9, 0.5, 0.1]) == [2, 1, 3, 4]
    assert ranks_by_score([]) == []


def test_rrf_matches_hand_computed_values() -> None:
    # item 0: 1/(60+1) + 1/(60+3); item 1: 1/(60+2) + 1/(60+1); item 2: 1/(60+3) + 1/(60+2)
    fused = reciprocal_rank_fusion([1, 2, 3], [3, 1, 2])
    assert fused == pytest.approx([1 / 61 + 1 / 63, 1 / 62 + 1 / 61, 1 / 63 + 1 / 62], abs=1e-15)


def test_rrf_weights_and_k() -> None:
    # 2/(10+1) + 0.5/(10+2) and 2/(10+2) + 0.5/(10+1)
    fused = reciprocal_rank_fusion([1, 2], [2, 1], k=10, weights=(2.0, 0.5))
    assert fused == pytest.approx([2 / 11 + 0.5 / 12, 2 / 12 + 0.5 / 11], abs=1e-15)
    # Retrieval weight 0: pure cross-encoder order survives fusion.
    assert reciprocal_rank_fusion([2, 1], [1, 2], weights=(1.0, 0.0)) == pytest.approx([1 / 62, 1 / 61])


def test_rrf_errors() -> None:
    with pytest.raises(ValueError, match=re.escape("got 2 and 1")):
        reciprocal_rank_fusion([1, 2], [1])
    with pytest.raises(ValueError, match=re.escape("rrf_k must be >= 0, got -1")):
        reciprocal_rank_fusion([1], [1], k=-1)
    with pytest.raises(ValueError, match=re.escape("rrf_weights must both be >= 0, got (-1.0, 1.0)")):
        reciprocal_rank_fusion([1], [1], weights=(-1.0, 1.0))


def test_batches_are_longest_first_and_bounded_by_count_and_tokens() -> None:
    lengths = [5, 50, 20, 50, 10, 30]
    batches = plan_batches(lengths, batch_size=3, max_tokens_per_batch=100)
    # 50,50 -> 2*50 = 100 fits; adding 30 would pad 3*50 = 150 > 100.
    assert batches == [[1, 3], [5, 2, 4], [0]]
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) * max(lengths[i] for i in batch) <= 100


def test_an_item_over_the_token_budget_gets_a_batch_of_its_own() -> None:
    assert plan_batches([500, 10, 10], batch_size=8, max_tokens_per_batch=100) == [[0], [1, 2]]


@pytest.mark.parametrize(
    ("batch_size", "budget", "message"),
    [
        (0, 10, "batch_size must be a positive integer, got 0."),
        (1, 0, "max_tokens_per_batch must be a positive integer, got 0."),
    ],
    ids=["batch-size", "token-budget"],
)
def test_bad_batch_settings(batch_size: int, budget: int, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        plan_batches([1], batch_size, budget)
