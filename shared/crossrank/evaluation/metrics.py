"""Information-retrieval metrics over ranked lists of document ids.

Definitions follow trec_eval as used by BEIR (through pytrec_eval):

* A document is *relevant* when its graded relevance is greater than 0.
  Documents missing from the relevance judgements count as relevance 0.
* NDCG@k uses **linear gain** (gain = relevance grade, not ``2**rel - 1``) and
  the discount ``1 / log2(rank + 1)`` for 1-based ranks. The ideal DCG comes
  from sorting all positive judged grades in decreasing order and cutting at k.
* A query with no relevant documents scores 0.0 on every metric (the metrics
  are undefined there; 0.0 keeps means comparable across systems).

Conventions shared by every function:

* The order of ``ranked_ids`` is authoritative: the caller has already sorted
  by score and broken ties, and these functions never reorder.
* If an id occurs more than once in ``ranked_ids``, only its first occurrence
  counts; later occurrences are dropped before cutting at k, so they neither
  earn gain twice nor take a rank position.
* ``k`` larger than the ranking is allowed: the whole ranking is used, and the
  ideal ordering is still cut at ``k``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

__all__ = [
    "evaluate_run",
    "metric_names",
    "mrr_at_k",
    "ndcg_at_k",
    "per_query_metrics",
    "recall_at_k",
    "top_k_agreement",
]


def _check_k(k: int) -> None:
    """Raise ``ValueError`` unless ``k`` is a positive integer."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")


def _top_k(ranked_ids: Sequence[str], k: int) -> list[str]:
    """Return the first ``k`` distinct ids of ``ranked_ids``, in order."""
    _check_k(k)
    if isinstance(ranked_ids, str):
        raise TypeError(
            "ranked_ids must be a sequence of document ids, got the single string "
            f"{ranked_ids!r}. Wrap it in a list: [{ranked_ids!r}]."
        )
    seen: set[str] = set()
    top: list[str] = []
    for doc_id in ranked_ids:
        if doc_id in seen:
            continue
        seen.add(doc_id)
        top.append(doc_id)
        if len(top) == k:
            break
    return top


def _num_relevant(relevance: Mapping[str, int]) -> int:
    """Count the documents with a positive relevance grade."""
    return sum(1 for grade in relevance.values() if grade > 0)


def ndcg_at_k(ranked_ids: Sequence[str], relevance: Mapping[str, int], k: int = 10) -> float:
    """Normalised discounted cumulative gain at cut-off ``k``.

    ``DCG@k = sum(rel_i / log2(i + 1))`` over ranks ``i = 1..k`` with linear
    gain ``rel_i`` (the trec_eval / BEIR definition; grades <= 0 give no gain).
    ``IDCG@k`` is the same sum over all positive judged grades sorted in
    decreasing order. The result is ``DCG@k / IDCG@k``.

    Args:
        ranked_ids: Document ids, best first. Only the first occurrence of a
            repeated id counts.
        relevance: Document id to graded relevance for this query; unjudged
            documents count as 0.
        k: The cut-off rank, at least 1.

    Returns:
        NDCG@k in ``[0, 1]``; 0.0 when the query has no relevant documents.

    Raises:
        ValueError: If ``k`` is not a positive integer.
        TypeError: If ``ranked_ids`` is a single string.
    """
    top = _top_k(ranked_ids, k)
    ideal = sorted((grade for grade in relevance.values() if grade > 0), reverse=True)
    if not ideal:
        return 0.0
    idcg = sum(grade / math.log2(rank + 1) for rank, grade in enumerate(ideal[:k], 1))
    dcg = 0.0
    for rank, doc_id in enumerate(top, start=1):
        grade = relevance.get(doc_id, 0)
        if grade > 0:
            dcg += grade / math.log2(rank + 1)
    return dcg / idcg


def recall_at_k(ranked_ids: Sequence[str], relevance: Mapping[str, int], k: int = 10) -> float:
    """Fraction of the relevant documents (grade > 0) found in the top ``k``.

    Args:
        ranked_ids: Document ids, best first. Only the first occurrence of a
            repeated id counts.
        relevance: Document id to graded relevance for this query.
        k: The cut-off rank, at least 1.

    Returns:
        Recall@k in ``[0, 1]``; 0.0 when the query has no relevant documents.

    Raises:
        ValueError: If ``k`` is not a positive integer.
        TypeError: If ``ranked_ids`` is a single string.
    """
    top = _top_k(ranked_ids, k)
    total = _num_relevant(relevance)
    if total == 0:
        return 0.0
    found = sum(1 for doc_id in top if relevance.get(doc_id, 0) > 0)
    return found / total


