"""``CrossEncoderRerank``: crossrank's reranker as a LlamaIndex node postprocessor."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

try:
    from llama_index.core.bridge.pydantic import ConfigDict, Field, field_serializer
    from llama_index.core.callbacks import CBEventType, EventPayload
    from llama_index.core.callbacks.base import EventContext
    from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined,unused-ignore]
    from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
except ImportError as exc:
    raise ImportError(
        "llama_index.postprocessor.crossrank needs llama-index-core: "
        'run `pip install "crossrank[llama-index]"`.'
    ) from exc

from crossrank import Fusion, RerankResult
from crossrank.adapters import (
    CROSS_ENCODER_SCORE_KEY,
    NUM_WINDOWS_KEY,
    RETRIEVAL_RANK_KEY,
    RETRIEVAL_SCORE_KEY,
    WINDOW_SPAN_KEY,
    SyncedRankingReranker,
    option_field,
    rerank_details,
    serializable_model,
)

__all__ = [
    "CROSS_ENCODER_SCORE_KEY",
    "NUM_WINDOWS_KEY",
    "RETRIEVAL_RANK_KEY",
    "RETRIEVAL_SCORE_KEY",
    "WINDOW_SPAN_KEY",
    "CrossEncoderRerank",
]

dispatcher = get_dispatcher(__name__)


class CrossEncoderRerank(SyncedRankingReranker, BaseNodePostprocessor):
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
        >>> from llama_index.postprocessor.crossrank import CrossEncoderRerank
        >>> rerank = CrossEncoderRerank(model="path/to/cross-encoder", top_n=3)
        >>> engine = index.as_query_engine(  # doctest: +SKIP
        ...     similarity_top_k=20, node_postprocessors=[rerank]
        ... )
        >>> nodes = rerank.postprocess_nodes(nodes, query_str="what is chunk-max?")  # doctest: +SKIP
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    top_n: int | None = option_field(
        "top_n", default=2, note="The default, 2, is SentenceTransformerRerank's."
    )
    keep_retrieval_score: bool = Field(
        default=False,
        description="Keep each node's score from before reranking in its metadata as 'retrieval_score'.",
    )
    cross_encoder_kwargs: dict[str, Any] = option_field("cross_encoder_kwargs", default={})
    fusion: Fusion | None = option_field(
        "fusion", note="The retrieval ranking is by node.score when every node has one, else input order."
    )
    metadata_mode: MetadataMode = Field(
        default=MetadataMode.EMBED,
        description="Which metadata is scored with the text: node.get_content(metadata_mode=...).",
    )

    @field_serializer("model")
    def _serialize_model(self, model: Any) -> str | None:
        # A loaded model goes into JSON as its path or hub id, so from_dict loads it again.
        return serializable_model(model, self.reranker)

    @classmethod
    def class_name(cls) -> str:
        """The class name LlamaIndex uses to serialize this component."""
        return "CrossEncoderRerank"

    def _postprocess_nodes(
        self,
        nodes: list[NodeWithScore],
        query_bundle: QueryBundle | None = None,
    ) -> list[NodeWithScore]:
        query_bundle = _require_query(query_bundle)
        _check_nodes(nodes)
        if not nodes:
            return []
        with self._start_event(nodes, query_bundle) as event:
            results = self.reranker.rerank(query_bundle.query_str, **self._rerank_inputs(nodes))
            return self._end_event(event, nodes, results)

    async def _apostprocess_nodes(
        self,
        nodes: list[NodeWithScore],
        query_bundle: QueryBundle | None = None,
    ) -> list[NodeWithScore]:
        query_bundle = _require_query(query_bundle)
        _check_nodes(nodes)
        if not nodes:
            return []
        with self._start_event(nodes, query_bundle) as event:
            results = await self.reranker.arerank(query_bundle.query_str, **self._rerank_inputs(nodes))
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
        model_name = self.reranker.model_name
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
        details = rerank_details(result)
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


def _check_nodes(nodes: Sequence[object]) -> None:
    """Raise naming the first element that is not a ``NodeWithScore``, or whose score is infinite."""
    for index, node in enumerate(nodes):
        if not isinstance(node, NodeWithScore):
            raise TypeError(
                f"nodes[{index}] must be a NodeWithScore, got {type(node).__name__}: "
                "wrap a node as NodeWithScore(node=node, score=score)."
            )
        if node.score is not None and math.isinf(node.score):
            # NaN means "no score" (input order is used); infinity has no rank to fuse by.
            raise ValueError(f"nodes[{index}].score must be a finite number or None, got {node.score!r}.")


def _require_query(query_bundle: QueryBundle | None) -> QueryBundle:
    if query_bundle is None:
        raise ValueError("Missing query bundle in extra info.")
    return query_bundle


def _with_keys(keys: list[str], details: dict[str, Any]) -> list[str]:
    return [*keys, *(key for key in details if key not in keys)]
