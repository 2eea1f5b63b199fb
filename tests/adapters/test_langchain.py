"""The LangChain adapter: CrossEncoderCompressor and CrossEncoderModel, with real LangChain parts.

Model tests use the real cross-encoder from ``CROSSRANK_TEST_MODEL`` (the session
``cross_encoder`` fixture in conftest.py skips them when it is not set), a real
Chroma store with the offline all-MiniLM-L6-v2 embeddings, and langchain-classic's
own ``ContextualCompressionRetriever`` and ``CrossEncoderReranker``.
"""

from __future__ import annotations

import asyncio
import copy
import math
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_classic.retrievers.document_compressors import CrossEncoderReranker
from langchain_core.cross_encoders import BaseCrossEncoder
from langchain_core.documents import BaseDocumentCompressor, Document
from langchain_core.runnables import RunnableLambda

import langchain_crossrank
from crossrank import Reranker
from crossrank.scorer import DelegatingScorer
from langchain_crossrank import CrossEncoderCompressor, CrossEncoderModel

if TYPE_CHECKING:
    from langchain_chroma import Chroma
    from sentence_transformers import CrossEncoder

    from crossrank.models.torch_scorer import CrossEncoderScorer

MISSING_MODEL = (
    "crossrank-tests/not-in-the-cache"  # a hub id the offline tests cannot load: loading fails loudly
)

# --- Short documents: one answers the query, the others are keyword traps. ---------

EGG_QUERY = "How long should I boil an egg to get a soft, runny yolk?"
EGG_ANSWER_ID = "answer"
EGG_DOCUMENTS = {
    EGG_ANSWER_ID: (
        "For a soft-boiled egg with a runny yolk, lower the egg into boiling water and cook it "
        "for six to seven minutes, then cool it in cold water."
    ),
    "protein": "Eggs are a good source of protein and contain vitamins B12 and D.",
    "pasta": "Boil the pasta in plenty of salted water for about ten minutes until it is al dente.",
    "yolk-colour": (
        "The colour of an egg yolk depends on what the hen eats, not on how nutritious the egg is."
    ),
    "hard-boiled": (
        "Hard-boiled eggs keep in the refrigerator for up to one week if you leave them in their shells."
    ),
    "kettle": "An electric kettle brings water to a boil faster than a pot on a gas stove.",
    "runny-nose": "A runny nose in young children usually clears up within a week without any treatment.",
    "egg-timer": "The egg timer on the kitchen shelf is a small hourglass filled with sand from the beach.",
}

# --- A long document whose answering passage sits after token 1,000. ---------------

