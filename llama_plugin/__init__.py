"""LlamaIndex adapter: crossrank's cross-encoder reranker as a node postprocessor.

Example:
    >>> from llama_plugin import CrossEncoderRerank
    >>> rerank = CrossEncoderRerank(model="path/to/cross-encoder", top_n=3)
    >>> engine = index.as_query_engine(node_postprocessors=[rerank])  # doctest: +SKIP
"""

from llama_plugin.rerank import CrossEncoderRerank

__all__ = ["CrossEncoderRerank"]
