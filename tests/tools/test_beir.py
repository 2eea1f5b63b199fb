"""Tests for crossrank.evaluation.beir on tiny synthetic datasets and, optionally, real SciFact."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from crossrank.evaluation.beir import BeirDataset, BeirDocument, load_beir

# Written with CRLF endings, a blank line in the middle and a blank trailing
# line, ids as JSON numbers, a missing title and a null title.
CORPUS_LINES = [
    '{"_id": "d1", "title": "Aspirin", "text": "Aspirin thins blood."}',
    "",
    '{"_id": 42, "title": "", "text": "Numeric id, empty title."}',
    '{"_id": "d3", "text": "No title field."}',
    '{"_id": "d4", "title": null, "text": "Null title."}',
    "",
]
QUERIES_LINES = [
    '{"_id": 1, "text": "does aspirin thin blood?", "metadata": {}}',
    '{"_id": "q2", "text": "numeric documents"}',
    '{"_id": "q-train-only", "text": "only judged in train"}',
    "",
]
QRELS_TEST_LINES = [
    "query-id\tcorpus-id\tscore",
    "1\td1\t2",
    "1\t42\t1",
    "",
    "q2\t42\t1",
    "q2\td3\t0",
    "",
]
QRELS_TRAIN_LINES = [
    "query-id\tcorpus-id\tscore",
    "q-train-only\td4\t1",
]


def _write(path: Path, lines: list[str], newline: str = "\r\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(newline.join(lines).encode("utf-8"))


def _make_dataset(root: Path, newline: str = "\r\n") -> Path:
    data_dir = root / "tinyset"
    _write(data_dir / "corpus.jsonl", CORPUS_LINES, newline)
    _write(data_dir / "queries.jsonl", QUERIES_LINES, newline)
    _write(data_dir / "qrels" / "test.tsv", QRELS_TEST_LINES, newline)
    _write(data_dir / "qrels" / "train.tsv", QRELS_TRAIN_LINES, newline)
    return data_dir


@pytest.mark.parametrize("newline", [pytest.param("\r\n", id="crlf"), pytest.param("\n", id="lf")])
def test_load_tiny_dataset(tmp_path: Path, newline: str) -> None:
    data_dir = _make_dataset(tmp_path, newline)

    dataset = load_beir(data_dir)

    assert isinstance(dataset, BeirDataset)
    assert dataset.name == "tinyset"
    assert dataset.corpus == {
        "d1": BeirDocument(id="d1", title="Aspirin", text="Aspirin thins blood."),
        "42": BeirDocument(id="42", title="", text="Numeric id, empty title."),
        "d3": BeirDocument(id="d3", title="", text="No title field."),
        "d4": BeirDocument(id="d4", title="", text="Null title."),
    }
    # Only the queries judged in the test split are kept; numeric id 1 -> "1".
    assert dataset.queries == {
        "1": "does aspirin thin blood?",
        "q2": "numeric documents",
    }
    # Graded "2" is read as the int 2; grade-0 judgements are kept.
    assert dataset.qrels == {"1": {"d1": 2, "42": 1}, "q2": {"42": 1, "d3": 0}}
    assert all(type(grade) is int for docs in dataset.qrels.values() for grade in docs.values())


def test_load_other_split(tmp_path: Path) -> None:
    dataset = load_beir(_make_dataset(tmp_path), split="train")
    assert dataset.queries == {"q-train-only": "only judged in train"}
    assert dataset.qrels == {"q-train-only": {"d4": 1}}
    assert len(dataset.corpus) == 4


def test_accepts_pathlike_and_str(tmp_path: Path) -> None:
    data_dir = _make_dataset(tmp_path)
    assert load_beir(str(data_dir)) == load_beir(data_dir)


def test_utf8_bom_and_qrels_without_header(tmp_path: Path) -> None:
    data_dir = _make_dataset(tmp_path)
    corpus = data_dir / "corpus.jsonl"
    corpus.write_bytes(b"\xef\xbb\xbf" + corpus.read_bytes())
    _write(data_dir / "qrels" / "test.tsv", ["1\td1\t1"])
    dataset = load_beir(data_dir)
    assert "d1" in dataset.corpus
    assert dataset.qrels == {"1": {"d1": 1}}


def test_repeated_judgement_last_wins(tmp_path: Path) -> None:
    data_dir = _make_dataset(tmp_path)
    _write(
        data_dir / "qrels" / "test.tsv",
        ["query-id\tcorpus-id\tscore", "1\td1\t1", "1\td1\t2"],
    )
    assert load_beir(data_dir).qrels == {"1": {"d1": 2}}


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        pytest.param("Aspirin", "Thins blood.", "Aspirin\nThins blood.", id="titled"),
        pytest.param("", "Thins blood.", "Thins blood.", id="no-title"),
        pytest.param("  ", "Thins blood.", "Thins blood.", id="blank-title"),
    ],
)
def test_full_text(title: str, text: str, expected: str) -> None:
    assert BeirDocument(id="d", title=title, text=text).full_text == expected


def test_document_is_frozen() -> None:
    document = BeirDocument(id="d", title="t", text="x")
    with pytest.raises(AttributeError):
        document.title = "changed"  # type: ignore[misc]


# --- errors -----------------------------------------------------------------


def test_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError) as info:
        load_beir(missing)
    message = str(info.value)
    assert repr(str(missing)) in message
    assert "corpus.jsonl, queries.jsonl and qrels/<split>.tsv" in message


@pytest.mark.parametrize(
    "relative",
    [
        pytest.param("corpus.jsonl", id="corpus"),
        pytest.param("queries.jsonl", id="queries"),
    ],
)
def test_missing_file(tmp_path: Path, relative: str) -> None:
    data_dir = _make_dataset(tmp_path)
    (data_dir / relative).unlink()
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(f"BEIR file not found: {str(data_dir / relative)!r}."),
    ) as info:
        load_beir(data_dir)
    assert "qrels/<split>.tsv" in str(info.value)


def test_missing_split_lists_available_splits(tmp_path: Path) -> None:
    data_dir = _make_dataset(tmp_path)
    with pytest.raises(FileNotFoundError) as info:
        load_beir(data_dir, split="dev")
    message = str(info.value)
    assert "qrels file for split 'dev' not found" in message
    assert "['test', 'train']" in message


@pytest.mark.parametrize(
    "split",
    [
        pytest.param("", id="empty"),
        pytest.param("../test", id="path"),
        pytest.param("..", id="dotdot"),
    ],
)
def test_bad_split_name(tmp_path: Path, split: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"got {split!r}.")):
        load_beir(_make_dataset(tmp_path), split=split)


@pytest.mark.parametrize(
    ("filename", "bad_line", "expected"),
    [
        pytest.param("corpus.jsonl", '{"_id": "d9", "text": ', "malformed JSON", id="corpus"),
        pytest.param("queries.jsonl", "not json at all", "malformed JSON", id="queries"),
        pytest.param("corpus.jsonl", '["a", "list"]', "expected a JSON object", id="not-object"),
        pytest.param(
            "corpus.jsonl",
            '{"title": "no id", "text": "x"}',
            "'_id' must be",
            id="no-id",
        ),
        pytest.param(
            "corpus.jsonl",
            '{"_id": "d9", "text": 5}',
            "'text' must be a string",
            id="bad-text",
        ),
    ],
)
def test_malformed_jsonl_line_names_file_and_line(
    tmp_path: Path, filename: str, bad_line: str, expected: str
) -> None:
    data_dir = _make_dataset(tmp_path)
    path = data_dir / filename
    lines = CORPUS_LINES if filename == "corpus.jsonl" else QUERIES_LINES
    # Insert after line 1 and the blank line 2: the bad line is line 3.
    _write(path, [lines[0], "", bad_line, *lines[1:]])
    with pytest.raises(ValueError, match=re.escape(f"{str(path)!r} line 3: ")) as info:
        load_beir(data_dir)
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("bad_row", "column_count"),
    [
        pytest.param("1\td1", 2, id="two-columns"),
        pytest.param("1\td1\t1\textra", 4, id="four-columns"),
        pytest.param("1 d1 1", 1, id="spaces-not-tabs"),
    ],
)
def test_qrels_wrong_column_count(tmp_path: Path, bad_row: str, column_count: int) -> None:
    data_dir = _make_dataset(tmp_path)
    path = data_dir / "qrels" / "test.tsv"
    _write(path, ["query-id\tcorpus-id\tscore", "1\td1\t2", bad_row])
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{str(path)!r} line 3: expected 3 tab-separated columns "
            f"(query-id, corpus-id, score), got {column_count}"
        ),
    ):
        load_beir(data_dir)


@pytest.mark.parametrize("score", [pytest.param("high", id="word"), pytest.param("0.5", id="float")])
def test_qrels_non_integer_score(tmp_path: Path, score: str) -> None:
    data_dir = _make_dataset(tmp_path)
    path = data_dir / "qrels" / "test.tsv"
    _write(path, ["query-id\tcorpus-id\tscore", f"1\td1\t{score}"])
    with pytest.raises(
        ValueError,
        match=re.escape(f"{str(path)!r} line 2: score must be an integer"),
    ):
        load_beir(data_dir)


def test_qrels_query_missing_from_queries(tmp_path: Path) -> None:
    data_dir = _make_dataset(tmp_path)
    _write(data_dir / "qrels" / "test.tsv", ["query-id\tcorpus-id\tscore", "q404\td1\t1"])
    with pytest.raises(ValueError, match=re.escape("query id(s)")) as info:
        load_beir(data_dir)
    assert "'q404'" in str(info.value)


def test_duplicate_document_id(tmp_path: Path) -> None:
    data_dir = _make_dataset(tmp_path)
    path = data_dir / "corpus.jsonl"
    _write(path, [*CORPUS_LINES[:5], '{"_id": 42, "text": "again"}'])
    with pytest.raises(
        ValueError,
        match=re.escape(f"{str(path)!r} line 6: duplicate document id '42' (first seen on line 3)"),
    ):
        load_beir(data_dir)


# --- real data ----------------------------------------------------------------


def _scifact_dir() -> Path:
    root = os.environ.get("CROSSRANK_TEST_DATA")
    if not root:
        pytest.skip("CROSSRANK_TEST_DATA is not set; point it at ../shared/data to run")
    return Path(root) / "scifact"


@pytest.mark.parametrize(
    ("split", "n_queries", "n_judgements"),
    [
        pytest.param("test", 300, 339, id="scifact-test"),
        pytest.param("train", 809, 919, id="scifact-train"),
    ],
)
def test_real_scifact(split: str, n_queries: int, n_judgements: int) -> None:
    dataset = load_beir(_scifact_dir(), split=split)
    assert dataset.name == "scifact"
    assert len(dataset.corpus) == 5183
    assert len(dataset.queries) == n_queries
    assert len(dataset.qrels) == n_queries
    assert sum(len(docs) for docs in dataset.qrels.values()) == n_judgements
    assert set(dataset.queries) == set(dataset.qrels)
    judged_docs = {doc_id for docs in dataset.qrels.values() for doc_id in docs}
    assert judged_docs <= set(dataset.corpus)
    assert all(doc.text for doc in dataset.corpus.values())