ORCHARD_QUERY = "Why did the orchard cooperative replace its apple trees with frost-resistant varieties?"
ORCHARD_ANSWER = (
    "In 1987 the cooperative grubbed up its old apple trees and replanted the slopes with "
    "frost-resistant varieties, because late spring frosts had killed the blossom three years "
    "running and left the members with almost no fruit to sell. The hardier trees flower a "
    "fortnight later, after the last frosts have usually passed."
)
_ORCHARD_FILLER = [
    "Alder Valley lies between two ridges of chalk downland, and a slow river winds along its "
    "floor past water meadows, a mill and a string of small farms.",
    "The village at the head of the valley has a church with a squat flint tower, a school, a "
    "post office that opens three mornings a week, and a pub called the Wheatsheaf.",
    "Sheep have grazed the upper slopes for centuries. Their tracks still cross the hillsides, "
    "and every August the village holds a show where the best fleeces win rosettes.",
    "A carrier's cart once ran to the market town twice a week, taking wool, butter and "
    "letters out of the valley and bringing back flour, paraffin and newspapers.",
    "The parish council meets on the first Monday of each month in the village hall. The minutes "
    "record long debates about the state of the lane, the bus timetable and the bell ropes.",
    "The old mill ground corn with a pair of French burr stones until the 1960s, when the wheel "
    "was stopped for good and the building became a workshop for a furniture maker.",
    "The shop sells honey from hives kept along the hedgerows, eggs from free-range hens, "
    "jars of chutney, and in autumn crates of windfalls for anyone who wants to make jelly.",
    "A footpath follows the river from the mill to the next village, and walkers often stop "
    "at the shop for a cup of tea and a slice of cake on the bench outside.",
    "Hedgerows between the fields are laid by hand every winter, the stems half cut and bent "
    "over so that they grow into a thick living fence that keeps the sheep in.",
    "The valley's school children plant a tree each spring on the green, and a small brass "
    "plaque beside each one records the year and the names of the class.",
]
_ORCHARD_CLOSING = (
    "Today the cooperative has thirty members, runs a website for orders, and still holds a "
    "harvest supper in the barn every October."
)
# About 1,600 tokens; the answer starts near token 1,290 with about 300 tokens after it,
# so it lies inside the document's last window (which every window plan includes)
# whatever the overlap, and not at that window's very end.
ORCHARD_DOCUMENT = "\n\n".join(
    [
        *_ORCHARD_FILLER * 3,
        *_ORCHARD_FILLER[:6],
        ORCHARD_ANSWER,
        *_ORCHARD_FILLER[6:],
        *_ORCHARD_FILLER[:2],
        _ORCHARD_CLOSING,
    ]
)
ORCHARD_DISTRACTORS = [
    "Frost-resistant crops such as kale and winter wheat survive cold snaps better than most vegetables.",
    "Apple trees need cross-pollination, so growers plant at least two varieties that flower together.",
    "Cooperatives let small farmers share machinery and sell their produce together.",
    "Some apple varieties are better for cider and others for eating, and orchards often grow both.",
    "Frost pockets form in valley bottoms, where cold air collects on still spring nights.",
]
LONG_ID = "orchard-history"

CROSSRANK_KEYS = {
    "relevance_score",
    "crossrank_cross_encoder_score",
    "crossrank_window_span",
    "crossrank_num_windows",
    "crossrank_retrieval_rank",
}


def egg_documents() -> list[Document]:
    return [
        Document(page_content=text, id=doc_id, metadata={"source": f"{doc_id}.txt", "tags": [doc_id]})
        for doc_id, text in EGG_DOCUMENTS.items()
    ]


def orchard_documents() -> list[Document]:
    documents = [
        Document(page_content=text, id=f"distractor-{i}", metadata={"source": "notes"})
        for i, text in enumerate(ORCHARD_DISTRACTORS)
    ]
    documents.append(Document(page_content=ORCHARD_DOCUMENT, id=LONG_ID, metadata={"source": "history"}))
    return documents


class PredictCrossEncoder(BaseCrossEncoder):
    """The peer: scores with ``CrossEncoder.predict``, like LangChain's HuggingFaceCrossEncoder."""

    def __init__(self, model: CrossEncoder) -> None:
        self.model = model

    def score(self, text_pairs: list[tuple[str, str]]) -> list[float]:
        return [float(score) for score in self.model.predict(text_pairs)]


def assert_reranked(documents: Sequence[Document], top_n: int) -> None:
    """Common shape of a reranked output: top_n documents, float scores, best first."""
    assert len(documents) == top_n
    scores = [document.metadata["relevance_score"] for document in documents]
    assert all(type(score) is float for score in scores)
    assert scores == sorted(scores, reverse=True)
    for document in documents:
        assert set(document.metadata) >= CROSSRANK_KEYS


# --- Fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def chroma_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chroma]:
    """A real embedded Chroma store over the egg documents, with offline embeddings."""
    import chromadb
    from langchain_chroma import Chroma
    from langchain_huggingface import HuggingFaceEmbeddings

    from crossrank.evaluation.embeddings import offline_embedding_model_path

    embeddings = HuggingFaceEmbeddings(
        model_name=offline_embedding_model_path(), model_kwargs={"device": "cpu"}
    )
    store = Chroma.from_documents(
        [
            Document(page_content=text, id=doc_id, metadata={"source": f"{doc_id}.txt"})
            for doc_id, text in EGG_DOCUMENTS.items()
        ],
        embedding=embeddings,
        collection_name="crossrank-langchain-test",
        persist_directory=str(tmp_path_factory.mktemp("chroma")),
        client_settings=chromadb.config.Settings(anonymized_telemetry=False),
    )
    yield store
    store.delete_collection()


