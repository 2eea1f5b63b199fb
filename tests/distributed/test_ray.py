"""A real local Ray (2 CPUs): batch reranking on Ray Data, a killed actor, and Ray Serve."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crossrank import Reranker

ray = pytest.importorskip("ray", reason='Ray is not installed: pip install "crossrank[ray]"')

pytestmark = [pytest.mark.ray]

KEY = "ray-key-321"


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def rows(data_dir: Path) -> list[dict[str, Any]]:
    """200 SciFact test queries, each with 3 corpus abstracts cut to their first 300 characters."""
    folder = data_dir / "scifact"
    lines = (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:600]
    corpus = [json.loads(line) for line in lines]
    queries = [
        json.loads(line) for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    made = []
    for number, query in enumerate(queries[:200]):
        picked = corpus[(number * 3) % 597 : (number * 3) % 597 + 3]
        candidates: list[Any] = [
            {"id": doc["_id"], "text": doc["text"][:300], "score": 1.0 / (rank + 1)}
            for rank, doc in enumerate(picked)
        ]
        if number % 2:
            candidates = [candidate["text"] for candidate in candidates]  # plain texts too
        made.append({"query": query["text"], "qid": query["_id"], "candidates": candidates})
    return made


@pytest.fixture(scope="module")
def expected(model_path: str, rows: list[dict[str, Any]]) -> list[list[tuple[int, float]]]:
    """In-process rankings, row by row: (index, score) best first."""
    from crossrank.distributed.rows import rerank_row

    local = Reranker(model_path, score_cache_size=0)
    return [[(r["index"], r["score"]) for r in rerank_row(local, row)[0]["results"]] for row in rows]


def _ranking(row: dict[str, Any]) -> list[tuple[int, float]]:
    return [(r["index"], r["score"]) for r in row["results"]]


def _assert_same(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> None:
    assert [index for index, _ in got] == [index for index, _ in want]
    # Same model, same batches; actors run torch on 1 thread, this process on 2.
    assert [score for _, score in got] == pytest.approx([score for _, score in want], abs=1e-6)


def _write_jsonl(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_killed_driver_takes_its_local_ray_with_it(model_path: str, tmp_path: Path) -> None:
    """SIGKILL the driver of ``crossrank rerank-batch``: every Ray process it started goes too.

    First in the module, before the in-process Ray of the other tests is started.
    """
    import psutil

    source = tmp_path / "in.jsonl"
    rows = [
        {"query": f"blood pressure {i}", "candidates": ["exercise lowers it", "bananas"]} for i in range(40)
    ]
    _write_jsonl(source, [json.dumps(row) for row in rows])
    output = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "crossrank", "rerank-batch", str(source), str(output)]
    command += [
        "--model",
        os.path.abspath(model_path),
        "--batch-size",
        "1",
        "--cpus-per-actor",
        "0.5",
        "--quiet",
    ]
    job = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    driver = psutil.Process(job.pid)
    started: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 600  # Ray starts slowly on a loaded 2-core machine
        while not any("RerankActor" in " ".join(process.cmdline()) for process in started):
            assert job.poll() is None, f"the job ended before it could be killed: {job.communicate()}"
            assert time.monotonic() < deadline, "no RerankActor process in 600 s"
            time.sleep(0.1)
            try:
                started = driver.children(recursive=True)
            except psutil.Error:
                started = []
        started = driver.children(recursive=True)  # the raylet's agents and workers too
        job.kill()
        job.wait()
        _, alive = psutil.wait_procs(started, timeout=20)
        assert not alive, f"Ray processes outlived the killed driver by 20 s: {[p.name() for p in alive]}"
    finally:
        job.kill()
        for process in started:
            with contextlib.suppress(psutil.Error):
                process.kill()
    from crossrank.distributed.files import partial_path, progress_path

    assert not output.exists()
    assert partial_path(output).exists()
    assert progress_path(output).exists()


def test_a_file_on_two_actors_equals_in_process_row_for_row_and_bad_rows_go_to_errors(
    local_ray: Any, model_path: str, rows: list[dict[str, Any]], expected: list[Any], tmp_path: Path
) -> None:
    from crossrank.distributed import rerank_file

    lines = [json.dumps(row).encode() for row in rows]
    lines[5] = lines[5].replace(b", ", b",\r", 1)  # a bare \r is JSON whitespace: one row still
    lines.insert(10, json.dumps({"candidates": ["no query here"]}).encode())  # line 11
    lines.insert(30, b'{"query": "caf\xe9", "candidates": ["x"]}')  # line 31: Latin-1, not UTF-8
    lines.insert(51, json.dumps({"query": "q", "candidates": ["fine", 42]}).encode())  # line 52
    source = tmp_path / "rows.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    output = tmp_path / "ranked.jsonl"
    summary = rerank_file(source, output, model=model_path, actors=2, rows_per_batch=8, rows_per_shard=40)
    written = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [row["qid"] for row in written] == [row["qid"] for row in rows]
    for got, want in zip(written, expected, strict=True):
        _assert_same(_ranking(got), want)
    errors = [json.loads(line) for line in (tmp_path / "ranked.errors.jsonl").read_text().splitlines()]
    assert [(error["line"], error["reason"][:28]) for error in errors] == [
        (11, "query must be a non-empty st"),
        (31, "line 31 is not valid UTF-8 ("),
        (52, "candidates[1] must be a text"),
    ]
    assert (summary.rows, summary.reranked, summary.failed, summary.engine) == (203, 200, 3, "ray")
    assert summary.pairs == 600
    assert summary.duplicates_dropped == 0


def test_a_killed_actor_is_replaced_and_the_output_is_complete(
    local_ray: Any, model_path: str, rows: list[dict[str, Any]], expected: list[Any], tmp_path: Path
) -> None:
    import psutil

    from crossrank.distributed import rerank_file

    source = tmp_path / "rows.jsonl"
    _write_jsonl(source, [json.dumps(row) for row in rows])
    output = tmp_path / "ranked.jsonl"
    done: dict[str, Any] = {}
    written = threading.Event()
    count = [0]

    def progress(rows_written: int) -> None:
        count[0] += rows_written
        written.set()

    def job() -> None:
        done["summary"] = rerank_file(
            source, output, model=model_path, actors=2, rows_per_batch=4, rows_per_shard=20, on_rows=progress
        )

    runner = threading.Thread(target=job)
    runner.start()
    # Generous: on a loaded machine Ray's (niced) workers can wait minutes for a CPU.
    assert written.wait(timeout=600), "no row came back from the actors in 600 s"
    victims = [
        process
        for process in psutil.process_iter(["pid", "cmdline"])
        if any("RerankActor" in part for part in (process.info["cmdline"] or []))
    ]
    assert victims, "found no RerankActor process to kill"
    os.kill(victims[0].info["pid"], signal.SIGKILL)
    assert count[0] < len(rows), "the job was over before the kill: the test proves nothing"
    runner.join(timeout=900)
    assert not runner.is_alive()
    summary = done["summary"]
    lines = output.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(rows) == summary.reranked  # no row missing, none twice
    got = [json.loads(line) for line in lines]
    assert [row["qid"] for row in got] == [row["qid"] for row in rows]
    for row, want in zip(got, expected, strict=True):
        _assert_same(_ranking(row), want)


def test_a_ray_dataset_gets_its_rows_back_with_results(
    local_ray: Any, model_path: str, rows: list[dict[str, Any]], expected: list[Any]
) -> None:
    from crossrank.distributed import rerank_dataset

    texts_only = [
        {
            "query": row["query"],
            "qid": row["qid"],
            "candidates": [c if isinstance(c, str) else c["text"] for c in row["candidates"]],
        }
        for row in rows[:40]
    ]
    texts_only.append({"query": "", "qid": "bad", "candidates": ["x"]})
    ranked = rerank_dataset(ray.data.from_items(texts_only), model=model_path, actors=1, rows_per_batch=8)
    by_qid = {row["qid"]: row for row in ranked.take_all()}
    assert set(by_qid) == {row["qid"] for row in texts_only}
    assert by_qid["bad"]["results"] == []
    assert "query must be a non-empty string" in by_qid["bad"]["error"]
    local = Reranker(model_path, score_cache_size=0)
    for row in texts_only[:40]:
        want = [(r.index, r.score) for r in local.rerank(row["query"], row["candidates"])]
        assert by_qid[row["qid"]]["error"] is None
        _assert_same(_ranking(by_qid[row["qid"]]), want)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_ray_serve_answers_the_cohere_sdk_like_crossrank_serve(local_ray: Any, model_path: str) -> None:
    import cohere
    import httpx

    from crossrank.distributed.ray_serve import ReplicaPlan, serve_on_ray
    from crossrank.serving import ServeSettings

    port = _free_port()
    stop = threading.Event()
    settings = ServeSettings(model=model_path, api_key=KEY, max_documents=8)
    server = threading.Thread(
        target=serve_on_ray, args=(settings, ReplicaPlan(replicas=1)), kwargs={"port": port, "stop": stop}
    )
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("Ray Serve did not become ready in 240 s")
        query = "Aerobic exercise lowers blood pressure in adults with hypertension."
        documents = [
            "Bananas are rich in potassium.",
            "Regular aerobic exercise lowered resting blood pressure in adults with hypertension.",
            "A long walk every day " * 120 + "and aerobic exercise lowered blood pressure in the trial.",
        ]
        client = cohere.ClientV2(api_key=KEY, base_url=url)
        response = client.rerank(model="served", query=query, documents=documents, top_n=2)
        want = Reranker(model_path).rerank(query, documents, top_n=2)
        assert [r.index for r in response.results] == [r.index for r in want]
        for got, expected_result in zip(response.results, want, strict=True):
            assert got.relevance_score == pytest.approx(expected_result.score, abs=1e-5)
        # The same limits and key as crossrank serve.
        refused = httpx.post(f"{url}/v2/rerank", json={"query": query, "documents": documents}, timeout=30)
        assert refused.status_code == 401
        too_many = httpx.post(
            f"{url}/v2/rerank",
            json={"query": query, "documents": ["x"] * 9},
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=30,
        )
        assert too_many.status_code == 413
        assert "the limit is 8" in too_many.json()["message"]
    finally:
        stop.set()
        server.join(timeout=120)
    assert not server.is_alive()


def test_parquet_in_and_out_on_ray(
    local_ray: Any, model_path: str, rows: list[dict[str, Any]], expected: list[Any], tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from crossrank.distributed import rerank_file

    texts_only = [
        {
            "query": row["query"],
            "qid": row["qid"],
            "candidates": [c if isinstance(c, str) else c["text"] for c in row["candidates"]],
        }
        for row in rows[1:40:2]  # the rows whose candidates were texts already
    ]
    source = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(texts_only), source)  # one row group, cut into shards
    summary = rerank_file(source, tmp_path / "ranked.parquet", model=model_path, actors=2, rows_per_batch=4)
    ranked = pq.read_table(tmp_path / "ranked.parquet").to_pylist()
    assert [row["qid"] for row in ranked] == [row["qid"] for row in texts_only]
    for row, want in zip(ranked, expected[1:40:2], strict=True):
        _assert_same(_ranking(row), want)
    assert (summary.rows, summary.failed) == (20, 0)
