"""Charts name the model and label their axes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crossrank.cli.charts import plot_bench, plot_eval
from crossrank.evaluation.evaluator import VARIANT_LABELS

pytest.importorskip("matplotlib")


@pytest.fixture
def saved_figures(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    from matplotlib.figure import Figure

    figures: list[Any] = []
    original = Figure.savefig

    def keep(self: Any, *args: Any, **kwargs: Any) -> None:
        figures.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    return figures


def test_the_eval_chart_names_the_model_and_labels_both_axes(
    saved_figures: list[Any], tmp_path: Path
) -> None:
    metrics = {"ndcg_at_10": 0.6, "recall_at_10": 0.7, "mrr_at_10": 0.5}
    report = {
        "dataset": "scifact", "first_stage": "dense", "k": 100, "queries": 300, "long": False,
        "model": "../shared/models/minilm-l6-reranker",
        "variants": {variant: metrics for variant in VARIANT_LABELS},
    }  # fmt: skip
    plot_eval([report], tmp_path / "eval.png")
    (axis,) = saved_figures[0].axes
    assert "model: models/minilm-l6-reranker" in axis.get_title()
    assert axis.get_xlabel()
    assert axis.get_ylabel()
    assert (tmp_path / "eval.png").read_bytes().startswith(b"\x89PNG")


def test_the_bench_chart_names_the_model_and_the_cpu(saved_figures: list[Any], tmp_path: Path) -> None:
    report = {
        "settings": {"queries": 20, "candidates": 50, "model": "cross-encoder/ms-marco-MiniLM-L6-v2"},
        "machine": {"torch_threads": 2, "cpu": "AMD EPYC 9B14"},
        "configs": [{"name": "crossrank-default", "pairs_per_s": 20.0, "ndcg_at_10": 0.61}],
    }
    plot_bench(report, tmp_path / "bench.png")
    (axis,) = saved_figures[0].axes
    assert "model: cross-encoder/ms-marco-MiniLM-L6-v2; CPU: AMD EPYC 9B14" in axis.get_title()
    assert axis.get_xlabel() == "pairs scored per second (higher is better)"
    assert axis.get_ylabel() == "configuration"
