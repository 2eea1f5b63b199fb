"""``crossrank eval``: the evaluation logic with a fake scorer, then the command on real SciFact."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fake_scorer import FakeScorer

from crossrank import Reranker
from crossrank.cli.main import main
from crossrank.evaluation.beir import BeirDataset, BeirDocument
from crossrank.evaluation.evaluator import RERANK_VARIANTS, VARIANTS, evaluate, select_query_ids
from crossrank.evaluation.first_stage import Candidate

METRICS = ("ndcg_at_10", "recall_at_10", "mrr_at_10")

# FakeScorer(max_length=16, 3 special tokens): the query "red apple" leaves 11-token windows.
FILLER = " ".join(f"filler{i}" for i in range(30))
CORPUS = {
    "noise": BeirDocument("noise", "", "blue sky"),
    "partial": BeirDocument("partial", "", "a red car"),
    "long-relevant": BeirDocument("long-relevant", "", f"{FILLER} red apple"),
}


class FixedFirstStage:
    """Returns the corpus in a fixed order with descending scores."""

    name = "fixed"

    def search(self, query: str, k: int) -> list[Candidate]:
        return [Candidate("noise", 3.0), Candidate("partial", 2.0), Candidate("long-relevant", 1.0)][:k]


def tiny_dataset() -> BeirDataset:
    return BeirDataset(
        name="tiny",
        corpus=CORPUS,
        queries={"q1": "red apple"},
        qrels={"q1": {"long-relevant": 1, "noise": 0}},
    )


def test_queries_are_taken_in_numeric_id_order() -> None:
    qrels = {query_id: {"d": 1} for query_id in ["10", "2", "b", "1", "a"]}
    dataset = BeirDataset(name="t", corpus={}, queries=dict.fromkeys(qrels, "q"), qrels=qrels)
    assert select_query_ids(dataset) == ["1", "2", "10", "a", "b"]
    assert select_query_ids(dataset, 2) == ["1", "2"]
    with pytest.raises(ValueError, match=re.escape("limit must be a positive integer, got 0.")):
        select_query_ids(dataset, 0)


@pytest.mark.parametrize("reuse_scores", [False, True], ids=["separate-passes", "reuse-scores"])
def test_the_variants_rerank_the_same_candidates_as_computed_by_hand(reuse_scores: bool) -> None:
    scorer = FakeScorer()
    report = evaluate(
        tiny_dataset(),
        FixedFirstStage(),  # type: ignore[arg-type]
        Reranker(scorer),  # type: ignore[arg-type]
        k=3,
        reuse_scores=reuse_scores,
    )
    (row,) = report.per_query
    top = {name: row["variants"][name]["top_10"] for name in VARIANTS}
    assert top["first_stage"] == ["noise", "partial", "long-relevant"]
    # Truncation sees only filler in the long document: it ties with "noise" at 0 and
    # keeps retrieval order behind it.
    assert top["truncate"] == ["partial", "noise", "long-relevant"]
    assert top["chunk_max"] == ["long-relevant", "partial", "noise"]
    # RRF: long-relevant 1/61 + 1/63 ties noise 1/63 + 1/61 (input order wins), both beat
    # partial's 2/62.
    assert top["chunk_max_rrf"] == ["noise", "long-relevant", "partial"]

    assert report.metrics["first_stage"]["ndcg_at_10"] == pytest.approx(1 / math.log2(4))
    assert report.metrics["truncate"]["ndcg_at_10"] == pytest.approx(1 / math.log2(4))
    assert report.metrics["chunk_max"] == {"ndcg_at_10": 1.0, "recall_at_10": 1.0, "mrr_at_10": 1.0}
    assert report.metrics["chunk_max_rrf"]["mrr_at_10"] == pytest.approx(0.5)
    assert report.recall_at_k_first_stage == 1.0

    document = report.to_json()
    chunk_max_pairs = document["variants"]["chunk_max"]["pairs_scored"]
    # 32 tokens in 11-token windows, stride 10 (overlap 11 // 8): starts 0, 10, 20 and 21.
    assert chunk_max_pairs == 1 + 1 + 4
    assert document["variants"]["chunk_max_rrf"]["pairs_scored"] == chunk_max_pairs
    assert document["variants"]["truncate"]["pairs_scored"] == 3
    if reuse_scores:
        assert scorer.pairs_scored == chunk_max_pairs
        assert document["variants"]["truncate"]["pairs_per_s"] is None
    else:
        assert scorer.pairs_scored == chunk_max_pairs + 3
        assert document["variants"]["truncate"]["pairs_per_s"] > 0


class FirstWordScorer(FakeScorer):
    """A cruder judge for a cascade's coarse stage: counts only the query's first word."""

    def score(self, pairs: Any) -> list[float]:
        self.batches.append([(list(q), list(p)) for q, p in pairs])
        return [float(sum(1 for token in passage if token == query[0])) for query, passage in pairs]


def test_a_cascades_chunk_max_is_its_own_pass_not_the_fused_passs_survivors() -> None:
    # Weighted towards retrieval, the fused cascade keeps "noise" (retrieved first); alone,
    # the coarse stage keeps "partial". Each variant must be what a user of it gets.
    coarse = FirstWordScorer()
    cascade = Reranker(
        FakeScorer(),  # type: ignore[arg-type]
        coarse_model=coarse,  # type: ignore[arg-type]
        coarse_keep=1,
        rrf_weights=(1.0, 3.0),
    )
    report = evaluate(tiny_dataset(), FixedFirstStage(), cascade, k=3, reuse_scores=True)  # type: ignore[arg-type]
    (row,) = report.per_query
    # Every pass shares one coarse stage and its cache: each window was scored once.
    assert coarse.pairs_scored == 1 + 1 + 4
    texts = [CORPUS[doc_id].full_text for doc_id in ("noise", "partial", "long-relevant")]
    ids = ["noise", "partial", "long-relevant"]
    scores = [3.0, 2.0, 1.0]
    alone = cascade.with_options(fusion=None).rerank("red apple", texts, retrieval_scores=scores)
    fused = cascade.with_options(fusion="rrf").rerank("red apple", texts, retrieval_scores=scores)
    assert row["variants"]["chunk_max"]["top_10"] == [ids[r.index] for r in alone]
    assert row["variants"]["chunk_max_rrf"]["top_10"] == [ids[r.index] for r in fused]
    assert alone[0].index != fused[0].index  # the two passes really keep different survivors


def test_a_cascade_against_its_single_stage_ranks_like_two_separate_runs_at_the_single_stages_cost() -> None:
    fine, coarse = FakeScorer(), FirstWordScorer()
    cascade = Reranker(fine, coarse_model=coarse, coarse_keep=3, fine_windows_per_document=1)  # type: ignore[arg-type]
    paired = evaluate(tiny_dataset(), FixedFirstStage(), cascade, k=3, single_stage=True)  # type: ignore[arg-type]
    single_stage_pairs = fine.pairs_scored
    alone = evaluate(tiny_dataset(), FixedFirstStage(), Reranker(FakeScorer()), k=3, reuse_scores=True)  # type: ignore[arg-type]
    separate = evaluate(tiny_dataset(), FixedFirstStage(), cascade, k=3, reuse_scores=True)  # type: ignore[arg-type]

    assert paired.single_stage is not None
    document = paired.to_json()
    for name in VARIANTS:
        for got, expected in ((paired.single_stage, alone), (paired, separate)):
            assert got.per_query[0]["variants"][name] == expected.per_query[0]["variants"][name]
    # The cascade read fewer windows than the single stage, and every one came from the cache.
    assert (
        document["variants"]["chunk_max"]["pairs_scored"]
        < document["single_stage"]["variants"]["chunk_max"]["pairs_scored"]
    )
    assert single_stage_pairs == alone.pairs_per_pass["chunk_max"]
    # Cache hits are not the cascade's speed: nothing of it is reported as timed.
    assert document["untimed"].startswith("not timed")
    assert all(document["variants"][name]["pairs_per_s"] is None for name in RERANK_VARIANTS)
    assert document["per_query"][0]["latency_ms"] == {}
    assert document["single_stage"]["variants"]["chunk_max"]["pairs_per_s"] > 0
    assert "untimed" not in document["single_stage"]


def test_against_single_stage_needs_a_cascade() -> None:
    with pytest.raises(ValueError, match="has no coarse stage; set coarse_model"):
        evaluate(tiny_dataset(), FixedFirstStage(), Reranker(FakeScorer()), single_stage=True)  # type: ignore[arg-type]


def test_an_unjudged_query_id_is_an_error() -> None:
    with pytest.raises(ValueError, match=re.escape("query ids ['nope'] have no judgements in split 'test'.")):
        evaluate(tiny_dataset(), FixedFirstStage(), Reranker(FakeScorer()), query_ids=["nope"])  # type: ignore[arg-type]


def test_a_missing_dataset_fails_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["eval", str(tmp_path / "nowhere"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("crossrank eval: error: BEIR dataset directory not found")
    assert err.count("\n") == 1


# --- the real command -------------------------------------------------------------


def check_report(document: dict[str, Any], *, first_stage: str, k: int, queries: int) -> None:
    assert document["dataset"] in {"scifact", "scifact-subset"}
    assert (document["first_stage"], document["k"], document["queries"]) == (first_stage, k, queries)
    assert set(document["variants"]) == set(VARIANTS)
    for name in VARIANTS:
        values = document["variants"][name]
        for metric in METRICS:
            assert isinstance(values[metric], float)
            assert 0.0 <= values[metric] <= 1.0
    chunk_max = document["variants"]["chunk_max"]
    assert chunk_max["pairs_per_s"] > 0
    assert 0 < chunk_max["median_latency_ms"] <= chunk_max["p95_latency_ms"]
    assert chunk_max["pairs_scored"] >= document["variants"]["truncate"]["pairs_scored"] == k * queries
    assert document["variants"]["chunk_max_rrf"]["pairs_scored"] == chunk_max["pairs_scored"]
    assert 0.0 <= document["recall_at_k_first_stage"] <= 1.0
    assert len(document["per_query"]) == queries
    for row in document["per_query"]:
        assert row["candidates"] == k
        assert len(row["variants"]["chunk_max"]["top_10"]) == min(10, k)
        if k <= 10:  # then every variant's top 10 holds all the candidates
            assert set(row["variants"]["chunk_max"]["top_10"]) == set(row["variants"]["truncate"]["top_10"])
    assert document["machine"]["torch_threads"] >= 1
    assert document["seconds"]["total"] > 0


@pytest.fixture(scope="module")
def scifact(data_dir: Path) -> Path:
    return data_dir / "scifact"


def test_bm25_on_five_queries(
    scifact: Path, model_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Five queries show the report's every field and the queries' order; each variant is timed.
    out, plot = tmp_path / "eval.json", tmp_path / "eval.png"
    argv = ["eval", str(scifact), "--first-stage", "bm25", "--k", "10", "--limit", "5"]
    code = main([*argv, "--model", model_path, "--json", str(out), "--plot", str(plot), "--quiet"])
    assert code == 0
    document = json.loads(out.read_text())
    check_report(document, first_stage="bm25", k=10, queries=5)
    assert document["long"] is False
    truncate = document["variants"]["truncate"]
    assert truncate["pairs_per_s"] > 0
    assert truncate["windows_per_document"] == 1.0
    assert [row["query_id"] for row in document["per_query"]] == sorted(
        (row["query_id"] for row in document["per_query"]), key=int
    )
    stdout = capsys.readouterr().out
    assert "chunk-max + RRF" in stdout
    assert "first-stage Recall@10" in stdout
    assert plot.read_bytes().startswith(b"\x89PNG")


def write_subset(scifact: Path, target: Path, queries: int, extra_documents: int) -> Path:
    """A BEIR copy of SciFact's first queries, their relevant documents and some others, in CRLF."""
    qrels_lines = (scifact / "qrels" / "test.tsv").read_text().splitlines()[1:]
    rows = [line.split("\t") for line in qrels_lines if line.strip()]
    chosen = sorted({row[0] for row in rows}, key=int)[:queries]
    kept_rows = [row for row in rows if row[0] in chosen]
    relevant = {row[1] for row in kept_rows}
    corpus = [json.loads(line) for line in (scifact / "corpus.jsonl").read_text().splitlines()]
    documents = [doc for doc in corpus if doc["_id"] in relevant]
    documents += [doc for doc in corpus if doc["_id"] not in relevant][:extra_documents]
    all_queries = [json.loads(line) for line in (scifact / "queries.jsonl").read_text().splitlines()]
    (target / "qrels").mkdir(parents=True)
    (target / "corpus.jsonl").write_bytes("".join(json.dumps(d) + "\r\n" for d in documents).encode())
    (target / "queries.jsonl").write_bytes(
        "".join(json.dumps(q) + "\r\n" for q in all_queries if q["_id"] in chosen).encode()
    )
    (target / "qrels" / "test.tsv").write_bytes(
        ("query-id\tcorpus-id\tscore\r\n" + "".join("\t".join(row) + "\r\n" for row in kept_rows)).encode()
    )
    return target


