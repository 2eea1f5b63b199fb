"""The long-document protocols as ``crossrank eval --long`` runs them: texts and report settings."""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Any

from crossrank.evaluation.long_corpus import build_long_corpus, build_on_topic_corpus

if TYPE_CHECKING:
    from crossrank.evaluation.beir import BeirDataset
    from crossrank.reranker import Reranker

__all__ = ["long_documents", "on_topic_documents"]


def _protocol_inputs(dataset: BeirDataset, reranker: Reranker) -> tuple[dict[str, str], Any, set[str]]:
    """What both long protocols start from: the texts, the model's token counter, the judged ids.

    Every document judged relevant in the split is kept out of the fillers.
    """
    scorer = reranker.scorer
    relevant = {
        doc_id for judgements in dataset.qrels.values() for doc_id, grade in judgements.items() if grade > 0
    }
    texts = {doc_id: document.full_text for doc_id, document in dataset.corpus.items()}
    return texts, lambda batch: [len(tokens.ids) for tokens in scorer.tokenize(batch)], relevant


def long_documents(dataset: BeirDataset, reranker: Reranker) -> tuple[Any, dict[str, Any]]:
    """The long version of every document, and the protocol settings for the report.

    Args:
        dataset: The dataset whose documents are buried.
        reranker: Its model's tokenizer counts the tokens.

    Returns:
        ``(text of a document id, protocol settings)``.
    """
    scorer = reranker.scorer
    texts, count_tokens, relevant = _protocol_inputs(dataset, reranker)
    long_corpus = build_long_corpus(
        texts,
        count_tokens,
        exclude_fillers=relevant,
    )
    lengths = list(long_corpus.num_tokens.values())
    protocol = {
        "protocol": "random",
        "min_tokens": long_corpus.min_tokens,
        "seed": long_corpus.seed,
        "own_text": "last, after the fillers",
        "fillers": "other documents' title and text, drawn by random.Random(seed), never the "
        "document itself and never a document judged relevant in this split",
        "first_stage_corpus": "original: the first stage is not under test, only the reranked texts are long",
        "mean_document_tokens": statistics.fmean(lengths) if lengths else 0.0,
        "min_document_tokens": min(lengths, default=0),
        "model_max_length": scorer.max_length,
    }
    return long_corpus.text, protocol


def on_topic_documents(dataset: BeirDataset, reranker: Reranker) -> tuple[Any, dict[str, Any]]:
    """The on-topic long version of each candidate, per query, and the protocol settings.

    Args:
        dataset: The dataset whose candidates are buried.
        reranker: Its model's tokenizer counts the tokens.

    Returns:
        ``(text of a candidate as (query id, doc id, candidate ids), protocol settings)``.
    """
    scorer = reranker.scorer
    texts, count_tokens, relevant = _protocol_inputs(dataset, reranker)
    corpus = build_on_topic_corpus(
        texts,
        count_tokens,
        exclude_fillers=relevant,
    )
    protocol = {
        "protocol": "on-topic",
        "min_tokens": corpus.min_tokens,
        "seed": corpus.seed,
        "own_text": "last, after the fillers",
        "fillers": "the same query's other first-stage candidates, shuffled by "
        "random.Random(f'{seed}:{query_id}:{doc_id}'), never the document itself and never a "
        "document judged relevant in this split",
        "first_stage_corpus": "original: the first stage is not under test, only the reranked texts are long",
        "model_max_length": scorer.max_length,
    }
    return corpus.text, protocol
