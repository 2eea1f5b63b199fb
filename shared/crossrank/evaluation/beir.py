"""Reader for datasets in the BEIR on-disk format.

A BEIR dataset directory holds three things::

    <data_dir>/
        corpus.jsonl        one JSON object per line: {"_id", "title", "text"}
        queries.jsonl       one JSON object per line: {"_id", "text"}
        qrels/<split>.tsv   header "query-id<TAB>corpus-id<TAB>score", then one
                            judgement per line

The reader is deliberately forgiving about the things real BEIR files contain
(CRLF line endings, blank lines, a UTF-8 byte-order mark, ids written as JSON
numbers, graded relevance such as ``2``) and strict about everything else: a
malformed line raises a :class:`ValueError` that names the file and line number.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["BeirDataset", "BeirDocument", "load_beir"]

_CORPUS_FILE = "corpus.jsonl"
_QUERIES_FILE = "queries.jsonl"
_QRELS_DIR = "qrels"
_QRELS_HEADER = ("query-id", "corpus-id", "score")
_LAYOUT_HINT = (
    "A BEIR dataset directory holds corpus.jsonl, queries.jsonl and "
    "qrels/<split>.tsv (for example qrels/test.tsv)."
)


@dataclass(frozen=True)
class BeirDocument:
    """One corpus document.

    Attributes:
        id: The document id (``_id`` in ``corpus.jsonl``), always a string.
        title: The document title; an empty string when the corpus has none.
        text: The document body.
    """

    id: str
    title: str
    text: str

    @property
    def full_text(self) -> str:
        """The text to index or embed for this document.

        BEIR's convention is to use the title and the body together, so this is
        the title, a newline, then the text when the document has a non-blank
        title, and just the text otherwise.

        Returns:
            The title and body joined by a newline, or the body alone.
        """
        if self.title.strip():
            return f"{self.title}\n{self.text}"
        return self.text


@dataclass(frozen=True)
class BeirDataset:
    """A BEIR dataset loaded for one split.

    Attributes:
        name: The dataset name (the basename of its directory, e.g. ``"scifact"``).
        corpus: Document id to document, for every document in ``corpus.jsonl``.
        queries: Query id to query text, restricted to the queries that have at
            least one judgement in the loaded split's qrels.
        qrels: Query id to (document id to graded relevance). Relevance is an
            integer; ``0`` means judged not relevant.
    """

    name: str
    corpus: dict[str, BeirDocument]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def load_beir(data_dir: str | os.PathLike[str], split: str = "test") -> BeirDataset:
    """Load a BEIR-format dataset from disk.

    Reads ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv`` from
    ``data_dir``. Line endings may be LF or CRLF and blank lines are skipped.
    Ids written as JSON numbers are converted to strings, so ``{"_id": 42}`` and
    ``{"_id": "42"}`` both give the id ``"42"``. A missing or ``null`` title is
    read as an empty string.

    Only the queries that appear in the chosen split's qrels are kept in
    :attr:`BeirDataset.queries` (``queries.jsonl`` usually holds the queries of
    every split). If a ``(query, document)`` pair is judged twice in the qrels
    file, the later line wins, as in BEIR's own loader. Qrels may name documents
    that are not in the corpus; they are kept as they are.

    Args:
        data_dir: The dataset directory, e.g. ``".../data/scifact"``.
        split: The qrels split to load: the stem of a file in ``qrels/``, such as
            ``"test"``, ``"dev"`` or ``"train"``.

    Returns:
        The loaded dataset, named after the directory's basename.

    Raises:
        FileNotFoundError: If the directory or one of the three files is missing.
        ValueError: If ``split`` is not a plain name, if a line is malformed (the
            message names the file and line number), if a document or query id
            is repeated, or if the qrels name a query that ``queries.jsonl``
            lacks.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"BEIR dataset directory not found: {str(root)!r}. {_LAYOUT_HINT}")
    if not split or split != Path(split).name or split in {".", ".."}:
        raise ValueError(
            f"split must be the plain name of a file in {_QRELS_DIR}/ without "
            f"'.tsv', such as 'test', got {split!r}."
        )

    corpus_path = _require_file(root / _CORPUS_FILE)
    queries_path = _require_file(root / _QUERIES_FILE)
    qrels_path = root / _QRELS_DIR / f"{split}.tsv"
    if not qrels_path.is_file():
        available = sorted(p.stem for p in (root / _QRELS_DIR).glob("*.tsv"))
        raise FileNotFoundError(
            f"qrels file for split {split!r} not found: {str(qrels_path)!r}. "
            f"Available splits in {str(root / _QRELS_DIR)!r}: "
            f"{available or 'none'}. {_LAYOUT_HINT}"
        )

    corpus = _read_corpus(corpus_path)
    all_queries = _read_queries(queries_path)
    qrels = _read_qrels(qrels_path)

    missing = [qid for qid in qrels if qid not in all_queries]
    if missing:
        shown = ", ".join(repr(qid) for qid in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise ValueError(
            f"{str(qrels_path)!r} judges {len(missing)} query id(s) that "
            f"{str(queries_path)!r} does not contain: {shown}{more}. Check that "
            "the qrels and queries files belong to the same dataset."
        )
    queries = {qid: all_queries[qid] for qid in qrels}
    return BeirDataset(name=root.name, corpus=corpus, queries=queries, qrels=qrels)


def _require_file(path: Path) -> Path:
    """Return ``path`` if it is a file, else raise a descriptive error."""
    if not path.is_file():
        raise FileNotFoundError(f"BEIR file not found: {str(path)!r}. {_LAYOUT_HINT}")
    return path


def _iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` for non-blank lines, without line endings.

    The file is read as UTF-8 (a leading byte-order mark is ignored) with
    universal newlines, so LF and CRLF endings both work. Line numbers are
    1-based and count blank lines, so they match what an editor shows.
    """
    with path.open("r", encoding="utf-8-sig", newline=None) as handle:
        for number, line in enumerate(handle, start=1):
            stripped = line.rstrip("\r\n")
            if stripped.strip():
                yield number, stripped


def _iter_json_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each JSON object line of ``path``."""
    for number, line in _iter_lines(path):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{str(path)!r} line {number}: malformed JSON ({exc.msg} at "
                f"column {exc.colno}). Each line must be one JSON object."
            ) from exc
        if isinstance(record, dict):
            yield number, record
            continue
        raise ValueError(
            f"{str(path)!r} line {number}: expected a JSON object, got "
            f"{type(record).__name__}. Each line must be one JSON object."
        )


def _coerce_id(value: object, path: Path, number: int) -> str:
    """Return a record's ``_id`` as a string (JSON numbers are converted)."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(
        f"{str(path)!r} line {number}: '_id' must be a non-empty string or an "
        f"integer, got {value!r}. Give every record an '_id' field."
    )


def _coerce_text(value: object, field: str, path: Path, number: int) -> str:
    """Return a text field as a string, reading a missing/``null`` value as ``""``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise ValueError(
        f"{str(path)!r} line {number}: {field!r} must be a string, got {type(value).__name__} {value!r}."
    )


def _records_with_ids(path: Path, kind: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Yield ``(line_number, id, object)`` for each record of a JSONL file whose ids must be unique."""
    first_line: dict[str, int] = {}
    for number, record in _iter_json_objects(path):
        record_id = _coerce_id(record.get("_id"), path, number)
        if record_id in first_line:
            raise ValueError(
                f"{str(path)!r} line {number}: duplicate {kind} id {record_id!r} "
                f"(first seen on line {first_line[record_id]}). {kind.capitalize()} ids must be "
                "unique."
            )
        first_line[record_id] = number
        yield number, record_id, record


def _read_corpus(path: Path) -> dict[str, BeirDocument]:
    """Read ``corpus.jsonl`` into a mapping from document id to document."""
    return {
        doc_id: BeirDocument(
            id=doc_id,
            title=_coerce_text(record.get("title"), "title", path, number),
            text=_coerce_text(record.get("text"), "text", path, number),
        )
        for number, doc_id, record in _records_with_ids(path, "document")
    }


def _read_queries(path: Path) -> dict[str, str]:
    """Read ``queries.jsonl`` into a mapping from query id to query text."""
    return {
        query_id: _coerce_text(record.get("text"), "text", path, number)
        for number, query_id, record in _records_with_ids(path, "query")
    }


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """Read a ``qrels/<split>.tsv`` file into query id -> doc id -> relevance.

    The first non-blank line is skipped if it is the ``query-id corpus-id
    score`` header; a file without a header is also accepted.
    """
    qrels: dict[str, dict[str, int]] = {}
    seen_first = False
    for number, line in _iter_lines(path):
        fields = line.split("\t")
        if not seen_first:
            seen_first = True
            if tuple(field.strip().lower() for field in fields) == _QRELS_HEADER:
                continue
        if len(fields) != 3:
            raise ValueError(
                f"{str(path)!r} line {number}: expected 3 tab-separated columns "
                f"(query-id, corpus-id, score), got {len(fields)}: {line!r}."
            )
        query_id, doc_id, raw_score = (field.strip() for field in fields)
        if not query_id or not doc_id:
            raise ValueError(
                f"{str(path)!r} line {number}: query-id and corpus-id must be non-empty, got {line!r}."
            )
        try:
            score = int(raw_score)
        except ValueError:
            raise ValueError(
                f"{str(path)!r} line {number}: score must be an integer relevance "
                f"grade such as 0, 1 or 2, got {raw_score!r}."
            ) from None
        qrels.setdefault(query_id, {})[doc_id] = score
    return qrels
