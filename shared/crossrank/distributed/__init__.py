"""Scale-out on Ray: batch reranking with Ray Data, serving replicas with Ray Serve.

:func:`rerank_dataset` and :func:`rerank_file` rerank rows on a Ray Data actor pool (one
model per actor); :func:`serve_on_ray` deploys the ``crossrank serve`` HTTP app as a Ray
Serve deployment. Ray is imported only when they run: ``pip install "crossrank[ray]"``.
"""

from __future__ import annotations

from crossrank.distributed.batch import BatchSummary, rerank_dataset, rerank_file
from crossrank.distributed.rows import RowError

__all__ = ["BatchSummary", "RowError", "rerank_dataset", "rerank_file"]
