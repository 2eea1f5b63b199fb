"""``CrossEncoderRerank``: crossrank's reranker as a LlamaIndex node postprocessor."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

try:
    from llama_index.core.bridge.pydantic import ConfigDict, Field, PrivateAttr, field_serializer
    from llama_index.core.callbacks import CBEventType, EventPayload
    from llama_index.core.callbacks.base import EventContext
    from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined,unused-ignore]
    from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
except ImportError as exc:
    raise ImportError(
        'llama_plugin needs llama-index-core: run `pip install "crossrank[llama-index]"`.'
    ) from exc

from shared import Backend, Fusion, LongDocuments, Normalize, Precision, Reranker, RerankResult

if TYPE_CHECKING:
    from typing import TypeAlias

    from sentence_transformers import CrossEncoder
    from typing_extensions import Self

    from shared import PairScorer

    ModelSpec: TypeAlias = "str | CrossEncoder | PairScorer | None"
else:
    # Left open at runtime so that pydantic does not need sentence-transformers (and
    # torch) imported to build the class; the core checks the model when it loads.
    ModelSpec = Any

__all__ = [
    "CROSS_ENCODER_SCORE_KEY",
    "NUM_WINDOWS_KEY",
    "RETRIEVAL_RANK_KEY",
    "RETRIEVAL_SCORE_KEY",
    "WINDOW_SPAN_KEY",
    "CrossEncoderRerank",
]

dispatcher = get_dispatcher(__name__)

RETRIEVAL_SCORE_KEY = "retrieval_score"
"""Metadata key of the node's score before reranking (with ``keep_retrieval_score=True``)."""
CROSS_ENCODER_SCORE_KEY = "crossrank_cross_encoder_score"
"""Metadata key of the cross-encoder's score for the node's best window."""
WINDOW_SPAN_KEY = "crossrank_window_span"
"""Metadata key of ``[start, end]``: character offsets of the best window in the scored text."""
NUM_WINDOWS_KEY = "crossrank_num_windows"
"""Metadata key of how many windows of the node were scored."""
RETRIEVAL_RANK_KEY = "crossrank_retrieval_rank"
"""Metadata key of the node's 1-based rank before reranking."""

# Fields that decide which model is loaded: changing one builds a new core Reranker.
_MODEL_FIELDS = frozenset(
    {"model", "device", "trust_remote_code", "cross_encoder_kwargs", "backend", "precision"}
)
# Fields the core Reranker takes as options: changing one keeps the loaded model.
_OPTION_FIELDS = frozenset(
    {
        "long_documents",
        "window_overlap",
        "max_windows",
        "fusion",
        "rrf_k",
        "rrf_weights",
        "normalize",
        "score_threshold",
        "top_n",
        "batch_size",
        "max_tokens_per_batch",
        "score_cache_size",
    }
)


