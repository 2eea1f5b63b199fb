r"""Batch input: JSONL or Parquet rows, cut into shards that keep their line numbers.

The driver only plans: for JSONL it counts lines (bytes, no JSON parsing) and records the
byte offset of every ``rows_per_shard``-th line; for Parquet it reads the row-group metadata
and cuts the groups. Each shard is then read where it is processed, and every row keeps its
1-based line (JSONL) or row number (Parquet), so a row that fails is reported where it is.

A JSONL row is the bytes up to a ``\n`` (a ``\r\n`` ending is fine), and nothing else ends
one: a bare ``\r``, ``\x0b``, ``\x1c`` or U+2028 inside a row is JSON whitespace or text, not
a line break (``str.splitlines`` and text-mode files would split there). A row is decoded as
strict UTF-8; one that is not keeps its line and goes to the errors file rather than being
reranked with U+FFFD in place of its bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

__all__ = ["RawRow", "Shard", "file_format", "iter_rows", "plan_shards", "read_shard"]

_FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}

# JSON's own whitespace (RFC 8259); a line of nothing else holds no row.
_JSON_SPACE = b" \t\r\n"


def file_format(path: Path) -> str:
    """``"jsonl"`` or ``"parquet"``, by the file's extension.

    Raises:
        ValueError: For any other extension, naming the ones accepted.
    """
    found = _FORMATS.get(path.suffix.lower())
    if found is None:
        raise ValueError(
            f"{path}: use a .jsonl (one JSON row per line) or .parquet file, got {path.suffix!r}"
        )
    return found


class RawRow(NamedTuple):
    """One input row before it is parsed.

    Attributes:
        line: Its 1-based line (JSONL) or row number (Parquet).
        raw: The row as JSON text (for a row that is not UTF-8: its bytes, backslash-escaped).
        error: Why the row cannot be read (not UTF-8); ``None`` for a readable row.
    """

    line: int
    raw: str
    error: str | None = None


@dataclass(frozen=True)
class Shard:
    """A slice of the input: rows ``first_line`` to ``first_line + lines - 1``.

    Attributes:
        path: The input file.
        kind: ``"jsonl"`` or ``"parquet"``.
        first_line: The 1-based line (or row number) of the slice's first row.
        rows: Rows in the slice (JSONL: its lines that are not blank).
        start: JSONL: the byte offset of the first line; Parquet: the row group.
        end: JSONL: the byte offset past the last line; Parquet: the first row's offset in
            its row group (a shard never spans two groups).
        lines: Lines in the slice, blank ones included (Parquet: its rows).
    """

    path: str
    kind: str
    first_line: int
    rows: int
    start: int
    end: int
    lines: int


def plan_shards(path: Path, rows_per_shard: int = 1000) -> list[Shard]:
    """Cut ``path`` into shards of about ``rows_per_shard`` rows.

    Raises:
        FileNotFoundError: If there is no such file.
        ValueError: For an unknown extension or ``rows_per_shard`` below 1.
    """
    if rows_per_shard < 1:
        raise ValueError(f"rows_per_shard must be at least 1, got {rows_per_shard}")
    kind = file_format(path)
    if not path.is_file():
        raise FileNotFoundError(f"no input file at {path}")
    if kind == "parquet":
        import pyarrow.parquet as pq

        metadata = pq.ParquetFile(path).metadata
        shards, first = [], 1
        for group in range(metadata.num_row_groups):
            in_group = metadata.row_group(group).num_rows
            for offset in range(0, in_group, rows_per_shard):
                rows = min(rows_per_shard, in_group - offset)
                shards.append(Shard(str(path), kind, first, rows, group, offset, rows))
                first += rows
        return shards
    shards = []
    with path.open("rb") as stream:
        first, offset, start, count, rows = 1, 0, 0, 0, 0
        for line in stream:  # a binary file splits on b"\n" only
            offset += len(line)
            count += 1
            rows += bool(line.strip(_JSON_SPACE))
            if count == rows_per_shard:
                shards.append(Shard(str(path), kind, first, rows, start, offset, count))
                first, start, count, rows = first + count, offset, 0, 0
        if count:
            shards.append(Shard(str(path), kind, first, rows, start, offset, count))
    return shards


def _decode(line: int, body: bytes) -> RawRow:
    try:
        return RawRow(line, body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        reason = (
            f"line {line} is not valid UTF-8 ({exc.reason}: byte 0x{body[exc.start]:02x} at byte "
            f"{exc.start} of the line); write the input as UTF-8"
        )
        return RawRow(line, body.decode("utf-8", errors="backslashreplace"), reason)


def read_shard(shard: Shard, after: int = 0) -> list[RawRow]:
    """The shard's rows; blank JSONL lines hold no row and are skipped.

    Args:
        shard: The slice to read.
        after: Skip the rows at or before this line (those a resumed job has done).
    """
    if shard.kind == "parquet":
        import pyarrow.parquet as pq

        table = pq.ParquetFile(shard.path).read_row_group(shard.start).slice(shard.end, shard.rows)
        return [
            RawRow(shard.first_line + offset, json.dumps(row, ensure_ascii=False, default=str))
            for offset, row in enumerate(table.to_pylist())
            if shard.first_line + offset > after
        ]
    with open(shard.path, "rb") as stream:
        stream.seek(shard.start)
        chunk = stream.read(shard.end - shard.start)
    pieces = chunk.split(b"\n")
    if pieces[-1] == b"":  # the piece after the last line's "\n"
        pieces.pop()
    rows = []
    for offset, piece in enumerate(pieces):
        body = piece.strip(_JSON_SPACE)
        if body and shard.first_line + offset > after:
            rows.append(_decode(shard.first_line + offset, body))
    return rows


def iter_rows(shards: Sequence[Shard], after: int = 0) -> Iterator[RawRow]:
    """Every row of ``shards`` after line ``after``, in order (the in-process path)."""
    for shard in shards:
        if shard.first_line + shard.lines - 1 > after:
            yield from read_shard(shard, after)
