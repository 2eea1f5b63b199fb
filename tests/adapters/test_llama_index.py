"""The LlamaIndex adapter (``llama_index.postprocessor.crossrank``), driven by the real model."""

from __future__ import annotations

import asyncio
import copy
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import pytest
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.bridge.pydantic import Field
from llama_index.core.callbacks import CallbackManager, CBEventType, EventPayload, LlamaDebugHandler
from llama_index.core.chat_engine.types import ChatMode
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined,unused-ignore]
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import (
    MetadataMode,
    NodeRelationship,
    NodeWithScore,
    QueryBundle,
    RelatedNodeInfo,
    TextNode,
)
from long_documents import (
    LIGHTHOUSE_ANSWER,
    LIGHTHOUSE_DISTRACTOR,
    LIGHTHOUSE_QUERY,
    lighthouse_history,
)

import llama_index.postprocessor.crossrank
from crossrank import DEFAULT_MODEL, MODEL_ENV_VAR, ModelLoadError
from llama_index.postprocessor.crossrank import CrossEncoderRerank

if TYPE_CHECKING:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from sentence_transformers import CrossEncoder

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
RERANK_KEYS = (
    "crossrank_cross_encoder_score",
    "crossrank_window_span",
    "crossrank_num_windows",
    "crossrank_retrieval_rank",
)

EVEREST_QUERY = "At what temperature does water boil on the summit of Mount Everest?"
EVEREST_ANSWER = (
    "Because the air pressure at the summit of Mount Everest is only about a third of that at sea "
    "level, water there boils at roughly 70 degrees Celsius, which is why climbers' tea is never hot."
)
# One answer and seven passages that share its words (Everest, water, boil, temperature)
# without answering it.
EVEREST_DOCS = [
    "Mount Everest, on the border of Nepal and China, is the highest mountain on Earth, with a "
    "summit 8,849 metres above sea level.",
    "At sea level, pure water boils at 100 degrees Celsius; adding salt raises the boiling point "
    "only slightly.",
    "Temperatures on the summit of Mount Everest average about minus 36 degrees Celsius in "
    "January and rarely rise above freezing even in July.",
    EVEREST_ANSWER,
    "Climbers on Everest melt snow on small gas stoves to get drinking water, which takes a long "
    "time and a lot of fuel.",
    "A pressure cooker raises the boiling point of water to about 120 degrees Celsius, so food cooks faster.",
    "The first confirmed ascent of Everest was made by Edmund Hillary and Tenzing Norgay in 1953.",
    "An electric kettle switches itself off when a bimetallic strip senses the steam from boiling water.",
]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def make_rerank(cross_encoder: CrossEncoder) -> Callable[..., CrossEncoderRerank]:
    """Build a CrossEncoderRerank sharing the session's loaded model."""

    def make(**fields: Any) -> CrossEncoderRerank:
        return CrossEncoderRerank(model=cross_encoder, **fields)

    return make


@pytest.fixture(scope="module")
def embed_model() -> HuggingFaceEmbedding:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    from crossrank.evaluation.embeddings import offline_embedding_model_path

    return HuggingFaceEmbedding(model_name=offline_embedding_model_path(), device="cpu")


@pytest.fixture(scope="module")
def everest_index(embed_model: HuggingFaceEmbedding) -> VectorStoreIndex:
    """A VectorStoreIndex over an embedded, in-memory Chroma collection of EVEREST_DOCS."""
    import chromadb
    from chromadb.config import Settings
    from llama_index.vector_stores.chroma import ChromaVectorStore

    client = chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False))
    collection = client.create_collection(f"llama-plugin-{uuid4().hex}")
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    documents = [Document(text=text, metadata={"doc": f"d{i}"}) for i, text in enumerate(EVEREST_DOCS)]
    return VectorStoreIndex.from_documents(documents, storage_context=storage, embed_model=embed_model)


def text_nodes(texts: list[str], scores: Sequence[float | None] | None = None) -> list[NodeWithScore]:
    scores = scores if scores is not None else [None] * len(texts)
    return [
        NodeWithScore(node=TextNode(text=text, id_=f"n{i}", metadata={"doc": f"d{i}"}), score=score)
        for i, (text, score) in enumerate(zip(texts, scores, strict=True))
    ]


def assert_best_first(nodes: list[NodeWithScore]) -> None:
    scores = [node.score for node in nodes]
    assert all(type(score) is float for score in scores)
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]


# --------------------------------------------------------------------------- public surface


