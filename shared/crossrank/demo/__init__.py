"""``crossrank demo``'s sample corpus and its run: vector search in Chroma, then reranking.

Tooling: it may import the library, the library never imports it.
"""

__all__: list[str] = []
