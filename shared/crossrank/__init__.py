"""crossrank's framework-free scoring core.

Cross-encoder reranking with chunk-max windows for long documents and optional
Reciprocal Rank Fusion with the retriever's ranking. Importing this package does
not import torch or sentence-transformers; they load when a model is first used.

Example:
    >>> from crossrank import Reranker
    >>> reranker = Reranker("path/to/cross-encoder", top_n=2)
    >>> for result in reranker.rerank("query", ["a", "b", "c"]):  # doctest: +SKIP
    ...     print(result.index, result.score)
"""

from crossrank.errors import CrossrankError, ModelLoadError, OnnxExportError, ScoringError
from crossrank.models.backends import Backend, Precision
from crossrank.models.loading import DEFAULT_MODEL, MODEL_ENV_VAR
from crossrank.profiles import Profile, ProfileMismatchWarning, read_profile
from crossrank.ranking.fusion import reciprocal_rank_fusion
from crossrank.ranking.score_cache import CacheInfo
from crossrank.reranker import Fusion, LongDocuments, Normalize, Reranker
from crossrank.results import RerankResult
from crossrank.scorer import PairScorer, TokenizedText

__all__ = [
    "DEFAULT_MODEL",
    "MODEL_ENV_VAR",
    "Backend",
    "CacheInfo",
    "CrossrankError",
    "Fusion",
    "LongDocuments",
    "ModelLoadError",
    "Normalize",
    "OnnxExportError",
    "PairScorer",
    "Precision",
    "Profile",
    "ProfileMismatchWarning",
    "RerankResult",
    "Reranker",
    "ScoringError",
    "TokenizedText",
    "__version__",
    "read_profile",
    "reciprocal_rank_fusion",
]

__version__ = "0.1.0"
