"""Fine-tuning and distillation of rerankers (``crossrank train`` and ``crossrank distill``).

Loading the data and the settings is cheap; :func:`train_reranker` and
:func:`distill_reranker` import torch, sentence-transformers and ``datasets`` when called
(``pip install "crossrank[train]"``).

Example:
    >>> from crossrank.training import load_training_data, train_reranker  # doctest: +SKIP
    >>> data = load_training_data("data/scifact", split="train")  # doctest: +SKIP
    >>> base = "cross-encoder/ms-marco-MiniLM-L6-v2"
    >>> report = train_reranker(data, base=base, output_dir="my-reranker")  # doctest: +SKIP
"""

from __future__ import annotations

from crossrank.training.data import Judgement, TrainingData, TrainingQuery, split_dev
from crossrank.training.data_files import load_training_data
from crossrank.training.distill import distill_reranker, make_student
from crossrank.training.finetune import train_reranker
from crossrank.training.mining import MiningReport, mine_hard_negatives
from crossrank.training.model_card import TrainingReport
from crossrank.training.settings import TrainingSettings

__all__ = [
    "Judgement",
    "MiningReport",
    "TrainingData",
    "TrainingQuery",
    "TrainingReport",
    "TrainingSettings",
    "distill_reranker",
    "load_training_data",
    "make_student",
    "mine_hard_negatives",
    "split_dev",
    "train_reranker",
]
