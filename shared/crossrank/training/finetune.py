"""Fine-tune a reranker: ``crossrank train``'s Python API.

Start from any cross-encoder (a path or a hub id) or from a plain encoder such as the
all-MiniLM-L6-v2 weights (sentence-transformers gives it a new one-logit head), mine
hard negatives with a first stage, train with BCE, MNRL or LambdaLoss on
``CrossEncoderTrainer``, keep the checkpoint with the best dev NDCG@10 and save a
directory every crossrank entry point and ``CrossEncoder(path)`` loads.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from crossrank.log import logger
from crossrank.training.attention_dropout import check_attention_dropout
from crossrank.training.examples import build_examples
from crossrank.training.fit import fit, make_loss
from crossrank.training.mining import mine_hard_negatives
from crossrank.training.model_card import TrainingReport
from crossrank.training.pipeline import (
    check_output_dir,
    final_dev_metrics,
    is_cross_encoder,
    pair_scorer_of,
    prepare,
    save_model,
    save_report,
)
from crossrank.training.settings import TRAIN_LOSSES, TrainingSettings

if TYPE_CHECKING:
    import os

    from crossrank.training.data import TrainingData

__all__ = ["train_reranker"]


def train_reranker(
    data: TrainingData,
    *,
    base: str,
    output_dir: str | os.PathLike[str],
    loss: str = "bce",
    settings: TrainingSettings | None = None,
    dev: TrainingData | None = None,
    dev_fraction: float | None = 0.1,
    dev_name: str | None = None,
    resume: bool = False,
    device: str | None = None,
    show_progress: bool = True,
    command: str = "",
) -> TrainingReport:
    """Fine-tune ``base`` on ``data`` and save the model to ``output_dir``.

    Args:
        data: The training queries (:func:`crossrank.training.load_training_data`).
        base: A cross-encoder or a plain encoder: a local path or a hub id.
        output_dir: Where the model, its card and the checkpoints go (must be new or
            empty unless ``resume``).
        loss: ``"bce"`` (default), ``"mnrl"`` or ``"lambda"``.
        settings: Mining, schedule and evaluation settings (defaults: :class:`TrainingSettings`).
        dev: Dev queries of their own split; wins over ``dev_fraction``.
        dev_fraction: Hold out this share of the training queries for evaluation during
            training; ``None`` (and no ``dev``) trains without evaluation.
        dev_name: The dev split's name, for the card.
        resume: Continue the run whose checkpoints are in ``output_dir``.
        device: Device to train on (default: CUDA when available, else CPU).
        show_progress: Show progress bars.
        command: The command line, for the card.

    Returns:
        The run's report (also saved as ``training_report.json`` beside the model).

    Raises:
        ValueError: For an unknown loss, or a false-negative guard on a plain encoder.
        FileExistsError: If ``output_dir`` is not empty and ``resume`` is not set.
        ModelLoadError: If ``base`` does not load.
    """
    from transformers import set_seed

    from crossrank.models.loading import load_cross_encoder

    started = time.perf_counter()
    if loss not in TRAIN_LOSSES:
        raise ValueError(f"loss must be one of {TRAIN_LOSSES}, got {loss!r}.")
    settings = settings or TrainingSettings()
    output = Path(output_dir)
    check_output_dir(output, resume=resume)
    set_seed(settings.seed)  # before loading: a new head's initial weights come from this seed
    model = load_cross_encoder(base, device=device, cross_encoder_kwargs={"num_labels": 1})
    check_attention_dropout(model.model, settings.attention_dropout)
    from_cross_encoder = is_cross_encoder(model)
    if settings.false_negative_margin is not None and not from_cross_encoder:
        raise ValueError(
            f"false_negative_margin needs a trained cross-encoder to score candidates, but {base!r} is a "
            "plain encoder (its one-logit head is new); unset it, or raise negatives_from_rank instead."
        )
    window = int(model.max_length)
    prepared = prepare(
        data,
        settings,
        dev=dev,
        dev_fraction=dev_fraction,
        dev_name=dev_name,
        window=window,
        show_progress=show_progress,
    )
    guard = pair_scorer_of(model, max_length=settings.max_length, raw=False) if from_cross_encoder else None
    logger.info("mining negatives for %d queries with %s", len(prepared.train.queries), settings.first_stage)
    mined, mining = mine_hard_negatives(
        prepared.train, prepared.first_stage, settings, guard=guard, show_progress=show_progress
    )
    logger.info("%s", mining.describe())
    examples = build_examples(loss, mined, prepared.train, negatives=settings.negatives, seed=settings.seed)
    evaluator = None
    dev_before = None
    if prepared.evaluation is not None:
        from crossrank.training.dev_evaluator import make_dev_evaluator

        logger.info("measuring %s on %d dev queries", base, len(prepared.evaluation.query_ids))
        dev_before = prepared.evaluation.measure(model)
        logger.info("dev before training: %s", _metrics_line(dev_before))
        evaluator = make_dev_evaluator(prepared.evaluation)
    negatives = sum(len(item.negatives) for item in mined)
    positives = sum(len(item.query.positives) for item in mined)
    if settings.max_length is not None:
        model.max_length = settings.max_length
    outcome = fit(
        model,
        examples,
        make_loss(loss, model, negatives_per_positive=negatives / max(1, positives)),
        settings,
        checkpoint_dir=output / "checkpoints",
        evaluator=evaluator,
        resume=resume,
        show_progress=show_progress,
        no_duplicates=loss == "mnrl",
    )
    save_model(model, output, window=window)
    dev_after = final_dev_metrics(prepared.evaluation, model, outcome.best_checkpoint)
    return save_report(
        kind="train",
        output=output,
        base=base,
        started_from="cross-encoder" if from_cross_encoder else "encoder with a new one-logit head",
        loss=loss,
        prepared=prepared,
        settings=settings,
        mining=mining,
        examples=examples,
        outcome=outcome,
        dev_before=dev_before,
        dev_after=dev_after,
        command=command,
        extra={},
        started=started,
    )


def _metrics_line(metrics: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.4f}" for name, value in metrics.items())
