"""The steps ``train`` and ``distill`` share: the dev split, the first stage, checks, saving."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crossrank.log import logger
from crossrank.training.data import TrainingData, split_dev
from crossrank.training.dev_evaluator import DevEvaluation
from crossrank.training.mining import build_mining_first_stage

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sentence_transformers.cross_encoder import CrossEncoder

    from crossrank.evaluation.first_stage import FirstStage
    from crossrank.training.examples import ExampleSet
    from crossrank.training.fit import FitOutcome
    from crossrank.training.mining import GuardScorer, MiningReport
    from crossrank.training.model_card import TrainingReport
    from crossrank.training.settings import TrainingSettings

__all__ = [
    "Prepared",
    "check_output_dir",
    "final_dev_metrics",
    "is_cross_encoder",
    "library_versions",
    "pair_scorer_of",
    "prepare",
    "save_model",
    "save_report",
]


@dataclass(frozen=True)
class Prepared:
    """The data of a run, split, with its first stage and dev evaluation.

    Attributes:
        train: The training queries (after the dev split and ``max_queries``).
        dev: The dev queries, or ``None``.
        dev_source: How the dev split was made, for the card.
        first_stage: The first stage over the corpus.
        evaluation: The dev evaluation, or ``None``.
    """

    train: TrainingData
    dev: TrainingData | None
    dev_source: str
    first_stage: FirstStage
    evaluation: DevEvaluation | None

    def dev_summary(self, settings: TrainingSettings) -> dict[str, Any] | None:
        """The dev split's summary and protocol for the report."""
        if self.dev is None or self.evaluation is None:
            return None
        return {
            **self.dev.summary(),
            "source": self.dev_source,
            "queries": len(self.evaluation.query_ids),
            "k": settings.dev_k,
            "first_stage": settings.first_stage,
        }


def check_output_dir(output_dir: Path, *, resume: bool) -> None:
    """Refuse to overwrite a saved model unless the run resumes in the same directory.

    Raises:
        FileExistsError: If ``output_dir`` holds files and ``resume`` is not set.
        NotADirectoryError: If ``output_dir`` is a file.
    """
    if output_dir.exists() and not output_dir.is_dir():
        raise NotADirectoryError(f"--output {str(output_dir)!r} is a file; give a directory.")
    if not resume and output_dir.is_dir() and any(output_dir.iterdir()):
        raise FileExistsError(
            f"--output {str(output_dir)!r} is not empty: choose a new directory, delete it, or pass "
            "--resume to continue the run that made it."
        )


def prepare(
    data: TrainingData,
    settings: TrainingSettings,
    *,
    dev: TrainingData | None,
    dev_fraction: float | None,
    dev_name: str | None,
    window: int,
    show_progress: bool,
) -> Prepared:
    """Split off the dev queries, sample ``max_queries``, build the first stage.

    Args:
        data: All training queries.
        settings: The run's settings.
        dev: Dev queries from their own split (wins over ``dev_fraction``).
        dev_fraction: Hold out this share of the training queries as dev (seeded).
        dev_name: Name of the dev split, for the card.
        window: The model's own window, which the dev evaluation reranks with.
        show_progress: Show indexing progress.

    Returns:
        The prepared run.

    Raises:
        ValueError: If a dev query is also a training query.
    """
    if dev is not None:
        shared = {query.query_id for query in dev.queries} & {query.query_id for query in data.queries}
        if shared:
            raise ValueError(
                f"{len(shared)} dev queries are also training queries (e.g. {sorted(shared)[:3]}); "
                "use a dev split that does not overlap the training split."
            )
        train, dev_source = data, f"split {dev_name!r}"
    elif dev_fraction is not None:
        train, dev = split_dev(data, dev_fraction, seed=settings.seed)
        dev_source = (
            f"{len(dev.queries)} of the training queries held out "
            f"(fraction {dev_fraction}, seed {settings.seed})"
        )
    else:
        train, dev_source = data, "none"
    if settings.max_queries is not None and settings.max_queries < len(train.queries):
        ids = [query.query_id for query in train.queries]
        chosen = set(random.Random(settings.seed).sample(ids, settings.max_queries))
        train = train.select([query_id for query_id in ids if query_id in chosen])
    first_stage = build_mining_first_stage(train, settings.first_stage, show_progress=show_progress, dev=dev)
    evaluation = None
    if dev is not None:
        evaluation = DevEvaluation(
            dev, first_stage, k=settings.dev_k, max_queries=settings.dev_max_queries, window=window
        )
    return Prepared(
        train=train, dev=dev, dev_source=dev_source, first_stage=first_stage, evaluation=evaluation
    )


