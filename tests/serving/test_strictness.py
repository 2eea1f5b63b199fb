"""The server in-process over a fake model: strict input, the status it logs, its OpenAPI schema."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, cast

import pytest
from fake_scorer import FakeScorer
from fastapi.testclient import TestClient

import crossrank.serving.app as app_module
from crossrank.serving.app import create_app
from crossrank.serving.settings import ServeSettings

KEY = "strict-key"
AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
BODIES = {
    "/v2/rerank": '{"query": "apple", "documents": ["apple pie", "banana"]',
    "/v1/rerank": '{"query": "apple", "documents": ["apple pie", "banana"]',
    "/rerank": '{"query": "apple", "texts": ["apple pie", "banana"]',
}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    # A PairScorer where a model path goes: the app serves whatever Reranker takes.
    settings = ServeSettings(model=cast("str", FakeScorer()), api_key=KEY, max_documents=5)
    with TestClient(create_app(settings, load_in_background=False), raise_server_exceptions=False) as test:
        yield test


def _post(client: TestClient, route: str, extra: str = "", headers: dict[str, str] | None = None) -> Any:
    return client.post(
        route, content=BODIES[route] + extra + "}", headers=AUTH if headers is None else headers
    )


@pytest.mark.parametrize("route", list(BODIES))
@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (', "crossrank": {"fusion": "rrf", "retrieval_scores": [0.5, Infinity]}', "retrieval_scores.1"),
        (', "crossrank": {"fusion": "rrf", "retrieval_scores": [1e400, 0.5]}', "retrieval_scores.0"),
        (', "crossrank": {"fusion": "rrf", "retrieval_scores": [NaN, 0.5]}', "retrieval_scores.0"),
        (', "crossrank": {"fusion": "rrf", "rrf_k": Infinity}', "rrf_k"),
        (', "crossrank": {"fusion": "rrf", "rrf_weights": [1, Infinity]}', "rrf_weights.1"),
        (', "crossrank": {"score_threshold": -Infinity}', "score_threshold"),
    ],
    ids=["inf-score", "overflow-score", "nan-score", "inf-k", "inf-weight", "inf-threshold"],
)
def test_a_non_finite_number_is_a_422_naming_the_field(
    client: TestClient, route: str, extra: str, field: str
) -> None:
    # It was a 500 ("the model failed"): the value was echoed back and JSON has no Infinity.
    response = _post(client, route, extra)
    assert response.status_code == 422
    assert response.json() == {"message": f"crossrank.{field}: Input should be a finite number"}


@pytest.mark.parametrize(
    ("route", "extra", "message"),
    [
        ("/v2/rerank", ', "top_n": "2"', "top_n: Input should be a valid integer"),
        ("/v1/rerank", ', "top_n": true', "top_n: Input should be a valid integer"),
        ("/v2/rerank", ', "top_n": 2.0', "top_n: Input should be a valid integer"),
        ("/v2/rerank", ', "max_tokens_per_doc": "8"', "max_tokens_per_doc: Input should be a valid integer"),
        ("/v2/rerank", ', "crossrank": {"details": 0}', "crossrank.details: Input should be a valid boolean"),
        ("/rerank", ', "raw_scores": "true"', "raw_scores: Input should be a valid boolean"),
        ("/v2/rerank", ', "crossrank": {"rrf_k": "60"}', "crossrank.rrf_k: Input should be a valid number"),
        ("/v1/rerank", ', "crossrank": {"max_windows": false}', "crossrank.max_windows: Input should be"),
    ],
    ids=[
        "string-top-n",
        "bool-top-n",
        "float-top-n",
        "string-tokens",
        "int-details",
        "string-bool",
        "string-k",
        "bool-windows",
    ],
)
def test_types_are_strict(client: TestClient, route: str, extra: str, message: str) -> None:
    response = _post(client, route, extra)
    assert response.status_code == 422
    assert message in response.json()["message"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", None], ids=["text", "form", "none"]
)
@pytest.mark.parametrize("route", list(BODIES))
def test_a_body_not_sent_as_json_is_415(client: TestClient, route: str, content_type: str | None) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = _post(client, route, headers=headers)
    assert response.status_code == 415
    assert response.json() == {
        "message": "the request body must be JSON sent with Content-Type: application/json, "
        f"got {content_type or 'no Content-Type'}"
    }


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/vnd.api+json"])
def test_json_content_types_are_accepted(client: TestClient, content_type: str) -> None:
    response = _post(client, "/v2/rerank", headers={**AUTH, "Content-Type": content_type})
    assert response.status_code == 200


def test_an_unprintable_query_goes_to_the_model(client: TestClient) -> None:
    # This model's tokenizer reads "\x01" as a word; the real one refuses it as having no
    # tokens (tests/serving/test_server.py), never as "must be a non-empty string".
    response = client.post("/v2/rerank", json={"query": "\x01", "documents": ["a", "b"]}, headers=AUTH)
    assert response.status_code == 200


def test_a_failed_answer_is_logged_and_counted_as_the_500_it_is(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def unserializable(*args: Any) -> dict[str, Any]:
        return {"score": float("inf")}  # JSONResponse refuses it: the answer becomes a 500

    monkeypatch.setattr(app_module, "cohere_response", unserializable)
    with caplog.at_level(logging.INFO, logger="crossrank.serve"):
        response = _post(client, "/v2/rerank")
    assert response.status_code == 500
    assert "the model failed on this request" in response.json()["message"]
    assert any(record.getMessage().startswith("/v2/rerank 500 ") for record in caplog.records)
    metrics = client.get("/metrics").text
    assert 'crossrank_requests_total{route="/v2/rerank",status="500"} 1.0' in metrics
    assert 'status="200"} 1.0' not in metrics.split('route="/v2/rerank",status="500"')[0][-80:]


def test_the_openapi_schema_describes_bodies_errors_key_and_metrics(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    components = schema["components"]
    assert components["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    for route, model in (
        ("/v2/rerank", "CohereRequest"),
        ("/v1/rerank", "JinaRequest"),
        ("/rerank", "TeiRequest"),
    ):
        operation = schema["paths"][route]["post"]
        body = operation["requestBody"]
        assert body["required"] is True
        assert body["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{model}"}
        assert "query" in components["schemas"][model]["required"]
        assert operation["security"] == [{"bearer": []}]
        for status in ("401", "413", "415", "422", "429", "503"):
            error = operation["responses"][status]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorBody"}
    assert components["schemas"]["ErrorBody"]["required"] == ["message"]
    cohere = components["schemas"]["CohereRequest"]["properties"]
    assert cohere["documents"]["maxItems"] == 5
    options = components["schemas"]["CrossrankOptions"]["properties"]
    assert "fusion" in options
    assert "retrieval_scores" in options
    assert list(schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]
    assert schema["paths"]["/info"]["get"]["security"] == [{"bearer": []}]
    assert "security" not in schema["paths"]["/health"]["get"]
