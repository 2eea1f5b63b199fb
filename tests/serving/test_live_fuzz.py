"""A real ``crossrank serve`` on 127.0.0.1: clients that give up, and schemathesis fuzzing it."""

from __future__ import annotations

import concurrent.futures
import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_server import AUTH, DOCUMENTS, KEY, QUERY, Server


@pytest.fixture(scope="module")
def fuzzed(model_path: str) -> Iterator[Server]:
    running = Server(model_path, "--max-documents", "8", "--max-document-chars", "2000", "--max-queue", "8")
    yield running
    assert running.stop() == 0


def test_clients_that_give_up_never_fill_the_queue(model_path: str) -> None:
    # 16 clients with a 0.05 s timeout: each abandoned request held a --max-queue slot until
    # the worker reached it, so 55 of 200 got 429. A slot is now freed when its client leaves.
    busy = Server(model_path, "--max-queue", "24")
    long_documents = [DOCUMENTS[3] + f" variant {i}" for i in range(20)]
    try:

        def client(number: int) -> list[int]:
            answered = []
            with httpx.Client(timeout=0.05, headers=AUTH) as http:
                for i in range(12):
                    body = {"query": f"{QUERY} {number} {i}", "documents": long_documents}
                    with contextlib.suppress(httpx.TimeoutException):
                        answered.append(http.post(f"{busy.url}/v2/rerank", json=body).status_code)
            return answered

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            answered = [status for statuses in pool.map(client, range(16)) for status in statuses]
        assert 429 not in answered
        metrics = httpx.get(f"{busy.url}/metrics", timeout=10).text
        assert 'status="429"' not in metrics
        assert 'status="499"' in metrics  # the server saw them leave
        # Nothing is left holding a slot: a patient client is served.
        after = httpx.post(
            f"{busy.url}/v2/rerank", json={"query": QUERY, "documents": DOCUMENTS}, headers=AUTH, timeout=120
        )
        assert after.status_code == 200
        in_flight = next(
            line for line in httpx.get(f"{busy.url}/metrics", timeout=10).text.splitlines()
            if line.startswith("crossrank_requests_in_flight ")
        )  # fmt: skip
        assert float(in_flight.split()[-1]) == 0.0
    finally:
        assert busy.stop() == 0


# Schema-valid bodies the server must still refuse, for rules a JSON schema cannot state:
# retrieval_scores one per document, window_overlap below this model's window, a query
# with no tokens for this model. Each refusal is a 422 naming the field.
_CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "422", "429"]

[checks.negative_data_rejection]
expected-statuses = ["401", "405", "413", "415", "422"]
"""


@pytest.mark.fuzz
def test_schemathesis_finds_no_server_error_and_no_schema_violation(fuzzed: Server, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(_CONFIG)
    command = [
        *(str(Path(sys.executable).with_name("st")), "--no-color", "--config-file", str(config), "run"),
        f"{fuzzed.url}/openapi.json",
        *("--checks", "all", "--seed", "20240611", "--max-examples", "12", "--workers", "1"),
        *("--header", f"Authorization: Bearer {KEY}", "--request-timeout", "30"),
        *("--generation-database", "none"),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-2000:]