def mrr_at_k(ranked_ids: Sequence[str], relevance: Mapping[str, int], k: int = 10) -> float:
    """Reciprocal rank of the first relevant document (grade > 0) in the top ``k``.

    Args:
        ranked_ids: Document ids, best first. Only the first occurrence of a
            repeated id counts.
        relevance: Document id to graded relevance for this query.
        k: The cut-off rank, at least 1.

    Returns:
        ``1 / rank`` of the first relevant document, or 0.0 when none is in the
        top ``k`` (including when the query has no relevant documents).

    Raises:
        ValueError: If ``k`` is not a positive integer.
        TypeError: If ``ranked_ids`` is a single string.
    """
    for rank, doc_id in enumerate(_top_k(ranked_ids, k), start=1):
        if relevance.get(doc_id, 0) > 0:
            return 1.0 / rank
    return 0.0


def top_k_agreement(
    reference: Sequence[str], candidate: Sequence[str], *, reference_k: int = 10, candidate_k: int = 30
) -> float:
    """Share of ``reference``'s top ``reference_k`` that ``candidate`` keeps in its top ``candidate_k``.

    What a cascade needs from its cheap stage: if a student keeps the teacher's top 10
    within its own top 30, the teacher rescoring those 30 gives the teacher's top 10.

    Args:
        reference: The reference ranking (the teacher's), best first.
        candidate: The ranking to check (the student's), best first.
        reference_k: How deep the reference is read.
        candidate_k: How deep the candidate may keep them.

    Returns:
        A share in 0..1; 1.0 when the reference is empty.
    """
    wanted = _top_k(reference, reference_k)
    if not wanted:
        return 1.0
    kept = set(_top_k(candidate, candidate_k))
    return sum(1 for doc_id in wanted if doc_id in kept) / len(wanted)


def metric_names(k: int = 10) -> tuple[str, str, str]:
    """Return the metric keys produced for cut-off ``k``.

    Args:
        k: The cut-off rank, at least 1.

    Returns:
        ``("ndcg_at_{k}", "recall_at_{k}", "mrr_at_{k}")``.

    Raises:
        ValueError: If ``k`` is not a positive integer.
    """
    _check_k(k)
    return (f"ndcg_at_{k}", f"recall_at_{k}", f"mrr_at_{k}")


def per_query_metrics(
    run: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    k: int = 10,
) -> dict[str, dict[str, float]]:
    """NDCG@k, Recall@k and MRR@k for every query in ``qrels``.

    Queries are taken from ``qrels``: a query missing from ``run`` is scored as
    an empty ranking (all metrics 0.0), and queries in ``run`` that ``qrels``
    does not judge are ignored.

    Args:
        run: Query id to ranked document ids, best first.
        qrels: Query id to (document id to graded relevance).
        k: The cut-off rank, at least 1.

    Returns:
        Query id to ``{"ndcg_at_{k}": ..., "recall_at_{k}": ..., "mrr_at_{k}": ...}``,
        in the order of ``qrels``.

    Raises:
        ValueError: If ``k`` is not a positive integer.
        TypeError: If a ranking in ``run`` is a single string.
    """
    ndcg_key, recall_key, mrr_key = metric_names(k)
    results: dict[str, dict[str, float]] = {}
    for query_id, relevance in qrels.items():
        ranked = run.get(query_id, ())
        results[query_id] = {
            ndcg_key: ndcg_at_k(ranked, relevance, k),
            recall_key: recall_at_k(ranked, relevance, k),
            mrr_key: mrr_at_k(ranked, relevance, k),
        }
    return results


def evaluate_run(
    run: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    k: int = 10,
) -> dict[str, float]:
    """Mean NDCG@k, Recall@k and MRR@k over the queries in ``qrels``.

    Every query in ``qrels`` counts once, as in :func:`per_query_metrics`: a
    query missing from ``run`` contributes 0.0, and so does a query whose
    judgements are all non-relevant.

    Args:
        run: Query id to ranked document ids, best first.
        qrels: Query id to (document id to graded relevance).
        k: The cut-off rank, at least 1.

    Returns:
        ``{"ndcg_at_{k}": mean, "recall_at_{k}": mean, "mrr_at_{k}": mean}``.

    Raises:
        ValueError: If ``k`` is not a positive integer or ``qrels`` is empty.
        TypeError: If a ranking in ``run`` is a single string.
    """
    names = metric_names(k)
    if not qrels:
        raise ValueError(
            "qrels is empty, so there are no queries to average over. Pass the "
            "judgements of at least one query (e.g. BeirDataset.qrels)."
        )
    per_query = per_query_metrics(run, qrels, k)
    count = len(per_query)
    return {name: math.fsum(scores[name] for scores in per_query.values()) / count for name in names}