def test_public_api_is_pinned() -> None:
    assert llama_index.postprocessor.crossrank.__all__ == ["CrossEncoderRerank"]
    assert CrossEncoderRerank.class_name() == "CrossEncoderRerank"


def test_import_does_not_load_torch() -> None:
    code = (
        "import sys, llama_index.postprocessor.crossrank; "
        "print(sorted(m for m in ('torch', 'sentence_transformers') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_missing_llama_index_names_the_extra() -> None:
    code = "import sys; sys.modules['llama_index.core'] = None; import llama_index.postprocessor.crossrank"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert out.returncode != 0
    assert 'pip install "crossrank[llama-index]"' in out.stderr


def test_default_model_resolves_like_the_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MODEL_ENV_VAR, raising=False)
    assert CrossEncoderRerank().reranker.model_name == DEFAULT_MODEL
    monkeypatch.setenv(MODEL_ENV_VAR, "org/model-from-env")
    assert CrossEncoderRerank().reranker.model_name == "org/model-from-env"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"top_n": 0}, "top_n must be a positive integer, got 0."),
        ({"batch_size": -3}, "batch_size must be a positive integer, got -3."),
        ({"window_overlap": -1}, "window_overlap must be an integer >= 0, got -1."),
        ({"rrf_weights": (1.0, -2.0)}, "rrf_weights must be two numbers >= 0"),
        ({"fusion": "borda"}, "borda"),
        ({"long_documents": "split"}, "split"),
        ({"max_windws": 4}, "max_windws"),
        ({"backend": "tpu"}, "'tpu'"),
        ({"precision": "fp8"}, "'fp8'"),
        ({"backend": "onnx", "precision": "bf16"}, "precision='bf16' applies to backend='torch'"),
        ({"score_cache_size": -1}, "score_cache_size must be an integer >= 0, got -1."),
    ],
    ids=[
        "top_n-zero",
        "batch_size-negative",
        "overlap-negative",
        "rrf-weight-negative",
        "unknown-fusion",
        "unknown-long-mode",
        "unknown-kwarg",
        "unknown-backend",
        "unknown-precision",
        "precision-contradicts-backend",
        "score-cache-size-negative",
    ],
)
def test_bad_options_fail_at_construction_naming_the_value(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        CrossEncoderRerank(model="unused/model", **fields)


def test_assigning_a_field_updates_the_core_or_raises_and_keeps_the_old_value() -> None:
    rerank = CrossEncoderRerank(model="unused/model", top_n=3)
    rerank.fusion = "rrf"
    assert rerank.reranker.fusion == "rrf"
    with pytest.raises(ValueError, match=re.escape("top_n must be a positive integer, got 0.")):
        rerank.top_n = 0
    assert rerank.top_n == rerank.reranker.top_n == 3
    rerank.model = "other/model"
    assert rerank.reranker.model_name == "other/model"


def test_backend_precision_and_score_cache_size_reach_the_core() -> None:
    rerank = CrossEncoderRerank(model="unused/model", backend="torch", precision="fp32", score_cache_size=0)
    core = rerank.reranker
    assert (core.backend, core.precision, core.score_cache_size) == ("torch", "fp32", 0)
    assert core.cache_info().maxsize == 0

    rerank.score_cache_size = 50
    assert rerank.reranker.score_cache_size == rerank.reranker.cache_info().maxsize == 50
    rerank.backend = "onnx-int8"
    assert rerank.reranker.backend == "onnx-int8"
    assert rerank.reranker.score_cache_size == 50  # a reload keeps the plain options
    with pytest.raises(ValueError, match=re.escape("precision='fp16' applies to backend='torch'")):
        rerank.precision = "fp16"
    assert rerank.precision == rerank.reranker.precision == "fp32"

    copied = rerank.model_copy(update={"backend": "auto", "precision": "bf16"})
    assert (copied.reranker.backend, copied.reranker.precision) == ("auto", "bf16")
    assert rerank.reranker.backend == "onnx-int8"


def test_model_copy_with_changes_follows_them() -> None:
    rerank = CrossEncoderRerank(model="unused/model")
    fused = rerank.model_copy(update={"fusion": "rrf", "top_n": 5})
    assert (fused.reranker.fusion, fused.reranker.top_n) == ("rrf", 5)
    assert rerank.reranker.fusion is None
    other = rerank.model_copy(update={"model": "other/model"})
    assert other.reranker.model_name == "other/model"


def test_a_bad_path_fails_at_construction_and_says_so(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-model")
    with pytest.raises(ModelLoadError, match=re.escape(missing)):
        CrossEncoderRerank(model=missing)  # not on the first call, after a model would have loaded


def test_empty_input_and_missing_query() -> None:
    rerank = CrossEncoderRerank(model="crossrank-tests/never-loaded")
    assert rerank.postprocess_nodes([], query_str="anything") == []
    with pytest.raises(ValueError, match=re.escape("Missing query bundle in extra info.")):
        rerank.postprocess_nodes(text_nodes(["a"]))


async def test_async_empty_input_and_missing_query(tmp_path: Path) -> None:
    rerank = CrossEncoderRerank(model="crossrank-tests/never-loaded")
    assert await rerank.apostprocess_nodes([], query_str="anything") == []
    with pytest.raises(ValueError, match=re.escape("Missing query bundle in extra info.")):
        await rerank.apostprocess_nodes(text_nodes(["a"]))


# --------------------------------------------------------------------------- with the real model


def test_query_engine_over_chroma_returns_reranked_source_nodes(
    everest_index: VectorStoreIndex, make_rerank: Callable[..., CrossEncoderRerank]
) -> None:
    engine = everest_index.as_query_engine(
        similarity_top_k=6,
        node_postprocessors=[make_rerank(top_n=3, keep_retrieval_score=True)],
        llm=MockLLM(),
    )
    response = engine.query(EVEREST_QUERY)
    nodes = response.source_nodes
    assert len(nodes) == 3
    assert_best_first(nodes)
    assert nodes[0].node.get_content() == EVEREST_ANSWER
    for node in nodes:
        metadata = node.node.metadata
        assert metadata["crossrank_cross_encoder_score"] == node.score
        assert type(metadata["retrieval_score"]) is float  # the vector similarity from Chroma
    # The retriever's ranks come from the similarities, and reranking reorders them.
    ranks = [node.node.metadata["crossrank_retrieval_rank"] for node in nodes]
    assert ranks != [1, 2, 3]


async def test_async_query_and_chat_engine(
    everest_index: VectorStoreIndex, make_rerank: Callable[..., CrossEncoderRerank]
) -> None:
    engine = everest_index.as_query_engine(
        similarity_top_k=6, node_postprocessors=[make_rerank(top_n=2)], llm=MockLLM()
    )
    response = await engine.aquery(EVEREST_QUERY)
    assert response.source_nodes[0].node.get_content() == EVEREST_ANSWER
    assert len(response.source_nodes) == 2

    chat = everest_index.as_chat_engine(
        chat_mode=ChatMode.CONTEXT,
        similarity_top_k=6,
        node_postprocessors=[make_rerank(top_n=2)],
        llm=MockLLM(),
    )
    reply = chat.chat(EVEREST_QUERY)
    assert len(reply.source_nodes) == 2
    assert reply.source_nodes[0].node.get_content() == EVEREST_ANSWER


@pytest.fixture(scope="module")
def sbert_rerank_factory(model_path: str) -> Callable[[int], Any]:
    from llama_index.postprocessor.sbert_rerank import SentenceTransformerRerank

    built = SentenceTransformerRerank(model=model_path, top_n=1, device="cpu")

    def with_top_n(top_n: int) -> Any:
        built.top_n = top_n
        return built

    return with_top_n


@pytest.mark.parametrize("long_documents", ["truncate", "chunk_max"])
def test_parity_with_sentence_transformer_rerank_on_short_documents(
    long_documents: str,
    make_rerank: Callable[..., CrossEncoderRerank],
    sbert_rerank_factory: Callable[[int], Any],
) -> None:
    ours = make_rerank(top_n=5, long_documents=long_documents).postprocess_nodes(
        text_nodes(EVEREST_DOCS), query_str=EVEREST_QUERY
    )
    # SentenceTransformerRerank overwrites the scores of the nodes it is given: give it its own.
    theirs = sbert_rerank_factory(5).postprocess_nodes(text_nodes(EVEREST_DOCS), query_str=EVEREST_QUERY)
    assert [n.node.node_id for n in ours] == [n.node.node_id for n in theirs]
    assert [n.score for n in ours] == pytest.approx([n.score for n in theirs], abs=1e-4)
    assert all(n.node.metadata["crossrank_num_windows"] == 1 for n in ours)


def test_torch_fp32_ranks_and_scores_like_the_default_backend(
    make_rerank: Callable[..., CrossEncoderRerank],
) -> None:
    default = make_rerank(top_n=None).postprocess_nodes(text_nodes(EVEREST_DOCS), query_str=EVEREST_QUERY)
    torch_rerank = make_rerank(top_n=None, backend="torch", precision="fp32", score_cache_size=0)
    ours = torch_rerank.postprocess_nodes(text_nodes(EVEREST_DOCS), query_str=EVEREST_QUERY)
    assert torch_rerank.reranker.backend_in_use == "torch-fp32"
    assert [n.node.node_id for n in ours] == [n.node.node_id for n in default]
    assert [n.score for n in ours] == pytest.approx([n.score for n in default], abs=1e-4)


def test_long_document_wins_with_chunk_max_but_not_when_truncated(
    make_rerank: Callable[..., CrossEncoderRerank], sbert_rerank_factory: Callable[[int], Any]
) -> None:
    history = lighthouse_history()
    texts = [
        LIGHTHOUSE_DISTRACTOR,
        history,
        "The harbour council meets every month to discuss fishing quotas and repairs to the pier.",
        "Solar panels on the roof of the village museum now supply most of its electricity.",
    ]
    ours = make_rerank(top_n=4).postprocess_nodes(text_nodes(texts), query_str=LIGHTHOUSE_QUERY)
    best = ours[0].node
    assert best.node_id == "n1"
    assert best.metadata["crossrank_num_windows"] > 1
    start, end = best.metadata["crossrank_window_span"]
    assert LIGHTHOUSE_ANSWER in best.get_content(MetadataMode.EMBED)[start:end]

    truncated = make_rerank(top_n=4, long_documents="truncate").postprocess_nodes(
        text_nodes(texts), query_str=LIGHTHOUSE_QUERY
    )
    assert truncated[0].node.node_id != "n1"
    theirs = sbert_rerank_factory(4).postprocess_nodes(text_nodes(texts), query_str=LIGHTHOUSE_QUERY)
    assert theirs[0].node.node_id != "n1"


def test_rrf_ranks_the_retrieval_side_by_node_score(make_rerank: Callable[..., CrossEncoderRerank]) -> None:
    retrieval_scores = [0.2, 0.9, 0.5, 0.7, 0.1]
    nodes = text_nodes(EVEREST_DOCS[:5], scores=retrieval_scores)
    reranked = make_rerank(top_n=None, fusion="rrf", keep_retrieval_score=True).postprocess_nodes(
        nodes, query_str=EVEREST_QUERY
    )
    assert len(reranked) == 5
    assert_best_first(reranked)
    by_id = {n.node.node_id: n.node.metadata for n in reranked}
    expected_ranks = {"n0": 4, "n1": 1, "n2": 3, "n3": 2, "n4": 5}
    assert {node_id: m["crossrank_retrieval_rank"] for node_id, m in by_id.items()} == expected_ranks
    assert {node_id: m["retrieval_score"] for node_id, m in by_id.items()} == {
        f"n{i}": score for i, score in enumerate(retrieval_scores)
    }
    # Fused scores are RRF values, not cross-encoder scores.
    top = reranked[0]
    assert top.score != top.node.metadata["crossrank_cross_encoder_score"]


def test_rrf_falls_back_to_input_order_when_a_node_has_no_score(
    make_rerank: Callable[..., CrossEncoderRerank],
) -> None:
    nodes = text_nodes(EVEREST_DOCS[:4], scores=[0.2, None, 0.5, 0.7])
    reranked = make_rerank(top_n=None, fusion="rrf").postprocess_nodes(nodes, query_str=EVEREST_QUERY)
    ranks = {n.node.node_id: n.node.metadata["crossrank_retrieval_rank"] for n in reranked}
    assert ranks == {"n0": 1, "n1": 2, "n2": 3, "n3": 4}


def test_nodes_passed_in_are_never_changed(make_rerank: Callable[..., CrossEncoderRerank]) -> None:
    nodes = text_nodes(EVEREST_DOCS, scores=[0.1 * i for i in range(len(EVEREST_DOCS))])
    source = nodes[3].node
    source.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id="parent-doc")
    source.excluded_llm_metadata_keys = ["doc"]
    before = [(n.score, n.node.model_dump()) for n in nodes]
    inner_before = [copy.deepcopy(n.node.metadata) for n in nodes]

    reranked = make_rerank(top_n=3, keep_retrieval_score=True).postprocess_nodes(
        nodes, query_str=EVEREST_QUERY
    )

    assert [(n.score, n.node.model_dump()) for n in nodes] == before
    assert [n.node.metadata for n in nodes] == inner_before
    assert all(new is not old for new in reranked for old in nodes)
    assert all(new.node is not old.node for new in reranked for old in nodes)
    answer = next(n.node for n in reranked if n.node.node_id == "n3")
    # The copy keeps the node's identity, relationships and its own exclusions.
    assert answer.source_node is not None
    assert answer.source_node.node_id == "parent-doc"
    assert answer.excluded_llm_metadata_keys[0] == "doc"
    assert answer.get_content() == source.get_content()
    assert answer.metadata["doc"] == "d3"


@pytest.mark.parametrize("mode", [MetadataMode.LLM, MetadataMode.EMBED], ids=["llm", "embed"])
def test_rerank_details_never_reach_prompts_or_embeddings(
    mode: MetadataMode, make_rerank: Callable[..., CrossEncoderRerank]
) -> None:
    nodes = text_nodes(EVEREST_DOCS[:4], scores=[0.4, 0.3, 0.2, 0.1])
    reranked = make_rerank(top_n=4, keep_retrieval_score=True).postprocess_nodes(
        nodes, query_str=EVEREST_QUERY
    )
    for result in reranked:
        metadata = result.node.metadata
        assert set(RERANK_KEYS) | {"retrieval_score"} <= set(metadata)
        content = result.node.get_content(mode)
        assert "doc: d" in content  # the node's own metadata still shows
        for key in (*RERANK_KEYS, "retrieval_score"):
            assert key not in content
        assert type(metadata["crossrank_cross_encoder_score"]) is float
        assert isinstance(metadata["crossrank_window_span"], list)
        assert type(metadata["crossrank_num_windows"]) is int


def test_metadata_mode_chooses_the_text_scored(make_rerank: Callable[..., CrossEncoderRerank]) -> None:
    nodes = text_nodes(EVEREST_DOCS[:3])
    for mode in (MetadataMode.NONE, MetadataMode.EMBED):
        reranked = make_rerank(top_n=3, metadata_mode=mode).postprocess_nodes(nodes, query_str=EVEREST_QUERY)
        for result in reranked:
            scored = nodes[int(result.node.node_id[1:])].node.get_content(mode)
            assert result.node.metadata["crossrank_window_span"] == [0, len(scored)]


def test_score_threshold_drops_weak_nodes(make_rerank: Callable[..., CrossEncoderRerank]) -> None:
    everything = make_rerank(top_n=None).postprocess_nodes(text_nodes(EVEREST_DOCS), query_str=EVEREST_QUERY)
    threshold = everything[2].score
    assert threshold is not None
    kept = make_rerank(top_n=None, score_threshold=threshold).postprocess_nodes(
        text_nodes(EVEREST_DOCS), query_str=EVEREST_QUERY
    )
    assert [n.node.node_id for n in kept] == [n.node.node_id for n in everything[:3]]


def test_query_bundle_and_query_str_agree(make_rerank: Callable[..., CrossEncoderRerank]) -> None:
    rerank = make_rerank(top_n=3)
    by_str = rerank.postprocess_nodes(text_nodes(EVEREST_DOCS), query_str=EVEREST_QUERY)
    by_bundle = rerank.postprocess_nodes(text_nodes(EVEREST_DOCS), query_bundle=QueryBundle(EVEREST_QUERY))
    assert [(n.node.node_id, n.score) for n in by_str] == [(n.node.node_id, n.score) for n in by_bundle]


def test_serializes_with_a_model_object(make_rerank: Callable[..., CrossEncoderRerank]) -> None:
    rerank = make_rerank(top_n=3)
    data = rerank.to_dict()
    assert isinstance(data["model"], str)
    assert data["class_name"] == "CrossEncoderRerank"
    assert '"top_n":3' in rerank.to_json().replace(" ", "")


async def test_apostprocess_nodes_does_not_block_the_event_loop(
    make_rerank: Callable[..., CrossEncoderRerank],
) -> None:
    rerank = make_rerank(top_n=3)
    nodes = [NodeWithScore(node=TextNode(text=text)) for text in EVEREST_DOCS]
    rerank.postprocess_nodes(nodes[:1], query_str=EVEREST_QUERY)  # warm up

    ticks: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.002)

    async def timed(query: str) -> tuple[float, float, list[NodeWithScore]]:
        start = time.perf_counter()
        reranked = await rerank.apostprocess_nodes(nodes, query_str=query)
        return start, time.perf_counter(), reranked

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    (start_a, end_a, nodes_a), (start_b, end_b, nodes_b) = await asyncio.gather(
        timed(EVEREST_QUERY), timed("Who first climbed Mount Everest?")
    )
    stop.set()
    await ticking

    # A call that blocked the loop would finish before the other one started.
    assert start_b < end_a
    assert start_a < end_b
    ticks_during = [t for t in ticks if start_a < t < min(end_a, end_b)]
    assert len(ticks_during) >= 3, f"the loop ticked {len(ticks_during)} times while reranking"
    assert nodes_a[0].node.get_content() == EVEREST_ANSWER
    assert "Hillary" in nodes_b[0].node.get_content()


