"""The batch row logic and the shard planning, with a fake scorer (no Ray)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fake_scorer import FakeScorer

from crossrank import Reranker
from crossrank.distributed.batch import BatchSummary, rerank_file
from crossrank.distributed.files import OutputFiles, errors_path, file_format, plan_shards, read_shard
from crossrank.distributed.rows import RowError, parse_row, rerank_line, rerank_row


def _reranker() -> Reranker:
    return Reranker(FakeScorer(), score_cache_size=0)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ([1, 2], "a row must be a JSON object"),
        ({"candidates": ["a"]}, "query must be a non-empty string, got None"),
        ({"query": "  ", "candidates": ["a"]}, "query must be a non-empty string"),
        ({"query": "q", "candidates": "a text"}, "candidates must be a list"),
        ({"query": "q", "candidates": ["a", 3]}, r"candidates\[1\] must be a text or an object with a text"),
        ({"query": "q", "candidates": [{"id": 1}]}, r"candidates\[0\] must be a text"),
        (
            {"query": "q", "candidates": [{"text": "a", "score": "high"}]},
            r"candidates\[0\].score must be a finite",
        ),
        (
            {"query": "q", "candidates": [{"text": "a", "score": 1}, {"text": "b"}]},
            "1 of 2 candidates have a score",
        ),
    ],
)
def test_bad_rows_are_refused_with_the_field(row: object, message: str) -> None:
    with pytest.raises(RowError, match=message):
        parse_row(row)


def test_a_row_gets_the_in_process_ranking_with_ids_and_its_other_fields() -> None:
    row = {
        "query": "apple pie",
        "qid": "q7",
        "candidates": [
            {"id": "d1", "text": "banana bread", "score": 0.9},
            {"id": "d2", "text": "apple pie apple", "score": 0.5},
            {"id": "d3", "text": "pie", "score": 0.1},
        ],
    }
    before = json.dumps(row)
    output, pairs = rerank_row(_reranker(), row)
    assert json.dumps(row) == before  # the input row is not mutated
    expected = _reranker().rerank(
        "apple pie", ["banana bread", "apple pie apple", "pie"], retrieval_scores=[0.9, 0.5, 0.1]
    )
    assert [r["index"] for r in output["results"]] == [r.index for r in expected]
    assert [r["score"] for r in output["results"]] == [r.score for r in expected]
    assert [r["id"] for r in output["results"]] == [row["candidates"][r.index]["id"] for r in expected]  # type: ignore[index]
    assert output["qid"] == "q7"
    assert pairs == 3
    assert all(isinstance(r["score"], float) for r in output["results"])


def test_bad_json_becomes_an_outcome_with_its_line() -> None:
    outcome = rerank_line(_reranker(), 12, "{not json")
    assert outcome.output is None
    assert outcome.line == 12
    assert outcome.error is not None
    assert outcome.error.startswith("not valid JSON")


def test_jsonl_shards_keep_line_numbers_and_skip_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    lines = [json.dumps({"query": f"q{i}", "candidates": ["a"]}) for i in range(7)]
    lines.insert(3, "   ")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    shards = plan_shards(path, rows_per_shard=3)
    assert [shard.first_line for shard in shards] == [1, 4, 7]
    assert sum(shard.rows for shard in shards) == 7
    read = [row for shard in shards for row in read_shard(shard)]
    assert [row.line for row in read] == [1, 2, 3, 5, 6, 7, 8]
    assert [json.loads(row.raw)["query"] for row in read] == [f"q{i}" for i in range(7)]


def test_parquet_shards_are_row_groups(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "rows.parquet"
    rows = [{"query": f"q{i}", "candidates": ["a", "b"]} for i in range(5)]
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=2)
    shards = plan_shards(path)
    assert [(shard.first_line, shard.rows) for shard in shards] == [(1, 2), (3, 2), (5, 1)]
    cut = plan_shards(path, rows_per_shard=1)  # groups cut finer, never spanning two
    assert [(shard.first_line, shard.start, shard.end) for shard in cut] == [
        (1, 0, 0),
        (2, 0, 1),
        (3, 1, 0),
        (4, 1, 1),
        (5, 2, 0),
    ]
    assert [json.loads(row.raw) for shard in cut for row in read_shard(shard)] == rows
    read = [row for shard in shards for row in read_shard(shard)]
    assert [json.loads(row.raw) for row in read] == rows


def test_names_and_formats() -> None:
    assert errors_path(Path("out/run.jsonl")) == Path("out/run.errors.jsonl")
    assert file_format(Path("a.PARQUET")) == "parquet"
    with pytest.raises(ValueError, match=r"use a \.jsonl"):
        file_format(Path("rows.csv"))
    with pytest.raises(ValueError, match="rows_per_shard must be at least 1"):
        plan_shards(Path("rows.jsonl"), 0)


def test_in_process_file_job_writes_every_row_once_and_the_bad_ones_to_errors(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    good = [
        {"query": f"word{i} apple", "candidates": [f"word{i} apple", "pear", f"word{i}"]} for i in range(5)
    ]
    lines = [json.dumps(row) for row in good]
    lines.insert(2, json.dumps({"query": "q", "candidates": [1]}))
    lines.insert(4, "{broken")
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    output = tmp_path / "out.jsonl"
    summary = rerank_file(
        source, output, model=FakeScorer(), use_ray=False, rows_per_shard=2, score_cache_size=0
    )
    written = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [row["query"] for row in written] == [row["query"] for row in good]
    errors = [json.loads(line) for line in errors_path(output).read_text(encoding="utf-8").splitlines()]
    assert [error["line"] for error in errors] == [3, 5]
    assert "candidates[0] must be a text" in errors[0]["reason"]
    assert errors[1]["row"] == "{broken"
    assert (summary.rows, summary.reranked, summary.failed, summary.engine) == (7, 5, 2, "in-process")
    for row in written:
        expected = _reranker().rerank(row["query"], row["candidates"])
        assert [r["score"] for r in row["results"]] == [r.score for r in expected]


def test_parquet_output_round_trips(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    with OutputFiles(tmp_path / "out.parquet") as files:
        files.write(json.dumps({"query": "q", "results": [{"index": 0, "score": 1.0}]}), 1, None)
        files.write(None, 2, "query must be a non-empty string", "{}")
    assert pq.read_table(tmp_path / "out.parquet").to_pylist() == [
        {"query": "q", "results": [{"index": 0, "score": 1.0}]}
    ]
    assert pq.read_table(tmp_path / "out.errors.parquet").to_pylist()[0]["line"] == 2


def _rerank_bytes(
    tmp_path: Path, data: bytes
) -> tuple[BatchSummary, list[dict[str, Any]], list[dict[str, Any]]]:
    source = tmp_path / "in.jsonl"
    source.write_bytes(data)
    output = tmp_path / "out.jsonl"
    summary = rerank_file(
        source, output, model=FakeScorer(), use_ray=False, rows_per_shard=2, score_cache_size=0
    )
    written = output.read_bytes().split(b"\n")
    errors = errors_path(output).read_bytes().split(b"\n")
    assert written[-1] == errors[-1] == b""  # every row ends with its "\n"
    return (
        summary,
        [json.loads(line) for line in written[:-1]],
        [json.loads(line) for line in errors[:-1]],
    )


def test_only_a_newline_ends_a_row(tmp_path: Path) -> None:
    rows = [
        b'{"query": "apple pie",\r"candidates": ["apple", "pear"]}',  # a bare \r: JSON whitespace
        '{"query": "apple\u2028pie\x85", "candidates": ["pie\u2029", "pear"]}'.encode(),  # text
        b'{"query": "apple \x1c pie", "candidates": ["x"]}',  # a raw control character: bad JSON
        b'{"query": "pear", "candidates": ["pear", "apple"]}\r',  # a \r\n ending
    ]
    summary, written, errors = _rerank_bytes(tmp_path, b"\n".join(rows) + b"\n")
    assert (summary.rows, summary.reranked, summary.failed) == (4, 3, 1)
    assert [row["query"] for row in written] == ["apple pie", "apple\u2028pie\x85", "pear"]
    assert written[1]["candidates"] == ["pie\u2029", "pear"]
    assert [(error["line"], error["reason"][:14]) for error in errors] == [(3, "not valid JSON")]
    # The output escapes what str.splitlines would split on, so any line reader sees 3 rows.
    assert len((tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()) == 3


def test_a_row_that_is_not_utf8_fails_with_its_line_and_is_not_changed(tmp_path: Path) -> None:
    rows = [
        b'{"query": "apple", "candidates": ["apple"]}',
        b'{"query": "caf\xe9 au lait", "candidates": ["caf\xe9"]}',  # Latin-1, not UTF-8
        b'{"query": "pear", "candidates": ["pear"]}',
    ]
    summary, written, errors = _rerank_bytes(tmp_path, b"\n".join(rows))  # no final "\n"
    assert (summary.rows, summary.reranked, summary.failed) == (3, 2, 1)
    assert [row["query"] for row in written] == ["apple", "pear"]
    assert errors[0]["line"] == 2
    assert "line 2 is not valid UTF-8" in errors[0]["reason"]
    assert "byte 0xe9" in errors[0]["reason"]
    assert "write the input as UTF-8" in errors[0]["reason"]
    assert "caf\\xe9" in errors[0]["row"]  # the bytes as they are, escaped


def test_planned_rows_match_the_rows_read_whatever_the_whitespace(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a":1}\r\n \t\r\n\x0c\n{"b":\r2}\n\n')
    shards = plan_shards(path, rows_per_shard=2)
    read = [row for shard in shards for row in read_shard(shard)]
    assert sum(shard.rows for shard in shards) == len(read) == 3
    assert [row.line for row in read] == [1, 3, 4]  # \x0c is not JSON whitespace: a (bad) row
