"""Coarse-to-fine cascades, driven by deterministic fake scorers."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
from fake_scorer import FakeScorer

from crossrank import Reranker

QUERY = "red apple pie"
DOCUMENTS = [
    "green pear",  # fine 0, coarse 0
    "red apple pie",  # fine 3, coarse 1
    "a red car",  # fine 1, coarse 1
    "apple pie recipe",  # fine 2, coarse 0
    "red red wine",  # fine 2, coarse 2
    "blue sky",  # fine 0, coarse 0
]


class FirstWordScorer(FakeScorer):
    """A cheaper, cruder judge: counts only the query's first word."""

    def score(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[float]:
        self.batches.append([(list(q), list(p)) for q, p in pairs])
        return [float(sum(1 for token in passage if token == query[0])) for query, passage in pairs]


def make(**options: object) -> tuple[Reranker, FakeScorer, FirstWordScorer]:
    fine, coarse = FakeScorer(), FirstWordScorer()
    return Reranker(fine, coarse_model=coarse, **options), fine, coarse  # type: ignore[arg-type]


def test_only_the_coarse_survivors_reach_the_fine_stage() -> None:
    reranker, fine, coarse = make(coarse_keep=3)
    results = reranker.rerank(QUERY, DOCUMENTS)
    assert coarse.pairs_scored == len(DOCUMENTS)
    assert fine.pairs_scored == 3
    survivors = [r for r in results if r.cut_at_stage is None]
    cut = [r for r in results if r.cut_at_stage == "coarse"]
    # Coarse keeps "red red wine" (2), then "red apple pie" and "a red car" (1, input order).
    assert [r.index for r in survivors] == [1, 4, 2]
    assert [r.score for r in survivors] == [3.0, 2.0, 1.0]
    assert [r.index for r in cut] == [0, 3, 5]
    assert results == survivors + cut  # every survivor first
    assert sorted(r.index for r in results) == list(range(len(DOCUMENTS)))  # each candidate once
    assert all(r.coarse_score is not None for r in results)
    assert [r.coarse_score for r in survivors] == [1.0, 2.0, 1.0]
    assert all(r.score == r.cross_encoder_score == r.coarse_score for r in cut)


def test_keeping_every_candidate_gives_the_single_stage_ranking() -> None:
    for options in ({}, {"fusion": "rrf"}, {"top_n": 2}, {"score_threshold": 1.5}):
        cascade, _, _ = make(coarse_keep=len(DOCUMENTS), **options)
        single = Reranker(FakeScorer(), **options)  # type: ignore[arg-type]
        retrieval = [0.1, 0.9, 0.5, 0.3, 0.8, 0.2]
        got = cascade.rerank(QUERY, DOCUMENTS, retrieval_scores=retrieval)
        want = single.rerank(QUERY, DOCUMENTS, retrieval_scores=retrieval)
        assert [(r.index, r.score, r.retrieval_rank) for r in got] == [
            (r.index, r.score, r.retrieval_rank) for r in want
        ]
        assert all(r.cut_at_stage is None for r in got)
        assert all(r.coarse_score is None for r in want)


def test_fusion_ranks_survivors_with_their_global_retrieval_ranks() -> None:
    reranker, _, _ = make(coarse_keep=2, fusion="rrf", rrf_k=1.0, rrf_weights=(2.0, 1.0))
    retrieval = [0.9, 0.1, 0.2, 0.3, 0.8, 0.4]  # "green pear" is 1st, "red red wine" 2nd
    results = reranker.rerank(QUERY, DOCUMENTS, retrieval_scores=retrieval)
    # The coarse stage prunes by its own fused ranking, as the final ranking will fuse:
    # "green pear" (coarse 0, retrieved 1st) survives; "red apple pie" (coarse 1, 6th) does not.
    assert [r.index for r in results[:2]] == [4, 0]
    assert [r.retrieval_rank for r in results[:2]] == [2, 1]
    assert next(r for r in results if r.index == 1).cut_at_stage == "coarse"
    # Fine ranks among the survivors ("red red wine" 1st, "green pear" 2nd), global retrieval ranks.
    assert results[0].score == pytest.approx(2 / (1 + 1) + 1 / (1 + 2))
    assert results[1].score == pytest.approx(2 / (1 + 2) + 1 / (1 + 1))
    # Without fusion the coarse score alone decides.
    plain = reranker.with_options(fusion=None).rerank(QUERY, DOCUMENTS, retrieval_scores=retrieval)
    assert {r.index for r in plain if r.cut_at_stage is None} == {4, 1}


def test_top_n_counts_cut_candidates_and_a_threshold_leaves_them_out() -> None:
    reranker, _, _ = make(coarse_keep=2)
    assert [r.index for r in reranker.rerank(QUERY, DOCUMENTS, top_n=1)] == [1]
    four = reranker.rerank(QUERY, DOCUMENTS, top_n=4)
    assert [r.cut_at_stage for r in four] == [None, None, "coarse", "coarse"]
    thresholded = reranker.rerank(QUERY, DOCUMENTS, score_threshold=0.0)
    assert [r.index for r in thresholded] == [1, 4]


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"coarse_keep": 0}, ValueError, "coarse_keep must be a positive integer, got 0"),
        ({"coarse_keep": True}, ValueError, "coarse_keep must be a positive integer, got True"),
        ({"coarse_keep": 2.5}, ValueError, "coarse_keep must be a positive integer, got 2.5"),
        ({"coarse_backend": "tensorrt"}, ValueError, "coarse_backend must be one of"),
        ({"coarse_model": ""}, ValueError, "not an empty string"),
        ({"coarse_model": 42}, TypeError, "coarse_model must be None"),
        ({"coarse_max_length": 8}, ValueError, "coarse_max_length must be"),
        ({"coarse_max_length": 64.0}, ValueError, "coarse_max_length must be"),
        ({"fine_window_margin": -0.5}, ValueError, "must be a number >= 0 or None, got -0.5"),
        ({"fine_window_margin": math.nan}, ValueError, "fine_window_margin must be a number >= 0"),
        ({"fine_window_margin": True}, ValueError, "fine_window_margin must be a number >= 0"),
    ],
)
def test_bad_cascade_options_are_refused(options: dict[str, object], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        Reranker(FakeScorer(), **options)  # type: ignore[arg-type]


def test_impossible_cascades_name_the_fix() -> None:
    with pytest.raises(ValueError, match="a ready PairScorer cannot be; pass coarse_model"):
        Reranker(FakeScorer(), coarse_backend="onnx-int8")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not to a server URL"):
        Reranker("http://127.0.0.1:9", coarse_backend="onnx-int8")
    with pytest.raises(ValueError, match="would be the model itself"):
        Reranker("some/model", backend="onnx", coarse_backend="onnx")
    # Reading less is a cheaper stage of its own, even in the model's own backend.
    assert Reranker("some/model", backend="onnx", coarse_backend="onnx", coarse_max_length=96).is_cascade
    with pytest.raises(ValueError, match="has no windows to pick from; drop fine_windows_per_document"):
        Reranker("some/model", coarse_max_length=96, fine_windows_per_document=1)
    with pytest.raises(ValueError, match=r"fine_window_margin=1.0 .* set fine_windows_per_document \(e"):
        Reranker("some/model", coarse_backend="onnx-int8", fine_window_margin=1.0)
    # Without a coarse stage nothing picks windows: accepting the options would read every window
    # while the caller believes the model reads fewer.
    for options in ({"fine_windows_per_document": 2}, {"fine_window_margin": 0.5}):
        name, value = next(iter(options.items()))
        with pytest.raises(
            ValueError, match=rf"{name}={value} .* but no coarse stage is set; set coarse_model"
        ):
            Reranker("some/model", **options)  # type: ignore[arg-type]
    single = Reranker("some/model", coarse_model="lexical", fine_windows_per_document=2)
    with pytest.raises(ValueError, match="no coarse stage is set"):
        single.with_options(coarse_model=None)
    loaded = "but {0} is a loaded FakeScorer that reads up to 128 tokens; pass {0} as a path"
    with pytest.raises(ValueError, match=loaded.format("coarse_model")):
        Reranker("some/model", coarse_model=FakeScorer(max_length=128), coarse_max_length=96)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=loaded.format("model")):
        Reranker(FakeScorer(max_length=128), coarse_max_length=96)  # type: ignore[arg-type]


