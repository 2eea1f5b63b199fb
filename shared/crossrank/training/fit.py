"""One training run on sentence-transformers' ``CrossEncoderTrainer`` and its losses.

Checkpoints go under ``<output>/checkpoints`` (the last two and the best are kept), so
a run stopped by ``max_steps`` or an interrupt resumes from where it was; with a dev
evaluator the checkpoint with the best dev NDCG@10 is the one loaded at the end.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crossrank.log import logger
from crossrank.training.attention_dropout import attention_dropout_set
from crossrank.training.dev_evaluator import PRIMARY_METRIC
from crossrank.training.settings import TRAINING_PRECISIONS

if TYPE_CHECKING:
    from sentence_transformers.cross_encoder import CrossEncoder

    from crossrank.training.examples import ExampleSet
    from crossrank.training.settings import TrainingSettings

__all__ = ["LOSS_NAMES", "FitOutcome", "cpu_has_bf16", "fit", "latest_checkpoint", "make_loss", "use_bf16"]

LOSS_NAMES = {
    "bce": "BinaryCrossEntropyLoss",
    "mnrl": "MultipleNegativesRankingLoss",
    "lambda": "LambdaLoss",
    "mse": "MSELoss",
    "margin_mse": "MarginMSELoss",
    "listnet": "ListNetLoss",
}
"""crossrank's loss names to sentence-transformers' loss classes."""
_INSTALL_HINT = 'run `pip install "crossrank[train]"`'


@dataclass(frozen=True)
class FitOutcome:
    """What a training run did.

    Attributes:
        steps: Optimizer steps taken in all (resumed runs count the earlier steps).
        planned_steps: Steps the schedule planned.
        epochs: Epochs done.
        seconds: Wall time of this run (not of an earlier, resumed one).
        losses: ``{"step", "loss"}`` records, every logging step.
        best_checkpoint: The checkpoint the final model came from, when a dev split chose it.
        best_metric: Its dev NDCG@10.
        resumed_from: The checkpoint this run resumed, if any.
        arithmetic: ``"bf16 mixed precision"`` or ``"fp32"``: what the steps ran in.
    """

    steps: int
    planned_steps: int
    epochs: float
    seconds: float
    losses: list[dict[str, float]] = field(default_factory=list)
    best_checkpoint: str | None = None
    best_metric: float | None = None
    resumed_from: str | None = None
    arithmetic: str = "fp32"


def make_loss(name: str, model: CrossEncoder, *, negatives_per_positive: float) -> Any:
    """The sentence-transformers loss for ``name``.

    Args:
        name: A key of :data:`LOSS_NAMES`.
        model: The model being trained.
        negatives_per_positive: Ratio of negatives to positives in the data; BCE weighs
            positives by it (as sentence-transformers' reranker recipes do), so a run
            with four negatives per positive does not learn to say "no" to everything.

    Returns:
        The loss module.

    Raises:
        ValueError: For an unknown name.
    """
    import torch
    from sentence_transformers.cross_encoder import losses

    if name not in LOSS_NAMES:
        raise ValueError(f"unknown loss {name!r}; use one of {sorted(LOSS_NAMES)}.")
    if name == "bce":
        weight = torch.tensor(max(1.0, negatives_per_positive))
        return losses.BinaryCrossEntropyLoss(model, pos_weight=weight)
    if name == "lambda":
        return losses.LambdaLoss(model, mini_batch_size=16)
    if name == "listnet":
        # Lists are long (a query's every scored candidate); forward them 32 pairs at a time.
        return losses.ListNetLoss(model, mini_batch_size=32)
    loss_class = getattr(losses, LOSS_NAMES[name])
    return loss_class(model)


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX-BF16 in its flags).

    Args:
        cpuinfo: Text of ``/proc/cpuinfo`` (read when not given; other systems answer ``False``).
    """
    from crossrank.models.cpu import cpu_flags

    return bool(cpu_flags(cpuinfo) & {"avx512_bf16", "amx_bf16"})


def use_bf16(precision: str) -> bool:
    """Whether training runs in bf16 mixed precision for a ``precision`` setting.

    ``auto`` means bf16 on a CUDA GPU that supports it (no loss scaling needed) and fp32 on a
    CPU, so a CPU recipe's numbers do not change under it; ``bf16`` asks for it on a CPU too,
    where it pays on AVX512-BF16/AMX hardware (measured in docs/training.md).

    Raises:
        ValueError: For ``bf16`` on a GPU without bf16 support, or an unknown name.
    """
    import torch

    if precision not in TRAINING_PRECISIONS:
        raise ValueError(f"precision must be one of {TRAINING_PRECISIONS}, got {precision!r}.")
    on_gpu = torch.cuda.is_available()
    if precision == "fp32":
        return False
    if precision == "auto":
        return on_gpu and bool(torch.cuda.is_bf16_supported())
    if on_gpu and not torch.cuda.is_bf16_supported():
        raise ValueError(
            f"precision='bf16' but the GPU {torch.cuda.get_device_name()!r} has no bf16: "
            "use precision='fp32'."
        )
    if not on_gpu and not cpu_has_bf16():
        # Correct but emulated: say so rather than let a run be slow without a reason.
        logger.warning("precision bf16 on a CPU without AVX512-BF16 or AMX: emulated, likely slower")
    return True


def latest_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The newest ``checkpoint-<step>`` folder under ``checkpoint_dir``, or ``None``."""
    if not checkpoint_dir.is_dir():
        return None
    found = [
        (int(path.name.split("-", 1)[1]), path)
        for path in checkpoint_dir.glob("checkpoint-*")
        if path.is_dir() and path.name.split("-", 1)[1].isdigit()
    ]
    return max(found)[1] if found else None


def fit(
    model: CrossEncoder,
    examples: ExampleSet,
    loss: Any,
    settings: TrainingSettings,
    *,
    checkpoint_dir: Path,
    evaluator: Any = None,
    resume: bool = False,
    show_progress: bool = True,
    no_duplicates: bool = False,
) -> FitOutcome:
    """Train ``model`` in place with ``CrossEncoderTrainer``.

    Args:
        model: The cross-encoder; trained in place (the best checkpoint is loaded into it).
        examples: The training rows.
        loss: The loss module (:func:`make_loss`).
        settings: Epochs, steps, batch size, learning rate, warm-up, seed, evaluation steps.
        checkpoint_dir: Where checkpoints go.
        evaluator: A dev evaluator (:func:`crossrank.training.dev_evaluator.make_dev_evaluator`).
        resume: Continue from the newest checkpoint in ``checkpoint_dir``.
        show_progress: Show the trainer's progress bars.
        no_duplicates: Never put the same text twice in a batch (in-batch negatives losses).

    Returns:
        The outcome.

    Raises:
        ImportError: If the training extra is missing.
        FileNotFoundError: If ``resume`` is set and there is no checkpoint.
        FileExistsError: If ``resume`` is not set and checkpoints of another run exist.
    """
    try:
        import torch
        from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
        from sentence_transformers.training_args import BatchSamplers
    except ImportError as exc:
        raise ImportError(
            f"Training needs sentence-transformers' trainer and its extras: {_INSTALL_HINT}."
        ) from exc

    checkpoint = latest_checkpoint(checkpoint_dir)
    if resume and checkpoint is None:
        raise FileNotFoundError(
            f"nothing to resume: {str(checkpoint_dir)!r} holds no checkpoint-<step> folder. "
            "Run without --resume."
        )
    if not resume and checkpoint is not None:
        raise FileExistsError(
            f"{str(checkpoint_dir)!r} holds checkpoints of an earlier run ({checkpoint.name}): pass --resume "
            "(resume=True) to continue it, or choose a new output directory."
        )
    steps_per_epoch = max(1, math.ceil(examples.rows / settings.batch_size))
    planned = max(1, math.ceil(settings.epochs * steps_per_epoch))
    if settings.max_steps is not None:
        planned = min(planned, settings.max_steps)
    eval_every = min(settings.eval_steps or steps_per_epoch, planned)
    bf16 = use_bf16(settings.precision)
    arguments = CrossEncoderTrainingArguments(
        output_dir=str(checkpoint_dir),
        num_train_epochs=settings.epochs,
        max_steps=planned,
        per_device_train_batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        warmup_steps=int(settings.warmup_ratio * planned),
        seed=settings.seed,
        data_seed=settings.seed,
        logging_steps=max(1, min(10, planned // 20)),
        eval_strategy="steps" if evaluator is not None else "no",
        eval_steps=eval_every,
        save_strategy="steps",
        save_steps=eval_every,
        save_total_limit=2,
        load_best_model_at_end=evaluator is not None,
        metric_for_best_model=f"eval_dev_{PRIMARY_METRIC}" if evaluator is not None else None,
        greater_is_better=True,
        report_to="none",
        disable_tqdm=not show_progress,
        use_cpu=not torch.cuda.is_available(),
        bf16=bf16,
        dataloader_num_workers=0,
        batch_sampler=BatchSamplers.NO_DUPLICATES if no_duplicates else BatchSamplers.BATCH_SAMPLER,
    )
    trainer = CrossEncoderTrainer(
        model=model,
        args=arguments,
        train_dataset=examples.to_dataset(),
        loss=loss,
        evaluator=evaluator,
    )
    _log_to_crossrank_logger(trainer, planned)
    logger.info(
        "training %d steps (%d rows, batch %d, %s)%s",
        planned,
        examples.rows,
        settings.batch_size,
        type(loss).__name__,
        f", evaluating every {eval_every} steps" if evaluator is not None else "",
    )
    started = time.perf_counter()
    with attention_dropout_set(model.model, settings.attention_dropout) as changed:
        if changed:
            logger.info("attention dropout %s in %d modules", settings.attention_dropout, changed)
        trainer.train(resume_from_checkpoint=str(checkpoint) if resume and checkpoint else None)
    seconds = time.perf_counter() - started
    state = trainer.state
    losses = [
        {"step": float(record["step"]), "loss": float(record["loss"])}
        for record in state.log_history
        if "loss" in record and "step" in record
    ]
    return FitOutcome(
        steps=int(state.global_step),
        planned_steps=planned,
        epochs=float(state.epoch or 0.0),
        seconds=seconds,
        losses=losses,
        best_checkpoint=state.best_model_checkpoint,
        best_metric=float(state.best_metric) if state.best_metric is not None else None,
        resumed_from=str(checkpoint) if resume and checkpoint else None,
        arithmetic="bf16 mixed precision" if bf16 else "fp32",
    )


def _log_to_crossrank_logger(trainer: Any, planned: int) -> None:
    """Send the trainer's log records (loss, dev metrics) to the ``crossrank`` logger.

    Without progress bars transformers prints them to stdout, where the command's own
    summary goes; the logger writes them to stderr with the command's prefix instead.
    """
    from transformers import PrinterCallback, TrainerCallback

    class LogToCrossrank(TrainerCallback):  # type: ignore[misc]
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            shown = {key: value for key, value in (logs or {}).items() if key != "total_flos"}
            text = ", ".join(
                f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}"
                for key, value in shown.items()
            )
            logger.info("step %d/%d: %s", state.global_step, planned, text)

    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(LogToCrossrank())
