"""Distill a teacher reranker into a smaller student: ``crossrank distill``'s Python API.

The student is the teacher cut to ``layers`` of its transformer layers (the first ones,
or evenly spaced ones, embeddings and head kept), or any smaller cross-encoder given as
``student``. It learns the teacher's scores (logits) over each training query's
positives and mined hard negatives, with MSE on the scores or Margin-MSE on the
positive-negative margins, so that it ranks like the teacher at a fraction of the cost.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crossrank.log import logger
from crossrank.training.attention_dropout import check_attention_dropout
from crossrank.training.examples import build_examples
from crossrank.training.fit import fit, make_loss
from crossrank.training.mining import mine_hard_negatives
from crossrank.training.model_card import TrainingReport
from crossrank.training.pipeline import (
    check_output_dir,
    final_dev_metrics,
    pair_scorer_of,
    prepare,
    save_model,
    save_report,
)
from crossrank.training.settings import DISTILL_LOSSES, TrainingSettings

if TYPE_CHECKING:
    import os

    from sentence_transformers.cross_encoder import CrossEncoder

    from crossrank.training.data import TrainingData
    from crossrank.training.mining import MinedQuery

__all__ = ["choose_layers", "distill_reranker", "make_student"]


def choose_layers(total: int, keep: int, how: str = "spaced") -> list[int]:
    """The indices of the layers a student keeps.

    Args:
        total: The teacher's layers.
        keep: The student's layers.
        how: ``"first"`` (the bottom ``keep``) or ``"spaced"`` (evenly spaced from the first
            to the last, so the student has the teacher's top layer next to the head).

    Returns:
        Sorted layer indices.

    Raises:
        ValueError: If ``keep`` is not in ``1..total - 1`` or ``how`` is unknown.
    """
    if isinstance(keep, bool) or not isinstance(keep, int) or not 1 <= keep < total:
        raise ValueError(f"layers must be between 1 and {total - 1} (the teacher has {total}), got {keep!r}.")
    if how == "first":
        return list(range(keep))
    if how == "spaced":
        if keep == 1:
            return [total - 1]
        return sorted({round(index * (total - 1) / (keep - 1)) for index in range(keep)})
    raise ValueError(f"layer choice must be 'first' or 'spaced', got {how!r}.")


def _num_layers(model: CrossEncoder) -> int:
    config: Any = model.config
    return int(config.num_hidden_layers)


def _layer_list(model: CrossEncoder) -> Any:
    """The transformer's list of layers (``encoder.layer`` in BERT-like models)."""
    import torch

    total = _num_layers(model)
    network: Any = model.model
    for _, module in network.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == total:
            return module
    raise ValueError(
        f"could not find the {total} transformer layers of {type(model.model).__name__}; pass a smaller "
        "model as student= (--student) instead of layers= (--layers)."
    )


def make_student(teacher: CrossEncoder, layers: int, how: str = "spaced") -> tuple[CrossEncoder, list[int]]:
    """A copy of ``teacher`` that keeps ``layers`` of its transformer layers.

    Args:
        teacher: The teacher (left unchanged).
        layers: How many layers the student keeps.
        how: ``"first"`` or ``"spaced"`` (:func:`choose_layers`).

    Returns:
        The student and the teacher layers it kept.
    """
    import torch

    student = copy.deepcopy(teacher)
    kept = choose_layers(_num_layers(teacher), layers, how)
    layer_list = _layer_list(student)
    modules = [layer_list[index] for index in kept]
    # Replace the list in place so every reference to it (the encoder's) sees the cut.
    for index in range(len(layer_list) - 1, -1, -1):
        del layer_list[index]
    layer_list.extend(torch.nn.ModuleList(modules))
    config: Any = student.config
    config.num_hidden_layers = len(kept)
    for position, layer in enumerate(modules):
        attention = getattr(layer, "attention", None)
        inner = getattr(attention, "self", None)
        if inner is not None and hasattr(inner, "layer_idx"):
            inner.layer_idx = position  # caches index layers by position
    return student, kept


def _teacher_scores(
    teacher: CrossEncoder, mined: list[MinedQuery], max_length: int | None, show_progress: bool
) -> dict[tuple[str, str], float]:
    score = pair_scorer_of(teacher, max_length=max_length, raw=True)
    scores: dict[tuple[str, str], float] = {}
    items: Any = mined
    if show_progress:
        from tqdm.auto import tqdm

        # On a CPU this is minutes (every positive and mined negative, one teacher pass each).
        items = tqdm(mined, desc="Teacher scoring", unit="query")
    for item in items:
        judgements = item.query.judgements + item.mined
        for judgement, value in zip(
            judgements, score(item.query.text, [j.text for j in judgements]), strict=True
        ):
            scores[(item.query.query_id, judgement.document_id)] = value
    return scores


def distill_reranker(
    data: TrainingData,
    *,
    teacher: str,
    output_dir: str | os.PathLike[str],
    layers: int | None = None,
    layer_choice: str = "spaced",
    student: str | None = None,
    loss: str = "mse",
    settings: TrainingSettings | None = None,
    dev: TrainingData | None = None,
    dev_fraction: float | None = 0.1,
    dev_name: str | None = None,
    resume: bool = False,
    device: str | None = None,
    show_progress: bool = True,
    command: str = "",
) -> TrainingReport:
    """Distill ``teacher`` into a student with ``layers`` layers (or into ``student``).

    Args:
        data: The training queries; the teacher scores their positives and mined negatives.
        teacher: The teacher cross-encoder: a path or a hub id.
        output_dir: Where the student, its card and the checkpoints go.
        layers: Layers the student keeps of the teacher's.
        layer_choice: ``"spaced"`` (default) or ``"first"``.
        student: A smaller cross-encoder to train instead of cutting the teacher.
        loss: ``"mse"`` on the teacher's logits (default), ``"margin_mse"``, or ``"listnet"``
            (each query's list of scored candidates against the teacher's ordering of it).
        settings: Mining, schedule and evaluation settings.
        dev: Dev queries of their own split; wins over ``dev_fraction``.
        dev_fraction: Hold out this share of the training queries for evaluation.
        dev_name: The dev split's name, for the card.
        resume: Continue the run whose checkpoints are in ``output_dir``.
        device: Device to train on.
        show_progress: Show progress bars.
        command: The command line, for the card.

    Returns:
        The run's report; ``extra`` holds the student's layers and the teacher's dev metrics.

    Raises:
        ValueError: If neither or both of ``layers`` and ``student`` are given, or the loss is unknown.
    """
    from transformers import set_seed

    from crossrank.models.loading import load_cross_encoder

    started = time.perf_counter()
    if (layers is None) == (student is None):
        raise ValueError("give exactly one of layers= (--layers N) and student= (--student MODEL).")
    if loss not in DISTILL_LOSSES:
        raise ValueError(f"loss must be one of {DISTILL_LOSSES}, got {loss!r}.")
    settings = settings or TrainingSettings()
    output = Path(output_dir)
    check_output_dir(output, resume=resume)
    set_seed(settings.seed)
    teacher_model = load_cross_encoder(teacher, device=device)
    if student is not None:
        student_model = load_cross_encoder(student, device=device, cross_encoder_kwargs={"num_labels": 1})
        student_model.activation_fn = teacher_model.activation_fn
        described = f"the given student {student!r}"
        kept: list[int] = []
    else:
        assert layers is not None
        student_model, kept = make_student(teacher_model, layers, layer_choice)
        total = _num_layers(teacher_model)
        described = f"{len(kept)} of the teacher's {total} layers ({layer_choice}: {kept})"
    check_attention_dropout(student_model.model, settings.attention_dropout)
    window = int(student_model.max_length)
    prepared = prepare(
        data,
        settings,
        dev=dev,
        dev_fraction=dev_fraction,
        dev_name=dev_name,
        window=window,
        show_progress=show_progress,
    )
    guard = pair_scorer_of(teacher_model, max_length=settings.max_length, raw=False)
    logger.info("mining negatives for %d queries with %s", len(prepared.train.queries), settings.first_stage)
    mined, mining = mine_hard_negatives(
        prepared.train, prepared.first_stage, settings, guard=guard, show_progress=show_progress
    )
    logger.info("%s", mining.describe())
    logger.info("scoring the training pairs with the teacher %s", teacher)
    teacher_scores = _teacher_scores(teacher_model, mined, settings.max_length, show_progress)
    examples = build_examples(
        loss,
        mined,
        prepared.train,
        negatives=settings.negatives,
        seed=settings.seed,
        teacher_scores=teacher_scores,
    )
    evaluator = None
    dev_before = teacher_dev = None
    if prepared.evaluation is not None:
        from crossrank.training.dev_evaluator import make_dev_evaluator

        logger.info("measuring teacher and student on %d dev queries", len(prepared.evaluation.query_ids))
        teacher_dev = prepared.evaluation.measure(teacher_model)
        dev_before = prepared.evaluation.measure(student_model)
        logger.info(
            "dev NDCG@10: teacher %.4f, student before training %.4f",
            teacher_dev["ndcg@10"],
            dev_before["ndcg@10"],
        )
        evaluator = make_dev_evaluator(prepared.evaluation)
    del teacher_model  # the student trains alone; free the teacher's memory
    if settings.max_length is not None:
        student_model.max_length = settings.max_length
    outcome = fit(
        student_model,
        examples,
        make_loss(loss, student_model, negatives_per_positive=1.0),
        settings,
        checkpoint_dir=output / "checkpoints",
        evaluator=evaluator,
        resume=resume,
        show_progress=show_progress,
    )
    save_model(student_model, output, window=window)
    dev_after = final_dev_metrics(prepared.evaluation, student_model, outcome.best_checkpoint)
    extra: dict[str, Any] = {"student": described, "teacher_dev": teacher_dev}
    return save_report(
        kind="distill",
        output=output,
        base=teacher,
        started_from=described,
        loss=loss,
        prepared=prepared,
        settings=settings,
        mining=mining,
        examples=examples,
        outcome=outcome,
        dev_before=dev_before,
        dev_after=dev_after,
        command=command,
        extra=extra,
        started=started,
    )
