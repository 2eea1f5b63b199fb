"""Recorded first stages: TREC runs written by ``crossrank retrieve`` and replayed with ``run:PATH``."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from crossrank.cli.args import first_stage_argument
from crossrank.cli.main import main
from crossrank.evaluation.beir import BeirDataset, BeirDocument
from crossrank.evaluation.first_stage import Candidate, build_first_stage
from crossrank.evaluation.run_file import RunFileSearch, read_trec_run, write_trec_run
from crossrank.training.settings import TrainingSettings

CORPUS = {
    "d1": BeirDocument("d1", "", "Aspirin lowers the risk of heart attacks."),
    "d2": BeirDocument("d2", "", "The harbour pier needs repairs."),
    "d3": BeirDocument("d3", "", "A review of aspirin and bleeding."),
}
QUERIES = {"q1": "does aspirin prevent heart attacks", "q2": "harbour repairs"}


def dataset() -> BeirDataset:
    return BeirDataset(name="tiny", corpus=CORPUS, queries=QUERIES, qrels={"q1": {"d1": 1}, "q2": {"d2": 1}})


def test_a_written_run_reads_back_best_first(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "run.trec"
    written = write_trec_run(
        path, {"q1": [Candidate("d1", 0.9), Candidate("d3", 0.5)], "q2": [Candidate("d2", 2.0)]}, tag="dense"
    )
    assert written == 3
    assert path.read_text().splitlines()[0] == "q1 Q0 d1 1 0.9 dense"
    results, tag = read_trec_run(path)
    assert tag == "dense"
    assert results == {"q1": [Candidate("d1", 0.9), Candidate("d3", 0.5)], "q2": [Candidate("d2", 2.0)]}


def test_reading_orders_by_score_then_rank(tmp_path: Path) -> None:
    path = tmp_path / "run.trec"
    path.write_text("q1 Q0 d3 2 1.0 x\nq1 Q0 d2 3 5.0 x\n\nq1 Q0 d1 1 1.0 x\n")
    results, _ = read_trec_run(path)
    assert [c.doc_id for c in results["q1"]] == ["d2", "d1", "d3"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("q1 Q0 d1 1 0.5\n", "line 1: expected 6 columns"),
        ("q1 Q0 d1 1 0.5 x\nq1 Q0 d2 two 0.4 x\n", "line 2: rank 'two' must be an integer and score '0.4'"),
        ("q1 Q0 d1 1 high x\n", "line 1: rank '1' must be an integer and score 'high' a number"),
        ("q1 Q0 d1 1 0.5 x\nq1 Q0 d1 2 0.4 x\n", "line 2: document 'd1' is listed twice for query 'q1'"),
        ("q1 Q0 d1 1 0.5 x\nq1 Q0 d2 2 0.4 y\n", "mixes runs ['x', 'y']"),
    ],
    ids=["columns", "rank", "score", "duplicate", "two-tags"],
)
def test_a_malformed_run_names_the_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.trec"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        read_trec_run(path)
    assert str(path) in str(error.value)


def test_a_missing_run_names_the_command_that_writes_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="crossrank retrieve DATA_DIR"):
        read_trec_run(tmp_path / "none.trec")


def test_ids_with_whitespace_cannot_be_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="query id 'q 1'"):
        write_trec_run(tmp_path / "r", {"q 1": [Candidate("d1", 1.0)]}, tag="x")
    with pytest.raises(ValueError, match="tag must be non-empty"):
        write_trec_run(tmp_path / "r", {"q1": [Candidate("d1", 1.0)]}, tag="")


def test_the_replayed_first_stage_answers_by_query_text(tmp_path: Path) -> None:
    path = tmp_path / "run.trec"
    write_trec_run(path, {"q1": [Candidate("d1", 0.9), Candidate("d3", 0.5)]}, tag="dense")
    search = build_first_stage(f"run:{path}", dataset(), data_dir=tmp_path)
    assert isinstance(search, RunFileSearch)
    assert search.name == "dense"
    assert search.search(QUERIES["q1"], 1) == [Candidate("d1", 0.9)]
    # Fewer candidates than asked for would silently shrink the list: an error instead.
    with pytest.raises(ValueError, match=re.escape("holds 2 candidates for query 'q1', fewer than k=3")):
        search.search(QUERIES["q1"], 3)
    with pytest.raises(ValueError, match="query 'q2' is missing"):
        search.search(QUERIES["q2"], 1)
    with pytest.raises(ValueError, match="the dataset has no such query"):
        search.search("something else", 1)


def test_a_run_of_another_corpus_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "run.trec"
    write_trec_run(path, {"q1": [Candidate("d9", 1.0)]}, tag="dense")
    with pytest.raises(
        ValueError, match="ranks document 'd9' for query 'q1', which the corpus does not hold"
    ):
        RunFileSearch(path, QUERIES, CORPUS)


def test_the_flag_and_the_training_setting_take_a_run(tmp_path: Path) -> None:
    path = tmp_path / "run.trec"
    path.write_text("q1 Q0 d1 1 1.0 x\n")
    assert first_stage_argument("bm25") == "bm25"
    assert first_stage_argument(f"run:{path}") == f"run:{path}"
    with pytest.raises(argparse.ArgumentTypeError, match="no run file at"):
        first_stage_argument(f"run:{tmp_path / 'none'}")
    with pytest.raises(argparse.ArgumentTypeError, match="expected dense, bm25 or run:PATH"):
        first_stage_argument("splade")
    assert TrainingSettings(first_stage=f"run:{path}").first_stage == f"run:{path}"
    with pytest.raises(ValueError, match="first_stage must be one of"):
        TrainingSettings(first_stage="run:")


def _write_beir(folder: Path) -> None:
    folder.mkdir()
    (folder / "qrels").mkdir()
    (folder / "corpus.jsonl").write_text(
        "".join(f'{{"_id": "{doc_id}", "title": "", "text": "{d.text}"}}\n' for doc_id, d in CORPUS.items())
    )
    (folder / "queries.jsonl").write_text(
        "".join(f'{{"_id": "{qid}", "text": "{text}"}}\n' for qid, text in QUERIES.items())
    )
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")


def test_retrieve_records_what_the_first_stage_returns(tmp_path: Path) -> None:
    folder = tmp_path / "tiny"
    _write_beir(folder)
    out = tmp_path / "bm25.trec"
    assert (
        main(["retrieve", str(folder), "--first-stage", "bm25", "--k", "2", "--output", str(out), "--quiet"])
        == 0
    )
    results, tag = read_trec_run(out)
    assert tag == "bm25"
    assert results["q2"][0].doc_id == "d2"
    assert {query_id: len(candidates) for query_id, candidates in results.items()} == {"q1": 2, "q2": 2}
    # Replayed, the run gives exactly the first stage's own ranking.
    live = build_first_stage("bm25", dataset(), data_dir=folder)
    replayed = build_first_stage(f"run:{out}", dataset(), data_dir=folder)
    for text in QUERIES.values():
        assert [c.doc_id for c in replayed.search(text, 2)] == [c.doc_id for c in live.search(text, 2)]
