"""The core package's public surface is explicit and stable."""

import shared


def test_shared_all_is_pinned() -> None:
    assert sorted(shared.__all__) == sorted(
        [
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
    )
    for name in shared.__all__:
        assert hasattr(shared, name), name
