"""The window-score LRU cache: correct keys, a bounded size, counters, thread safety."""

import math
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from fake_scorer import FakeScorer

from crossrank import Reranker
from crossrank.ranking.score_cache import CacheInfo, ScoreCache

# FakeScorer(max_length=16, num_special_tokens=3): 13 tokens for query + window.
LONG = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma"
DOCUMENTS = ["red apple pie", "a red car", "green pear", LONG]


def make(**options: object) -> tuple[Reranker, FakeScorer]:
    scorer = FakeScorer()
    return Reranker(scorer, **options), scorer  # type: ignore[arg-type]


def scored(results: list) -> dict[int, tuple[float, int, int]]:  # type: ignore[type-arg]
    return {r.index: (r.score, r.num_windows, r.window_index) for r in results}


def test_a_repeated_query_is_served_from_the_cache() -> None:
    reranker, scorer = make()
    first = reranker.rerank("red apple", DOCUMENTS)
    pairs = scorer.pairs_scored
    assert reranker.cache_info() == CacheInfo(hits=0, misses=pairs, maxsize=10_000, size=pairs)

    again = reranker.rerank("red apple", DOCUMENTS)
    assert again == first
    assert scorer.pairs_scored == pairs
    assert reranker.cache_info() == CacheInfo(hits=pairs, misses=pairs, maxsize=10_000, size=pairs)


def test_a_different_query_misses() -> None:
    reranker, scorer = make()
    reranker.rerank("red apple", DOCUMENTS)
    before = scorer.pairs_scored
    other = reranker.rerank("green pear", DOCUMENTS)
    assert scorer.pairs_scored == 2 * before
    assert reranker.cache_info().hits == 0
    assert scored(other) == scored(make(score_cache_size=0)[0].rerank("green pear", DOCUMENTS))


def test_a_different_text_misses_and_a_shared_one_hits() -> None:
    reranker, scorer = make()
    reranker.rerank("red apple", ["red apple pie", "a red car"])
    assert scorer.pairs_scored == 2
    results = reranker.rerank("red apple", ["red apple pie", "red apple tart"])
    query, tart = scorer.tokenize(["red apple", "red apple tart"])
    assert scorer.batches[-1] == [(query.ids, tart.ids)]
    assert reranker.cache_info().hits == 1
    assert [r.score for r in sorted(results, key=lambda r: r.index)] == [2.0, 2.0]


@pytest.mark.parametrize(
    "options",
    [{"window_overlap": 0}, {"window_overlap": 5}, {"max_windows": 2}, {"long_documents": "truncate"}],
    ids=["overlap-0", "overlap-5", "max-windows-2", "truncate"],
)
def test_another_window_setting_never_reads_a_stale_score(options: dict[str, object]) -> None:
    reranker, _ = make()
    reranker.rerank("alpha kappa", [LONG])
    copy = reranker.with_options(**options)
    assert copy.cache_info() == reranker.cache_info()  # the cache is shared...
    uncached = make(score_cache_size=0, **options)[0]
    # ...and still every window scored under the new setting is its own.
    assert scored(copy.rerank("alpha kappa", [LONG])) == scored(uncached.rerank("alpha kappa", [LONG]))


def test_a_different_model_never_hits_another_models_entry() -> None:
    cache = ScoreCache(10)
    query, passage = [1, 2, 3], [4, 5]
    cache.put_many(cache.keys(("model-a", "onnx-int8"), query, [passage]), [0.9])
    assert cache.get_many(cache.keys(("model-b", "onnx-int8"), query, [passage])) == [None]
    assert cache.get_many(cache.keys(("model-a", "torch-fp32"), query, [passage])) == [None]
    assert cache.get_many(cache.keys(("model-a", "onnx-int8"), query, [passage])) == [0.9]


def test_two_rerankers_on_different_models_share_nothing() -> None:
    one, first_scorer = make()
    two, second_scorer = make()
    one.rerank("red apple", DOCUMENTS)
    two.rerank("red apple", DOCUMENTS)
    assert two.cache_info().hits == 0
    assert second_scorer.pairs_scored == first_scorer.pairs_scored


def test_the_key_does_not_confuse_the_query_with_the_passage() -> None:
    cache = ScoreCache(10)
    cache.put_many(cache.keys("m", [1, 2], [[3]]), [1.0])
    assert cache.get_many(cache.keys("m", [1], [[2, 3]])) == [None]
    assert cache.get_many(cache.keys("m", [3], [[1, 2]])) == [None]


