"""Batch output: the output and errors files, complete under their names or not there at all.

A job writes ``OUTPUT.partial`` and ``OUTPUT.errors.partial`` (JSONL, whatever the output
format) beside ``OUTPUT.progress.json`` (see :mod:`crossrank.distributed.progress`), and only a
job that read its whole input renames them to ``OUTPUT`` and its errors file (the errors
first, so ``OUTPUT`` existing means both are complete). A row that fails is flushed to the
errors file before any later row reaches the output, so at every moment the rows before the
last output row on disk that failed are in the errors file. A stopped job leaves its partial
files and progress file, and ``resume=True`` continues it from its last checkpoint.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from crossrank.distributed.progress import Checkpoint, check_same_job, read_progress, write_progress
from crossrank.distributed.reading import RawRow, Shard, file_format, iter_rows, plan_shards, read_shard

__all__ = [
    "CHECKPOINT_SECONDS",
    "OutputFiles",
    "RawRow",
    "Shard",
    "errors_path",
    "file_format",
    "iter_rows",
    "partial_path",
    "plan_shards",
    "progress_path",
    "read_shard",
]

# Checkpoints cost two fsyncs and a rename: one a second keeps a resume close at little cost.
CHECKPOINT_SECONDS = 1.0

# Line breaks to str.splitlines that JSON leaves raw inside strings: escaped, so that no line
# reader splits an output row (they can only occur inside JSON strings, where \uXXXX is equal).
_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def errors_path(output: Path) -> Path:
    """Where the rows that failed go: ``out.jsonl`` -> ``out.errors.jsonl``."""
    return output.with_name(f"{output.stem}.errors{output.suffix}")


def partial_path(path: Path) -> Path:
    """Where ``path`` is written until the job is complete: ``out.jsonl`` -> ``out.jsonl.partial``."""
    return path.with_name(f"{path.name}.partial")


def progress_path(output: Path) -> Path:
    """The progress file of the job writing ``output``: ``out.jsonl`` -> ``out.jsonl.progress.json``."""
    return output.with_name(f"{output.name}.progress.json")


def _line_of(text: str) -> bytes:
    return (text.translate(_BREAKS) + "\n").encode("utf-8")


class OutputFiles:
    """The output and errors files of one job, written as outcomes arrive (a context manager).

    Leaving the context normally completes the job (renames, or writes Parquet); leaving it
    by an exception (an error, Ctrl-C, SIGTERM) checkpoints what was written and leaves the
    partial files for a resume.

    Args:
        output: The output file (.jsonl or .parquet); its errors go beside it.
        job: What identifies the job (:func:`~crossrank.distributed.progress.describe_job`);
            a resume must match it.
        resume: Continue the stopped job whose progress file is there (start if there is none).
        checkpoint_seconds: Seconds between checkpoints (0: after every row).

    Attributes:
        resumed: The checkpoint an earlier run left (all zero for a fresh start).
        done: What the partial files hold now, the resumed rows included.
    """

    def __init__(
        self,
        output: Path,
        *,
        job: Mapping[str, Any] | None = None,
        resume: bool = False,
        checkpoint_seconds: float = CHECKPOINT_SECONDS,
    ) -> None:
        if checkpoint_seconds < 0:
            raise ValueError(f"checkpoint_seconds must be 0 or more, got {checkpoint_seconds}")
        self.checkpoint_seconds = checkpoint_seconds
        self.kind = file_format(output)
        self.output = output
        self.errors = errors_path(output)
        self.progress = progress_path(output)
        self.job = dict(job or {})
        self.resume = resume
        self.resumed = self.done = Checkpoint()
        self._streams: list[IO[bytes]] = []
        self._due = 0.0

    @property
    def rows_written(self) -> int:
        """Rows in the output, the resumed ones included."""
        return self.done.reranked

    @property
    def errors_written(self) -> int:
        """Rows in the errors file, the resumed ones included."""
        return self.done.failed

    @property
    def _paths(self) -> tuple[Path, Path]:
        return self.output, self.errors

    def __enter__(self) -> OutputFiles:
        self.output.parent.mkdir(parents=True, exist_ok=True)
        if self.resume and self.progress.is_file():
            self._reopen()
        else:
            # An older complete output under the final name would pass for this job's.
            for path in self._paths:
                path.unlink(missing_ok=True)
            self._streams = [partial_path(path).open("wb") for path in self._paths]
            self.checkpoint()
        return self

    def _reopen(self) -> None:
        recorded, checkpoint = read_progress(self.progress)
        check_same_job(self.output, recorded, self.job)
        sizes = (checkpoint.output_bytes, checkpoint.errors_bytes)
        for path, size in zip(self._paths, sizes, strict=True):
            partial = partial_path(path)
            if path.exists():
                if self.kind == "jsonl" and not partial.exists():
                    os.replace(path, partial)  # stopped while renaming: take it back
                else:
                    path.unlink()  # rebuilt from the partial file when the job completes
            found = partial.stat().st_size if partial.exists() else 0
            if found < size:
                raise ValueError(
                    f"cannot resume {self.output}: {partial} holds {found} bytes, but "
                    f"{self.progress} says {size} were written; rerun without --resume to start over"
                )
        for path, size in zip(self._paths, sizes, strict=True):
            stream = partial_path(path).open("ab")
            stream.truncate(size)  # rows written after the checkpoint are written again
            self._streams.append(stream)
        self.resumed = self.done = checkpoint
        self.checkpoint()

    def write(
        self, output: str | None, line: int, error: str | None, raw: str | None = None, pairs: int = 0
    ) -> None:
        """Write one outcome: the output row (JSON text), or the error with its line.

        Args:
            output: The output row as JSON text; ``None`` for a row that failed.
            line: The row's input line.
            error: Why the row failed.
            raw: The row as read, for the errors file.
            pairs: Pairs scored for the row.
        """
        done = self.done
        if output is not None:
            data = _line_of(output)
            self._streams[0].write(data)
            written = {"reranked": done.reranked + 1, "output_bytes": done.output_bytes + len(data)}
        else:
            data = _line_of(json.dumps({"line": line, "reason": error, "row": raw}, ensure_ascii=False))
            self._streams[1].write(data)
            self._streams[1].flush()  # on disk before any later output row can be
            written = {"failed": done.failed + 1, "errors_bytes": done.errors_bytes + len(data)}
        # One assignment: a Ctrl-C lands before it (the row is written again on resume) or
        # after it, never between a count and a size.
        self.done = replace(
            done, line=max(done.line, line), rows=done.rows + 1, pairs=done.pairs + pairs, **written
        )
        if time.monotonic() >= self._due:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Flush both partial files to disk, then record how far they are good."""
        done = self.done
        for stream in self._streams:
            stream.flush()
            os.fsync(stream.fileno())
        write_progress(self.progress, self.job, done)
        self._due = time.monotonic() + self.checkpoint_seconds

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        try:
            self.checkpoint()
        except OSError:
            if exc_type is None:
                raise  # a failure already on its way says more than a failed checkpoint
        finally:
            for stream in self._streams:
                stream.close()
        if exc_type is None:
            self._complete()

    def _complete(self) -> None:
        if self.kind == "jsonl":
            for path in (self.errors, self.output):  # the output last: it says both are done
                os.replace(partial_path(path), path)
            self.progress.unlink()
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        for path in (self.errors, self.output):
            lines = partial_path(path).read_bytes().split(b"\n")
            rows = [json.loads(line) for line in lines if line]
            table = pa.Table.from_pylist(rows) if rows else pa.table({"line": pa.array([], pa.int64())})
            writing = path.with_name(f"{path.name}.writing")
            pq.write_table(table, writing)
            os.replace(writing, path)
        self.progress.unlink()
        for path in self._paths:
            partial_path(path).unlink()