def test_dense_in_a_fresh_process_with_a_cached_index(scifact: Path, model_path: str, tmp_path: Path) -> None:
    # Indexing all 5,183 abstracts takes minutes on a small CPU, so the dense test indexes
    # the first four queries' relevant abstracts plus 40 others (k=20 still > 10 per query).
    subset = write_subset(scifact, tmp_path / "scifact-subset", queries=4, extra_documents=40)
    out = tmp_path / "dense.json"
    command = [
        sys.executable, "-m", "crossrank", "eval", str(subset), "--first-stage", "dense", "--k", "20",
        "--limit", "4", "--reuse-scores", "--model", model_path, "--cache-dir", str(tmp_path / "cache"),
        "--json", str(out), "--quiet",
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    document = json.loads(out.read_text())
    check_report(document, first_stage="dense", k=20, queries=4)
    assert document["variants"]["truncate"]["pairs_per_s"] is None  # reused, not timed
    assert document["variants"]["first_stage"]["recall_at_k"] == document["recall_at_k_first_stage"]
    assert (tmp_path / "cache" / "chroma").is_dir()


def test_the_long_document_protocol(scifact: Path, model_path: str, tmp_path: Path) -> None:
    out = tmp_path / "long.json"
    argv = ["eval", str(scifact), "--first-stage", "bm25", "--k", "10", "--limit", "3", "--long"]
    assert main([*argv, "--reuse-scores", "--model", model_path, "--json", str(out), "--quiet"]) == 0
    document = json.loads(out.read_text())
    check_report(document, first_stage="bm25", k=10, queries=3)
    protocol = document["long_protocol"]
    assert document["long"] is True
    assert (protocol["min_tokens"], protocol["seed"]) == (1500, 13)
    assert protocol["min_document_tokens"] > 1500
    # Every long document spans several windows; truncation reads only the first.
    assert document["variants"]["chunk_max"]["windows_per_document"] > 3
    assert document["variants"]["truncate"]["windows_per_document"] == 1.0


def test_a_window_cascade_against_its_single_stage_on_long_documents(
    scifact: Path, model_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain_out, paired_out = tmp_path / "single.json", tmp_path / "paired.json"
    argv = ["eval", str(scifact), "--first-stage", "bm25", "--k", "10", "--limit", "2", "--long", "--quiet"]
    argv += ["--model", model_path]
    assert main([*argv, "--reuse-scores", "--json", str(plain_out)]) == 0
    cascade = ["--coarse-model", "lexical", "--coarse-keep", "10", "--fine-windows", "1"]
    assert main([*argv, *cascade, "--against-single-stage", "--json", str(paired_out)]) == 0
    plain, paired = json.loads(plain_out.read_text()), json.loads(paired_out.read_text())
    # The single stage in the paired run ranks exactly as a run of its own.
    single = paired["single_stage"]
    for got, expected in zip(single["per_query"], plain["per_query"], strict=True):
        assert got["variants"] == expected["variants"]
    assert single["variants"]["chunk_max"]["pairs_scored"] == plain["variants"]["chunk_max"]["pairs_scored"]
    # The cascade read one window per document; it is compared, not timed.
    assert paired["variants"]["chunk_max"]["windows_per_document"] == 1.0
    assert paired["variants"]["chunk_max"]["pairs_per_s"] is None
    assert paired["options"]["coarse_model"] == "lexical"
    comparison = paired["comparison"]
    assert [row["variant"] for row in comparison["variants"]] == ["truncate", "chunk_max", "chunk_max_rrf"]
    chunk_max = comparison["variants"][1]
    assert chunk_max["queries"] == 2
    assert chunk_max["baseline_ndcg"] == pytest.approx(plain["variants"]["chunk_max"]["ndcg_at_10"])
    assert chunk_max["candidate_ndcg"] == pytest.approx(paired["variants"]["chunk_max"]["ndcg_at_10"])
    out = capsys.readouterr().out
    assert "single stage (the fine model alone): scifact" in out
    assert "cascade: scifact" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "--against-single-stage compares a cascade with its fine model alone"),
        (["--coarse-model", "lexical", "--compare-to", "x.json"], "choose one"),
    ],
    ids=["no-cascade", "two-baselines"],
)
def test_against_single_stage_is_refused_where_it_cannot_apply(
    scifact: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    code = main(["eval", str(scifact), "--against-single-stage", *extra, "--quiet"])
    assert code == 1
    assert message in capsys.readouterr().err


def test_status_says_building_only_when_it_builds_and_warns_about_missing_judged_documents(
    scifact: Path, model_path: str, tmp_path: Path
) -> None:
    subset = write_subset(scifact, tmp_path / "scifact-subset", queries=3, extra_documents=20)
    # Judge a document the corpus does not hold: its query can never reach it.
    qrels = subset / "qrels" / "test.tsv"
    first_query = qrels.read_text().splitlines()[1].split("\t")[0]
    qrels.write_text(qrels.read_text() + f"{first_query}\tnot-in-the-corpus\t1\r\n")
    command = [
        sys.executable, "-m", "crossrank", "eval", str(subset), "--first-stage", "dense", "--k", "5",
        "--limit", "3", "--reuse-scores", "--model", model_path, "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    runs = [subprocess.run(command, capture_output=True, text=True, check=True) for _ in range(2)]
    building = "crossrank eval: building the dense first stage over"
    assert building in runs[0].stderr
    assert building not in runs[1].stderr  # the cached index is reused, and the status says nothing
    for run in runs:
        warning = next(line for line in run.stderr.splitlines() if "warning" in line)
        assert warning.startswith("crossrank eval: warning: 1 of ")
        assert "relevant judged documents are not in the corpus (0 of 3 queries have none left" in warning
