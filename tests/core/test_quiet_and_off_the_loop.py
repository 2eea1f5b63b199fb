"""Loading prints no progress bar, and async calls load and score off the event loop."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from fake_scorer import FakeScorer

from crossrank import Reranker
from crossrank.models import model_handle

QUERY = "does exercise lower blood pressure?"
DOCUMENTS = ["Aerobic exercise lowered resting blood pressure.", "Bananas are rich in potassium."]


def test_loading_a_model_prints_no_bar_and_leaves_the_switch_as_it_was(
    model_path: str, capfd: pytest.CaptureFixture[str]
) -> None:
    from transformers.utils import logging as transformers_logging

    assert transformers_logging.is_progress_bar_enabled()
    Reranker(model_path, backend="torch", score_cache_size=0).rerank(QUERY, DOCUMENTS)
    _, err = capfd.readouterr()
    assert "Loading weights" not in err
    assert "%|" not in err  # no tqdm bar of any kind
    assert transformers_logging.is_progress_bar_enabled()  # the caller's setting, put back


def test_bars_the_caller_turned_off_stay_off(model_path: str) -> None:
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        Reranker(model_path, backend="torch", score_cache_size=0).rerank(QUERY, DOCUMENTS)
        assert not transformers_logging.is_progress_bar_enabled()
    finally:
        transformers_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


@pytest.fixture
def loads_on(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The threads that load a model: ``load_scorer`` records its thread and returns a fake."""
    threads: list[int] = []

    def load_scorer(spec: Any, **_: Any) -> FakeScorer:
        threads.append(threading.get_ident())
        return FakeScorer()

    monkeypatch.setattr(model_handle, "load_scorer", load_scorer)
    return threads


async def test_a_cold_arerank_loads_off_the_event_loop(loads_on: list[int]) -> None:
    reranker = Reranker("org/model")
    results = await reranker.arerank(QUERY, DOCUMENTS)
    assert len(results) == 2
    assert loads_on
    assert threading.get_ident() not in loads_on


async def test_a_cold_llama_index_apostprocess_loads_off_the_event_loop(loads_on: list[int]) -> None:
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

    from llama_index.postprocessor.crossrank import CrossEncoderRerank

    rerank = CrossEncoderRerank(model="org/model", top_n=1)
    nodes = [NodeWithScore(node=TextNode(text=text), score=0.5) for text in DOCUMENTS]
    assert len(await rerank.apostprocess_nodes(nodes, query_bundle=QueryBundle(QUERY))) == 1
    assert loads_on
    assert threading.get_ident() not in loads_on


async def test_a_cold_langchain_acompress_loads_off_the_event_loop(loads_on: list[int]) -> None:
    from langchain_core.documents import Document

    from langchain_crossrank import CrossEncoderCompressor

    compressor = CrossEncoderCompressor(model="org/model", top_n=1)
    documents = [Document(page_content=text) for text in DOCUMENTS]
    assert len(await compressor.acompress_documents(documents, QUERY)) == 1
    assert loads_on
    assert threading.get_ident() not in loads_on


async def test_the_loop_keeps_running_while_a_slow_model_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def slow_load(spec: Any, **_: Any) -> FakeScorer:
        release.wait(timeout=10)
        return FakeScorer()

    monkeypatch.setattr(model_handle, "load_scorer", slow_load)
    ranking = asyncio.ensure_future(Reranker("org/model").arerank(QUERY, DOCUMENTS))
    await asyncio.sleep(0.05)  # the loop runs on while the load waits
    assert not ranking.done()
    release.set()
    assert len(await asyncio.wait_for(ranking, timeout=10)) == 2
