"""``crossrank train`` and ``crossrank distill``: fine-tune a reranker, or distill a small one.

Every training setting's flag comes from :data:`crossrank.training.settings.TRAINING_FLAGS`
(the fields of :class:`~crossrank.training.settings.TrainingSettings`), so the API and
the command share defaults and help.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shlex
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crossrank.cli.args import first_stage_argument, model_argument, non_negative_int, positive_int
from crossrank.cli.option_help import cli_value, drop_unset_clauses
from crossrank.cli.output import json_text, status
from crossrank.cli.progress import add_verbose_flag, set_up_progress

__all__ = ["add_distill_command", "add_train_command", "format_training_summary"]


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction such as 0.1, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction strictly between 0 and 1, got {value}")
    return value


def _flag_help(doc: str, default: Any) -> str:
    """A setting's help with its default; an unset default is said by the doc, not as ``None``."""
    if default is None:
        return doc
    # The flag has a value without being given: what unset does cannot happen here.
    return f"{drop_unset_clauses(doc)} (default: {cli_value(default)})"


def _add_common(parser: argparse.ArgumentParser, losses: tuple[str, ...], default_loss: str) -> None:
    from crossrank.training.settings import TRAINING_FLAGS, TrainingSettings

    parser.add_argument(
        "data",
        metavar="DATA",
        help="a BEIR directory (corpus.jsonl, queries.jsonl, qrels/<split>.tsv), or a JSONL/CSV file of "
        "query,document,label or query,positive,negatives rows",
    )
    parser.add_argument("--output", required=True, metavar="DIR", help="where the model goes (new or empty)")
    parser.add_argument("--split", default="train", help="qrels split to train on (default: train)")
    dev = parser.add_mutually_exclusive_group()
    dev.add_argument(
        "--dev-split", default=None, metavar="NAME", help="qrels split to evaluate on while training"
    )
    dev.add_argument(
        "--dev-fraction",
        type=_fraction,
        default=0.1,
        metavar="F",
        help="hold out this share of the training queries as the dev split (default: 0.1)",
    )
    dev.add_argument("--no-dev", action="store_true", help="train without a dev split (no best checkpoint)")
    parser.add_argument(
        "--loss",
        choices=losses,
        default=default_loss,
        help=f"the training objective (default: {default_loss})",
    )
    hints = typing.get_type_hints(TrainingSettings)
    for name, flag in TRAINING_FLAGS.items():
        hint = str(hints[name])
        parse: Any = (
            float if "float" in hint else (non_negative_int if name in ("negatives", "seed") else None)
        )
        if parse is None and "int" in hint:
            parse = positive_int
        if name == "first_stage":
            parse = first_stage_argument
        parser.add_argument(
            flag["flag"],
            dest=name,
            type=parse or str,
            choices=flag["choices"],
            default=flag["default"],
            help=_flag_help(flag["help"], flag["default"]).replace("%", "%%"),
        )
    parser.add_argument(
        "--resume", action="store_true", help="continue the run whose checkpoints are in --output"
    )
    parser.add_argument(
        "--device", default=None, help="device to train on (default: cuda if available, else cpu)"
    )
    parser.add_argument("--json", default=None, metavar="OUT.json", help="also write the run's report here")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or status lines")
    add_verbose_flag(parser)


def add_train_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``train`` sub-command to the ``crossrank`` parser."""
    from crossrank.training.settings import TRAIN_LOSSES

    parser = commands.add_parser(
        "train",
        help="fine-tune a cross-encoder (or a plain encoder) on labelled pairs, with mined hard negatives",
        description=(
            "Mine hard negatives with BM25 or dense retrieval, fine-tune with sentence-transformers' "
            "CrossEncoderTrainer (bce, mnrl or lambda loss), keep the checkpoint with the best dev "
            "NDCG@10 and save a model directory with a model card."
        ),
    )
    parser.add_argument(
        "--base",
        required=True,
        type=model_argument,
        metavar="MODEL",
        help="cross-encoder or encoder to start from",
    )
    _add_common(parser, TRAIN_LOSSES, "bce")
    parser.set_defaults(run=run_train)


def add_distill_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``distill`` sub-command to the ``crossrank`` parser."""
    from crossrank.training.settings import DISTILL_LOSSES

    parser = commands.add_parser(
        "distill",
        help="distill a teacher reranker into a smaller, faster student",
        description=(
            "Cut the teacher to N of its layers (or take --student), score the training queries' "
            "positives and mined negatives with the teacher, and train the student on those scores "
            "(mse, margin_mse, or listnet: the teacher's ordering of each query's whole list)."
        ),
    )
    parser.add_argument("--teacher", required=True, type=model_argument, metavar="MODEL", help="the teacher")
    student = parser.add_mutually_exclusive_group(required=True)
    student.add_argument(
        "--layers", type=positive_int, metavar="N", help="the student keeps N teacher layers"
    )
    student.add_argument("--student", type=model_argument, metavar="MODEL", help="a smaller model to train")
    parser.add_argument(
        "--layer-choice",
        choices=("spaced", "first"),
        default="spaced",
        help="which teacher layers the student keeps: evenly spaced or the first N (default: spaced)",
    )
    _add_common(parser, DISTILL_LOSSES, "mse")
    parser.set_defaults(run=run_distill)


