"""A real ``crossrank serve`` on 127.0.0.1, spoken to by the cohere SDK, httpx and the adapters."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from crossrank import Reranker, RerankResult
from crossrank.errors import RemoteRerankError

KEY = "test-key-123"
QUERY = "Aerobic exercise lowers blood pressure in adults with hypertension."
DOCUMENTS = [
    "Bananas are rich in potassium.",
    "Regular aerobic exercise lowered resting blood pressure in adults with hypertension.",
    "Blood pressure cuffs must match the arm size to read correctly.",
    "A long walk every day " * 120 + "and aerobic exercise lowered blood pressure in the trial.",
]
AUTH = {"Authorization": f"Bearer {KEY}"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    def __init__(self, model_path: str, *extra: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            *(sys.executable, "-m", "crossrank", "serve", "--model", model_path, "--port", str(self.port)),
            *("--api-key", KEY, "--log-level", "warning", *extra),
        ]
        # A file, not a pipe: a pipe nobody reads would block the server once it fills.
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the server exited: {self.process.stdout.read() if self.process.stdout else ''}"
                )
            time.sleep(0.3)
        self.stop()
        raise RuntimeError("the server did not become ready in 180 s")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                return self.process.wait(timeout=10)
        return int(self.process.returncode)


@pytest.fixture(scope="module")
def server(model_path: str) -> Iterator[Server]:
    running = Server(
        model_path, "--max-documents", "40", "--max-document-chars", "20000", "--max-wait-ms", "20"
    )
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def local(model_path: str) -> Reranker:
    return Reranker(model_path, score_cache_size=0)


def _post(
    server: Server, route: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.post(
        f"{server.url}{route}", json=body, headers=AUTH if headers is None else headers, timeout=120
    )


def test_the_cohere_sdk_gets_the_in_process_ranking(server: Server, local: Reranker) -> None:
    import cohere

    client = cohere.ClientV2(api_key=KEY, base_url=server.url)
    response = client.rerank(model="served", query=QUERY, documents=DOCUMENTS, top_n=3)
    expected = local.rerank(QUERY, DOCUMENTS, top_n=3)
    assert [r.index for r in response.results] == [r.index for r in expected]
    for got, want in zip(response.results, expected, strict=True):
        assert got.relevance_score == pytest.approx(want.score, abs=1e-5)


def test_jina_and_tei_routes_match_in_process(server: Server, local: Reranker) -> None:
    expected = local.rerank(QUERY, DOCUMENTS)
    jina = _post(
        server, "/v1/rerank", {"model": "m", "query": QUERY, "documents": DOCUMENTS, "return_documents": True}
    )
    assert jina.status_code == 200
    body = jina.json()
    assert [r["index"] for r in body["results"]] == [r.index for r in expected]
    assert [r["relevance_score"] for r in body["results"]] == pytest.approx(
        [r.score for r in expected], abs=1e-5
    )
    assert body["results"][0]["document"] == {"text": DOCUMENTS[expected[0].index]}
    assert body["usage"]["total_tokens"] > 0

    tei = _post(server, "/rerank", {"query": QUERY, "texts": DOCUMENTS, "return_text": True})
    assert tei.status_code == 200
    rows = tei.json()
    assert [r["index"] for r in rows] == [r.index for r in expected]
    assert [r["score"] for r in rows] == pytest.approx([r.score for r in expected], abs=1e-5)
    assert rows[0]["text"] == DOCUMENTS[expected[0].index]
    # TEI's truncate=true is the first window only, like truncate in-process.
    first_window = local.with_options(long_documents="truncate").rerank(QUERY, DOCUMENTS)
    truncated = _post(server, "/rerank", {"query": QUERY, "texts": DOCUMENTS, "truncate": True}).json()
    assert [r["score"] for r in truncated] == pytest.approx([r.score for r in first_window], abs=1e-5)


def test_crossrank_options_and_details_ride_in_their_own_object(server: Server, local: Reranker) -> None:
    scores = [0.9, 0.1, 0.5, 0.7]
    body = {
        "query": QUERY,
        "documents": DOCUMENTS,
        "crossrank": {"fusion": "rrf", "retrieval_scores": scores},
    }
    rows = _post(server, "/v2/rerank", body).json()["results"]
    expected = local.with_options(fusion="rrf").rerank(QUERY, DOCUMENTS, retrieval_scores=scores)
    assert [r["index"] for r in rows] == [r.index for r in expected]
    long_row = next(r for r in rows if r["index"] == 3)
    assert long_row["crossrank"]["num_windows"] > 1
    assert long_row["crossrank"]["retrieval_rank"] == 2


def test_a_request_may_choose_the_window_options(server: Server, local: Reranker) -> None:
    options = {"window_boundaries": "sentences", "window_aggregation": "top2_mean"}
    rows = _post(server, "/v2/rerank", {"query": QUERY, "documents": DOCUMENTS, "crossrank": options}).json()
    expected = local.with_options(**options).rerank(QUERY, DOCUMENTS)
    assert [r["index"] for r in rows["results"]] == [r.index for r in expected]
    assert [r["relevance_score"] for r in rows["results"]] == pytest.approx(
        [r.score for r in expected], abs=1e-5
    )
    bad = _post(
        server,
        "/v2/rerank",
        {"query": QUERY, "documents": DOCUMENTS, "crossrank": {"window_aggregation": "mean"}},
    )
    assert bad.status_code == 422


def test_32_concurrent_clients_get_their_own_results_from_merged_batches(
    server: Server, local: Reranker
) -> None:
    queries = [f"{QUERY} Case {i}: trial number {i * 7}." for i in range(32)]

    def ask(query: str) -> list[tuple[int, float]]:
        rows = _post(server, "/v2/rerank", {"query": query, "documents": DOCUMENTS}).json()["results"]
        return [(row["index"], row["relevance_score"]) for row in rows]

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(ask, queries))
    for query, answer in zip(queries, answers, strict=True):
        expected = local.rerank(query, DOCUMENTS)
        assert [index for index, _ in answer] == [r.index for r in expected]
        assert [score for _, score in answer] == pytest.approx([r.score for r in expected], abs=1e-5)
    metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    single = _metric(metrics, 'crossrank_batch_requests_bucket{le="1.0"}')
    total = _metric(metrics, "crossrank_batch_requests_count")
    assert total > single, "no model call merged windows of two requests"
    assert _metric(metrics, 'crossrank_requests_total{route="/v2/rerank",status="200"}') >= 32


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


@pytest.mark.parametrize(
    ("route", "body", "status", "message"),
    [
        (
            "/v2/rerank",
            {"query": "q", "documents": ["d"] * 41},
            413,
            "documents: 41 documents, the limit is 40",
        ),
        (
            "/v2/rerank",
            {"query": "q", "documents": ["ok", "x" * 20001]},
            413,
            "documents[1]: 20001 characters",
        ),
        ("/v2/rerank", {"documents": ["d"]}, 422, "query: Field required"),
        ("/v2/rerank", {"query": "q", "documents": "d"}, 422, "documents: Input should be a valid"),
        ("/v2/rerank", {"query": "   ", "documents": ["d"]}, 422, "query must be a non-empty string"),
        ("/v2/rerank", {"query": "q", "documents": ["d"], "top_n": 0}, 422, "top_n: Input should be greater"),
        # Not "must be a non-empty string": this model's tokenizer drops the character.
        ("/v2/rerank", {"query": "\x01", "documents": ["d"]}, 422, "has no tokens for this model"),
        (
            "/v1/rerank",
            {"query": "q", "documents": ["d"], "crossrank": {"model": "x"}},
            422,
            "crossrank.model",
        ),
        (
            "/rerank",
            {"query": "q", "texts": ["d"], "crossrank": {"max_windows": 0}},
            422,
            "crossrank.max_windows",
        ),
        (
            "/v2/rerank",
            {"query": "q", "documents": ["d"], "crossrank": {"fussion": "rrf"}},
            422,
            "crossrank.fussion: Extra inputs are not permitted; did you mean `fusion`?",
        ),
        (
            "/v2/rerank",
            {"query": "q", "documents": ["d"], "crossrank": {"top_k": 1}},
            422,
            "crossrank.top_k: Extra inputs are not permitted; did you mean `top_n`? It is a field of the "
            "request itself",
        ),
        (
            "/v1/rerank",
            {"query": "q", "documents": ["d"], "crossrank": {"backend": "onnx"}},
            422,
            "backend is fixed when the server starts",
        ),
        (
            "/rerank",
            {"query": "q", "texts": ["d"], "crossrank": {"colour": "red"}},
            422,
            "crossrank.colour: Extra inputs are not permitted; the valid names are coarse_keep, details,",
        ),
    ],
    ids=[
        "too-many",
        "too-long",
        "no-query",
        "not-a-list",
        "blank-query",
        "top-n",
        "unprintable-query",
        "no-model-choice",
        "bad-option",
        "option-typo",
        "top-k",
        "server-option",
        "no-close-option",
    ],
)
def test_limits_and_bad_input_name_the_field(
    server: Server, route: str, body: dict[str, Any], status: int, message: str
) -> None:
    response = _post(server, route, body)
    assert response.status_code == status
    assert message in response.json()["message"]


@pytest.mark.parametrize(
    ("method", "route", "status", "message", "allow"),
    [
        ("GET", "/v2/rerank", 405, "GET /v2/rerank: method not allowed; use POST /v2/rerank", "POST"),
        ("PUT", "/rerank", 405, "PUT /rerank: method not allowed; use POST /rerank", "POST"),
        ("POST", "/health", 405, "POST /health: method not allowed; use GET /health", "GET"),
        ("GET", "/v3/rerank", 404, "no route GET /v3/rerank; the rerank routes are POST /v2/rerank", None),
    ],
    ids=["get-rerank", "put-tei", "post-health", "no-route"],
)
def test_a_wrong_method_or_route_answers_a_message_like_every_error(
    server: Server, method: str, route: str, status: int, message: str, allow: str | None
) -> None:
    # Starlette's own 404 and 405 would answer {"detail": ...}; every error here is {"message": ...}.
    response = httpx.request(method, f"{server.url}{route}", headers=AUTH, timeout=10)
    assert response.status_code == status
    assert list(response.json()) == ["message"]
    assert message in response.json()["message"]
    assert response.headers.get("allow") == allow


def test_fastapis_own_errors_answer_a_message_too() -> None:
    from fastapi.testclient import TestClient

    from crossrank.serving.app import create_app
    from crossrank.serving.settings import ServeSettings

    # The real app, with two routes of its own kind added: one FastAPI validates, one that fails.
    app = create_app(ServeSettings(model="never-loaded"))

    @app.get("/probe")
    async def probe(n: int) -> dict[str, int]:
        return {"n": n}

    @app.get("/fails")
    async def fails() -> None:
        raise RuntimeError("a bug")

    # Not entered as a context manager: the lifespan, which loads the model, never runs.
    client = TestClient(app, raise_server_exceptions=False)
    invalid = client.get("/probe", params={"n": "x"})
    assert invalid.status_code == 422
    assert invalid.json() == {
        "message": "query.n: Input should be a valid integer, unable to parse string as an integer"
    }
    failed = client.get("/fails")
    assert failed.status_code == 500
    assert failed.json() == {"message": "the server failed on GET /fails; see the server log"}


def test_the_body_size_limit(model_path: str) -> None:
    small = Server(model_path, "--max-body-bytes", "1000")
    try:
        response = _post(small, "/v2/rerank", {"query": "q", "documents": ["x" * 2000]})
        assert response.status_code == 413
        assert "the limit is 1000" in response.json()["message"]
    finally:
        assert small.stop() == 0


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}], ids=str)
def test_a_missing_or_wrong_key_is_401_and_health_is_open(server: Server, headers: dict[str, str]) -> None:
    for route in ("/v2/rerank", "/v1/rerank", "/rerank"):
        response = _post(server, route, {"query": "q", "documents": ["d"], "texts": ["d"]}, headers=headers)
        assert response.status_code == 401
        assert response.json() == {"message": "missing or wrong API key: send Authorization: Bearer <key>"}
    assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
    assert httpx.get(f"{server.url}/ready", timeout=10).json() == {"ready": True}
    assert httpx.get(f"{server.url}/info", timeout=10).status_code == 401
    info = httpx.get(f"{server.url}/info", headers=AUTH, timeout=10).json()
    assert info["limits"]["max_documents"] == 40
    assert info["backend"] == "onnx"


def test_a_full_queue_answers_429_fast_with_retry_after(model_path: str) -> None:
    busy = Server(model_path, "--max-queue", "1")
    long_documents = [DOCUMENTS[3] + f" variant {i}" for i in range(30)]
    try:

        def ask(i: int) -> httpx.Response:
            return _post(busy, "/v2/rerank", {"query": f"{QUERY} {i}", "documents": long_documents})

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            responses = list(pool.map(ask, range(6)))
        statuses = sorted(response.status_code for response in responses)
        assert 200 in statuses
        assert 429 in statuses
        assert set(statuses) <= {200, 429}
        refused = next(response for response in responses if response.status_code == 429)
        assert refused.headers["retry-after"] == "1"
    finally:
        assert busy.stop() == 0


def test_sigterm_lets_requests_in_flight_finish_and_exits_zero(model_path: str) -> None:
    stopping = Server(model_path)
    long_documents = [DOCUMENTS[3] + f" variant {i}" for i in range(20)]
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        futures = [
            pool.submit(_post, stopping, "/v2/rerank", {"query": f"{QUERY} {i}", "documents": long_documents})
            for i in range(6)
        ]
        time.sleep(1.0)
        os.kill(stopping.process.pid, signal.SIGTERM)
        statuses = [future.result().status_code for future in futures]
    assert statuses == [200] * 6
    assert stopping.process.wait(timeout=60) == 0


def test_both_adapters_and_the_core_through_the_remote_client(server: Server, local: Reranker) -> None:
    from langchain_core.documents import Document
    from llama_index.core.schema import NodeWithScore, TextNode

    from langchain_crossrank import CrossEncoderCompressor
    from llama_index.postprocessor.crossrank import CrossEncoderRerank

    remote = Reranker(server.url, api_key=KEY, top_n=3)
    assert remote.backend_in_use == "remote"
    assert _same(remote.rerank(QUERY, DOCUMENTS), local.rerank(QUERY, DOCUMENTS, top_n=3))
    assert remote.score_pairs([(QUERY, text) for text in DOCUMENTS]) == pytest.approx(
        local.score_pairs([(QUERY, text) for text in DOCUMENTS]), abs=1e-5
    )

    compressor = CrossEncoderCompressor(model=server.url, api_key=KEY, top_n=2)
    documents = compressor.compress_documents([Document(text) for text in DOCUMENTS], QUERY)
    expected = local.rerank(QUERY, DOCUMENTS, top_n=2)
    assert [d.page_content for d in documents] == [DOCUMENTS[r.index] for r in expected]
    assert "api_key" not in compressor.model_dump()

    rerank = CrossEncoderRerank(model=server.url, api_key=KEY, top_n=2)
    nodes = [NodeWithScore(node=TextNode(text=text), score=1.0 - i / 10) for i, text in enumerate(DOCUMENTS)]
    reranked = rerank.postprocess_nodes(nodes, query_str=QUERY)
    assert [n.node.get_content() for n in reranked] == [DOCUMENTS[r.index] for r in expected]
    assert [n.score for n in reranked] == pytest.approx([r.score for r in expected], abs=1e-5)
    assert "api_key" not in rerank.to_dict()


async def test_the_async_remote_client(server: Server, local: Reranker) -> None:
    remote = Reranker(server.url, api_key=KEY)
    assert _same(await remote.arerank(QUERY, DOCUMENTS), local.rerank(QUERY, DOCUMENTS))


def test_a_down_server_or_a_wrong_key_is_one_clear_line(server: Server) -> None:
    with pytest.raises(
        RemoteRerankError, match=r"^cannot reach the crossrank server at http://127\.0\.0\.1:\d+ "
    ):
        Reranker(f"http://127.0.0.1:{_free_port()}").rerank(QUERY, DOCUMENTS)
    with pytest.raises(
        RemoteRerankError, match="refused the API key: pass api_key= or set \\$CROSSRANK_API_KEY"
    ):
        Reranker(server.url, api_key="wrong").rerank(QUERY, DOCUMENTS)


def _same(got: list[RerankResult], expected: list[RerankResult]) -> bool:
    assert [r.index for r in got] == [r.index for r in expected]
    assert [r.score for r in got] == pytest.approx([r.score for r in expected], abs=1e-5)
    assert [r.window_span for r in got] == [r.window_span for r in expected]
    return True


def test_a_cascade_server_prunes_like_the_in_process_cascade(model_path: str) -> None:
    import cohere

    cascade = ("--coarse-backend", "openvino-bf16", "--coarse-max-length", "64", "--coarse-keep", "2")
    running = Server(model_path, *cascade)
    try:
        short = {"coarse_backend": "openvino-bf16", "coarse_max_length": 64, "coarse_keep": 2}
        local = Reranker(model_path, score_cache_size=0, **short)
        expected = local.rerank(QUERY, DOCUMENTS)
        client = cohere.ClientV2(api_key=KEY, base_url=running.url)
        response = client.rerank(model="served", query=QUERY, documents=DOCUMENTS)
        assert [r.index for r in response.results] == [r.index for r in expected]
        for got, want in zip(response.results, expected, strict=True):
            assert got.relevance_score == pytest.approx(want.score, abs=1e-5)

        info = httpx.get(f"{running.url}/info", headers=AUTH, timeout=10).json()
        assert (info["backend"], info["coarse_backend"]) == ("onnx", "openvino-bf16")
        assert info["options"]["coarse_max_length"] == 64
        body = {"query": QUERY, "documents": DOCUMENTS, "crossrank": {"coarse_keep": 3}}
        rows = _post(running, "/v2/rerank", body).json()["results"]
        stages = [row["crossrank"]["cut_at_stage"] for row in rows]
        assert stages == [None, None, None, "coarse"]  # this request kept 3 of 4
        assert all(row["crossrank"]["coarse_score"] is not None for row in rows)
    finally:
        assert running.stop() == 0
