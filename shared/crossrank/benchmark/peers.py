"""The peers crossrank is timed against, each as it is used out of the box.

LlamaIndex's ``SentenceTransformerRerank``, LangChain's ``CrossEncoderReranker`` over the
smallest ``BaseCrossEncoder``, and a bare ``CrossEncoder.predict``. All truncate every
candidate to the model's window, so each scores one pair per candidate. A builder raises
:class:`~crossrank.errors.MissingPeerError` when its library is not installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crossrank.benchmark.flops import TransformerShape, shape_of_model
from crossrank.benchmark.protocol import BenchSettings, Contender, Ranked
from crossrank.errors import MissingPeerError

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

    from crossrank.benchmark.inputs import BenchInput

__all__ = [
    "REFERENCE_CONTENDER",
    "build_langchain",
    "build_llamaindex",
    "build_predict",
    "model_shape",
]

REFERENCE_CONTENDER = "llamaindex-sbert-rerank"
"""The peer every ratio in the report is taken against."""

_BENCH_EXTRA = 'pip install "crossrank[bench]"'
# Key of the one plain CrossEncoder the peers share, in the builders' ``shared`` dict.
_CROSS_ENCODER = "cross_encoder"


def _truncated_lengths(model: CrossEncoder, query: str, texts: Sequence[str]) -> tuple[int, ...]:
    """Tokens of each (query, text) pair as ``CrossEncoder.predict`` feeds them: truncated, unpadded."""
    encoded = model.tokenizer([query] * len(texts), list(texts), truncation=True, max_length=model.max_length)
    return tuple(len(ids) for ids in encoded["input_ids"])


@dataclass
class _PredictContender:
    name: str
    model: CrossEncoder
    batch_size: int
    compute_dtype: str = "fp32"

    def prepare(self, item: BenchInput) -> tuple[str, list[str], tuple[int, ...]]:
        return item.query, list(item.texts), _truncated_lengths(self.model, item.query, item.texts)

    def rank(self, prepared: tuple[str, list[str], tuple[int, ...]]) -> Ranked:
        query, texts, lengths = prepared
        scores = self.model.predict(
            [(query, text) for text in texts], batch_size=self.batch_size, show_progress_bar=False
        )
        values = [float(score) for score in scores]
        order = sorted(range(len(values)), key=lambda index: (-values[index], index))
        return Ranked(order=order, pairs=len(values), sequence_lengths=lengths)


@dataclass
class _LlamaIndexContender:
    name: str
    postprocessor: Any
    model: CrossEncoder
    compute_dtype: str = "fp32"

    def prepare(self, item: BenchInput) -> tuple[list[Any], Any, dict[str, int], tuple[int, ...]]:
        from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

        nodes = [
            NodeWithScore(node=TextNode(text=text, id_=doc_id), score=score)
            for doc_id, text, score in zip(item.doc_ids, item.texts, item.retrieval_scores, strict=True)
        ]
        positions = {doc_id: i for i, doc_id in enumerate(item.doc_ids)}
        lengths = _truncated_lengths(self.model, item.query, item.texts)
        return nodes, QueryBundle(item.query), positions, lengths

    def rank(self, prepared: tuple[list[Any], Any, dict[str, int], tuple[int, ...]]) -> Ranked:
        nodes, query_bundle, positions, lengths = prepared
        ranked = self.postprocessor.postprocess_nodes(nodes, query_bundle=query_bundle)
        order = [positions[node.node.node_id] for node in ranked]
        return Ranked(order=order, pairs=len(nodes), sequence_lengths=lengths)


@dataclass
class _LangChainContender:
    name: str
    compressor: Any
    model: CrossEncoder
    compute_dtype: str = "fp32"

    def prepare(self, item: BenchInput) -> tuple[list[Any], str, tuple[int, ...]]:
        from langchain_core.documents import Document

        documents = [
            Document(page_content=text, metadata={"position": position})
            for position, text in enumerate(item.texts)
        ]
        return documents, item.query, _truncated_lengths(self.model, item.query, item.texts)

    def rank(self, prepared: tuple[list[Any], str, tuple[int, ...]]) -> Ranked:
        documents, query, lengths = prepared
        ranked = self.compressor.compress_documents(documents, query)
        return Ranked(
            order=[doc.metadata["position"] for doc in ranked], pairs=len(documents), sequence_lengths=lengths
        )


def _shared_cross_encoder(settings: BenchSettings, shared: dict[str, Any]) -> CrossEncoder:
    """One plain CrossEncoder for the peers that take a model object and for token counts."""
    if _CROSS_ENCODER not in shared:
        from crossrank.models.loading import load_cross_encoder

        shared[_CROSS_ENCODER] = load_cross_encoder(settings.model, device=settings.device)
    model: CrossEncoder = shared[_CROSS_ENCODER]
    return model


def build_llamaindex(settings: BenchSettings, shared: dict[str, Any]) -> Contender:
    """LlamaIndex's stock ``SentenceTransformerRerank``, the reference of the report.

    Args:
        settings: Model, device and candidates (its ``top_n``).
        shared: Models already loaded by other contenders.

    Returns:
        The contender.

    Raises:
        MissingPeerError: If ``llama-index-postprocessor-sbert-rerank`` is not installed.
    """
    try:
        from llama_index.postprocessor.sbert_rerank import SentenceTransformerRerank
    except ImportError as exc:
        raise MissingPeerError(
            f"llama-index-postprocessor-sbert-rerank is not installed ({_BENCH_EXTRA})"
        ) from exc
    # The stock postprocessor loads its own CrossEncoder and calls predict() with its defaults.
    postprocessor = SentenceTransformerRerank(
        model=settings.model, device=settings.device, top_n=settings.candidates
    )
    return _LlamaIndexContender(REFERENCE_CONTENDER, postprocessor, _shared_cross_encoder(settings, shared))


def build_langchain(settings: BenchSettings, shared: dict[str, Any]) -> Contender:
    """LangChain's ``CrossEncoderReranker`` over a ``BaseCrossEncoder`` that calls ``CrossEncoder.predict``.

    Args:
        settings: Model, device, batch size and candidates (its ``top_n``).
        shared: Models already loaded by other contenders.

    Returns:
        The contender.

    Raises:
        MissingPeerError: If ``langchain-classic`` is not installed.
    """
    try:
        from langchain_classic.retrievers.document_compressors import CrossEncoderReranker
        from langchain_core.cross_encoders import BaseCrossEncoder
    except ImportError as exc:
        raise MissingPeerError(f"langchain-classic is not installed ({_BENCH_EXTRA})") from exc

    class SentenceTransformersCrossEncoder(BaseCrossEncoder):
        """The smallest ``BaseCrossEncoder``: ``CrossEncoder.predict`` on the text pairs."""

        def __init__(self, model: CrossEncoder) -> None:
            self.model = model

        def score(self, text_pairs: list[tuple[str, str]]) -> list[float]:
            scores = self.model.predict(text_pairs, batch_size=settings.batch_size, show_progress_bar=False)
            return [float(value) for value in scores]

    model = _shared_cross_encoder(settings, shared)
    compressor = CrossEncoderReranker(
        model=SentenceTransformersCrossEncoder(model), top_n=settings.candidates
    )
    return _LangChainContender("langchain-cross-encoder-reranker", compressor, model)


def build_predict(settings: BenchSettings, shared: dict[str, Any]) -> Contender:
    """A bare ``CrossEncoder.predict`` on every (query, candidate) pair, sorted by score.

    Args:
        settings: Model, device and batch size.
        shared: Models already loaded by other contenders.

    Returns:
        The contender.
    """
    return _PredictContender(
        "sentence-transformers-predict", _shared_cross_encoder(settings, shared), settings.batch_size
    )


def model_shape(settings: BenchSettings, shared: dict[str, Any]) -> TransformerShape | None:
    """The encoder's sizes, for FLOP counts (``None`` when its config cannot be read).

    Args:
        settings: The bench settings.
        shared: Models already loaded by the contenders; the peers' CrossEncoder's config
            is used when one is loaded, otherwise only the model's config file is read.

    Returns:
        The shape, or ``None``.
    """
    if "shape" not in shared:
        loaded = shared.get(_CROSS_ENCODER)
        config = getattr(getattr(loaded, "model", None), "config", None)
        if config is None:
            shared["shape"] = shape_of_model(settings.model)
        else:
            try:
                shared["shape"] = TransformerShape.from_config(config)
            except ValueError:
                shared["shape"] = None
    shape: TransformerShape | None = shared["shape"]
    return shape