def is_cross_encoder(model: CrossEncoder) -> bool:
    """Whether a loaded model was saved as a sequence classifier (not a plain encoder)."""
    architectures: Sequence[str] = getattr(model.config, "architectures", None) or ()
    return any(name.endswith("ForSequenceClassification") for name in architectures)


def pair_scorer_of(model: CrossEncoder, *, max_length: int | None, raw: bool) -> GuardScorer:
    """A ``(query, texts) -> scores`` function over ``model``, truncating pairs at ``max_length``.

    Args:
        model: The cross-encoder.
        max_length: Tokens per pair (``None``: the model's window).
        raw: Return logits (what distillation matches) instead of the model's activation.
    """
    import torch

    def score(query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        window = model.max_length
        if max_length is not None:
            model.max_length = max_length
        try:
            values = model.predict(
                [(query, text) for text in texts],
                batch_size=32,
                show_progress_bar=False,
                activation_fn=torch.nn.Identity() if raw else None,
            )
        finally:
            model.max_length = window
        return [float(value) for value in values]

    return score


def final_dev_metrics(
    evaluation: DevEvaluation | None, model: CrossEncoder, best_checkpoint: str | None
) -> dict[str, float] | None:
    """The saved model's dev metrics: those the trainer measured for the best checkpoint, else measured now.

    The best checkpoint was evaluated during training, and the saved model is that
    checkpoint, so evaluating it again would only repeat the work.
    """
    if evaluation is None:
        return None
    if best_checkpoint is not None:
        step = float(best_checkpoint.rsplit("-", 1)[-1])
        for record in reversed(evaluation.history):
            if record["step"] == step:
                return {key: value for key, value in record.items() if key not in ("step", "epoch")}
    return evaluation.measure(model)


def save_report(
    *,
    kind: str,
    output: Path,
    base: str,
    started_from: str,
    loss: str,
    prepared: Prepared,
    settings: TrainingSettings,
    mining: MiningReport,
    examples: ExampleSet,
    outcome: FitOutcome,
    dev_before: dict[str, float] | None,
    dev_after: dict[str, float] | None,
    command: str,
    extra: dict[str, Any],
    started: float,
) -> TrainingReport:
    """The run's report, written beside the saved model as its card (train and distill alike).

    Args:
        kind: ``"train"`` or ``"distill"``.
        output: The model directory.
        base: The starting model or the teacher.
        started_from: How the model began.
        loss: crossrank's loss name.
        prepared: The run's data and dev evaluation.
        settings: The run's settings.
        mining: The mining report.
        examples: The training rows.
        outcome: What the trainer did.
        dev_before: Dev metrics of the starting model.
        dev_after: Dev metrics of the saved model.
        command: The command line.
        extra: Kind-specific facts; a resumed run's checkpoint is added.
        started: ``time.perf_counter()`` at the run's start.

    Returns:
        The report.
    """
    from crossrank.training.fit import LOSS_NAMES
    from crossrank.training.model_card import TrainingReport, write_model_card

    extra = {**extra, "arithmetic": outcome.arithmetic}
    if outcome.resumed_from:
        extra = {**extra, "resumed_from": outcome.resumed_from}
    report = TrainingReport(
        kind=kind,
        output_dir=str(output),
        base=base,
        started_from=started_from,
        loss={"name": loss, "class": LOSS_NAMES[loss]},
        data=prepared.train.summary(),
        dev=prepared.dev_summary(settings),
        mining=mining.to_json(),
        examples={
            "rows": examples.rows,
            "pairs": examples.pairs,
            "random_fill": examples.random_fill,
            "skipped_queries": examples.skipped_queries,
        },
        settings=settings.to_json(),
        steps=outcome.steps,
        epochs=outcome.epochs,
        train_seconds=outcome.seconds,
        losses=outcome.losses,
        dev_before=dev_before,
        dev_after=dev_after,
        best_checkpoint=outcome.best_checkpoint,
        command=command,
        versions=library_versions(),
        extra=extra,
    )
    report.total_seconds = time.perf_counter() - started
    write_model_card(report, output)
    logger.info("saved %s", output)
    return report


def save_model(model: CrossEncoder, output_dir: Path, *, window: int) -> None:
    """Save ``model`` with its own reranking window (training may have truncated shorter)."""
    model.max_length = window
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(output_dir))


def library_versions() -> dict[str, str]:
    """Versions of crossrank and the libraries a model was trained with."""
    import sentence_transformers
    import torch
    import transformers

    from crossrank import __version__

    return {
        "crossrank": __version__,
        "sentence-transformers": sentence_transformers.__version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
    }
