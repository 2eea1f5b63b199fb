"""One set of input rules for the core and both adapters; a bad score is an error, not a ranking."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import pytest
from fake_scorer import FakeScorer
from langchain_core.documents import Document

from crossrank import Reranker, ScoringError
from langchain_crossrank import CrossEncoderCompressor, CrossEncoderModel


class _PoisonedScorer(FakeScorer):
    """Scores like FakeScorer, except that any window containing ``poison`` scores ``value``."""

    def __init__(self, poison: str, value: float = math.nan, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._poison = poison
        self._value = value

    def score(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[float]:
        scores = super().score(pairs)
        poison = self._id(self._poison)
        return [
            self._value if poison in passage else score
            for (_, passage), score in zip(pairs, scores, strict=True)
        ]


DOCUMENTS = ["apple pie recipe", "apple tart", "poison apple", "banana bread"]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize(
    "options",
    [{}, {"top_n": 2}, {"fusion": "rrf"}, {"score_threshold": 0.5}],
    ids=["plain", "top-n", "rrf", "threshold"],
)
def test_a_non_finite_score_raises_naming_the_document_and_backend(
    value: float, options: dict[str, Any]
) -> None:
    reranker = Reranker(_PoisonedScorer("poison", value), **options)
    message = f"the model returned {value} for documents[2] (window 1 of 1) with backend _PoisonedScorer"
    with pytest.raises(ScoringError, match=re.escape(message)):
        reranker.rerank("apple", DOCUMENTS)


def test_a_non_finite_score_is_never_cached() -> None:
    scorer = _PoisonedScorer("poison")
    reranker = Reranker(scorer)
    for _ in range(2):
        with pytest.raises(ScoringError):
            reranker.rerank("apple", DOCUMENTS)
    assert reranker.cache_info().size == 3  # the three finite windows only


def test_score_pairs_names_the_pair() -> None:
    reranker = Reranker(_PoisonedScorer("poison"))
    with pytest.raises(ScoringError, match=re.escape("for pairs[1][1] (window 1 of 1)")):
        reranker.score_pairs([("apple", "apple pie"), ("apple", "poison apple")])


@pytest.mark.parametrize("query", ["\u200b\u200b", " \u200b\t", "\ufeff"], ids=["zwsp", "mixed", "bom"])
def test_an_invisible_query_is_rejected_like_a_blank_one(query: str) -> None:
    scorer = FakeScorer()
    with pytest.raises(ValueError, match=re.escape(f"query must be a non-empty string, got {query!r}.")):
        Reranker(scorer).rerank(query, ["a"])
    assert scorer.pairs_scored == 0


@pytest.mark.parametrize("query", ["\x01", "\x00\x01", "\ue000"], ids=["control", "controls", "private"])
def test_an_unprintable_query_is_the_models_to_read(query: str) -> None:
    # Not "must be a non-empty string": a tokenizer that reads the character scores it.
    assert len(Reranker(FakeScorer()).rerank(query, ["a", "b"])) == 2


def test_a_query_the_tokenizer_drops_entirely_is_rejected() -> None:
    class _DropsEverything(FakeScorer):
        def tokenize(self, texts: Sequence[str]) -> list[Any]:
            return [tokens if text != "dropped" else type(tokens)(ids=[], offsets=[])
                    for text, tokens in zip(texts, super().tokenize(texts), strict=True)]  # fmt: skip

    with pytest.raises(ValueError, match=re.escape("query 'dropped' has no tokens for this model")):
        Reranker(_DropsEverything()).rerank("dropped", ["a"])


def _generator() -> Any:
    yield from ["apple pie", "banana"]


@pytest.mark.parametrize(
    "call",
    [
        lambda documents: Reranker(FakeScorer()).rerank("apple", documents),
        lambda documents: CrossEncoderCompressor(model=FakeScorer(), top_n=None).compress_documents(
            [Document(text) for text in documents], "apple"
        ),
    ],
    ids=["core", "langchain-compressor"],
)
def test_generators_are_accepted_everywhere(call: Any) -> None:
    assert len(call(_generator())) == 2


def test_generators_of_pairs_are_accepted() -> None:
    pairs = ((query, text) for query, text in [("apple", "apple pie"), ("apple", "banana")])
    assert CrossEncoderModel(FakeScorer()).score(pairs) == [1.0, 0.0]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"documents": b"apple pie"}, TypeError, "documents must be a sequence of strings, got bytes."),
        ({"documents": {"a": 1}}, TypeError, "documents must be a sequence of strings, got dict."),
        ({"documents": 7}, TypeError, "documents must be a sequence of strings, got int."),
        ({"documents": ["ok", b"x"]}, TypeError, "documents[1] must be a string, got bytes."),
        (
            {"documents": ["ok", "bad \ud800 text"]},
            ValueError,
            "documents[1] is not valid text: it holds a lone surrogate ('\\ud800') at character 4",
        ),
        (
            {"documents": ["a", "b"], "retrieval_scores": [1.0, 10**400]},
            ValueError,
            "retrieval_scores[1] is too large for a float",
        ),
        (
            {"documents": ["a", "b"], "retrieval_scores": [1.0, math.nan]},
            ValueError,
            "retrieval_scores[1] must be a number, got nan.",
        ),
        (
            {"documents": ["a"], "retrieval_scores": [True]},
            ValueError,
            "retrieval_scores[0] must be a number, got True.",
        ),
        (
            {"documents": ["a", "b"], "retrieval_scores": [0.5, math.inf]},
            ValueError,
            "retrieval_scores[1] must be a finite number, got inf.",
        ),
        (
            {"documents": ["a", "b"], "retrieval_scores": [-math.inf, 0.5]},
            ValueError,
            "retrieval_scores[0] must be a finite number, got -inf.",
        ),
        ({"documents": ["a"], "top_n": True}, ValueError, "top_n must be a positive integer, got True."),
    ],
    ids=[
        "bytes",
        "dict",
        "int",
        "bytes-item",
        "surrogate",
        "overflow",
        "nan-score",
        "bool-score",
        "inf-score",
        "minus-inf-score",
        "bool-top-n",
    ],
)
def test_bad_inputs_name_the_value(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        Reranker(FakeScorer()).rerank("apple", **kwargs)


def test_a_lone_surrogate_in_the_query_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=re.escape("query is not valid text: it holds a lone surrogate")):
        Reranker(FakeScorer()).rerank("apple \udfff", ["a"])


def test_numpy_integers_are_accepted_for_top_n() -> None:
    np = pytest.importorskip("numpy")
    results = Reranker(FakeScorer()).rerank("apple", DOCUMENTS, top_n=np.int32(2))
    assert len(results) == 2