class _Recorder(BaseEventHandler):
    events: list[BaseEvent] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "Recorder"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)


@pytest.fixture
def recorded_events() -> Iterator[list[BaseEvent]]:
    recorder = _Recorder()
    root = get_dispatcher()
    root.add_event_handler(recorder)
    try:
        yield recorder.events
    finally:
        root.event_handlers.remove(recorder)


@pytest.fixture(scope="module")
def rerank_by_path(model_path: str) -> CrossEncoderRerank:
    """A reranker given the model as a path, as most users will; loads its own copy."""
    return CrossEncoderRerank(model=model_path, top_n=2, device="cpu")


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_instrumentation_and_callback_events(
    use_async: bool, recorded_events: list[BaseEvent], rerank_by_path: CrossEncoderRerank, model_path: str
) -> None:
    debug = LlamaDebugHandler(print_trace_on_end=False)
    rerank = rerank_by_path
    rerank.callback_manager = CallbackManager([debug])
    nodes = text_nodes(EVEREST_DOCS)
    if use_async:
        reranked = await rerank.apostprocess_nodes(nodes, query_str=EVEREST_QUERY)
    else:
        reranked = rerank.postprocess_nodes(nodes, query_str=EVEREST_QUERY)

    starts = [e for e in recorded_events if isinstance(e, ReRankStartEvent)]
    ends = [e for e in recorded_events if isinstance(e, ReRankEndEvent)]
    assert len(starts) == len(ends) == 1
    assert starts[0].top_n == 2
    assert isinstance(starts[0].query, QueryBundle)
    assert starts[0].query.query_str == EVEREST_QUERY
    assert len(starts[0].nodes) == len(EVEREST_DOCS)
    assert ends[0].nodes == reranked

    (pair,) = debug.get_event_pairs(CBEventType.RERANKING)
    start_payload, end_payload = pair[0].payload, pair[1].payload
    assert start_payload is not None
    assert end_payload is not None
    assert start_payload[EventPayload.QUERY_STR] == EVEREST_QUERY
    assert start_payload[EventPayload.TOP_K] == 2
    assert start_payload[EventPayload.MODEL_NAME] == starts[0].model_name == model_path
    assert end_payload[EventPayload.NODES] == reranked