class CrossEncoderRerank(BaseNodePostprocessor):
    """Rerank nodes with a cross-encoder, scoring long nodes window by window.

    A drop-in for LlamaIndex's ``SentenceTransformerRerank``: put it in
    ``node_postprocessors`` of a query or chat engine, or call
    ``postprocess_nodes`` / ``apostprocess_nodes`` directly. Unlike it, a node
    longer than the model's window keeps its best window's score (chunk-max)
    instead of being cut at the window, and the cross-encoder ranking can be fused
    with the retriever's by Reciprocal Rank Fusion (``fusion="rrf"``).

    The nodes passed in are never changed. Each returned ``NodeWithScore`` is new
    and holds a copy of the node whose metadata carries the rerank details
    (``crossrank_cross_encoder_score``, ``crossrank_window_span``,
    ``crossrank_num_windows``, ``crossrank_retrieval_rank`` and, with
    ``keep_retrieval_score=True``, ``retrieval_score``). These keys are excluded
    from the node's LLM and embedding text, so they never reach a prompt.

    ``crossrank_window_span`` indexes the text that was scored,
    ``node.get_content(metadata_mode=metadata_mode)`` of the node as passed in;
    ``retrieval_score`` is the node's score before reranking (``None`` if it had none).

    The model loads on first use; option errors are raised at construction, and
    when a field is assigned.

    Example:
        >>> from llama_plugin import CrossEncoderRerank
        >>> rerank = CrossEncoderRerank(model="path/to/cross-encoder", top_n=3)
        >>> engine = index.as_query_engine(  # doctest: +SKIP
        ...     similarity_top_k=20, node_postprocessors=[rerank]
        ... )
        >>> nodes = rerank.postprocess_nodes(nodes, query_str="what is chunk-max?")  # doctest: +SKIP
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    model: ModelSpec = Field(
        default=None,
        description=(
            "A hub id or local directory of a sentence-transformers cross-encoder, an "
            "already-built sentence_transformers.CrossEncoder, or a shared.PairScorer. "
            "None uses $CROSSRANK_MODEL, else cross-encoder/ms-marco-MiniLM-L6-v2."
        ),
    )
    top_n: int | None = Field(
        default=2, description="Number of nodes to return, best first (None: all of them)."
    )
    device: str | None = Field(
        default=None,
        description="Device to run the model on ('cpu', 'cuda', 'mps'...); chosen automatically if None.",
    )
    keep_retrieval_score: bool = Field(
        default=False,
        description="Keep each node's score from before reranking in its metadata as 'retrieval_score'.",
    )
    cross_encoder_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra keyword arguments for sentence_transformers.CrossEncoder(...).",
    )
    trust_remote_code: bool = Field(default=False, description="Let the model repository run its own code.")
    backend: Backend = Field(
        default="auto",
        description=(
            "How the model runs: 'auto', 'torch', 'onnx' (ONNX Runtime in fp32: PyTorch's scores, "
            "about 1.8x faster on a CPU) or 'onnx-int8' (int8 weights: about 3x on a CPU, but scores "
            "move by up to a few tenths and rankings change). 'auto' runs ONNX Runtime in fp32 on a "
            "CPU and PyTorch on a GPU; when ONNX cannot be used, scoring falls back to PyTorch with "
            "a logged warning. Changing it loads the model again."
        ),
    )
    precision: Precision = Field(
        default="auto",
        description=(
            "PyTorch's precision: 'auto' (fp16 on CUDA, else fp32), 'fp32', 'bf16' (about 2.2x fp32 "
            "on a CPU with AVX512-BF16 or AMX; scores move by up to 0.02) or 'fp16'. An explicit "
            "precision with backend='auto' selects PyTorch. Changing it loads the model again."
        ),
    )
    long_documents: LongDocuments = Field(
        default="chunk_max",
        description=(
            "'chunk_max' scores every window of a long node and keeps the best; "
            "'truncate' scores only its first window, like SentenceTransformerRerank."
        ),
    )
    window_overlap: int | None = Field(
        default=None,
        description="Tokens shared by consecutive windows; None uses one eighth of the window.",
    )
    max_windows: int | None = Field(default=16, description="Most windows scored per node (None: no cap).")
    fusion: Fusion | None = Field(
        default=None,
        description=(
            "'rrf' fuses the cross-encoder ranking with the retrieval ranking (by node.score "
            "when every node has one, else by input order); None ranks by the cross-encoder alone."
        ),
    )
    rrf_k: float = Field(default=60.0, description="The Reciprocal Rank Fusion constant k.")
    rrf_weights: tuple[float, float] = Field(
        default=(1.0, 1.0), description="(cross_encoder_weight, retrieval_weight) for RRF."
    )
    normalize: Normalize | None = Field(
        default=None,
        description="'sigmoid' maps logits to 0..1; None keeps the model's raw output.",
    )
    score_threshold: float | None = Field(
        default=None, description="Drop nodes whose final score is below this."
    )
    batch_size: int = Field(default=32, description="Most (query, window) pairs per model call.")
    max_tokens_per_batch: int = Field(
        default=16384, description="Most padded tokens per model call, which bounds memory."
    )
    score_cache_size: int = Field(
        default=10_000,
        description=(
            "Most window scores kept in an LRU cache keyed by the model and the exact query and "
            "window tokens, so repeated queries over the same nodes cost nothing; 0 turns the "
            "cache off. See reranker.cache_info()."
        ),
    )
    metadata_mode: MetadataMode = Field(
        default=MetadataMode.EMBED,
        description="Which metadata is scored with the text: node.get_content(metadata_mode=...).",
    )

    _reranker: Reranker = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        """Build the core reranker, so option errors surface at construction."""
        super().model_post_init(context)
        self._reranker = self._build_reranker()

    @field_serializer("model")
    def _serialize_model(self, model: Any) -> str | None:
        # A loaded model object cannot go into JSON: serialize it by name.
        if model is None or isinstance(model, str):
            return model
        return self._reranker.model_name

    @classmethod
    def class_name(cls) -> str:
        """The class name LlamaIndex uses to serialize this component."""
        return "CrossEncoderRerank"

    @property
    def reranker(self) -> Reranker:
        """The core :class:`shared.Reranker` doing the scoring."""
        return self._reranker

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in _MODEL_FIELDS | _OPTION_FIELDS:
            super().__setattr__(name, value)
            return
        # Keep the core reranker in step with the fields; a value it rejects leaves
        # the postprocessor as it was.
        previous = getattr(self, name)
        super().__setattr__(name, value)
        try:
            if name in _MODEL_FIELDS:
                reranker = self._build_reranker()
            else:
                reranker = self._reranker.with_options(**{name: getattr(self, name)})
        except Exception:
            super().__setattr__(name, previous)
            raise
        self._reranker = reranker

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with some fields changed, sharing the loaded model where it can.

        Args:
            update: Field values to change in the copy.
            deep: Deep-copy the fields.

        Returns:
            The copy, with a core reranker that follows its fields.
        """
        copied = super().model_copy(update=update, deep=deep)
        changed = set(update or ()) & (_MODEL_FIELDS | _OPTION_FIELDS)
        if changed & _MODEL_FIELDS:
            copied._reranker = copied._build_reranker()
        elif changed:
            options = {name: getattr(copied, name) for name in changed}
            copied._reranker = self._reranker.with_options(**options)
        return copied

    def _build_reranker(self) -> Reranker:
        options = {name: getattr(self, name) for name in _MODEL_FIELDS | _OPTION_FIELDS}
        return Reranker(options.pop("model"), **options)

    def _postprocess_nodes(
        self,
        nodes: list[NodeWithScore],
        query_bundle: QueryBundle | None = None,
    ) -> list[NodeWithScore]:
        query_bundle = _require_query(query_bundle)
        if not nodes:
            return []
        with self._start_event(nodes, query_bundle) as event:
            results = self._reranker.rerank(query_bundle.query_str, **self._rerank_inputs(nodes))
            return self._end_event(event, nodes, results)

    async def _apostprocess_nodes(
        self,
        nodes: list[NodeWithScore],
        query_bundle: QueryBundle | None = None,
    ) -> list[NodeWithScore]:
        query_bundle = _require_query(query_bundle)
        if not nodes:
            return []
        with self._start_event(nodes, query_bundle) as event:
            results = await self._reranker.arerank(query_bundle.query_str, **self._rerank_inputs(nodes))
            return self._end_event(event, nodes, results)

    def _rerank_inputs(self, nodes: Sequence[NodeWithScore]) -> dict[str, Any]:
        scores = [node.score for node in nodes]
        has_scores = all(score is not None and not math.isnan(score) for score in scores)
        return {
            "documents": [node.node.get_content(metadata_mode=self.metadata_mode) for node in nodes],
            "retrieval_scores": scores if has_scores else None,
            "top_n": self.top_n,
            "score_threshold": self.score_threshold,
        }

    def _start_event(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle
    ) -> AbstractContextManager[EventContext]:
        top_n = len(nodes) if self.top_n is None else self.top_n
        model_name = self._reranker.model_name
        dispatcher.event(
            ReRankStartEvent(query=query_bundle, nodes=nodes, top_n=top_n, model_name=model_name)
        )
        return self.callback_manager.event(
            CBEventType.RERANKING,
            payload={
                EventPayload.NODES: nodes,
                EventPayload.MODEL_NAME: model_name,
                EventPayload.QUERY_STR: query_bundle.query_str,
                EventPayload.TOP_K: top_n,
            },
        )

    def _end_event(
        self, event: EventContext, nodes: list[NodeWithScore], results: list[RerankResult]
    ) -> list[NodeWithScore]:
        reranked = [self._to_node(nodes[result.index], result) for result in results]
        event.on_end(payload={EventPayload.NODES: reranked})
        dispatcher.event(ReRankEndEvent(nodes=reranked))
        return reranked

    def _to_node(self, source: NodeWithScore, result: RerankResult) -> NodeWithScore:
        details: dict[str, Any] = {
            CROSS_ENCODER_SCORE_KEY: result.cross_encoder_score,
            WINDOW_SPAN_KEY: list(result.window_span),
            NUM_WINDOWS_KEY: result.num_windows,
            RETRIEVAL_RANK_KEY: result.retrieval_rank,
        }
        if self.keep_retrieval_score:
            details[RETRIEVAL_SCORE_KEY] = source.score
        node = source.node
        # The node inside is shared with the index and the caller: annotate a copy.
        annotated = node.model_copy(
            update={
                "metadata": {**copy.deepcopy(node.metadata), **details},
                "excluded_llm_metadata_keys": _with_keys(node.excluded_llm_metadata_keys, details),
                "excluded_embed_metadata_keys": _with_keys(node.excluded_embed_metadata_keys, details),
                "relationships": dict(node.relationships),
            }
        )
        return NodeWithScore(node=annotated, score=result.score)


def _require_query(query_bundle: QueryBundle | None) -> QueryBundle:
    if query_bundle is None:
        raise ValueError("Missing query bundle in extra info.")
    return query_bundle


def _with_keys(keys: list[str], details: dict[str, Any]) -> list[str]:
    return [*keys, *(key for key in details if key not in keys)]
