"""LlamaIndex adapter: crossrank's cross-encoder reranker as a node postprocessor.

Example:
    >>> from llama_index.postprocessor.crossrank import CrossEncoderRerank
    >>> rerank = CrossEncoderRerank(model="path/to/cross-encoder", top_n=3)
    >>> engine = index.as_query_engine(node_postprocessors=[rerank])  # doctest: +SKIP
"""

from llama_index.postprocessor.crossrank.base import CrossEncoderRerank

__all__ = ["CrossEncoderRerank"]
