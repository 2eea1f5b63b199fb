"""A batch job's files: complete under their names or absent, consistent, and resumable (no Ray)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fake_scorer import FakeScorer

from crossrank.distributed.batch import rerank_file
from crossrank.distributed.files import OutputFiles, errors_path, partial_path, progress_path


class Stop(Exception):
    """Stands for Ctrl-C or SIGTERM in the middle of a job."""


def _write_rows(path: Path, count: int = 12) -> None:
    lines = [
        json.dumps({"query": f"w{i} apple", "candidates": [f"w{i} apple", "pear", f"w{i}"]})
        for i in range(count)
    ]
    lines[2] = json.dumps({"query": "", "candidates": ["x"]})  # line 3 fails
    lines[7] = "{broken"  # line 8 fails
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _job(source: Path, output: Path, **kwargs: Any) -> Any:
    return rerank_file(
        source, output, model=FakeScorer(), use_ray=False, rows_per_shard=5, score_cache_size=0, **kwargs
    )


def _stop_after(rows: int) -> Any:
    seen = [0]

    def on_rows(count: int) -> None:
        seen[0] += count
        if seen[0] == rows:
            raise Stop

    return on_rows


def _contents(output: Path) -> tuple[Any, Any]:
    if output.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(output).to_pylist(), pq.read_table(errors_path(output)).to_pylist()
    return output.read_bytes(), errors_path(output).read_bytes()


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_a_stopped_job_resumes_to_what_an_uninterrupted_run_writes(tmp_path: Path, suffix: str) -> None:
    source = tmp_path / "in.jsonl"
    _write_rows(source)
    whole = _job(source, tmp_path / f"whole{suffix}")
    output = tmp_path / f"out{suffix}"
    with pytest.raises(Stop):
        _job(source, output, on_rows=_stop_after(9))
    assert not output.exists()  # nothing downstream can take it for finished
    assert not errors_path(output).exists()
    assert partial_path(output).exists()
    progress = json.loads(progress_path(output).read_text(encoding="utf-8"))
    assert progress["checkpoint"]["line"] == 9
    with partial_path(output).open("ab") as stream:
        stream.write(b'{"half a row written after the checkpoint')  # cut off on resume
    seen: list[int] = []
    resumed = _job(source, output, resume=True, on_rows=seen.append)
    assert seen[0] == 9  # the progress bar starts at the rows done
    assert _contents(output) == _contents(tmp_path / f"whole{suffix}")
    assert (resumed.rows, resumed.reranked, resumed.failed, resumed.pairs) == (
        whole.rows,
        whole.reranked,
        whole.failed,
        whole.pairs,
    )
    assert resumed.resumed_rows == 9
    leftovers = {path.name for path in tmp_path.iterdir()} - {"in.jsonl", "whole" + suffix, "out" + suffix}
    assert leftovers == {f"whole.errors{suffix}", f"out.errors{suffix}"}


def test_a_job_stopped_while_renaming_resumes(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    _write_rows(source)
    output = tmp_path / "out.jsonl"
    with pytest.raises(Stop):
        _job(source, output, on_rows=_stop_after(12))  # every row done, nothing renamed
    partial_path(errors_path(output)).rename(errors_path(output))  # the first rename done
    _job(source, output, resume=True)
    _job(source, tmp_path / "whole.jsonl")
    assert _contents(output) == _contents(tmp_path / "whole.jsonl")


def test_resume_refuses_another_input_or_other_options(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    _write_rows(source)
    output = tmp_path / "out.jsonl"
    with pytest.raises(Stop):
        _job(source, output, on_rows=_stop_after(4))
    with pytest.raises(ValueError, match=r"ran with top_n=None, this run has top_n=1; pass the same options"):
        _job(source, output, resume=True, top_n=1)
    other = tmp_path / "other.jsonl"
    _write_rows(other)
    with pytest.raises(
        ValueError, match=r"the stopped job read .*in\.jsonl .*pass the stopped job's unchanged input"
    ):
        _job(other, output, resume=True)
    with source.open("a", encoding="utf-8") as stream:
        stream.write(json.dumps({"query": "one more", "candidates": ["row"]}) + "\n")
    with pytest.raises(ValueError, match="or rerun without --resume to start over"):
        _job(source, output, resume=True)
    fresh = _job(source, output)  # without resume: started over
    assert (fresh.rows, fresh.resumed_rows) == (13, 0)
    assert not progress_path(output).exists()


def test_resume_without_a_stopped_job_starts_one(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    _write_rows(source)
    summary = _job(source, tmp_path / "out.jsonl", resume=True)
    assert (summary.rows, summary.reranked, summary.failed, summary.resumed_rows) == (12, 10, 2, 0)


def test_a_failed_row_is_on_disk_before_any_later_output_row(tmp_path: Path) -> None:
    output = tmp_path / "out.jsonl"
    output.write_text("an older run's output\n", encoding="utf-8")
    with OutputFiles(output) as files:
        assert not output.exists()  # an older output would pass for this job's
        files.write(None, 1, "query must be a non-empty string", '{"query": ""}')
        for line in range(2, 200):  # far past the write buffer: output rows reach the disk
            files.write(json.dumps({"query": "q" * 100, "line": line}), line, None)
        on_disk = partial_path(output).read_bytes().split(b"\n")[:-1]
        assert on_disk, "no output row reached the disk: the test proves nothing"
        errors = partial_path(errors_path(output)).read_text(encoding="utf-8").splitlines()
        assert [json.loads(error)["line"] for error in errors] == [1]
        assert not output.exists()
    assert len(output.read_text(encoding="utf-8").splitlines()) == 198
    assert not partial_path(output).exists()
    assert not progress_path(output).exists()
