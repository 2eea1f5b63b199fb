"""Batch input and output files: JSONL or Parquet, cut into shards that keep line numbers.

The driver only plans: for JSONL it counts lines (bytes, no JSON parsing) and records the
byte offset of every ``rows_per_shard``-th line; for Parquet it reads the row-group metadata
and cuts the groups. Each shard is then read where it is processed, and every row keeps its
1-based line (JSONL) or row number (Parquet), so a row that fails is reported where it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = [
    "OutputFiles",
    "Shard",
    "errors_path",
    "file_format",
    "iter_rows",
    "plan_shards",
    "read_shard",
]

_FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


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


def errors_path(output: Path) -> Path:
    """Where the rows that failed go: ``out.jsonl`` -> ``out.errors.jsonl``."""
    return output.with_name(f"{output.stem}.errors{output.suffix}")


@dataclass(frozen=True)
class Shard:
    """A slice of the input: rows ``first_line`` to ``first_line + rows - 1``.

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
        for line in stream:
            offset += len(line)
            count += 1
            rows += bool(line.strip())
            if count == rows_per_shard:
                shards.append(Shard(str(path), kind, first, rows, start, offset, count))
                first, start, count, rows = first + count, offset, 0, 0
        if count:
            shards.append(Shard(str(path), kind, first, rows, start, offset, count))
    return shards


def read_shard(shard: Shard) -> list[tuple[int, str]]:
    """The shard's rows as ``(line, JSON text)``; blank JSONL lines hold no row and are skipped."""
    if shard.kind == "parquet":
        import pyarrow.parquet as pq

        table = pq.ParquetFile(shard.path).read_row_group(shard.start).slice(shard.end, shard.rows)
        return [
            (shard.first_line + offset, json.dumps(row, ensure_ascii=False, default=str))
            for offset, row in enumerate(table.to_pylist())
        ]
    with open(shard.path, "rb") as stream:
        stream.seek(shard.start)
        chunk = stream.read(shard.end - shard.start)
    rows = []
    for offset, line in enumerate(chunk.splitlines()):
        text = line.decode("utf-8", errors="replace").strip()
        if text:
            rows.append((shard.first_line + offset, text))
    return rows


class OutputFiles:
    """The output and errors files, written as outcomes arrive (a context manager).

    JSONL is streamed line by line. Parquet (whose schema must be known before writing)
    is collected and written when the job ends, so very large outputs should use JSONL.

    Args:
        output: The output file (.jsonl or .parquet); its errors go beside it.
    """

    def __init__(self, output: Path) -> None:
        self.kind = file_format(output)
        self.output = output
        self.errors = errors_path(output)
        self.rows_written = 0
        self.errors_written = 0
        self._streams: list[IO[str]] = []
        self._collected: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])

    def __enter__(self) -> OutputFiles:
        self.output.parent.mkdir(parents=True, exist_ok=True)
        if self.kind == "jsonl":
            self._streams = [
                self.output.open("w", encoding="utf-8"),
                self.errors.open("w", encoding="utf-8"),
            ]
        return self

    def write(self, output: str | None, line: int, error: str | None, raw: str | None = None) -> None:
        """Write one outcome: the output row (JSON text), or the error with its line."""
        if output is not None:
            self.rows_written += 1
            if self.kind == "jsonl":
                self._streams[0].write(output + "\n")
            else:
                self._collected[0].append(json.loads(output))
            return
        self.errors_written += 1
        record = {"line": line, "reason": error, "row": raw}
        if self.kind == "jsonl":
            self._streams[1].write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            self._collected[1].append(record)

    def __exit__(self, *exc_info: object) -> None:
        for stream in self._streams:
            stream.close()
        if self.kind == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            for rows, path in zip(self._collected, (self.output, self.errors), strict=True):
                table = pa.Table.from_pylist(rows) if rows else pa.table({"line": pa.array([], pa.int64())})
                pq.write_table(table, path)


def iter_rows(shards: Sequence[Shard]) -> Iterator[tuple[int, str]]:
    """Every row of ``shards`` in order (the in-process path)."""
    for shard in shards:
        yield from read_shard(shard)
