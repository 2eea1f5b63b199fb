"""``crossrank rerank-batch`` killed partway with SIGKILL and resumed: the files of an uninterrupted run.

Runs the command line in subprocesses with the real model, in process (no Ray), with a
checkpoint after every row (``--checkpoint-seconds 0``, an fsync each) and one pair scored at
a time (``--model-batch-size 1``), so that a job is stopped after its first rows.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from crossrank.distributed.files import errors_path, partial_path, progress_path

WORDS = [
    "blood",
    "pressure",
    "exercise",
    "trial",
    "adults",
    "diet",
    "sodium",
    "heart",
    "vessel",
    "walking",
    "sleep",
    "stress",
]


def _write_rows(path: Path, count: int = 16) -> None:
    lines = []
    for number in range(count):
        query = f"does {WORDS[number % 12]} change {WORDS[(number * 5) % 12]}"
        candidates = [
            " ".join(WORDS[(number + word * (doc + 1)) % 12] for word in range(12)) for doc in range(2)
        ]
        lines.append(json.dumps({"query": query, "id": number, "candidates": candidates}))
    lines[1] = json.dumps({"query": "", "id": 1, "candidates": ["x"]})  # line 2 fails
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _command(model_path: str, source: Path, output: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "crossrank",
        "rerank-batch",
        str(source),
        str(output),
        "--no-ray",
        "--model",
        os.path.abspath(model_path),
        "--model-batch-size",
        "1",
        "--checkpoint-seconds",
        "0",
        "--quiet",
        "--json",
        *extra,
    ]


def _checkpoint(output: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(progress_path(output).read_text(encoding="utf-8"))["checkpoint"])
    except (OSError, ValueError, KeyError):
        return {"rows": 0}


def _stop_partway(
    command: list[str], output: Path, past: int, signum: int
) -> subprocess.CompletedProcess[str]:
    """Run ``command``, send ``signum`` once a checkpoint is past ``past`` rows, return how it ended."""
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while _checkpoint(output)["rows"] <= past:
        assert job.poll() is None, f"the job ended before it could be stopped: {job.communicate()}"
        assert time.monotonic() < deadline, "no checkpoint in 300 s"
        time.sleep(0.05)
    assert not output.exists(), "the output is under its final name before the job is complete"
    job.send_signal(signum)
    stdout, stderr = job.communicate(timeout=120)
    return subprocess.CompletedProcess(command, job.returncode, stdout, stderr)


def _ids(path: Path) -> list[int]:
    """The ids of the complete rows in a partial output (a last, half-written line is not one)."""
    return [json.loads(line)["id"] for line in path.read_bytes().split(b"\n")[:-1]]


def test_a_killed_job_resumes_to_the_files_of_an_uninterrupted_run(model_path: str, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    _write_rows(source)
    whole = tmp_path / "whole.jsonl"
    subprocess.run(_command(model_path, source, whole), check=True, capture_output=True, timeout=600)
    output = tmp_path / "out.jsonl"

    killed = _stop_partway(_command(model_path, source, output), output, 2, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert not output.exists()
    assert not errors_path(output).exists()
    done = _checkpoint(output)
    assert 2 < done["rows"] < 16
    # The rows before the last output row on disk that failed are in the errors file.
    assert _ids(partial_path(output))[:2] == [0, 2]
    errors = partial_path(errors_path(output)).read_text(encoding="utf-8").splitlines()
    assert [json.loads(error)["line"] for error in errors] == [2]

    finished = subprocess.run(
        _command(model_path, source, output, "--resume"),
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = json.loads(finished.stdout)
    assert (summary["rows"], summary["reranked"], summary["failed"]) == (16, 15, 1)
    assert summary["resumed_rows"] == done["rows"]
    assert output.read_bytes() == whole.read_bytes()  # no row missing, none twice, none changed
    assert errors_path(output).read_bytes() == errors_path(whole).read_bytes()
    assert not progress_path(output).exists()
    assert not partial_path(output).exists()