def test_a_short_ready_coarse_scorer_reads_only_each_candidates_first_window() -> None:
    # A ready scorer that reads no more than coarse_max_length serves as it is.
    fine, coarse = FakeScorer(max_length=64), FakeScorer(max_length=16)
    reranker = Reranker(fine, coarse_model=coarse, coarse_max_length=16, coarse_keep=2, window_overlap=0)  # type: ignore[arg-type]
    long_text = "alpha " * 200
    results = reranker.rerank("alpha", [long_text, "alpha beta", "gamma"])
    assert reranker.coarse is not None
    assert reranker.coarse.long_documents == "truncate"
    coarse_pairs = [pair for batch in coarse.batches for pair in batch]
    assert len(coarse_pairs) == 3  # one window per candidate
    assert all(len(query) + len(passage) + 3 <= 16 for query, passage in coarse_pairs)
    assert sorted(r.index for r in results) == [0, 1, 2]
    assert [r.cut_at_stage for r in results].count("coarse") == 1


def test_a_short_coarse_stage_loads_with_that_length_and_reads_first_windows_only() -> None:
    from crossrank.cascade_stage import check_coarse_length, coarse_stage_options
    from crossrank.options import validate_options

    short = {"coarse_backend": "openvino-bf16", "coarse_max_length": 96}
    options = validate_options({**short, "cross_encoder_kwargs": {"revision": "x"}})
    stage = coarse_stage_options(options)
    assert stage["backend"] == "openvino-bf16"
    assert stage["cross_encoder_kwargs"] == {"revision": "x", "max_length": 96}
    assert stage["long_documents"] == "truncate"
    assert options["cross_encoder_kwargs"] == {"revision": "x"}  # the model's own are untouched
    with pytest.raises(ValueError, match=r"coarse_max_length=512 is not shorter than the model's own window"):
        check_coarse_length(512, 512)
    check_coarse_length(96, 512)


