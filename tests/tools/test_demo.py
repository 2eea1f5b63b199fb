"""``crossrank demo`` end to end: embedded Chroma, a real Chroma server, and failures."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crossrank.cli.demo import demo_settings, format_overall, summary_line
from crossrank.cli.main import build_parser, main
from crossrank.demo.runner import DEMO_OPTIONS, DEMO_TOP_K, DemoQueryReport
from crossrank.demo.summary import summarize, verdict

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


_VERDICT_OF_TEXT = {
    "reranking helped": "helped",
    "reranking hurt": "hurt",
    "no change in quality": "unchanged",
}


def _verdicts_of_summary_lines(out: str) -> dict[str, str]:
    """Each query's verdict as its own table's summary line states it (none for an unlabelled one)."""
    verdicts: dict[str, str] = {}
    query = ""
    for line in out.splitlines():
        if line.startswith("Query: "):
            query = line.removeprefix("Query: ")
        elif line.strip().startswith("Summary:"):
            stated = [v for text, v in _VERDICT_OF_TEXT.items() if f": {text}" in line]
            assert len(stated) <= 1, line
            if stated:
                verdicts[query] = stated[0]
    return verdicts


def _overall_block(out: str) -> list[str]:
    lines = out.splitlines()
    return lines[next(i for i, line in enumerate(lines) if line.startswith("Overall: ")) :]


def test_demo_table_shows_moves_and_a_summary_that_agrees_with_its_queries(
    model_path: str, store_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(
        ["demo", "--model", model_path, "--persist-dir", str(store_dir), "--quiet", "--top-n", "3",
         *_query_args(), "--query", "How long do I boil an egg?"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    # The header names what ran: the demo's defaults.
    assert out.splitlines()[0].endswith(
        f"top-{DEMO_TOP_K} by vector search, reranked (chunk-max, RRF with the vector ranking), top-3 shown"
    )
    assert f"Query: {QUERIES[0]}" in out
    assert "new vec move rel  ce_score    fused" in out
    table_rows = [line for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert len(table_rows) == 3 * 3
    assert "shown positions changed" in out
    assert "; NDCG@3 " in out
    # The summary counts the two built-in queries only (the egg has no labels), by the verdicts
    # their own lines print, and lists each one that helped or hurt with its NDCG.
    verdicts = _verdicts_of_summary_lines(out)
    assert sorted(verdicts) == sorted(QUERIES)
    overall = _overall_block(out)
    assert overall[0].startswith("Overall: mean NDCG@3 over 2 built-in queries ")
    count = {v: sum(1 for x in verdicts.values() if x == v) for v in ("helped", "hurt", "unchanged")}
    assert overall[1] == (
        f"  Per query, reranking helped {count['helped']}, hurt {count['hurt']} and left "
        f"{count['unchanged']} unchanged (NDCG@3, vector -> reranked):"
    )
    listed = [
        re.fullmatch(r" {4}(helped|hurt) +\d\.\d{3} -> \d\.\d{3}  (.+)", line) for line in overall[2:-1]
    ]
    assert all(listed), overall
    assert {m.group(2): m.group(1) for m in listed if m} == {
        query: v for query, v in verdicts.items() if v != "unchanged"
    }
    assert overall[-1] == "  (rel: ** answers, * helps, - does not)"


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
    # The overall counts are those of the per-query verdicts.
    overall = chunked["overall"]
    verdicts = [query["summary"]["verdict"] for query in chunked["queries"]]
    assert overall["queries"] == len(verdicts) == 2
    for which in ("helped", "hurt", "unchanged"):
        assert overall[which] == verdicts.count(which)
    assert (overall["ndcg_vector"], overall["ndcg_reranked"]) == (means["vector"], means["reranked"])
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


def test_the_default_run_is_the_rrf_the_demo_says(chunked: dict[str, Any]) -> None:
    ran = (chunked["top_k"], chunked["long_documents"], chunked["fusion"])
    assert ran == (DEMO_TOP_K, "chunk_max", "rrf")
    for query in chunked["queries"]:
        assert query["candidates"] == DEMO_TOP_K
        for row in query["results"]:
            assert row["score"] <= 2 / 61 + 1e-12  # an RRF value, not a cross-encoder score
            assert row["score"] != row["cross_encoder_score"]


def test_no_rrf_ranks_by_the_cross_encoder_alone(model_path: str, store_dir: Path) -> None:
    alone = _demo_json(model_path, store_dir, "--no-rrf", "--top-n", "3")
    assert alone["fusion"] is None
    for query in alone["queries"]:
        scores = [row["cross_encoder_score"] for row in query["results"]]
        assert [row["score"] for row in query["results"]] == scores
        assert scores == sorted(scores, reverse=True)


def test_the_default_settings_are_the_demos_and_reach_its_reranker() -> None:
    from crossrank.reranker import Reranker

    parser = build_parser()
    settings = demo_settings(parser.parse_args(["demo"]))
    assert settings.top_k == DEMO_TOP_K
    assert DEMO_OPTIONS.items() <= settings.options.items()
    assert (settings.option("long_documents"), settings.option("fusion")) == ("chunk_max", "rrf")
    reranker = Reranker(settings.model, top_n=settings.top_n, **settings.options)  # lazy: loads nothing
    assert (reranker.long_documents, reranker.fusion) == ("chunk_max", "rrf")
    # The flags still turn each default off, and --rrf still parses.
    off = demo_settings(parser.parse_args(["demo", "--no-rrf", "--no-chunk", "--top-k", "20"]))
    assert (off.top_k, off.option("fusion"), off.option("long_documents")) == (20, None, "truncate")
    assert demo_settings(parser.parse_args(["demo", "--rrf"])).option("fusion") == "rrf"


def _report(query: str, before: float | None, after: float | None) -> DemoQueryReport:
    return DemoQueryReport(query=query, rows=[], candidates=0, ndcg_vector=before, ndcg_reranked=after)


def test_the_overall_summary_counts_and_lists_the_per_query_verdicts() -> None:
    reports = [
        _report("up one", 0.2, 0.6),
        _report("down one", 0.9, 0.8),
        _report("same one", 0.5, 0.5),
        _report("mine, unlabelled", None, None),
        _report("up two", 0.7, 1.0),
        _report("float noise", 0.1 + 0.2, 0.3),
    ]
    summary = summarize(reports, 5)
    assert summary is not None
    assert [o.verdict for o in summary.outcomes] == ["helped", "hurt", "unchanged", "helped", "unchanged"]
    assert summary.ndcg_vector == pytest.approx((0.2 + 0.9 + 0.5 + 0.7 + 0.3) / 5)
    assert summary.ndcg_reranked == pytest.approx((0.6 + 0.8 + 0.5 + 1.0 + 0.3) / 5)
    assert format_overall(summary).splitlines() == [
        "Overall: mean NDCG@5 over 5 built-in queries 0.520 (vector) -> 0.640 (reranked): reranking helped.",
        "  Per query, reranking helped 2, hurt 1 and left 2 unchanged (NDCG@5, vector -> reranked):",
        "    helped  0.200 -> 0.600  up one",
        "    helped  0.700 -> 1.000  up two",
        "    hurt    0.900 -> 0.800  down one",
        "  (rel: ** answers, * helps, - does not)",
    ]
    assert summarize([_report("mine", None, None)], 5) is None


def test_a_querys_line_states_the_verdict_the_summary_counts() -> None:
    from crossrank.demo.runner import DemoRow

    row = DemoRow(
        rank=1, vector_rank=1, doc_id="d", title="t", cross_encoder_score=0.5, score=0.5,
        num_windows=1, window_index=0, window_span=(0, 1), snippet="s", relevance=2,
    )  # fmt: skip
    for before, after in [(0.2, 0.6), (0.9, 0.8), (0.5, 0.5), (0.1 + 0.2, 0.3)]:
        report = DemoQueryReport(query="q", rows=[row], candidates=1, ndcg_vector=before, ndcg_reranked=after)
        summary = summarize([report], 1)
        assert summary is not None
        assert summary.outcomes[0].verdict == verdict(before, after)
        line = summary_line(report)
        assert [v for text, v in _VERDICT_OF_TEXT.items() if f": {text}" in line] == [verdict(before, after)]


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
