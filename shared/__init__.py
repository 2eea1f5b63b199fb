"""crossrank's framework-free scoring core.

Cross-encoder reranking with chunk-max windows for long documents and optional
Reciprocal Rank Fusion with the retriever's ranking. Importing this package does
not import torch or sentence-transformers; they load when a model is first used.

Example:
    >>> from shared import Reranker
    >>> reranker = Reranker("path/to/cross-encoder", top_n=2)
    >>> for result in reranker.rerank("query", ["a", "b", "c"]):  # doctest: +SKIP
    ...     print(result.index, result.score)
"""

from shared.backends import Backend, Precision
from shared.fusion import reciprocal_rank_fusion
from shared.loading import DEFAULT_MODEL, MODEL_ENV_VAR, ModelLoadError
from shared.reranker import Fusion, LongDocuments, Normalize, Reranker
from shared.results import RerankResult
from shared.score_cache import CacheInfo
from shared.scorer import PairScorer, TokenizedText

__all__ = [
    "DEFAULT_MODEL",
    "MODEL_ENV_VAR",
    "Backend",
    "CacheInfo",
    "Fusion",
    "LongDocuments",
    "ModelLoadError",
    "Normalize",
    "PairScorer",
    "Precision",
    "RerankResult",
    "Reranker",
    "TokenizedText",
    "__version__",
    "reciprocal_rank_fusion",
]

__version__ = "0.1.0"
