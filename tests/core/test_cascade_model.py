"""A real self-cascade: the test model in int8 prunes, the same model in fp32 ranks the survivors."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossrank import Reranker
from crossrank.evaluation.beir import load_beir
from crossrank.evaluation.evaluator import select_query_ids
from crossrank.evaluation.first_stage import build_first_stage

QUERIES = 5
CANDIDATES = 30
KEEP = 15


@pytest.fixture(scope="module")
def scifact_candidates(data_dir: Path) -> list[tuple[str, list[str]]]:
    dataset = load_beir(data_dir / "scifact", split="test")
    stage = build_first_stage("bm25", dataset, data_dir=data_dir / "scifact")
    out = []
    for query_id in select_query_ids(dataset, QUERIES):
        query = dataset.queries[query_id]
        out.append((query, [dataset.corpus[c.doc_id].full_text for c in stage.search(query, CANDIDATES)]))
    return out


def test_an_int8_self_cascade_keeps_the_fp32_top_10(
    model_path: str, scifact_candidates: list[tuple[str, list[str]]]
) -> None:
    single = Reranker(model_path, backend="onnx", score_cache_size=0)
    _ = single.scorer  # loaded before copying, so the copy shares it
    cascade = single.with_options(coarse_backend="onnx-int8", coarse_keep=KEEP)
    assert cascade.coarse is not None
    assert cascade.coarse.backend_in_use == "onnx-int8"
    assert cascade.scorer is single.scorer  # the fine stage is the very same loaded model
    recalls = []
    for query, texts in scifact_candidates:
        reference = single.rerank(query, texts)
        want = [r.index for r in reference][:10]
        got_results = cascade.rerank(query, texts)
        got = [r.index for r in got_results][:10]
        recalls.append(len(set(want) & set(got)) / 10)
        survivors = [r for r in got_results if r.cut_at_stage is None]
        assert len(survivors) == KEEP
        # Survivors are scored by the same fp32 model: identical scores to the single stage.
        by_index = {r.index: r.score for r in reference}
        assert all(r.score == pytest.approx(by_index[r.index], abs=1e-6) for r in survivors)
    # Stated tolerance: on these 5 SciFact queries the cascade keeps at least 90% of the top 10.
    assert sum(recalls) / len(recalls) >= 0.9


def test_a_short_bf16_coarse_stage_reads_only_each_candidates_start(
    model_path: str, scifact_candidates: list[tuple[str, list[str]]]
) -> None:
    single = Reranker(model_path, backend="onnx", score_cache_size=0)
    cascade = single.with_options(coarse_backend="openvino-bf16", coarse_max_length=64, coarse_keep=KEEP)
    assert cascade.coarse is not None
    assert cascade.coarse.backend_in_use == "openvino-bf16"
    assert cascade.coarse.scorer.max_length == 64
    assert cascade.coarse.long_documents == "truncate"
    query, texts = scifact_candidates[0]
    coarse_alone = {r.index: r.score for r in cascade.coarse.rerank(query, texts)}
    assert all(r.num_windows == 1 for r in cascade.coarse.rerank(query, texts))
    results = cascade.rerank(query, texts)
    assert sorted(r.index for r in results) == list(range(len(texts)))
    assert all(r.coarse_score == coarse_alone[r.index] for r in results)
    reference = {r.index: r.score for r in single.rerank(query, texts)}
    survivors = [r for r in results if r.cut_at_stage is None]
    assert len(survivors) == KEEP
    assert all(r.score == pytest.approx(reference[r.index], abs=1e-6) for r in survivors)
    with pytest.raises(ValueError, match="coarse_max_length=600 is not shorter than the model's own window"):
        single.with_options(coarse_max_length=600).rerank(query, texts)


def test_a_lexical_coarse_stage_lets_the_model_read_one_window_of_each_long_candidate(
    model_path: str, scifact_candidates: list[tuple[str, list[str]]]
) -> None:
    single = Reranker(model_path, backend="onnx", score_cache_size=0)
    cascade = single.with_options(coarse_model="lexical", coarse_keep=CANDIDATES, fine_windows_per_document=1)
    same_window = total = 0
    queries = scifact_candidates[:3]  # 3 of the 5: 90 long candidates, about 4 windows each
    for position, (query, texts) in enumerate(queries):
        # Each candidate after another query's candidates: long, with off-query text first.
        other = queries[(position + 1) % len(queries)][1]
        long_texts = [" ".join(other[:3]) + "\n\n" + text for text in texts]
        reference = {r.index: r for r in single.rerank(query, long_texts)}
        results = cascade.rerank(query, long_texts)
        assert sorted(r.index for r in results) == list(range(len(long_texts)))  # nothing cut
        for result in results:
            full = reference[result.index]
            assert full.num_windows > 1  # the texts really are long
            assert result.num_windows == 1  # the model read one window
            assert result.cut_at_stage is None
            # The model's score of one window is at most its best window's.
            assert result.cross_encoder_score <= full.cross_encoder_score + 1e-4
            total += 1
            if result.window_span == full.window_span:
                same_window += 1
                assert result.cross_encoder_score == pytest.approx(full.cross_encoder_score, abs=1e-4)
    # Stated tolerance: the word count finds the model's own best window for many candidates
    # (measured on the --long protocol's first 30 claims: 65% of relevant candidates, 43% of the others).
    assert same_window / total >= 0.4
