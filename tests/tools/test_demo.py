"""``crossrank demo`` end to end: embedded Chroma, a real Chroma server, and failures."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crossrank.cli.main import main

# Two built-in queries whose answers sit deep inside long documents.
QUERIES = [
    "Why does my Wi-Fi slow down whenever the microwave is running?",
    "Why are the bottoms of my tomatoes turning black and leathery?",
]


def _query_args() -> list[str]:
    return [arg for query in QUERIES for arg in ("--query", query)]


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo-store")


def _demo_json(model_path: str, store: Path, *extra: str) -> dict[str, Any]:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "crossrank",
            "demo",
            "--model",
            model_path,
            "--persist-dir",
            str(store),
            "--json",
            "--quiet",
            *_query_args(),
            *extra,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


@pytest.fixture(scope="module")
def chunked(model_path: str, store_dir: Path) -> dict[str, Any]:
    return _demo_json(model_path, store_dir)


def test_demo_table_shows_moves_and_a_summary(
    model_path: str, store_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(
        [
            "demo",
            "--model",
            model_path,
            "--persist-dir",
            str(store_dir),
            "--quiet",
            "--top-n",
            "3",
            "--query",
            QUERIES[0],
        ],
        capsys,
    )
    assert code == 0, err
    assert f"Query: {QUERIES[0]}" in out
    assert "new vec move rel  ce_score" in out
    table_rows = [line for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert len(table_rows) == 3
    assert "Summary:" in out
    assert "shown positions changed" in out
    assert "; NDCG@3 " in out
    assert out.strip().splitlines()[-1].startswith("Overall: mean NDCG@3 over 1 built-in query ")


def test_the_demo_says_which_documents_are_relevant_and_whether_reranking_helped(
    chunked: dict[str, Any],
) -> None:
    from crossrank.demo.sample_corpus import load_sample_queries
    from crossrank.evaluation.metrics import ndcg_at_k

    labels = {query.text: query.relevant for query in load_sample_queries()}
    for query in chunked["queries"]:
        relevant = labels[query["query"]]
        for row in query["results"]:
            assert row["relevance"] == relevant.get(row["id"], 0)
        reranked = ndcg_at_k([row["id"] for row in query["results"]], relevant, k=5)
        assert query["summary"]["ndcg_reranked"] == pytest.approx(reranked)
        assert 0.0 <= query["summary"]["ndcg_vector"] <= 1.0
        verdict = "helped" if reranked > query["summary"]["ndcg_vector"] else "hurt"
        if reranked != pytest.approx(query["summary"]["ndcg_vector"]):
            assert f"reranking {verdict}" in query["summary"]["text"]
    means = chunked["mean_ndcg"]
    assert means["k"] == 5
    assert means["reranked"] == pytest.approx(
        sum(q["summary"]["ndcg_reranked"] for q in chunked["queries"]) / len(chunked["queries"])
    )
    # The JSON names the models actually used, never None.
    assert chunked["embedding_model"]
    assert chunked["model"]


def test_a_query_of_ones_own_has_no_labels(model_path: str, store_dir: Path) -> None:
    own = _demo_json(model_path, store_dir, "--query", "How long do I boil an egg?", "--top-n", "2")
    mine = next(query for query in own["queries"] if query["query"] == "How long do I boil an egg?")
    assert all(row["relevance"] is None for row in mine["results"])
    assert mine["summary"]["ndcg_vector"] is None
    assert "NDCG" not in mine["summary"]["text"]


def test_chunk_max_lifts_a_long_document_into_the_top_n(chunked: dict[str, Any]) -> None:
    risen = [
        (query["query"], row)
        for query in chunked["queries"]
        for row in query["results"]
        if row["id"].startswith("long-") and row["window_index"] > 0 and row["move"] > 0
    ]
    assert risen, "no long document rose into the top-n through a later window"
    for query in chunked["queries"]:
        results = query["results"]
        assert len(results) == chunked["top_n"] == 5
        scores = [row["score"] for row in results]
        assert scores == sorted(scores, reverse=True)
        assert all(isinstance(score, float) for score in scores)


def test_no_chunk_gives_a_different_order(chunked: dict[str, Any], model_path: str, store_dir: Path) -> None:
    truncated = _demo_json(model_path, store_dir, "--no-chunk")
    assert truncated["long_documents"] == "truncate"
    chunked_ids = [[row["id"] for row in query["results"]] for query in chunked["queries"]]
    truncated_ids = [[row["id"] for row in query["results"]] for query in truncated["queries"]]
    assert chunked_ids != truncated_ids
    assert all(row["num_windows"] == 1 for q in truncated["queries"] for row in q["results"])


def test_rrf_adds_a_fused_score(model_path: str, store_dir: Path) -> None:
    fused = _demo_json(model_path, store_dir, "--rrf", "--top-n", "3")
    for query in fused["queries"]:
        for row in query["results"]:
            assert row["score"] <= 2 / 61 + 1e-12  # an RRF value, not a cross-encoder score
            assert row["score"] != row["cross_encoder_score"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[int]:
    """A real Chroma server on 127.0.0.1, started with the `chroma run` command chromadb installs."""
    executable = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    if executable is None:
        pytest.fail("the `chroma` command is missing; chromadb installs it")
    port = _free_port()
    log = (tmp_path / "chroma.log").open("w")
    server = subprocess.Popen(
        [executable, "run", "--path", str(tmp_path / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if server.poll() is not None:
                pytest.fail(f"chroma run exited early: {(tmp_path / 'chroma.log').read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("the Chroma server did not start within 60 s")
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def test_demo_against_a_real_chroma_server_matches_the_embedded_store(
    chunked: dict[str, Any], model_path: str, chroma_server: int, tmp_path: Path
) -> None:
    served = _demo_json(
        model_path, tmp_path / "unused", "--chroma-host", "127.0.0.1", "--chroma-port", str(chroma_server)
    )
    assert served["store"] == f"http://127.0.0.1:{chroma_server}"
    assert not (tmp_path / "unused").exists()
    for embedded_query, served_query in zip(chunked["queries"], served["queries"], strict=True):
        embedded_rows, served_rows = embedded_query["results"], served_query["results"]
        assert [r["id"] for r in served_rows] == [r["id"] for r in embedded_rows]
        assert [r["vector_rank"] for r in served_rows] == [r["vector_rank"] for r in embedded_rows]
        assert [r["score"] for r in served_rows] == pytest.approx(
            [r["score"] for r in embedded_rows], abs=1e-5
        )


def test_an_unreachable_server_exits_non_zero_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run_cli(
        [
            "demo",
            "--chroma-host",
            "127.0.0.1",
            "--chroma-port",
            str(_free_port()),
            "--quiet",
            "--persist-dir",
            str(tmp_path),
        ],
        capsys,
    )
    assert code == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("crossrank demo: error: cannot reach a Chroma server at 127.0.0.1:")
    assert "Traceback" not in err


def test_a_chroma_server_that_never_answers_fails_in_seconds(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A listener on 127.0.0.1 that accepts connections and never replies.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        started = time.monotonic()
        code, out, err = run_cli(
            ["demo", "--chroma-host", "127.0.0.1", "--chroma-port", str(port), "--quiet",
             "--persist-dir", str(tmp_path)],
            capsys,
        )  # fmt: skip
        elapsed = time.monotonic() - started
    assert code == 1
    assert out == ""
    assert err.strip() == (
        f"crossrank demo: error: cannot reach a Chroma server at 127.0.0.1:{port} (TimeoutError: no "
        "answer within 5 s); start one with `chroma run --path DIR --port PORT` or drop --chroma-host "
        "to use the embedded store"
    )
    assert elapsed < 30


def test_a_missing_model_exits_non_zero_naming_the_fix(
    capsys: pytest.CaptureFixture[str], store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CROSSRANK_MODEL", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, _, err = run_cli(["demo", "--persist-dir", str(store_dir), "--quiet", "--query", "x"], capsys)
    assert code == 1
    assert "cross-encoder/ms-marco-MiniLM-L6-v2" in err
    assert "CROSSRANK_MODEL" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--top-k", "0"], "argument --top-k: expected a positive integer, got 0"),
        (["--top-n", "many"], "argument --top-n: expected a positive integer, got 'many'"),
        (["--chroma-port", "70000"], "argument --chroma-port: expected a port number 1-65535, got 70000"),
        (["--colour"], "unrecognized arguments: --colour"),
        (["--backend", "tpu"], "argument --backend: invalid choice: 'tpu' (choose from"),
        (
            ["--model", "./no-such-model"],
            "argument --model: no model at './no-such-model': point --model DIR at a directory that "
            "holds a sentence-transformers cross-encoder",
        ),
        (["--query", "  "], "argument --query: --query must be a non-empty string, got '  '."),
        (["--query", "\u200b"], "argument --query: --query must be a non-empty string, got '\\u200b'."),
    ],
    ids=[
        "top-k-zero",
        "top-n-word",
        "port-range",
        "unknown-flag",
        "unknown-backend",
        "model-path",
        "blank-query",
        "invisible-query",
    ],
)
def test_bad_options_exit_2_with_a_clear_message(args: list[str], message: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "crossrank", "demo", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert completed.returncode == 2
    assert message in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize(
    "args", [["--model", "./no-such-model"], ["--query", ""]], ids=["model-path", "empty-query"]
)
def test_bad_arguments_fail_before_anything_heavy_is_imported(args: list[str]) -> None:
    code = (
        "import sys\n"
        "from crossrank.cli.main import main\n"
        "try:\n"
        f"    main(['demo', *{args!r}])\n"
        "except SystemExit as exit:\n"
        "    heavy = ('torch', 'chromadb', 'sentence_transformers')\n"
        "    print(exit.code, sorted(m for m in heavy if m in sys.modules))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.stdout.strip() == "2 []", completed.stderr
