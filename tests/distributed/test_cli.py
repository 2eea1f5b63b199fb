"""``crossrank rerank-batch`` and ``crossrank serve --ray`` on the command line."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from fake_scorer import FakeScorer

from crossrank.cli import rerank_batch
from crossrank.cli.main import main
from crossrank.distributed.ray_serve import ReplicaPlan, parse_autoscale
from crossrank.serving import ServeSettings


def test_rerank_batch_without_ray_runs_in_process_and_says_so(
    model_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(rerank_batch, "_ray_installed", lambda: False)
    source = tmp_path / "in.jsonl"
    rows = [
        {
            "query": "aerobic exercise and blood pressure",
            "candidates": ["Exercise lowered blood pressure.", "Bananas."],
        },
        {"query": "", "candidates": ["x"]},
    ]
    source.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    output = tmp_path / "out.jsonl"
    assert (
        main(["rerank-batch", str(source), str(output), "--model", model_path, "--top-n", "1", "--json"]) == 0
    )
    captured = capsys.readouterr()
    assert "Ray is not installed, reranking in this process" in captured.err
    summary = json.loads(captured.out)
    assert (summary["rows"], summary["reranked"], summary["failed"], summary["engine"]) == (
        2,
        1,
        1,
        "in-process",
    )
    ranked = json.loads(output.read_text(encoding="utf-8"))
    assert [r["index"] for r in ranked["results"]] == [0]  # --top-n reached the reranker
    error = json.loads((tmp_path / "out.errors.jsonl").read_text(encoding="utf-8"))
    assert error["line"] == 2
    assert "query must be a non-empty string" in error["reason"]


def test_sigterm_stops_a_job_like_ctrl_c_and_resume_finishes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from crossrank.distributed import batch
    from crossrank.distributed.files import partial_path, progress_path

    real = batch.rerank_file
    terms: list[int] = []

    def on_fake_scorer(source: Path, output: Path, **kwargs: Any) -> Any:
        def on_rows(count: int) -> None:
            if not kwargs["resume"] and not terms:
                terms.append(count)
                os.kill(os.getpid(), signal.SIGTERM)  # as `kill PID` or a scheduler would

        kwargs.update(model=FakeScorer(), score_cache_size=0, on_rows=on_rows)
        return real(source, output, **kwargs)

    monkeypatch.setattr(batch, "rerank_file", on_fake_scorer)
    source = tmp_path / "in.jsonl"
    rows = [{"query": f"w{i} apple", "candidates": [f"w{i} apple", "pear"]} for i in range(6)]
    source.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    output = tmp_path / "out.jsonl"
    command = ["rerank-batch", str(source), str(output), "--no-ray", "--quiet", "--json"]
    assert main(command) == 128 + signal.SIGTERM
    assert "stopped by SIGTERM; the rows done are kept in" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back
    assert not output.exists()
    assert partial_path(output).exists()
    assert progress_path(output).exists()
    assert main([*command, "--resume"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["rows"], summary["reranked"], summary["resumed_rows"]) == (6, 6, 1)
    assert main([*command[:2], str(tmp_path / "whole.jsonl"), *command[3:]]) == 0
    assert output.read_bytes() == (tmp_path / "whole.jsonl").read_bytes()


def test_rerank_batch_refuses_an_unknown_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in.csv").write_text("query\n", encoding="utf-8")
    assert main(["rerank-batch", str(tmp_path / "in.csv"), str(tmp_path / "out.jsonl"), "--no-ray"]) == 1
    assert "use a .jsonl (one JSON row per line) or .parquet file" in capsys.readouterr().err


def test_replica_flags_need_ray(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--replicas", "2"]) == 1
    assert "--replicas, --autoscale and --ray-address need --ray" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["4", "3:1", "0:0", "a:b"])
def test_bad_autoscale_ranges_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="--autoscale"):
        parse_autoscale(text)


def test_replica_plans_become_ray_serve_options() -> None:
    settings = ServeSettings(max_queue=32)
    fixed = ReplicaPlan(replicas=3, cpus_per_replica=2).deployment_options(settings)
    assert fixed["num_replicas"] == 3
    assert fixed["ray_actor_options"] == {"num_cpus": 2}
    assert fixed["max_ongoing_requests"] == 33  # past the app's own bound, so its 429 is the limit
    scaled = ReplicaPlan(autoscale=parse_autoscale("1:4"), gpus_per_replica=1).deployment_options(settings)
    assert "num_replicas" not in scaled
    assert scaled["autoscaling_config"]["min_replicas"] == 1
    assert scaled["autoscaling_config"]["max_replicas"] == 4
    assert scaled["ray_actor_options"]["num_gpus"] == 1
