"""Each package's public surface is explicit and stable."""

import crossrank


def test_crossrank_all_is_pinned() -> None:
    assert sorted(crossrank.__all__) == sorted(
        [
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
    )
    for name in crossrank.__all__:
        assert hasattr(crossrank, name), name