def test_query_engine_passes_its_callback_manager_on(
    everest_index: VectorStoreIndex, make_rerank: Callable[..., CrossEncoderRerank]
) -> None:
    debug = LlamaDebugHandler(print_trace_on_end=False)
    engine = RetrieverQueryEngine.from_args(
        everest_index.as_retriever(similarity_top_k=4),
        llm=MockLLM(),
        node_postprocessors=[make_rerank(top_n=2)],
        callback_manager=CallbackManager([debug]),
    )
    engine.query(EVEREST_QUERY)
    assert len(debug.get_event_pairs(CBEventType.RERANKING)) == 1


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        ("b", TypeError, "nodes[1] must be a NodeWithScore, got str"),
        (TextNode(text="b"), TypeError, "nodes[1] must be a NodeWithScore, got TextNode"),
        (
            NodeWithScore(node=TextNode(text="b"), score=float("inf")),
            ValueError,
            "nodes[1].score must be a finite",
        ),
    ],
    ids=["str", "bare-node", "inf-score"],
)
def test_a_bad_node_is_an_error_naming_it(bad: Any, error: type[Exception], message: str) -> None:
    from fake_scorer import FakeScorer

    rerank = CrossEncoderRerank(model=FakeScorer())
    nodes = [NodeWithScore(node=TextNode(text="a"), score=1.0), bad]
    with pytest.raises(error, match=re.escape(message)):
        rerank.postprocess_nodes(nodes, query_str="q")
    with pytest.raises(error, match=re.escape(message)):
        asyncio.run(rerank.apostprocess_nodes(nodes, query_str="q"))
