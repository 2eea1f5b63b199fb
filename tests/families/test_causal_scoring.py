"""Causal-LM rerankers: the shared prompt prefix changes no score, and no vocabulary-wide logits are made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from model_zoo import FAMILIES, Family

from crossrank import Reranker
from crossrank.models.causal_scorer import CausalLogitScorer

CAUSAL = [name for name, family in FAMILIES.items() if family.causal]
QUERY = "does regular aerobic exercise lower blood pressure?"
DOCUMENTS = [
    "Aerobic exercise lowered resting blood pressure in adults with hypertension.",
    "No.",
    "A longer trial report: participants walked briskly every day, and their systolic readings fell "
    "modestly; diastolic readings barely moved.",
]


def _pairs(scorer: CausalLogitScorer, query: str = QUERY) -> list[tuple[list[int], list[int]]]:
    head = scorer.query_ids(query, 64)
    return [(head, [int(t) for t in text.ids]) for text in scorer.tokenize(DOCUMENTS)]


@pytest.mark.parametrize("family", CAUSAL, indirect=True)
def test_the_shared_prefix_scores_as_the_full_pairs(family: Family, load_zoo_model: Any) -> None:
    model = load_zoo_model(family.name)
    shared = CausalLogitScorer(model, share_prefix=True)
    full = CausalLogitScorer(model, share_prefix=False)
    assert shared.shares_prefix
    assert not full.shares_prefix
    pairs = _pairs(shared)
    assert shared.score(pairs) == pytest.approx(full.score(pairs), abs=1e-5)
    # The head's cache is kept and re-used: the second call scores the same.
    assert shared.score(pairs[::-1]) == pytest.approx(full.score(pairs[::-1]), abs=1e-5)
    # Pairs of two queries in one call are scored in full, and still right.
    mixed = [*_pairs(shared)[:2], *_pairs(shared, "is coffee bad for the heart?")[:2]]
    assert shared.score(mixed) == pytest.approx(full.score(mixed), abs=1e-5)


@pytest.mark.parametrize("family", CAUSAL, indirect=True)
def test_no_vocabulary_wide_logits_are_computed(
    family: Family, family_path: Path, load_zoo_model: Any
) -> None:
    model = load_zoo_model(family.name)
    head = model[0].auto_model.get_output_embeddings()

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("the LM head ran over the whole vocabulary")

    head.forward = refuse  # only the true/false rows of its weight may be read
    scorer = CausalLogitScorer(model)
    for share_prefix in (True, False):
        scorer = CausalLogitScorer(model, share_prefix=share_prefix)
        scores = scorer.score(_pairs(scorer))
        assert len(scores) == len(DOCUMENTS)
    reference = Reranker(str(family_path), backend="torch", score_cache_size=0).rerank(QUERY, DOCUMENTS)
    by_index = {result.index: result.cross_encoder_score for result in reference}
    assert scores == pytest.approx([by_index[i] for i in range(len(DOCUMENTS))], abs=1e-5)
