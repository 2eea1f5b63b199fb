"""The options of ``crossrank train`` and ``crossrank distill``, declared once.

:class:`TrainingSettings` is what the Python API takes; the CLI builds one flag per field
from the same declarations (:data:`TRAINING_FLAGS`), so a default or a help text lives
in one place.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from crossrank.evaluation.first_stage import RUN_PREFIX

__all__ = [
    "DISTILL_LOSSES",
    "FIRST_STAGES",
    "TRAINING_FLAGS",
    "TRAINING_PRECISIONS",
    "TRAIN_LOSSES",
    "DistillLoss",
    "FirstStageName",
    "TrainLoss",
    "TrainingPrecision",
    "TrainingSettings",
]

TrainLoss = Literal["bce", "mnrl", "lambda"]
TrainingPrecision = Literal["auto", "fp32", "bf16"]
DistillLoss = Literal["mse", "margin_mse", "listnet"]
FirstStageName = str
"""``"bm25"``, ``"dense"`` or ``"run:PATH"`` (a TREC run recorded by ``crossrank retrieve``)."""
TRAIN_LOSSES: tuple[str, ...] = ("bce", "mnrl", "lambda")
DISTILL_LOSSES: tuple[str, ...] = ("mse", "margin_mse", "listnet")
FIRST_STAGES: tuple[str, ...] = ("bm25", "dense")
TRAINING_PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16")


def _doc(text: str, **extra: Any) -> Any:
    return field(metadata={"doc": text, **extra})


@dataclass(frozen=True)
class TrainingSettings:
    """How a reranker is fine-tuned or distilled; every field has a CPU-friendly default.

    Raises:
        ValueError: From the constructor, naming the field, the value and what is allowed.
    """

    first_stage: FirstStageName = field(
        default="bm25",
        metadata={
            "doc": "first stage that mines hard negatives and gives the dev split its candidates "
            "(bm25: bm25s in memory; dense: all-MiniLM-L6-v2 in an embedded Chroma; run:PATH: a TREC run "
            "of the split's queries recorded by `crossrank retrieve`)",
        },
    )
    negatives: int = field(default=4, metadata={"doc": "hard negatives mined per query (0: none)"})
    negatives_from_rank: int = field(
        default=1,
        metadata={
            "doc": "best first-stage rank a mined negative may come from (1-based); a higher floor skips "
            "the top ranks, where unjudged relevant documents (false negatives) are most likely"
        },
    )
    negatives_to_rank: int = field(
        default=50, metadata={"doc": "worst first-stage rank a mined negative may come from"}
    )
    false_negative_margin: float | None = field(
        default=None,
        metadata={
            "doc": "skip a mined candidate the base model (the teacher when distilling) scores above the "
            "query's weakest positive minus this margin: likely an unjudged relevant document "
            "(off when unset)"
        },
    )
    epochs: float = field(default=1.0, metadata={"doc": "passes over the training examples"})
    max_steps: int | None = field(
        default=None, metadata={"doc": "stop after this many optimizer steps (bounds the wall time)"}
    )
    batch_size: int = field(default=16, metadata={"doc": "training examples per step"})
    learning_rate: float = field(default=2e-5, metadata={"doc": "peak learning rate (linear decay)"})
    warmup_ratio: float = field(default=0.1, metadata={"doc": "fraction of the steps spent warming up"})
    max_length: int | None = field(
        default=256,
        metadata={
            "doc": "tokens of a (query, document) pair while training (unset: the model's own window); the "
            "saved model keeps its own window for reranking"
        },
    )
    seed: int = field(default=12, metadata={"doc": "seed of the head, the data order and the dev split"})
    dev_k: int = field(default=20, metadata={"doc": "first-stage candidates per dev query"})
    dev_max_queries: int | None = field(
        default=60, metadata={"doc": "evaluate at most this many dev queries (the first by id)"}
    )
    eval_steps: int | None = field(
        default=None,
        metadata={"doc": "evaluate on the dev split every N steps (unset: once per epoch, and at the end)"},
    )
    max_queries: int | None = field(
        default=None, metadata={"doc": "train on at most this many queries (a seeded sample)"}
    )
    attention_dropout: float | None = field(
        default=None,
        metadata={
            "doc": "dropout of the attention probabilities while training (unset: the model's own, 0.1 for "
            "BERT-like models); 0 lets PyTorch's fused attention kernel run, so CPU steps are cheaper "
            "(docs/training.md); hidden-state dropout stays"
        },
    )
    precision: TrainingPrecision = field(
        default="auto",
        metadata={
            "doc": "arithmetic of the training steps: bf16 mixed precision or fp32 (auto: bf16 on a GPU that "
            "has it, fp32 on a CPU; bf16 on a CPU pays only where it has AVX512-BF16 or AMX)",
            "choices": TRAINING_PRECISIONS,
        },
    )

    def __post_init__(self) -> None:
        if self.first_stage not in FIRST_STAGES and not (
            isinstance(self.first_stage, str)
            and self.first_stage.startswith(RUN_PREFIX)
            and self.first_stage.removeprefix(RUN_PREFIX)
        ):
            raise ValueError(
                f"first_stage must be one of {FIRST_STAGES} or 'run:PATH', got {self.first_stage!r}."
            )
        for name in ("negatives",):
            _check_int(name, getattr(self, name), minimum=0)
        for name in ("negatives_from_rank", "negatives_to_rank", "batch_size", "dev_k"):
            _check_int(name, getattr(self, name), minimum=1)
        for name in ("max_steps", "max_length", "dev_max_queries", "eval_steps", "max_queries"):
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name), minimum=1)
        _check_int("seed", self.seed, minimum=0)
        if self.precision not in TRAINING_PRECISIONS:
            raise ValueError(f"precision must be one of {TRAINING_PRECISIONS}, got {self.precision!r}.")
        if self.negatives_to_rank < self.negatives_from_rank:
            raise ValueError(
                f"negatives_to_rank ({self.negatives_to_rank}) must not be below negatives_from_rank "
                f"({self.negatives_from_rank}): the rank range is [from, to]."
            )
        if self.negatives and self.negatives_to_rank - self.negatives_from_rank + 1 < self.negatives:
            raise ValueError(
                f"the rank range [{self.negatives_from_rank}, {self.negatives_to_rank}] holds fewer than "
                f"negatives={self.negatives} candidates; widen it with negatives_to_rank."
            )
        _check_float("epochs", self.epochs, low=0.0, low_open=True)
        _check_float("learning_rate", self.learning_rate, low=0.0, low_open=True)
        _check_float("warmup_ratio", self.warmup_ratio, low=0.0, high=1.0)
        if self.false_negative_margin is not None:
            _check_float("false_negative_margin", self.false_negative_margin)
        if self.attention_dropout is not None:
            _check_float("attention_dropout", self.attention_dropout, low=0.0, high=0.9)

    def to_json(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict (for reports and model cards)."""
        return asdict(self)

    def replace(self, **changes: Any) -> TrainingSettings:
        """A copy with some fields changed (validated again)."""
        return TrainingSettings(**{**asdict(self), **changes})


def _check_int(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")


def _check_float(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    too_low = low is not None and (value <= low if low_open else value < low)
    if too_low or (high is not None and value > high):
        bounds = f"{'>' if low_open else '>='} {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {bounds}, got {value!r}.")


TRAINING_FLAGS: dict[str, dict[str, Any]] = {
    item.name: {
        "flag": "--" + item.name.replace("_", "-"),
        "default": item.default,
        "help": item.metadata["doc"],
        "choices": item.metadata.get("choices"),
    }
    for item in fields(TrainingSettings)
}
"""Field name to its CLI flag, default, help and choices (the CLI's only source)."""
