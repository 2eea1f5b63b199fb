"""What a training run made: ``training_report.json`` and the model card ``README.md``.

The card states the base model, the data and its counts, the loss, the steps and wall
time, the dev metrics before and after, and the exact command that made the model, so
the directory explains itself wherever it is copied.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["REPORT_FILE", "TrainingReport", "write_model_card"]

REPORT_FILE = "training_report.json"


@dataclass
class TrainingReport:
    """Everything about one ``crossrank train`` or ``crossrank distill`` run.

    Attributes:
        kind: ``"train"`` or ``"distill"``.
        output_dir: Where the model was saved.
        base: The starting model (fine-tuning) or the teacher (distillation).
        started_from: How the model began: ``"cross-encoder"``, ``"encoder with a new
            one-logit head"``, or the student's description.
        loss: crossrank's loss name and sentence-transformers' class.
        data: The training data's summary (after the dev split and ``max_queries``).
        dev: The dev split's summary and protocol, or ``None`` without evaluation.
        mining: The mining report.
        examples: Rows, pairs, random top-ups and skipped queries of the training set.
        settings: The training settings.
        steps: Optimizer steps taken.
        epochs: Epochs done.
        train_seconds: Wall time of the trainer.
        total_seconds: Wall time of the whole run (loading, mining, evaluation, saving).
        losses: The logged training loss by step.
        dev_before: Dev metrics of the starting model (the teacher's too, when distilling).
        dev_after: Dev metrics of the saved model.
        best_checkpoint: The checkpoint the saved model came from.
        command: The command line that made the model.
        versions: Library versions.
        extra: Anything kind-specific (the student's layers, the teacher's dev metrics).
    """

    kind: str
    output_dir: str
    base: str
    started_from: str
    loss: dict[str, str]
    data: dict[str, Any]
    dev: dict[str, Any] | None
    mining: dict[str, Any]
    examples: dict[str, int]
    settings: dict[str, Any]
    steps: int = 0
    epochs: float = 0.0
    train_seconds: float = 0.0
    total_seconds: float = 0.0
    losses: list[dict[str, float]] = field(default_factory=list)
    dev_before: dict[str, float] | None = None
    dev_after: dict[str, float] | None = None
    best_checkpoint: str | None = None
    command: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def read(cls, directory: str | Path) -> TrainingReport:
        """Read the report a run saved beside its model.

        Raises:
            FileNotFoundError: If the directory has no ``training_report.json``.
        """
        path = Path(directory) / REPORT_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"no {REPORT_FILE} in {str(directory)!r}: it was not made by crossrank train."
            )
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _metrics_table(report: TrainingReport) -> list[str]:
    before, after = report.dev_before or {}, report.dev_after or {}
    teacher = report.extra.get("teacher_dev") or {}
    header = "| dev metric | before | after |" + (" teacher |" if teacher else "")
    rule = "| --- | ---: | ---: |" + (" ---: |" if teacher else "")
    rows = [header, rule]
    for name in ("ndcg@10", "ndcg@10_rrf", "mrr@10", "recall@10", "first_stage_ndcg@10"):
        row = f"| {name} | {_fmt(before.get(name))} | {_fmt(after.get(name))} |"
        rows.append(row + (f" {_fmt(teacher.get(name))} |" if teacher else ""))
    return rows


def render_model_card(report: TrainingReport) -> str:
    """The model card's Markdown."""
    data, mining, settings = report.data, report.mining, report.settings
    resumed = "resumed_from" in report.extra
    title = "distilled" if report.kind == "distill" else "fine-tuned"
    role = "Teacher" if report.kind == "distill" else "Base model"
    lines = [
        "---",
        "library_name: sentence-transformers",
        "pipeline_tag: text-ranking",
        "tags: [cross-encoder, reranker, crossrank]",
        "---",
        "",
        f"# A cross-encoder reranker {title} by crossrank",
        "",
        "Load it with `crossrank.Reranker(path)`, the LlamaIndex or LangChain adapters "
        "(`model=path`) or `sentence_transformers.CrossEncoder(path)`.",
        "",
        "## How it was made",
        "",
        "```bash",
        report.command or "(made through the Python API)",
        "```",
        "",
        f"- {role}: `{report.base}` ({report.started_from})",
        f"- Loss: {report.loss['name']} (sentence-transformers `{report.loss['class']}`)",
        f"- Data: `{data['source']}`: {data['queries']} queries, {data['positives']} positives, "
        f"{data['negatives']} judged negatives, {data['duplicates_collapsed']} duplicates collapsed",
        f"- Hard negatives: {mining['mined']} mined with {mining['first_stage']} from ranks "
        f"{mining['rank_range'][0]}-{mining['rank_range'][1]} ({mining['requested_per_query']} per query; "
        f"{mining['skipped_judged']} judged documents skipped; false-negative guard "
        + (
            f"margin {mining['false_negative_margin']}: {mining['skipped_by_guard']} skipped)"
            if mining["false_negative_margin"] is not None
            else "off)"
        ),
        f"- Training examples: {report.examples['rows']} rows, {report.examples['pairs']} pairs "
        f"({report.examples['random_fill']} random top-ups, {report.examples['skipped_queries']} queries "
        "without a usable row)",
        f"- Schedule: {report.steps} steps ({report.epochs:.2f} epochs), batch {settings['batch_size']}, "
        f"learning rate {settings['learning_rate']}, warm-up {settings['warmup_ratio']}, "
        f"max length {settings['max_length']}, seed {settings['seed']}",
        f"- Wall time: {report.train_seconds:.0f} s training, {report.total_seconds:.0f} s in all"
        + (" (this run only: it resumed a stopped one, whose time is not counted)" if resumed else ""),
    ]
    for key, value in report.extra.items():
        if key != "teacher_dev":
            lines.append(f"- {key.replace('_', ' ').capitalize()}: {value}")
    if report.best_checkpoint:
        lines.append(f"- Best dev checkpoint: `{Path(report.best_checkpoint).name}`")
    lines += ["", "## Dev metrics", ""]
    if report.dev is None:
        lines.append("No dev split was evaluated.")
    else:
        dev = report.dev
        lines += [
            f"{dev['queries']} dev queries ({dev['source']}), top {dev['k']} {dev['first_stage']} candidates "
            "reranked by crossrank (chunk-max; `_rrf`: fused with the first stage).",
            "",
            *_metrics_table(report),
        ]
    versions = ", ".join(f"{name} {version}" for name, version in report.versions.items())
    lines += ["", f"Made with {versions}.", ""]
    return "\n".join(lines)


def write_model_card(report: TrainingReport, directory: str | Path) -> None:
    """Write ``README.md`` and ``training_report.json`` into the model directory.

    Args:
        report: The run's report.
        directory: The saved model's directory.
    """
    root = Path(directory)
    (root / REPORT_FILE).write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    (root / "README.md").write_text(render_model_card(report), encoding="utf-8")
