"""Bar charts of eval and bench results (matplotlib, drawn off-screen to a PNG)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from crossrank.evaluation.evaluator import VARIANT_LABELS

__all__ = ["plot_bench", "plot_eval", "plot_frontier"]

_METRICS = (("ndcg_at_10", "NDCG@10"), ("recall_at_10", "Recall@10"), ("mrr_at_10", "MRR@10"))


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError('--plot needs matplotlib: run `pip install "crossrank[eval]"`.') from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _model_label(model: object) -> str:
    # A local path is long and says little; its last two parts name the model.
    text = str(model or "?")
    parts = [part for part in text.replace("\\", "/").split("/") if part and part not in (".", "..")]
    return "/".join(parts[-2:]) if parts else text


def _title(report: Mapping[str, Any]) -> str:
    long = " (long documents)" if report.get("long") else ""
    return (
        f"{report['dataset']}, {report['first_stage']} top-{report['k']}, {report['queries']} queries{long}\n"
        f"model: {_model_label(report.get('model'))}"
    )


def plot_eval(reports: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> None:
    """Grouped bars of NDCG@10, Recall@10 and MRR@10 per variant, one panel per report.

    Args:
        reports: Documents as written by ``crossrank eval --json`` (one or more).
        path: The PNG to write.

    Raises:
        ImportError: If matplotlib is not installed.
        ValueError: If ``reports`` is empty.
    """
    if not reports:
        raise ValueError("plot_eval needs at least one report, got none.")
    plt = _pyplot()
    figure, axes = plt.subplots(
        1, len(reports), figsize=(4.2 * len(reports) + 0.6, 3.4), squeeze=False, sharey=True
    )
    width = 0.8 / len(VARIANT_LABELS)
    for axis, report in zip(axes[0], reports, strict=True):
        for offset, (variant, label) in enumerate(VARIANT_LABELS.items()):
            values = [report["variants"][variant][key] for key, _ in _METRICS]
            positions = [index + (offset - 1.5) * width for index in range(len(_METRICS))]
            bars = axis.bar(positions, values, width, label=label)
            axis.bar_label(bars, fmt="%.2f", fontsize=6, padding=1)
        axis.set_xticks(range(len(_METRICS)), [name for _, name in _METRICS])
        axis.set_ylim(0, 1.05)
        axis.set_xlabel("metric at cut-off 10")
        axis.set_ylabel("score (higher is better)")
        axis.set_title(_title(report), fontsize=8)
        axis.grid(axis="y", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, fontsize=7, loc="lower center", ncol=len(labels), frameon=False)
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_bench(report: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Horizontal bars of pairs/s per configuration, labelled with NDCG@10.

    Args:
        report: A document as written by ``crossrank bench --json``.
        path: The PNG to write.

    Raises:
        ImportError: If matplotlib is not installed.
    """
    plt = _pyplot()
    configs = report["configs"]
    figure, axis = plt.subplots(figsize=(6.4, 0.5 * len(configs) + 1.2))
    names = [config["name"] for config in configs]
    rates = [config["pairs_per_s"] for config in configs]
    bars = axis.barh(names, rates, color="tab:blue")
    labels = [
        f"{rate:.1f} pairs/s, NDCG@10 {config['ndcg_at_10']:.3f}"
        for rate, config in zip(rates, configs, strict=True)
    ]
    axis.bar_label(bars, labels=labels, fontsize=7, padding=2)
    axis.invert_yaxis()
    axis.set_xlim(0, max(rates, default=1.0) * 1.75)
    axis.set_xlabel("pairs scored per second (higher is better)")
    axis.set_ylabel("configuration")
    settings = report.get("settings", {})
    axis.set_title(
        f"{settings.get('queries', '?')} queries x {settings.get('candidates', '?')} candidates, "
        f"{report['machine'].get('torch_threads', '?')} threads\n"
        f"model: {_model_label(settings.get('model'))}; CPU: {report['machine'].get('cpu', '?')}",
        fontsize=8,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_frontier(document: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Every configuration tune measured: p95 latency against quality, the frontier joined.

    Args:
        document: As written by ``crossrank tune --json`` (``profile``, ``search``, ``choice``).
        path: The PNG to write.

    Raises:
        ImportError: If matplotlib is not installed.
    """
    plt = _pyplot()
    profile, search = document["profile"], document["search"]
    results = search["results"]
    chosen = document["choice"]["chosen"]
    figure, axis = plt.subplots(figsize=(7.0, 4.6))
    for result in results:
        name = result["configuration"]["name"]
        pruned = result["pruned"] is not None
        marker = "*" if name == chosen else ("x" if pruned else "o")
        color = "tab:red" if name == chosen else ("tab:gray" if pruned else "tab:blue")
        axis.scatter(
            result["p95_ms"], result["quality"], marker=marker, color=color, s=70 if marker == "*" else 25
        )
        axis.annotate(
            name, (result["p95_ms"], result["quality"]), fontsize=6, xytext=(3, 3), textcoords="offset points"
        )
    frontier = sorted((r["p95_ms"], r["quality"]) for r in results if r["on_frontier"])
    if frontier:
        axis.plot(*zip(*frontier, strict=True), color="tab:blue", alpha=0.5, label="Pareto frontier")
    axis.set_xlabel("p95 latency per query, ms (lower is better; x: stopped early)")
    axis.set_ylabel(f"{search['quality_name']} (higher is better)")
    machine = profile["machine"]
    axis.set_title(
        f"{_model_label(profile['model'])}: chosen {chosen}\n"
        f"CPU: {machine.get('model_name', '?')}, {machine.get('threads', '?')} threads",
        fontsize=8,
    )
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, frameon=False)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
