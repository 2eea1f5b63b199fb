"""The long-document protocol on a tiny synthetic corpus with a word-count token counter."""

from __future__ import annotations

import re

import pytest

from crossrank.evaluation.long_corpus import SEPARATOR, build_long_corpus


def count_words(texts: list[str]) -> list[int]:
    return [len(text.split()) for text in texts]


# Twenty documents of 3 to 22 words; every word is unique to its document.
CORPUS = {f"d{i}": " ".join(f"w{i}x{j}" for j in range(3 + i)) for i in range(20)}
MIN_TOKENS = 40


def test_the_same_seed_gives_the_same_corpus_and_another_seed_another() -> None:
    first = build_long_corpus(CORPUS, count_words, min_tokens=MIN_TOKENS, seed=13)
    again = build_long_corpus(CORPUS, count_words, min_tokens=MIN_TOKENS, seed=13)
    other = build_long_corpus(CORPUS, count_words, min_tokens=MIN_TOKENS, seed=14)
    assert first.fillers == again.fillers
    assert [first.text(doc_id) for doc_id in CORPUS] == [again.text(doc_id) for doc_id in CORPUS]
    assert first.fillers != other.fillers


def test_every_long_document_exceeds_the_budget_and_ends_with_its_own_text() -> None:
    long = build_long_corpus(CORPUS, count_words, min_tokens=MIN_TOKENS)
    for doc_id, own in CORPUS.items():
        text = long.text(doc_id)
        assert len(text.split()) > MIN_TOKENS
        assert long.num_tokens[doc_id] == len(text.split())
        assert text.endswith(own)
        assert text[long.own_text_start(doc_id) :] == own
        # Fillers come first, so the own text is preceded by at least one of them.
        assert long.fillers[doc_id]


def test_a_document_is_never_its_own_filler_and_no_filler_repeats() -> None:
    long = build_long_corpus(CORPUS, count_words, min_tokens=MIN_TOKENS)
    for doc_id, fillers in long.fillers.items():
        assert doc_id not in fillers
        assert len(set(fillers)) == len(fillers)
        own_words = set(CORPUS[doc_id].split())
        filler_text = long.text(doc_id)[: long.own_text_start(doc_id)]
        assert not own_words & set(filler_text.split())


def test_fillers_appear_in_the_order_drawn_separated_by_blank_lines() -> None:
    long = build_long_corpus(CORPUS, count_words, min_tokens=MIN_TOKENS)
    parts = long.text("d0").split(SEPARATOR)
    assert parts == [*(CORPUS[filler] for filler in long.fillers["d0"]), CORPUS["d0"]]


def test_excluded_documents_are_never_fillers_but_still_get_long_versions() -> None:
    excluded = {"d19", "d18", "d3"}
    long = build_long_corpus(CORPUS, count_words, min_tokens=MIN_TOKENS, exclude_fillers=excluded)
    assert all(not excluded & set(fillers) for fillers in long.fillers.values())
    assert all(long.num_tokens[doc_id] > MIN_TOKENS for doc_id in excluded)


def test_a_document_already_over_the_budget_keeps_its_text() -> None:
    long = build_long_corpus(CORPUS, count_words, min_tokens=10)
    assert long.fillers["d19"] == ()
    assert long.text("d19") == CORPUS["d19"]


def test_the_counter_is_called_once_with_every_text() -> None:
    calls: list[list[str]] = []

    def counting(texts: list[str]) -> list[int]:
        calls.append(list(texts))
        return count_words(texts)

    build_long_corpus(CORPUS, counting, min_tokens=MIN_TOKENS)
    assert calls == [list(CORPUS.values())]


def test_a_pool_too_small_for_the_budget_is_an_error_naming_the_fix() -> None:
    with pytest.raises(ValueError, match=re.escape("Cannot bury document 'd0' under 10000 tokens")):
        build_long_corpus(CORPUS, count_words, min_tokens=10_000)


def test_a_counter_returning_the_wrong_number_of_counts_is_an_error() -> None:
    with pytest.raises(ValueError, match=re.escape("count_tokens returned 1 counts for 20 texts")):
        build_long_corpus(CORPUS, lambda texts: [1], min_tokens=MIN_TOKENS)


@pytest.mark.parametrize("bad", [-1, 1.5, True], ids=["negative", "float", "bool"])
def test_min_tokens_must_be_a_non_negative_integer(bad: object) -> None:
    with pytest.raises(ValueError, match=re.escape(f"min_tokens must be an integer >= 0, got {bad!r}.")):
        build_long_corpus(CORPUS, count_words, min_tokens=bad)  # type: ignore[arg-type]


def test_the_on_topic_protocol_buries_a_candidate_under_its_query_s_other_candidates() -> None:
    from crossrank.evaluation.long_corpus import build_on_topic_corpus

    excluded = {"d3", "d9"}
    corpus = build_on_topic_corpus(
        CORPUS, count_words, min_tokens=MIN_TOKENS, seed=5, exclude_fillers=excluded
    )
    candidates = [f"d{i}" for i in range(2, 16)]
    for doc_id in candidates:
        fillers = corpus.fillers("q1", doc_id, candidates)
        assert set(fillers) <= set(candidates) - {doc_id} - excluded  # never itself, never a judged one
        text = corpus.text("q1", doc_id, candidates)
        assert len(text.split()) > MIN_TOKENS
        assert text[corpus.own_text_start("q1", doc_id, candidates) :] == CORPUS[doc_id]
    again = build_on_topic_corpus(
        CORPUS, count_words, min_tokens=MIN_TOKENS, seed=5, exclude_fillers=excluded
    )
    assert [again.fillers("q1", d, candidates) for d in candidates] == [
        corpus.fillers("q1", d, candidates) for d in candidates
    ]
    other_query = [corpus.fillers("q2", d, candidates) for d in candidates]
    assert other_query != [corpus.fillers("q1", d, candidates) for d in candidates]


def test_the_on_topic_protocol_asks_for_more_candidates_when_they_are_too_few() -> None:
    from crossrank.evaluation.long_corpus import build_on_topic_corpus

    corpus = build_on_topic_corpus(CORPUS, count_words, min_tokens=MIN_TOKENS)
    with pytest.raises(ValueError, match=r"retrieve more candidates \(a larger k\)"):
        corpus.fillers("q1", "d0", ["d0", "d1", "d2"])
