"""Every family scores as ``CrossEncoder.predict`` scores it, on every backend the family supports.

The causal families' own export checks (alone vs batched, the graph's shape, bad exports
refused, the lower precisions) are in test_causal_export.py.

The zoo's tiny random models (tests/model_zoo.py) stand for the rerankers people pick: BERT,
ELECTRA, XLM-R 8k, ModernBERT 8k, DeBERTa-v3, Qwen3-Reranker-style causal LMs (yes/no and a
single logit) and a Qwen3 sequence classifier with a chat template.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from model_zoo import Family

from crossrank import Reranker
from crossrank.ranking.window_scoring import WindowScores, score_texts

QUERY = "does regular aerobic exercise lower blood pressure?"
DOCUMENTS = [
    "Aerobic exercise lowered resting blood pressure in adults with hypertension.",
    "Bananas are rich in potassium.",
    "A longer trial report: participants walked briskly every day, and their systolic readings fell "
    "modestly; diastolic readings barely moved, and nobody changed medication during the study.",
    "No.",
    '"Quoted" results: 42 trials (n=1,204) found café owners naïve about it.',
]
TOLERANCE = 1e-5


def _reference(family_model: Any, documents: list[str] = DOCUMENTS) -> list[float]:
    return [float(score) for score in family_model.predict([(QUERY, d) for d in documents], batch_size=2)]


def _scores(reranker: Reranker, documents: list[str] = DOCUMENTS) -> list[float]:
    results = sorted(reranker.rerank(QUERY, documents), key=lambda result: result.index)
    return [result.cross_encoder_score for result in results]


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CROSSRANK_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_torch_and_auto_equal_predict(
    family: Family, family_path: Path, family_model: Any, cache_dir: Path
) -> None:
    expected = _reference(family_model)
    for backend in ("torch", "auto"):
        reranker = Reranker(str(family_path), backend=backend, score_cache_size=0)  # type: ignore[arg-type]
        assert _scores(reranker) == pytest.approx(expected, abs=TOLERANCE), backend
    # tests/conftest.py pins auto to ONNX Runtime (CROSSRANK_AUTO_BACKEND): no probe per family.
    assert reranker.backend_in_use == "onnx"


def test_auto_measured_keeps_an_exact_backend(
    family_path: Path, family_model: Any, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Unpinned: the probe times the exact backends of this family and keeps one of them.
    monkeypatch.delenv("CROSSRANK_AUTO_BACKEND")
    reranker = Reranker(str(family_path), score_cache_size=0)
    assert _scores(reranker) == pytest.approx(_reference(family_model), abs=TOLERANCE)
    assert reranker.backend_in_use in {"torch-fp32", "onnx", "openvino"}


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_export_backends_equal_predict(
    family: Family, family_path: Path, family_model: Any, cache_dir: Path, backend: str
) -> None:
    reranker = Reranker(str(family_path), backend=backend, score_cache_size=0)  # type: ignore[arg-type]
    assert _scores(reranker) == pytest.approx(_reference(family_model), abs=TOLERANCE)
    assert reranker.backend_in_use == backend


def test_auto_never_falls_back_silently(
    family_path: Path, cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="crossrank"):
        Reranker(str(family_path), score_cache_size=0).rerank(QUERY, DOCUMENTS[:2])
    assert not [record for record in caplog.records if "Scoring with PyTorch instead" in record.getMessage()]


def test_a_pair_scores_the_same_alone_and_in_a_mixed_length_batch(family_path: Path) -> None:
    reranker = Reranker(str(family_path), backend="torch", batch_size=8, score_cache_size=0)
    together = _scores(reranker)
    alone = [_scores(reranker, [document])[0] for document in DOCUMENTS]
    assert alone == pytest.approx(together, abs=1e-6)


def test_every_chunk_max_window_scores_as_predict_on_its_span(family: Family, family_path: Path) -> None:
    from sentence_transformers import CrossEncoder

    # A short window, so a document of a few sentences needs several (a chat template's own
    # text takes about 90 tokens of it).
    window = 192 if family.chat_template else 96
    short = {"max_length": window}
    reranker = Reranker(str(family_path), backend="torch", cross_encoder_kwargs=short, score_cache_size=0)
    document = " ".join(
        f"Trial {i} enrolled normotensive participants; brisk walking lowered systolic pressure."
        for i in range(16)
    )
    window_scores: WindowScores = {}
    score_texts(
        reranker.scorer,
        QUERY,
        [document],
        options=reranker.options,
        cache=None,
        backend=reranker.backend_in_use,
        names=["documents[0]"],
        window_scores_out=window_scores,
    )
    scored = window_scores[document]
    assert len(scored) >= 3
    reference = CrossEncoder(str(family_path), device="cpu", max_length=window).predict(
        [(QUERY, document[start:end]) for _, (start, end) in scored], batch_size=4
    )
    for (score, span), expected in zip(scored, reference, strict=True):
        assert score == pytest.approx(float(expected), abs=TOLERANCE), span


@pytest.mark.parametrize(
    "family", ["xlm-roberta-8k", "xlm-roberta-8k-no-max-length", "modernbert-8k"], indirect=True
)
def test_8k_families_read_the_positions_they_have(family: Family, family_path: Path) -> None:
    scorer = Reranker(str(family_path), backend="torch").scorer
    assert scorer.max_length == family.usable_positions == 8192


def test_both_adapters_and_the_server_rank_as_the_core(family_path: Path, cache_dir: Path) -> None:
    from fastapi.testclient import TestClient
    from langchain_core.documents import Document
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

    from crossrank.serving.app import create_app
    from crossrank.serving.settings import ServeSettings
    from langchain_crossrank import CrossEncoderCompressor
    from llama_index.postprocessor.crossrank import CrossEncoderRerank

    core = Reranker(str(family_path), top_n=3, score_cache_size=0).rerank(QUERY, DOCUMENTS)
    expected = [result.index for result in core]

    nodes = [NodeWithScore(node=TextNode(text=text), score=0.0) for text in DOCUMENTS]
    llama = CrossEncoderRerank(model=str(family_path), top_n=3).postprocess_nodes(
        nodes, query_bundle=QueryBundle(QUERY)
    )
    assert [DOCUMENTS.index(node.node.get_content()) for node in llama] == expected

    documents = [Document(page_content=text) for text in DOCUMENTS]
    chain = CrossEncoderCompressor(model=str(family_path), top_n=3).compress_documents(documents, QUERY)
    assert [DOCUMENTS.index(document.page_content) for document in chain] == expected

    app = create_app(ServeSettings(model=str(family_path)), load_in_background=False)
    with TestClient(app) as client:
        response = client.post(
            "/v2/rerank", json={"model": "m", "query": QUERY, "documents": DOCUMENTS, "top_n": 3}
        )
    assert response.status_code == 200, response.text
    served = response.json()["results"]
    assert [row["index"] for row in served] == expected
    assert [row["relevance_score"] for row in served] == pytest.approx([r.score for r in core], abs=TOLERANCE)


@pytest.mark.parametrize("family", ["qwen3-reranker", "qwen3-seq-cls-template", "bert"], indirect=True)
def test_an_instruction_scores_as_predict_with_that_prompt(family_path: Path, family_model: Any) -> None:
    instruction = "Given a health question, find abstracts that answer it"
    reranker = Reranker(str(family_path), backend="torch", instruction=instruction, score_cache_size=0)
    expected = family_model.predict([(QUERY, d) for d in DOCUMENTS], prompt=instruction, batch_size=2)
    assert _scores(reranker) == pytest.approx([float(s) for s in expected], abs=TOLERANCE)
    plain = _scores(Reranker(str(family_path), backend="torch", score_cache_size=0))
    assert max(abs(a - b) for a, b in zip(_scores(reranker), plain, strict=True)) > 1e-4
