"""Evaluation during training with crossrank's own evaluator.

The dev queries' candidates come from the first stage once; at every evaluation the
model being trained reranks them through a :class:`crossrank.Reranker` (chunk-max, and
chunk-max fused with the first stage by RRF) and :func:`crossrank.evaluation.evaluator.evaluate`
scores NDCG@10 against the dev qrels: the metric the model is selected by is the one
``crossrank eval`` reports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crossrank.evaluation.evaluator import evaluate, select_query_ids
from crossrank.evaluation.first_stage import Candidate

if TYPE_CHECKING:
    from sentence_transformers.cross_encoder import CrossEncoder

    from crossrank.evaluation.first_stage import FirstStage
    from crossrank.training.data import TrainingData

__all__ = [
    "PRIMARY_METRIC",
    "DevEvaluation",
    "FrozenFirstStage",
    "base_evaluator_class",
    "make_dev_evaluator",
]

PRIMARY_METRIC = "ndcg@10"


class FrozenFirstStage:
    """A first stage whose results for a fixed set of queries were computed once.

    Args:
        first_stage: The retriever.
        queries: The query texts to search for.
        k: Candidates per query.
    """

    def __init__(self, first_stage: FirstStage, queries: list[str], k: int) -> None:
        self._name = first_stage.name
        self._k = k
        self._results = {query: first_stage.search(query, k) for query in queries}

    @property
    def name(self) -> str:
        """The wrapped first stage's name."""
        return self._name

    def search(self, query: str, k: int) -> list[Candidate]:
        """The stored candidates of ``query``.

        Raises:
            KeyError: For a query that was not searched up front, or a larger ``k``.
        """
        if query not in self._results or k > self._k:
            raise KeyError(f"the dev first stage holds the top {self._k} of its own queries only.")
        return self._results[query][:k]


class DevEvaluation:
    """NDCG@10 of reranking a dev split's first-stage candidates (callable like an ST evaluator).

    Args:
        dev: The dev queries and their judgements (documents from the training corpus).
        first_stage: The retriever over the corpus.
        k: Candidates per dev query.
        max_queries: Evaluate at most this many queries (the first by id).
        window: Tokens per window when reranking: the model's own window, so the dev
            metric is that of the saved model even while training truncates shorter.
        batch_size: Pairs per forward pass.
    """

    def __init__(
        self,
        dev: TrainingData,
        first_stage: FirstStage,
        *,
        k: int,
        max_queries: int | None,
        window: int,
        batch_size: int = 32,
    ) -> None:
        self.dataset = dev.to_beir("dev")
        self.query_ids = select_query_ids(self.dataset, max_queries)
        self.k = k
        self.window = window
        self.batch_size = batch_size
        queries = [self.dataset.queries[query_id] for query_id in self.query_ids]
        self.first_stage = FrozenFirstStage(first_stage, queries, k)
        self.history: list[dict[str, float]] = []

    def measure(self, model: CrossEncoder) -> dict[str, float]:
        """Rerank the dev candidates with ``model`` (in eval mode, its training mode restored).

        Returns:
            ``ndcg@10`` (chunk-max alone), ``ndcg@10_rrf`` (chunk-max + RRF),
            ``first_stage_ndcg@10``, ``mrr@10`` and ``recall@10`` (chunk-max).
        """
        from crossrank.reranker import Reranker

        was_training = model.training
        trained_window = model.max_length
        model.eval()
        model.max_length = self.window
        try:
            reranker = Reranker(model, backend="torch", batch_size=self.batch_size, score_cache_size=0)
            report = evaluate(
                self.dataset,
                self.first_stage,
                reranker,
                k=self.k,
                query_ids=self.query_ids,
                split="dev",
                reuse_scores=True,
            )
        finally:
            model.max_length = trained_window
            model.train(was_training)
        chunk_max = report.metrics["chunk_max"]
        return {
            PRIMARY_METRIC: chunk_max["ndcg_at_10"],
            "ndcg@10_rrf": report.metrics["chunk_max_rrf"]["ndcg_at_10"],
            "first_stage_ndcg@10": report.metrics["first_stage"]["ndcg_at_10"],
            "mrr@10": chunk_max["mrr_at_10"],
            "recall@10": chunk_max["recall_at_10"],
        }


def base_evaluator_class() -> type[Any]:
    """sentence-transformers' evaluator base (``BaseEvaluator`` in 6.x, ``SentenceEvaluator`` in 5.x)."""
    import importlib

    try:
        module = importlib.import_module("sentence_transformers.base.evaluation")
        evaluator_class: type[Any] = module.BaseEvaluator
    except (ImportError, AttributeError):  # sentence-transformers 5
        module = importlib.import_module("sentence_transformers.evaluation")
        evaluator_class = module.SentenceEvaluator
    return evaluator_class


def make_dev_evaluator(evaluation: DevEvaluation, *, name: str = "dev") -> Any:
    """An evaluator ``CrossEncoderTrainer`` calls at each evaluation step.

    Its metrics are prefixed ``dev_`` (``eval_dev_ndcg@10`` in the trainer's logs) and
    ``dev_ndcg@10`` is the primary metric, which selects the best checkpoint. Each call
    is appended to ``evaluation.history`` with its step.

    Args:
        evaluation: What to measure.
        name: The metric prefix.

    Returns:
        The evaluator.
    """
    base = base_evaluator_class()

    class CrossrankDevEvaluator(base):  # type: ignore[misc, valid-type]
        """NDCG@10 of crossrank's reranking of the dev split's candidates."""

        def __init__(self) -> None:
            super().__init__()
            self.name = name
            self.primary_metric = PRIMARY_METRIC
            self.greater_is_better = True

        def __call__(
            self, model: CrossEncoder, output_path: str | None = None, epoch: float = -1, steps: int = -1
        ) -> dict[str, float]:
            metrics = evaluation.measure(model)
            evaluation.history.append({"step": float(steps), "epoch": float(epoch), **metrics})
            return dict(self.prefix_name_to_metrics(metrics, self.name))

    return CrossrankDevEvaluator()