def test_copies_share_the_coarse_stage_until_it_changes() -> None:
    reranker, _, coarse = make(coarse_keep=2)
    reranker.rerank(QUERY, DOCUMENTS)
    for changed in ({"top_n": 3}, {"coarse_keep": 4}, {"score_cache_size": 0}, {"max_windows": 2}):
        copy = reranker.with_options(**changed)
        assert copy.coarse is not None
        assert copy.coarse.scorer is coarse
    assert reranker.with_options(max_windows=2).coarse.max_windows == 2  # type: ignore[union-attr]
    other = reranker.with_options(coarse_model=FirstWordScorer())
    assert other.coarse is not None
    assert other.coarse.scorer is not coarse
    single = reranker.with_options(coarse_model=None)
    assert not single.is_cascade
    assert single.coarse is None
    assert reranker.coarse is not None
    assert reranker.coarse.scorer is coarse


def test_the_caller_documents_are_not_mutated() -> None:
    reranker, _, _ = make(coarse_keep=2)
    documents = list(DOCUMENTS)
    reranker.rerank(QUERY, documents)
    assert documents == DOCUMENTS


def _long_text() -> str:
    # 8 windows of 12 tokens (FakeScorer: 16 tokens, 3 special, a 1-token query "apple").
    filler = [f"w{i}" for i in range(96)]
    filler[30] = "apple"  # window 2 (tokens 24-35)
    filler[80] = "apple"  # window 6 (tokens 72-83)
    filler[81] = "apple"
    return " ".join(filler)


def test_the_fine_stage_scores_only_the_coarse_stages_best_windows() -> None:
    text = _long_text()
    fine, coarse = FakeScorer(), FakeScorer()
    reranker = Reranker(fine, coarse_model=coarse, fine_windows_per_document=1, window_overlap=0)  # type: ignore[arg-type]
    (result,) = reranker.rerank("apple", [text])
    assert coarse.pairs_scored == 8
    assert fine.pairs_scored == 1  # only the coarse stage's best window
    assert result.num_windows == 1
    assert result.window_index == 6  # its position among all 8 windows
    assert result.cross_encoder_score == 2.0
    start, end = result.window_span
    assert text[start:end].count("apple") == 2
    two = Reranker(FakeScorer(), coarse_model=FakeScorer(), fine_windows_per_document=2, window_overlap=0)  # type: ignore[arg-type]
    assert two.rerank("apple", [text])[0].num_windows == 2
    everything = Reranker(FakeScorer(), coarse_model=FakeScorer(), window_overlap=0)  # type: ignore[arg-type]
    assert everything.rerank("apple", [text])[0].num_windows == 8