def test_the_size_is_bounded_and_the_least_recently_used_entry_goes_first() -> None:
    cache = ScoreCache(2)
    a, b, c = cache.keys("m", [1], [[1], [2], [3]])
    cache.put_many([a, b], [0.1, 0.2])
    assert cache.get_many([a]) == [0.1]  # a is now the most recently used
    cache.put_many([c], [0.3])
    assert cache.get_many([a, b, c]) == [0.1, None, 0.3]
    assert cache.info() == CacheInfo(hits=3, misses=1, maxsize=2, size=2)


def test_a_reranker_keeps_at_most_score_cache_size_windows() -> None:
    reranker, scorer = make(score_cache_size=2)
    reranker.rerank("red apple", ["one red", "two red", "three red"])
    assert reranker.cache_info().size == 2
    before = scorer.pairs_scored
    reranker.rerank("red apple", ["two red", "three red"])  # the two most recent
    assert scorer.pairs_scored == before
    reranker.rerank("red apple", ["one red"])  # evicted first
    assert scorer.pairs_scored == before + 1


def test_size_zero_turns_the_cache_off() -> None:
    reranker, _ = make(score_cache_size=0)
    reranker.rerank("red apple", DOCUMENTS)
    assert reranker.cache_info() == CacheInfo(hits=0, misses=0, maxsize=0, size=0)
    cached = reranker.with_options(score_cache_size=5)
    assert cached.cache_info().maxsize == 5
    assert make()[0].with_options(score_cache_size=0).cache_info().maxsize == 0


def test_uncached_reranking_scores_every_window_each_time() -> None:
    reranker, scorer = make(score_cache_size=0)
    reranker.rerank("red apple", DOCUMENTS)
    once = scorer.pairs_scored
    reranker.rerank("red apple", DOCUMENTS)
    assert scorer.pairs_scored == 2 * once


def test_a_window_repeated_within_one_call_is_scored_once() -> None:
    # Two texts that differ only at the end share their first window.
    documents = [LONG, LONG + " omega"]
    reranker, scorer = make()
    results = reranker.rerank("alpha", documents)
    uncached, uncached_scorer = make(score_cache_size=0)
    expected = uncached.rerank("alpha", documents)
    every = [(tuple(q), tuple(p)) for batch in uncached_scorer.batches for q, p in batch]
    assert len(set(every)) < len(every)
    assert scorer.pairs_scored == len(set(every))
    assert scored(results) == scored(expected)


def test_normalize_and_fusion_apply_after_the_cache() -> None:
    reranker, _ = make()
    raw = reranker.rerank("red apple", DOCUMENTS)
    normalized = reranker.with_options(normalize="sigmoid").rerank("red apple", DOCUMENTS)
    by_index = {r.index: r.score for r in raw}
    for result in normalized:
        assert result.score == pytest.approx(1 / (1 + math.exp(-by_index[result.index])))


def test_clear_forgets_scores_and_counters() -> None:
    reranker, scorer = make()
    reranker.rerank("red apple", DOCUMENTS)
    reranker.clear_score_cache()
    assert reranker.cache_info() == CacheInfo(hits=0, misses=0, maxsize=10_000, size=0)
    before = scorer.pairs_scored
    reranker.rerank("red apple", DOCUMENTS)
    assert scorer.pairs_scored == 2 * before


def test_threads_share_the_cache_safely() -> None:
    reranker, _ = make(score_cache_size=50)
    queries = [f"red apple {i}" for i in range(40)]
    expected = {query: make(score_cache_size=0)[0].rerank(query, DOCUMENTS) for query in queries}
    # FakeScorer numbers words as it meets them: warm its vocabulary before going parallel.
    reranker.scorer.tokenize([" ".join(queries), *DOCUMENTS])
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda q: (q, reranker.rerank(q, DOCUMENTS)), queries * 3))
    for query, got in results:
        assert scored(got) == scored(expected[query])
    info = reranker.cache_info()
    assert info.size <= 50
    assert info.hits + info.misses == sum(r.num_windows for _, got in results for r in got)


@pytest.mark.parametrize("size", [-1, 1.5, True, "10"], ids=["negative", "float", "bool", "str"])
def test_a_bad_size_is_rejected(size: object) -> None:
    message = f"score_cache_size must be an integer >= 0, got {size!r}."
    with pytest.raises(ValueError, match=re.escape(message)):
        Reranker(FakeScorer(), score_cache_size=size)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=re.escape(f"maxsize must be a positive integer, got {size!r}.")):
        ScoreCache(size)  # type: ignore[arg-type]
