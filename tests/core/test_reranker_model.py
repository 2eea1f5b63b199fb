"""The Reranker with the real cross-encoder from CROSSRANK_TEST_MODEL."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from long_documents import LIGHTHOUSE_ANSWER, LIGHTHOUSE_DISTRACTOR, LIGHTHOUSE_QUERY, lighthouse_history
from sentence_transformers import CrossEncoder

from crossrank import ModelLoadError, Reranker

QUERY = "Regular aerobic exercise lowers resting blood pressure in adults with hypertension."
DOCUMENTS = [
    "In a randomized trial, adults with stage 1 hypertension who walked briskly for thirty minutes "
    "on most days had lower resting systolic and diastolic pressure after twelve weeks than controls.",
    "Blood pressure cuffs should be sized to the arm; a cuff that is too small reads falsely high.",
    "The committee reviewed the harbour budget and approved repairs to the eastern pier.",
    "",
    "Exercise physiology " * 120,  # about 360 tokens: fits, but not tiny
]


def test_import_does_not_load_torch_or_sentence_transformers() -> None:
    code = "import sys, shared; print('torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("long_documents", ["chunk_max", "truncate"])
def test_fitting_documents_score_exactly_like_predict(
    cross_encoder: CrossEncoder, long_documents: str
) -> None:
    reranker = Reranker(cross_encoder, long_documents=long_documents)  # type: ignore[arg-type]
    results = reranker.rerank(QUERY, DOCUMENTS)
    expected = cross_encoder.predict([(QUERY, document) for document in DOCUMENTS])
    assert len(results) == len(DOCUMENTS)
    for result in results:
        assert result.num_windows == 1
        assert type(result.score) is float
        assert result.score == pytest.approx(float(expected[result.index]), abs=1e-4)


def test_a_late_passage_in_a_long_document_wins_with_chunk_max_only(cross_encoder: CrossEncoder) -> None:
    document = lighthouse_history()
    tokens = cross_encoder.tokenizer(document, add_special_tokens=False, return_offsets_mapping=True)
    answer_start = document.index(LIGHTHOUSE_ANSWER)
    answer_token = next(i for i, (start, _) in enumerate(tokens["offset_mapping"]) if start >= answer_start)
    assert len(tokens["input_ids"]) > 1500
    assert answer_token > 1000

    candidates = [LIGHTHOUSE_DISTRACTOR, document]
    chunked = Reranker(cross_encoder).rerank(LIGHTHOUSE_QUERY, candidates)
    assert chunked[0].index == 1
    assert chunked[0].num_windows > 1
    start, end = chunked[0].window_span
    assert start <= answer_start
    assert answer_start + len(LIGHTHOUSE_ANSWER) <= end

    truncated = Reranker(cross_encoder, long_documents="truncate").rerank(LIGHTHOUSE_QUERY, candidates)
    assert truncated[0].index == 0
    long_result = next(r for r in truncated if r.index == 1)
    assert long_result.window_span[1] < answer_start


def test_concurrent_calls_from_eight_threads_match_sequential_calls(cross_encoder: CrossEncoder) -> None:
    reranker = Reranker(cross_encoder)
    queries = [QUERY, LIGHTHOUSE_QUERY, "Salt marsh restoration", "bread", "cuff size", "pier", "walks", "x"]
    documents = [*DOCUMENTS, LIGHTHOUSE_DISTRACTOR, lighthouse_history()]
    sequential = [reranker.rerank(query, documents) for query in queries]
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(lambda query: reranker.rerank(query, documents), queries))
    for one, other in zip(sequential, concurrent, strict=True):
        assert [r.index for r in one] == [r.index for r in other]
        assert [r.score for r in one] == pytest.approx([r.score for r in other], abs=1e-5)


def test_lazy_loading_from_a_path_happens_once_across_threads(model_path: str) -> None:
    reranker = Reranker(model_path, device="cpu")
    with ThreadPoolExecutor(max_workers=4) as pool:
        scorers = list(pool.map(lambda _: reranker.scorer, range(4)))
    assert all(scorer is scorers[0] for scorer in scorers)
    assert reranker.model_name == model_path


def test_copies_made_before_the_model_loads_share_one_load(model_path: str) -> None:
    reranker = Reranker(model_path, device="cpu")
    top_two = reranker.with_options(top_n=2)
    on_another_backend = reranker.with_options(backend="torch")
    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(lambda r: r.scorer, [top_two, reranker])
    assert first is second
    assert on_another_backend.scorer is not first  # a loading option changed: a load of its own
    assert on_another_backend.backend_in_use == "torch-fp32"


def test_sigmoid_normalize_leaves_a_sigmoid_model_alone(cross_encoder: CrossEncoder) -> None:
    raw = Reranker(cross_encoder).rerank(QUERY, DOCUMENTS[:3])
    normalized = Reranker(cross_encoder, normalize="sigmoid").rerank(QUERY, DOCUMENTS[:3])
    assert [r.score for r in normalized] == pytest.approx([r.score for r in raw])
    assert all(0.0 <= r.score <= 1.0 for r in normalized)


def test_rrf_keeps_the_cross_encoder_score_on_the_result(cross_encoder: CrossEncoder) -> None:
    plain = {r.index: r.score for r in Reranker(cross_encoder).rerank(QUERY, DOCUMENTS)}
    fused = Reranker(cross_encoder, fusion="rrf").rerank(QUERY, DOCUMENTS, retrieval_scores=[5, 4, 3, 2, 1])
    for result in fused:
        assert result.cross_encoder_score == pytest.approx(plain[result.index], abs=1e-6)
        assert result.score < 2 / 61 + 1e-12


def test_a_missing_local_model_names_the_path_and_the_fix() -> None:
    with pytest.raises(ModelLoadError, match=re.escape("'/no/such/model'")) as error:
        Reranker("/no/such/model").rerank("query", ["doc"])
    assert "CROSSRANK_MODEL" in str(error.value)


def test_an_unreachable_hub_id_fails_fast_with_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("CROSSRANK_MODEL", raising=False)
    started = time.monotonic()
    with pytest.raises(ModelLoadError) as error:
        Reranker().rerank("query", ["doc"])
    message = str(error.value)
    assert "cross-encoder/ms-marco-MiniLM-L6-v2" in message
    assert "CROSSRANK_MODEL" in message
    assert "local directory" in message
    assert time.monotonic() - started < 30