@pytest.mark.parametrize(("margin", "windows_read"), [(None, 2), (0.0, 1), (0.5, 1), (1.0, 2), (5.0, 2)])
def test_a_second_window_is_read_only_within_the_margin_of_the_best(
    margin: float | None, windows_read: int
) -> None:
    # The coarse stage scores window 6 (two apples) 2.0 and window 2 (one apple) 1.0.
    fine = FakeScorer()
    reranker = Reranker(
        fine,  # type: ignore[arg-type]
        coarse_model=FakeScorer(),  # type: ignore[arg-type]
        fine_windows_per_document=2,
        fine_window_margin=margin,
        window_overlap=0,
    )
    (result,) = reranker.rerank("apple", [_long_text()])
    assert fine.pairs_scored == windows_read == result.num_windows
    assert result.window_index == 6  # the best window is always read, and wins
    assert result.cross_encoder_score == 2.0


def test_windows_pass_between_models_with_different_windows_by_character_span() -> None:
    text = _long_text()
    # The coarse model has a 28-token window (24 for text), the fine one 16 (12 for text).
    fine, coarse = FakeScorer(), FakeScorer(max_length=28)
    reranker = Reranker(fine, coarse_model=coarse, fine_windows_per_document=1, window_overlap=0)  # type: ignore[arg-type]
    (result,) = reranker.rerank("apple", [text])
    # The coarse stage's best window (tokens 72-95) holds both apples; it overlaps fine windows 6
    # (72-83) and 7 (84-95) equally, the tie goes to the earlier, and window 6 holds both apples.
    assert fine.pairs_scored == 1
    assert result.cross_encoder_score == 2.0
    assert result.window_index == 6


def test_a_repeated_text_survives_at_every_position() -> None:
    reranker, _, _ = make(coarse_keep=1)
    documents = ["red apple", "blue sky", "red apple"]
    results = reranker.rerank("red apple", documents)
    assert [(r.index, r.cut_at_stage) for r in results] == [(0, None), (2, None), (1, "coarse")]


def test_the_lexical_coarse_stage_picks_the_window_with_the_querys_words() -> None:
    text = _long_text()
    fine = FakeScorer()
    reranker = Reranker(fine, coarse_model="lexical", fine_windows_per_document=1, window_overlap=0)  # type: ignore[arg-type]
    (result,) = reranker.rerank("the apple", [text])
    assert reranker.coarse is not None
    assert reranker.coarse.scorer.name == "lexical(fake-word-overlap)"
    assert fine.pairs_scored == 1  # the model read one window of eight
    start, end = result.window_span  # two apples beat one ("the" is not a content word)
    assert text[start:end].count("apple") == 2
    assert result.coarse_score == pytest.approx(math.log1p(2))
    assert result.cross_encoder_score == 2.0


def test_the_lexical_scorer_counts_content_tokens_pair_by_pair() -> None:
    from crossrank.models.lexical_scorer import LexicalScorer

    tokenizer = FakeScorer()
    lexical = LexicalScorer(tokenizer)  # type: ignore[arg-type]
    query, hit, miss, stop = (
        t.ids for t in tokenizer.tokenize(["the red apple", "red red apple", "blue sky", "the the of"])
    )
    scores = lexical.score([(query, hit), (query, miss), (query, stop)])
    assert scores == [pytest.approx(math.log1p(2) + math.log1p(1)), 0.0, 0.0]
    # A pair's score is its own: the same pair alone scores the same.
    assert lexical.score([(query, hit)]) == scores[:1]
    assert all(type(score) is float for score in scores)
    assert lexical.max_length == tokenizer.max_length
    assert lexical.num_special_tokens == tokenizer.num_special_tokens


def test_the_lexical_coarse_stage_refuses_what_cannot_apply_to_it() -> None:
    with pytest.raises(ValueError, match="runs no model, so coarse_backend='onnx-int8' cannot apply"):
        Reranker("some/model", coarse_model="lexical", coarse_backend="onnx-int8")
    with pytest.raises(ValueError, match="so coarse_max_length=96 cannot apply"):
        Reranker("some/model", coarse_model="lexical", coarse_max_length=96)