def _load(args: argparse.Namespace) -> tuple[Any, Any, dict[str, Any]]:
    from crossrank.training import TrainingSettings, load_training_data
    from crossrank.training.settings import TRAINING_FLAGS

    settings = TrainingSettings(**{name: getattr(args, name) for name in TRAINING_FLAGS})
    data = load_training_data(args.data, split=args.split)
    status(args, f"training data: {data.describe()}")
    dev = None
    if args.dev_split is not None:
        if not Path(args.data).is_dir():
            raise ValueError("--dev-split needs a BEIR directory as DATA; with a file use --dev-fraction.")
        dev = load_training_data(args.data, split=args.dev_split)
        status(args, f"dev data: {dev.describe()}")
    dev_options = {
        "dev": dev,
        "dev_fraction": None if (args.no_dev or dev is not None) else args.dev_fraction,
        "dev_name": args.dev_split,
    }
    return settings, data, dev_options


@contextlib.contextmanager
def _steps_on_stderr(args: argparse.Namespace) -> Iterator[None]:
    """Show the run's steps (mining, losses, dev metrics) on stderr, unless ``--quiet``."""
    from crossrank.log import logger

    if args.quiet:
        yield
        return
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter(f"crossrank {args.command}: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (not the stream of when it was made)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr)


def _finish(args: argparse.Namespace, report: Any) -> int:
    print(format_training_summary(report.to_json()))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json_text(report.to_json()), encoding="utf-8")
        status(args, f"wrote {args.json}")
    return 0


def _command_line(args: argparse.Namespace) -> str:
    argv = getattr(args, "argv", None)
    return shlex.join(["crossrank", *(argv if argv is not None else sys.argv[1:])])


def run_train(args: argparse.Namespace) -> int:
    """Run ``crossrank train``."""
    from crossrank.training import train_reranker

    progress = set_up_progress(args.quiet, args.verbose)
    with _steps_on_stderr(args):
        settings, data, dev_options = _load(args)
        report = train_reranker(
            data,
            base=args.base,
            output_dir=args.output,
            loss=args.loss,
            settings=settings,
            resume=args.resume,
            device=args.device,
            show_progress=progress,
            command=_command_line(args),
            **dev_options,
        )
    return _finish(args, report)


def run_distill(args: argparse.Namespace) -> int:
    """Run ``crossrank distill``."""
    from crossrank.training import distill_reranker

    progress = set_up_progress(args.quiet, args.verbose)
    with _steps_on_stderr(args):
        settings, data, dev_options = _load(args)
        report = distill_reranker(
            data,
            teacher=args.teacher,
            output_dir=args.output,
            layers=args.layers,
            layer_choice=args.layer_choice,
            student=args.student,
            loss=args.loss,
            settings=settings,
            resume=args.resume,
            device=args.device,
            show_progress=progress,
            command=_command_line(args),
            **dev_options,
        )
    return _finish(args, report)


def format_training_summary(report: dict[str, Any]) -> str:
    """The lines ``crossrank train``/``distill`` print when done.

    Args:
        report: A :class:`~crossrank.training.model_card.TrainingReport` as JSON.

    Returns:
        The summary text.
    """
    data, mining = report["data"], report["mining"]
    lines = [
        f"saved {report['output_dir']} ({report['kind']}, {report['started_from']})",
        f"data: {data['queries']} queries, {data['positives']} positives, {data['negatives']} judged "
        f"negatives; {mining['mined']} negatives mined with {mining['first_stage']}",
        f"loss {report['loss']['name']}: {report['steps']} steps, {report['epochs']:.2f} epochs, "
        f"{report['train_seconds']:.0f} s training, {report['total_seconds']:.0f} s in all",
    ]
    before, after = report.get("dev_before"), report.get("dev_after")
    if before and after:
        lines.append(
            f"dev NDCG@10: {before['ndcg@10']:.4f} -> {after['ndcg@10']:.4f} (with RRF "
            f"{before['ndcg@10_rrf']:.4f} -> {after['ndcg@10_rrf']:.4f}; first stage "
            f"{after['first_stage_ndcg@10']:.4f})"
        )
    teacher = (report.get("extra") or {}).get("teacher_dev")
    if teacher:
        lines.append(f"teacher dev NDCG@10: {teacher['ndcg@10']:.4f} (with RRF {teacher['ndcg@10_rrf']:.4f})")
    return "\n".join(lines)
