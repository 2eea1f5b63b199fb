"""The progress file of a batch job: which job it is, and how far its partial output is good.

While a job runs, its output and errors go to ``OUTPUT.partial`` and ``OUTPUT.errors.partial``
and ``OUTPUT.progress.json`` records the job (the input's path, size and modification time;
the model and every reranking option) and a checkpoint: the last input line done, the counts
so far, and how many bytes of each partial file hold them. A checkpoint is written only after
both partial files are flushed to disk, so the files are never shorter than it says; bytes
past it (rows written after it, a half-written line) are cut off when the job resumes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

__all__ = ["Checkpoint", "check_same_job", "describe_job", "read_progress", "write_progress"]

VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    """How far a job got: every input line up to ``line`` is in the partial files.

    Attributes:
        line: The last input line (or Parquet row) done; 0 before the first.
        rows: Rows done (reranked or failed).
        reranked: Rows in the partial output.
        failed: Rows in the partial errors file.
        pairs: (query, window) pairs scored.
        output_bytes: Bytes of the partial output that hold ``reranked`` rows.
        errors_bytes: Bytes of the partial errors file that hold ``failed`` rows.
    """

    line: int = 0
    rows: int = 0
    reranked: int = 0
    failed: int = 0
    pairs: int = 0
    output_bytes: int = 0
    errors_bytes: int = 0


def describe_job(input_path: Path, model: object, options: Mapping[str, Any]) -> dict[str, Any]:
    """What makes two runs the same job: the input's identity, the model and the options.

    Engine settings (Ray or not, actors, batch and shard sizes) change how fast rows come,
    not what they become, so a stopped job may resume with other ones.
    """
    stat = input_path.stat()
    # A scorer object is named by what it scores with, not by its address in memory.
    named = model if model is None or isinstance(model, str) else getattr(model, "name", type(model).__name__)
    return {
        "input": {"path": str(input_path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns},
        "model": named,
        "options": json.loads(json.dumps(dict(options), sort_keys=True, default=repr)),
    }


def write_progress(path: Path, job: Mapping[str, Any], checkpoint: Checkpoint) -> None:
    """Replace the progress file in one step (a crash leaves the old one or the new one)."""
    record = {"version": VERSION, "job": dict(job), "checkpoint": asdict(checkpoint)}
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8") as stream:
        json.dump(record, stream, indent=1)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)


def read_progress(path: Path) -> tuple[dict[str, Any], Checkpoint]:
    """The job and checkpoint a progress file records.

    Raises:
        ValueError: If the file is not a progress file this version wrote.
    """
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("version") != VERSION:
            raise ValueError(f"version {record.get('version')!r}, expected {VERSION}")
        names = {field.name for field in fields(Checkpoint)}
        checkpoint = Checkpoint(**{name: int(record["checkpoint"][name]) for name in names})
        job = dict(record["job"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(
            f"{path} is not a progress file crossrank can resume from ({exc}); "
            "rerun without --resume to start the job over"
        ) from exc
    return job, checkpoint


def check_same_job(output: Path, recorded: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    """Refuse to resume a job on another input, model or options.

    Raises:
        ValueError: Naming what differs and both ways on.
    """
    fix = "rerun without --resume to start over"
    was, now = recorded.get("input", {}), current["input"]
    if was != now:
        raise ValueError(
            f"cannot resume {output}: the stopped job read {was.get('path')} ({was.get('size')} bytes, "
            f"mtime_ns {was.get('mtime_ns')}), this input is {now['path']} ({now['size']} bytes, "
            f"mtime_ns {now['mtime_ns']}); pass the stopped job's unchanged input, or {fix}"
        )
    if recorded.get("model") != current["model"]:
        raise ValueError(
            f"cannot resume {output}: the stopped job ran model {recorded.get('model')!r}, this run "
            f"has {current['model']!r}; pass the same --model, or {fix}"
        )
    old, new = recorded.get("options", {}), current["options"]
    for name in sorted(set(old) | set(new)):
        if old.get(name) != new.get(name):
            raise ValueError(
                f"cannot resume {output}: the stopped job ran with {name}={old.get(name)!r}, this run "
                f"has {name}={new.get(name)!r}; pass the same options, or {fix}"
            )