@pytest.fixture(scope="module")
def compressor(cross_encoder: CrossEncoder) -> CrossEncoderCompressor:
    return CrossEncoderCompressor(model=cross_encoder, top_n=3)


# --- Package surface (no model needed) ----------------------------------------------


def test_all_is_pinned() -> None:
    assert langchain_crossrank.__all__ == ["CrossEncoderCompressor", "CrossEncoderModel"]
    for name in langchain_crossrank.__all__:
        assert getattr(langchain_crossrank, name).__name__ == name


def test_import_does_not_load_torch_or_sentence_transformers() -> None:
    code = (
        "import sys, langchain_crossrank; from langchain_crossrank import CrossEncoderModel; "
        "langchain_crossrank.CrossEncoderCompressor(); CrossEncoderModel(); "
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.split() == ["False", "False"]


def test_missing_langchain_core_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['langchain_core'] = None\n"
        "try:\n    import langchain_crossrank\nexcept ImportError as exc:\n    print(exc)"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "crossrank[langchain]"' in output.stdout


def test_a_langchain_core_without_base_cross_encoder_still_gives_the_compressor() -> None:
    # Older langchain-core releases lack langchain_core.cross_encoders; without
    # langchain-classic or langchain-community to take it from, only CrossEncoderModel fails.
    code = (
        "import sys; sys.modules['langchain_core.cross_encoders'] = None\n"
        "from langchain_crossrank import CrossEncoderCompressor\n"
        "CrossEncoderCompressor()\n"
        "try:\n    from langchain_crossrank import CrossEncoderModel\n"
        "except ImportError as exc:\n    print(exc)"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "CrossEncoderModel needs LangChain's BaseCrossEncoder" in output.stdout


def test_classes_implement_the_langchain_interfaces() -> None:
    assert issubclass(CrossEncoderCompressor, BaseDocumentCompressor)
    assert issubclass(CrossEncoderModel, BaseCrossEncoder)
    # The exact ABC LangChain's CrossEncoderReranker checks its `model` against.
    expected = CrossEncoderReranker.model_fields["model"].annotation
    assert isinstance(expected, type)
    assert issubclass(CrossEncoderModel, expected)
    # Constructing both types needs no model.
    CrossEncoderReranker(model=CrossEncoderModel(MISSING_MODEL))
    retriever = ContextualCompressionRetriever(
        base_compressor=CrossEncoderCompressor(model=MISSING_MODEL),
        base_retriever=RunnableLambda(lambda query: []),
    )
    assert retriever.invoke("anything") == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"top_n": 0}, "top_n must be a positive integer, got 0"),
        ({"top_n": -2}, "top_n must be a positive integer, got -2"),
        ({"window_overlap": -1}, "window_overlap must be an integer >= 0, got -1"),
        ({"max_windows": 0}, "max_windows must be a positive integer, got 0"),
        ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
        ({"max_tokens_per_batch": 0}, "max_tokens_per_batch must be a positive integer, got 0"),
        ({"rrf_k": -1.0}, r"rrf_k must be a number >= 0, got -1.0"),
        ({"rrf_weights": (1.0, -1.0)}, r"rrf_weights must be two numbers >= 0"),
        ({"score_threshold": math.nan}, "score_threshold must be a number or None, got nan"),
        ({"fusion": "borda"}, "borda"),
        ({"long_documents": "head_only"}, "head_only"),
        ({"normalize": "softmax"}, "softmax"),
        ({"model": 42}, "got int: 42"),
        ({"topn": 3}, r"topn\s+Extra inputs are not permitted"),
        ({"backend": "tpu"}, "'tpu'"),
        ({"precision": "fp8"}, "'fp8'"),
        ({"backend": "onnx", "precision": "bf16"}, "precision='bf16' applies to backend='torch'"),
        ({"score_cache_size": -1}, "score_cache_size must be an integer >= 0, got -1"),
    ],
)
def test_bad_options_fail_at_construction_naming_the_value(options: dict[str, Any], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        CrossEncoderCompressor(**options)


def test_bad_assignment_fails_naming_the_value() -> None:
    compressor = CrossEncoderCompressor(model=MISSING_MODEL)
    with pytest.raises(ValueError, match="top_n must be a positive integer, got 0"):
        compressor.top_n = 0


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"max_windows": 0}, ValueError, "max_windows must be a positive integer, got 0"),
        ({"long_documents": "head_only"}, ValueError, "head_only"),
        ({"normalize": "softmax"}, ValueError, "softmax"),
        ({"model": 42}, TypeError, "got int: 42"),
        # A pydantic model now: pydantic names the field, the choices and the value.
        ({"backend": "tpu"}, ValueError, r"(?s)backend.*'onnx-int8'.*'tpu'"),
        ({"precision": "fp8"}, ValueError, r"(?s)precision.*'bf16'.*'fp8'"),
        ({"score_cache_size": -1}, ValueError, "score_cache_size must be an integer >= 0, got -1"),
    ],
)
def test_cross_encoder_model_bad_options(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        CrossEncoderModel(**options)


def test_backend_precision_and_score_cache_size_reach_the_core() -> None:
    compressor = CrossEncoderCompressor(
        model=MISSING_MODEL, backend="torch", precision="fp32", score_cache_size=0
    )
    core = compressor.reranker
    assert (core.backend, core.precision, core.score_cache_size) == ("torch", "fp32", 0)
    assert core.cache_info().maxsize == 0

    compressor.score_cache_size = 50
    assert compressor.reranker.score_cache_size == compressor.reranker.cache_info().maxsize == 50
    compressor.backend = "onnx-int8"
    assert compressor.reranker.backend == "onnx-int8"
    assert compressor.reranker.score_cache_size == 50
    copied = compressor.model_copy(update={"backend": "auto", "precision": "bf16"})
    assert (copied.reranker.backend, copied.reranker.precision) == ("auto", "bf16")
    assert compressor.reranker.backend == "onnx-int8"

    model = CrossEncoderModel(MISSING_MODEL, backend="onnx", precision="fp32", score_cache_size=0)
    assert (model.reranker.backend, model.reranker.precision, model.reranker.score_cache_size) == (
        "onnx",
        "fp32",
        0,
    )


async def test_empty_input_gives_empty_output_without_loading_the_model() -> None:
    compressor = CrossEncoderCompressor(model=MISSING_MODEL, retrieval_score_key="score")
    assert compressor.compress_documents([], EGG_QUERY) == []
    assert await compressor.acompress_documents([], EGG_QUERY) == []
    assert CrossEncoderModel(MISSING_MODEL).score([]) == []
    peer_with_ours = CrossEncoderReranker(model=CrossEncoderModel(MISSING_MODEL))
    assert peer_with_ours.compress_documents([], EGG_QUERY) == []


async def test_a_document_missing_the_retrieval_score_key_is_named() -> None:
    documents = [
        Document(page_content="first", metadata={"score": 0.9}),
        Document(page_content="second", metadata={"score": 0.5}),
        Document(page_content="third", metadata={"other": 1.0}),
    ]
    compressor = CrossEncoderCompressor(model=MISSING_MODEL, fusion="rrf", retrieval_score_key="score")
    with pytest.raises(ValueError, match=r"documents\[2\] has no metadata key 'score'"):
        compressor.compress_documents(documents, "query")
    with pytest.raises(ValueError, match=r"documents\[2\] has no metadata key 'score'"):
        await compressor.acompress_documents(documents, "query")
    documents[2] = Document(page_content="third", metadata={"score": "high"})
    with pytest.raises(ValueError, match=r"documents\[2\]\.metadata\['score'\] must be a number.*'high'"):
        compressor.compress_documents(documents, "query")


# --- With the real model -------------------------------------------------------------


@pytest.mark.model
def test_contextual_compression_retriever_over_chroma(
    cross_encoder: CrossEncoder, compressor: CrossEncoderCompressor, chroma_store: Chroma
) -> None:
    base_retriever = chroma_store.as_retriever(search_kwargs={"k": 6})
    retriever = ContextualCompressionRetriever(base_compressor=compressor, base_retriever=base_retriever)

    retrieved = base_retriever.invoke(EGG_QUERY)
    reranked = retriever.invoke(EGG_QUERY)

    assert len(retrieved) == 6
    assert_reranked(reranked, top_n=3)
    assert reranked[0].id == EGG_ANSWER_ID
    retrieved_ids = [document.id for document in retrieved]
    expected_scores = cross_encoder.predict([(EGG_QUERY, document.page_content) for document in retrieved])
    expected_order = sorted(range(6), key=lambda i: -expected_scores[i])[:3]
    assert [document.id for document in reranked] == [retrieved_ids[i] for i in expected_order]
    for document in reranked:
        assert document.id is not None
        assert document.page_content == EGG_DOCUMENTS[document.id]
        # The retrieval rank is the document's position in the retriever's output.
        assert retrieved_ids[document.metadata["crossrank_retrieval_rank"] - 1] == document.id
        assert document.metadata["crossrank_num_windows"] == 1
        assert document.metadata["crossrank_window_span"] == [0, len(document.page_content)]
        assert document.metadata["source"] == f"{document.id}.txt"


@pytest.mark.model
async def test_contextual_compression_retriever_ainvoke_matches_invoke(
    compressor: CrossEncoderCompressor, chroma_store: Chroma
) -> None:
    retriever = ContextualCompressionRetriever(
        base_compressor=compressor, base_retriever=chroma_store.as_retriever(search_kwargs={"k": 6})
    )
    synchronous = retriever.invoke(EGG_QUERY)
    asynchronous = await retriever.ainvoke(EGG_QUERY)
    assert_reranked(asynchronous, top_n=3)
    assert [d.id for d in asynchronous] == [d.id for d in synchronous]
    for a, s in zip(asynchronous, synchronous, strict=True):
        assert a.metadata["relevance_score"] == pytest.approx(s.metadata["relevance_score"], abs=1e-6)


@pytest.mark.model
def test_langchain_cross_encoder_reranker_with_our_model_over_chroma(
    cross_encoder: CrossEncoder, chroma_store: Chroma
) -> None:
    reranker = CrossEncoderReranker(model=CrossEncoderModel(cross_encoder), top_n=3)
    retriever = ContextualCompressionRetriever(
        base_compressor=reranker, base_retriever=chroma_store.as_retriever(search_kwargs={"k": 6})
    )
    reranked = retriever.invoke(EGG_QUERY)
    assert len(reranked) == 3
    assert reranked[0].id == EGG_ANSWER_ID


@pytest.mark.model
def test_parity_with_langchain_cross_encoder_reranker(cross_encoder: CrossEncoder) -> None:
    documents = egg_documents()
    ours = CrossEncoderCompressor(model=cross_encoder, top_n=5, long_documents="chunk_max", fusion=None)
    peer = CrossEncoderReranker(model=PredictCrossEncoder(cross_encoder), top_n=5)

    ours_out = ours.compress_documents(documents, EGG_QUERY)
    peer_out = peer.compress_documents(documents, EGG_QUERY)

    assert [d.id for d in ours_out] == [d.id for d in peer_out]
    predicted = dict(
        zip(
            EGG_DOCUMENTS,
            cross_encoder.predict([(EGG_QUERY, text) for text in EGG_DOCUMENTS.values()]),
            strict=True,
        )
    )
    for document in ours_out:
        assert document.id is not None
        assert document.metadata["relevance_score"] == pytest.approx(float(predicted[document.id]), abs=1e-4)
        assert document.metadata["crossrank_cross_encoder_score"] == document.metadata["relevance_score"]

    # The BaseCrossEncoder scores like predict too, and keeps input order.
    pairs = [(EGG_QUERY, text) for text in EGG_DOCUMENTS.values()]
    scores = CrossEncoderModel(cross_encoder).score(pairs)
    assert all(type(score) is float for score in scores)
    assert scores == pytest.approx([float(predicted[doc_id]) for doc_id in EGG_DOCUMENTS], abs=1e-4)


@pytest.mark.model
def test_torch_fp32_ranks_and_scores_like_the_default_backend(cross_encoder: CrossEncoder) -> None:
    documents = egg_documents()
    default = CrossEncoderCompressor(model=cross_encoder, top_n=None).compress_documents(documents, EGG_QUERY)
    torch_compressor = CrossEncoderCompressor(
        model=cross_encoder, top_n=None, backend="torch", precision="fp32", score_cache_size=0
    )
    ours = torch_compressor.compress_documents(documents, EGG_QUERY)
    assert torch_compressor.reranker.backend_in_use == "torch-fp32"
    assert [d.id for d in ours] == [d.id for d in default]
    default_scores = [d.metadata["relevance_score"] for d in default]
    assert [d.metadata["relevance_score"] for d in ours] == pytest.approx(default_scores, abs=1e-4)

    # CrossEncoderModel passes the options on too, and scores the same.
    model = CrossEncoderModel(cross_encoder, backend="torch", precision="fp32", score_cache_size=0)
    scores = model.score([(EGG_QUERY, d.page_content) for d in default])
    assert model.reranker.backend_in_use == "torch-fp32"
    assert scores == pytest.approx(default_scores, abs=1e-4)


@pytest.mark.model
def test_a_late_passage_in_a_long_document_wins_with_ours_not_the_peer(cross_encoder: CrossEncoder) -> None:
    encoding = cross_encoder.tokenizer(
        ORCHARD_DOCUMENT, add_special_tokens=False, return_offsets_mapping=True
    )
    answer_start = ORCHARD_DOCUMENT.index(ORCHARD_ANSWER)
    answer_end = answer_start + len(ORCHARD_ANSWER)
    first_answer_token = next(
        i for i, (start, _) in enumerate(encoding["offset_mapping"]) if start >= answer_start
    )
    assert len(encoding["input_ids"]) > 1500
    assert first_answer_token > 1000

    documents = orchard_documents()
    ours = CrossEncoderCompressor(model=cross_encoder, top_n=3).compress_documents(documents, ORCHARD_QUERY)
    assert ours[0].id == LONG_ID
    assert ours[0].metadata["crossrank_num_windows"] > 1
    span_start, span_end = ours[0].metadata["crossrank_window_span"]
    # The winning window holds the answer.
    assert span_start < answer_end
    assert span_end > answer_start

    langchain_with_ours = CrossEncoderReranker(model=CrossEncoderModel(cross_encoder), top_n=3)
    assert langchain_with_ours.compress_documents(documents, ORCHARD_QUERY)[0].id == LONG_ID

    peer = CrossEncoderReranker(model=PredictCrossEncoder(cross_encoder), top_n=3)
    assert peer.compress_documents(documents, ORCHARD_QUERY)[0].id != LONG_ID
    truncating = CrossEncoderCompressor(model=cross_encoder, top_n=3, long_documents="truncate")
    assert truncating.compress_documents(documents, ORCHARD_QUERY)[0].id != LONG_ID


@pytest.mark.model
def test_rrf_takes_the_retrieval_ranking_from_metadata(cross_encoder: CrossEncoder) -> None:
    documents = egg_documents()[:5]
    texts = [document.page_content for document in documents]
    core = Reranker(cross_encoder, fusion="rrf")

    def with_scores(scores: list[float]) -> list[Document]:
        return [
            Document(page_content=d.page_content, id=d.id, metadata={**d.metadata, "similarity": s})
            for d, s in zip(documents, scores, strict=True)
        ]

    compressor = CrossEncoderCompressor(
        model=cross_encoder, fusion="rrf", retrieval_score_key="similarity", top_n=None
    )
    # The retriever liked the answer least: fused with that, it no longer wins.
    answer_last = [0.1, 0.9, 0.8, 0.7, 0.6]
    fused = compressor.compress_documents(with_scores(answer_last), EGG_QUERY)
    expected = core.rerank(EGG_QUERY, texts, retrieval_scores=answer_last)
    assert [d.id for d in fused] == [documents[r.index].id for r in expected]
    assert [d.metadata["relevance_score"] for d in fused] == pytest.approx([r.score for r in expected])
    ranks = {d.id: d.metadata["crossrank_retrieval_rank"] for d in fused}
    assert ranks == {"answer": 5, "protein": 1, "pasta": 2, "yolk-colour": 3, "hard-boiled": 4}
    assert fused[0].id != EGG_ANSWER_ID
    assert {d.id: d.metadata["similarity"] for d in fused} == dict(
        zip([d.id for d in documents], answer_last, strict=True)
    )

    # The retriever agreed: the answer wins again.
    answer_first = [0.9, 0.1, 0.2, 0.3, 0.4]
    fused = compressor.compress_documents(with_scores(answer_first), EGG_QUERY)
    assert fused[0].id == EGG_ANSWER_ID
    assert fused[0].metadata["crossrank_retrieval_rank"] == 1

    # Without the key the input order is the retrieval ranking.
    by_order = CrossEncoderCompressor(model=cross_encoder, fusion="rrf", top_n=None)
    out = by_order.compress_documents(with_scores(answer_last), EGG_QUERY)
    assert {d.id: d.metadata["crossrank_retrieval_rank"] for d in out} == {
        d.id: i + 1 for i, d in enumerate(documents)
    }
    assert out[0].id == EGG_ANSWER_ID


@pytest.mark.model
def test_inputs_are_not_mutated_and_outputs_are_new(compressor: CrossEncoderCompressor) -> None:
    documents = egg_documents()
    documents[0].metadata["nested"] = {"scores": [1, 2, 3]}
    before = copy.deepcopy(documents)

    out = compressor.compress_documents(documents, EGG_QUERY)

    assert documents == before
    assert [d.metadata for d in documents] == [d.metadata for d in before]
    assert all(not (CROSSRANK_KEYS & set(d.metadata)) for d in documents)
    by_id = {d.id: d for d in documents}
    for document in out:
        original = by_id[document.id]
        assert document is not original
        assert document.metadata is not original.metadata
        assert document.page_content == original.page_content
        assert {k: v for k, v in document.metadata.items() if k not in CROSSRANK_KEYS} == original.metadata
        assert document.metadata["tags"] is not original.metadata["tags"]
    assert out[0].metadata["nested"] == {"scores": [1, 2, 3]}
    assert out[0].metadata["nested"] is not documents[0].metadata["nested"]
    metadata = out[0].metadata
    assert type(metadata["relevance_score"]) is float
    assert type(metadata["crossrank_cross_encoder_score"]) is float
    assert type(metadata["crossrank_num_windows"]) is int
    assert type(metadata["crossrank_retrieval_rank"]) is int
    assert all(type(offset) is int for offset in metadata["crossrank_window_span"])


@pytest.mark.model
def test_top_n_threshold_and_reassignment_share_the_loaded_model(cross_encoder: CrossEncoder) -> None:
    compressor = CrossEncoderCompressor(model=cross_encoder, top_n=2)
    documents = egg_documents()
    assert len(compressor.compress_documents(documents, EGG_QUERY)) == 2
    scorer = compressor.reranker.scorer

    compressor.top_n = None
    assert len(compressor.compress_documents(documents, EGG_QUERY)) == len(documents)
    compressor.score_threshold = 0.5
    kept = compressor.compress_documents(documents, EGG_QUERY)
    assert [d.id for d in kept] == [EGG_ANSWER_ID]
    assert compressor.reranker.scorer is scorer

    copied = compressor.model_copy(update={"score_threshold": None, "top_n": 4})
    assert len(copied.compress_documents(documents, EGG_QUERY)) == 4
    assert copied.reranker.scorer is scorer
    assert len(compressor.compress_documents(documents, EGG_QUERY)) == 1


class GatedScorer(DelegatingScorer):
    """The real CrossEncoderScorer, but ``score`` first waits at a gate and records its thread."""

    def __init__(self, inner: CrossEncoderScorer, gate: threading.Barrier | threading.Event) -> None:
        super().__init__(inner)
        self.gate = gate
        self.entered = threading.Event()
        self.gate_passed: list[bool] = []
        self.threads: set[int] = set()

    def score(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[float]:
        self.threads.add(threading.get_ident())
        self.entered.set()
        if isinstance(self.gate, threading.Barrier):
            try:
                self.gate.wait()
                self.gate_passed.append(True)
            except threading.BrokenBarrierError:
                self.gate_passed.append(False)
        else:
            self.gate_passed.append(self.gate.wait(timeout=10))
        return self.inner.score(pairs)


@pytest.mark.model
async def test_acompress_documents_does_not_block_the_event_loop(cross_encoder: CrossEncoder) -> None:
    from crossrank.models.torch_scorer import CrossEncoderScorer

    # score() holds until the event loop itself opens the gate, which it can only do
    # if scoring runs off the loop; a blocking implementation times out the gate.
    gate = threading.Event()
    scorer = GatedScorer(CrossEncoderScorer(cross_encoder), gate)
    compressor = CrossEncoderCompressor(model=scorer, top_n=3)
    task = asyncio.create_task(compressor.acompress_documents(egg_documents(), EGG_QUERY))

    ticks = 0

    async def tick_then_open_the_gate() -> None:
        nonlocal ticks
        while not scorer.entered.is_set():
            await asyncio.sleep(0.001)
        for _ in range(10):  # the loop keeps running while score() is in progress
            await asyncio.sleep(0)
            ticks += 1
        gate.set()

    await asyncio.wait_for(tick_then_open_the_gate(), timeout=30)
    out = await asyncio.wait_for(task, timeout=30)

    assert ticks == 10
    assert scorer.gate_passed
    assert all(scorer.gate_passed)
    assert threading.get_ident() not in scorer.threads
    assert out[0].id == EGG_ANSWER_ID


@pytest.mark.model
async def test_concurrent_acompress_calls_overlap(cross_encoder: CrossEncoder) -> None:
    from crossrank.models.torch_scorer import CrossEncoderScorer

    # Both calls must be inside score() at the same time to pass the barrier.
    scorer = GatedScorer(CrossEncoderScorer(cross_encoder), threading.Barrier(2, timeout=10))
    compressor = CrossEncoderCompressor(model=scorer, top_n=2)
    # Same inputs, so both calls make the same number of score() calls (one batch each).
    first, second = await asyncio.wait_for(
        asyncio.gather(
            compressor.acompress_documents(egg_documents(), EGG_QUERY),
            compressor.acompress_documents(egg_documents(), EGG_QUERY),
        ),
        timeout=60,
    )
    assert scorer.gate_passed == [True, True]
    assert len(scorer.threads) == 2
    assert threading.get_ident() not in scorer.threads
    assert [d.id for d in first] == [d.id for d in second]
    assert first[0].id == EGG_ANSWER_ID


def test_a_non_document_element_is_a_type_error_naming_it() -> None:
    from fake_scorer import FakeScorer
    from langchain_core.documents import Document

    from langchain_crossrank import CrossEncoderCompressor

    compressor = CrossEncoderCompressor(model=FakeScorer())
    with pytest.raises(TypeError, match=re.escape("documents[1] must be a langchain_core Document, got str")):
        compressor.compress_documents([Document("a"), "b"], "q")  # type: ignore[list-item]


def test_an_infinite_retrieval_score_names_the_document() -> None:
    from fake_scorer import FakeScorer
    from langchain_core.documents import Document

    from langchain_crossrank import CrossEncoderCompressor

    compressor = CrossEncoderCompressor(model=FakeScorer(), retrieval_score_key="s")
    documents = [Document("a", metadata={"s": 1.0}), Document("b", metadata={"s": float("inf")})]
    with pytest.raises(ValueError, match=re.escape("documents[1].metadata['s'] must be a finite number")):
        compressor.compress_documents(documents, "q")
