"""Reading training data from what users already have.

:func:`load_training_data` reads a BEIR directory, a JSONL or CSV file of (query, document, label) pairs
or (query, positive, negatives) triplets, or a Python sequence of either, into one
:class:`~crossrank.training.data.TrainingData`. Reading is strict: a bad record raises a
:class:`ValueError` naming the file and 1-based line (or the 0-based item index), the offending value
and the fix. Nothing is dropped silently: only exact repeats are merged, and they are counted.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from crossrank.evaluation.beir import load_beir
from crossrank.training.data import Judgement, TrainingData, TrainingQuery

__all__ = ["load_training_data"]

_PAIR_KEYS = ("query", "document", "label")
_TRIPLET_KEYS = ("query", "positive", "negatives")
_RECORD_FORMS = "pair form {query, document, label} or triplet form {query, positive, negatives}"
_CSV_FORMS = "query,document,label or query,positive,negative[,negative_2,...]"
_ACCEPTED = (
    "load_training_data accepts a BEIR directory (corpus.jsonl, queries.jsonl, qrels/<split>.tsv), "
    "a .jsonl/.json file, a .csv file, or a sequence of (query, document, label) or "
    "(query, positive, negatives) tuples or of dicts with those keys"
)


def load_training_data(
    source: str | os.PathLike[str] | Sequence[object], *, split: str = "train"
) -> TrainingData:
    """Load training data from a BEIR directory, a JSONL or CSV file, or a Python sequence.

    Args:
        source: A path (directory, ``.jsonl``/``.json`` or ``.csv`` file) or a sequence of records.
        split: The qrels split of a BEIR directory; ignored for the other forms.

    Returns:
        The queries with their judgements and the corpus.

    Raises:
        FileNotFoundError: If the path, or a file a BEIR directory needs, does not exist.
        ValueError: If the file type is not supported, the input holds no records, or a record is bad.
        TypeError: If ``source`` is neither a path nor a sequence.
    """
    if not isinstance(source, (str, os.PathLike)):
        if isinstance(source, Sequence) and not isinstance(source, (bytes, bytearray)):
            return _load_records(_Builder("sequence", "item"), enumerate(source), "<sequence>")
        raise TypeError(f"unsupported training data {type(source).__name__}: {_ACCEPTED}.")
    path = Path(source)
    if path.is_dir():
        return _load_beir_dir(path, split)
    if not path.is_file():
        raise FileNotFoundError(f"training data not found: {str(path)!r}. {_ACCEPTED}.")
    suffix = path.suffix.lower()
    if suffix not in {".jsonl", ".json", ".csv"}:
        raise ValueError(f"{str(path)!r}: unsupported file type {suffix or '(none)'!r}. {_ACCEPTED}.")
    builder = _Builder(repr(str(path)), "line")
    try:
        if suffix == ".csv":
            return _load_csv(builder, path)
        return _load_records(builder, _iter_json_objects(builder, path), str(path))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{str(path)!r} is not valid UTF-8 ({exc.reason}). Save it as UTF-8.") from exc


class _Builder:
    """Collects judgements, merging exact repeats and refusing a second label for the same pair."""

    def __init__(self, origin: str, unit: str, *, show_ids: bool = False) -> None:
        self.origin, self.unit, self.show_ids = origin, unit, show_ids
        # query id -> (query text, document id -> (label, where it was first seen))
        self.queries: dict[str, tuple[str, dict[str, tuple[float, int]]]] = {}
        self.corpus: dict[str, str] = {}
        self.duplicates = 0

    def where(self, number: int) -> str:
        return f"{self.origin} {self.unit} {number}"

    def add(self, number: int, query_id: str, query: str, doc_id: str, document: str, label: float) -> None:
        judged = self.queries.setdefault(query_id, (query, {}))[1]
        if doc_id not in judged:
            judged[doc_id] = (label, number)
            self.corpus.setdefault(doc_id, document)
            return
        first_label, first_number = judged[doc_id]
        if first_label == label:
            self.duplicates += 1
            return
        what = (
            f"query {query_id!r} and document {doc_id!r}"
            if self.show_ids
            else f"query {_excerpt(query)!r} and document {_excerpt(document)!r}"
        )
        there = "earlier on this " + self.unit if first_number == number else f"on {self.unit} {first_number}"
        raise ValueError(
            f"{self.where(number)}: {what} are labelled {label:g} here but {first_label:g} {there}. "
            "Keep one label per pair: fix or remove one of them."
        )

    def build(
        self, source: str, corpus: dict[str, str] | None = None, numeric_first: bool = False
    ) -> TrainingData:
        if not self.queries:
            raise ValueError(f"{self.origin} holds no training records. Give at least one judged pair.")
        items = list(self.queries.items())
        if numeric_first:  # BEIR: numeric ids in numeric order, then the others as first seen (stable sort)
            items.sort(
                key=lambda item: (0, int(item[0])) if item[0].isascii() and item[0].isdigit() else (1, 0)
            )
        queries = tuple(
            TrainingQuery(
                qid, text, tuple(Judgement(d, self.corpus[d], lab) for d, (lab, _) in judged.items())
            )
            for qid, (text, judged) in items
        )
        return TrainingData(source, queries, self.corpus if corpus is None else corpus, self.duplicates)


def _load_records(builder: _Builder, records: Iterator[tuple[int, object]], source: str) -> TrainingData:
    """Add each JSONL object or sequence item to ``builder`` and build the result."""
    for number, item in records:
        if isinstance(item, Mapping):
            _add_mapping(builder, number, item)
        elif isinstance(item, (tuple, list)) and len(item) == 3:
            query, document, third = item
            if isinstance(third, (list, tuple)):
                _add_triplet(builder, number, query, document, third)
            else:
                _add_pair(builder, number, query, document, _label(third, builder.where(number)))
        else:
            raise ValueError(
                f"{builder.where(number)}: expected a (query, document, label) or (query, positive, "
                f"negatives) tuple or a dict in {_RECORD_FORMS}; got {type(item).__name__} "
                f"{_excerpt(item)!r}."
            )
    return builder.build(source)


def _add_mapping(builder: _Builder, number: int, record: Mapping[object, object]) -> None:
    """Add a dict record, judging its form from its own keys."""
    triplet = "positive" in record or "negatives" in record
    if triplet and ("document" in record or "label" in record):
        raise ValueError(
            f"{builder.where(number)}: the record mixes keys of both forms ({sorted(map(str, record))}). "
            f"Use {_RECORD_FORMS}."
        )
    missing = [key for key in (_TRIPLET_KEYS if triplet else _PAIR_KEYS) if key not in record]
    if missing:
        raise ValueError(
            f"{builder.where(number)}: missing key(s) {', '.join(missing)} (got {sorted(map(str, record))}). "
            f"Each record must be in {_RECORD_FORMS}."
        )
    if triplet:
        _add_triplet(builder, number, record["query"], record["positive"], record["negatives"])
    else:
        label = _label(record["label"], builder.where(number))
        _add_pair(builder, number, record["query"], record["document"], label)


def _add_pair(builder: _Builder, number: int, query: object, document: object, label: float) -> None:
    query_text = _text(query, "query", builder.where(number))
    doc_text = _text(document, "document", builder.where(number))
    builder.add(number, _text_id("q-", query_text), query_text, _text_id("doc-", doc_text), doc_text, label)


def _add_triplet(builder: _Builder, number: int, query: object, positive: object, negatives: object) -> None:
    if not isinstance(negatives, (list, tuple)) or not all(isinstance(n, str) for n in negatives):
        raise ValueError(
            f"{builder.where(number)}: 'negatives' must be a list of strings (possibly empty), got "
            f"{_excerpt(negatives)!r}."
        )
    _add_pair(builder, number, query, positive, 1.0)
    for negative in negatives:
        _add_pair(builder, number, query, negative, 0.0)


def _text(value: object, field: str, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: {field!r} must be a string, got {type(value).__name__} {value!r}.")
    if not value.strip():
        raise ValueError(
            f"{where}: empty text in {field!r} ({value!r}). Give it a text or remove the record."
        )
    return value


def _label(value: object, where: str, *, from_text: bool = False) -> float:
    """Read a label; strings are numbers only in CSV (``from_text``), where every cell is a string."""
    number = math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif from_text and isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value)
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(
            f"{where}: label must be a finite number >= 0, got {value!r}. Use 0 for not relevant and "
            "1 (or a grade such as 2, or a soft label in (0, 1]) for relevant."
        )
    return number


def _text_id(prefix: str, text: str) -> str:
    """A stable id from the text itself, so the same text always gets the same id across runs."""
    return prefix + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _excerpt(value: object, limit: int = 60) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _iter_json_objects(builder: _Builder, path: Path) -> Iterator[tuple[int, object]]:
    """Yield ``(line_number, object)`` for each non-blank line; blank lines still count."""
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"{builder.where(number)}: malformed JSON ({exc.msg} at column {exc.colno}). "
                    "Each line must be one JSON object (JSON Lines), not a pretty-printed array."
                ) from exc
            if not isinstance(record, dict):
                raise ValueError(
                    f"{builder.where(number)}: expected a JSON object, got {type(record).__name__}. "
                    f"Each line must be one object in {_RECORD_FORMS}."
                )
            yield number, record


def _load_csv(builder: _Builder, path: Path) -> TrainingData:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = [name.strip().lower() for name in next(reader, [])]
        negative_columns = [i for i, name in enumerate(header) if name.startswith("negative")]
        triplet = "positive" in header or bool(negative_columns)
        if triplet and ("document" in header or "label" in header):
            raise ValueError(f"{builder.where(1)}: the header mixes both forms ({header}). Use {_CSV_FORMS}.")
        required = ["query", "positive"] if triplet else list(_PAIR_KEYS)
        missing = [name for name in required if name not in header]
        if triplet and not negative_columns:
            missing.append("negative (or negative_1, negative_2, ...)")
        repeated = [name for name in required if header.count(name) > 1]
        if missing or repeated:
            problem = f"missing column(s) {', '.join(missing)}" if missing else f"repeated {repeated}"
            raise ValueError(
                f"{builder.where(1)}: {problem} in header {header}. The header must be {_CSV_FORMS}."
            )
        column = {name: header.index(name) for name in required}
        end = reader.line_num
        try:
            for row in reader:
                # A quoted cell may span lines; the record starts just after the previous one ended.
                number, end = end + 1, reader.line_num
                if not row:  # a blank line
                    continue
                if len(row) != len(header):
                    raise ValueError(
                        f"{builder.where(number)}: expected {len(header)} cells as in the header, got "
                        f"{len(row)}. Quote cells that contain commas."
                    )
                if triplet:
                    negatives = [row[i] for i in negative_columns if row[i].strip()]
                    _add_triplet(builder, number, row[column["query"]], row[column["positive"]], negatives)
                else:
                    label = _label(row[column["label"]], builder.where(number), from_text=True)
                    _add_pair(builder, number, row[column["query"]], row[column["document"]], label)
        except csv.Error as exc:
            raise ValueError(f"{builder.where(reader.line_num)}: unreadable CSV ({exc}).") from exc
    return builder.build(str(path))


def _load_beir_dir(root: Path, split: str) -> TrainingData:
    dataset = load_beir(root, split)
    corpus_file, queries_file = str(root / "corpus.jsonl"), str(root / "queries.jsonl")
    qrels_path = root / "qrels" / f"{split}.tsv"
    for query_id, text in dataset.queries.items():
        if not text.strip():
            raise ValueError(
                f"{queries_file!r}: query {query_id!r} has empty text. Give it a text or remove its "
                f"lines from {str(qrels_path)!r}."
            )
    # load_beir keeps only the last grade of a repeated pair; re-scan the qrels for line numbers,
    # repeats and conflicts, so BEIR input obeys the same rules as the other forms.
    builder = _Builder(repr(str(qrels_path)), "line", show_ids=True)
    with qrels_path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            fields = [field.strip() for field in line.rstrip("\r\n").split("\t")]
            try:
                query_id, doc_id, grade = fields[0], fields[1], int(fields[2])
            except (IndexError, ValueError):
                continue  # blank or header: load_beir has validated every other line
            document = dataset.corpus.get(doc_id)
            if document is None:
                raise ValueError(
                    f"{builder.where(number)}: corpus id {doc_id!r} is not in {corpus_file!r}. Remove the "
                    "line or add the document to corpus.jsonl."
                )
            if not document.full_text.strip():
                raise ValueError(
                    f"{corpus_file!r}: document {doc_id!r}, judged on {builder.where(number)}, has empty "
                    "text. Give it a title or text, or remove its qrels lines."
                )
            label = _label(grade, builder.where(number))
            builder.add(number, query_id, dataset.queries[query_id], doc_id, document.full_text, label)
    corpus = {doc_id: doc.full_text for doc_id, doc in dataset.corpus.items()}
    return builder.build(str(root), corpus, numeric_first=True)
