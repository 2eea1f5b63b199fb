"""``crossrank train`` and ``crossrank distill`` on the command line."""

from __future__ import annotations

import itertools
import json
import shlex
from pathlib import Path

import pytest

from crossrank.cli.main import build_parser, main
from crossrank.training.settings import TRAINING_FLAGS, TrainingSettings

# Written for these tests: six questions, each with one answer and one near miss.
ROWS = [
    ("how do owls hunt at night", "Owls hunt at night with silent feathers and sharp hearing.", 1),
    ("how do owls hunt at night", "Owls are often drawn in children's books.", 0),
    ("why do bats use echoes", "Bats locate insects from the echoes of their own calls.", 1),
    ("why do bats use echoes", "Bats hang upside down while they sleep.", 0),
    ("what makes bread rise", "Yeast ferments sugar and the gas makes the dough rise.", 1),
    ("what makes bread rise", "Bread is sold in many shapes.", 0),
    ("why is the sea salty", "Rivers carry dissolved minerals into the sea, where they stay.", 1),
    ("why is the sea salty", "The sea is popular for summer holidays.", 0),
    ("how do plants drink", "Roots take up water that rises through the stem.", 1),
    ("how do plants drink", "Plants make a room look friendly.", 0),
    ("what causes thunder", "Lightning heats the air so fast that it bursts with a boom.", 1),
    ("what causes thunder", "Thunderstorms are common in summer.", 0),
]


def _pairs_file(tmp_path: Path) -> Path:
    path = tmp_path / "pairs.jsonl"
    path.write_text(
        "".join(json.dumps({"query": q, "document": d, "label": label}) + "\n" for q, d, label in ROWS),
        encoding="utf-8",
    )
    return path


def test_every_training_setting_is_a_flag_of_both_commands() -> None:
    parser = build_parser()
    for command in (["train", "data", "--base", "m", "--output", "o"], ["distill", "data", "--teacher", "m"]):
        args = parser.parse_args(
            [*command, "--output", "o", "--layers", "2"] if command[0] == "distill" else command
        )
        settings = TrainingSettings(**{name: getattr(args, name) for name in TRAINING_FLAGS})
        assert settings == TrainingSettings()
    args = parser.parse_args(
        [
            "train",
            "d",
            "--base",
            "m",
            "--output",
            "o",
            "--negatives",
            "0",
            "--max-steps",
            "5",
            "--epochs",
            "0.5",
        ]
    )
    assert (args.negatives, args.max_steps, args.epochs) == (0, 5, 0.5)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "d", "--output", "o"], "--base"),
        (["train", "d", "--base", "m", "--output", "o", "--dev-fraction", "1.5"], "strictly between 0 and 1"),
        (
            ["train", "d", "--base", "m", "--output", "o", "--dev-split", "dev", "--no-dev"],
            "not allowed with",
        ),
        (["train", "d", "--base", "m", "--output", "o", "--loss", "mse"], "invalid choice: 'mse'"),
        (["distill", "d", "--teacher", "m", "--output", "o"], "one of the arguments --layers --student"),
        (["distill", "d", "--teacher", "m", "--output", "o", "--layers", "0"], "positive integer"),
        (["train", "d", "--base", "./no/such/model", "--output", "o"], "no model at './no/such/model'"),
    ],
)
def test_usage_errors_name_the_flag(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_bad_training_data_is_one_line_naming_file_and_line(
    tmp_path: Path, model_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"query": "q", "document": "d", "label": 1}\n{"query": "q", "document": "e"}\n')
    code = main(["train", str(path), "--base", model_path, "--output", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("crossrank train: error: ")
    assert "bad.jsonl" in err
    assert "line 2" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_train_on_a_pairs_file_saves_a_model_whose_card_has_the_command(
    tmp_path: Path, model_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "model"
    argv = [
        "train", str(_pairs_file(tmp_path)), "--base", model_path, "--output", str(output),
        "--no-dev", "--negatives", "2", "--negatives-to-rank", "8", "--max-steps", "2",
        "--batch-size", "4", "--max-length", "64", "--json", str(tmp_path / "run.json"),
    ]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"saved {output} (train, cross-encoder)")
    assert "6 queries, 6 positives, 6 judged negatives" in captured.out
    assert "crossrank train: step 2/2: loss" in captured.err  # the trainer's log goes to stderr
    assert "mined 12 negatives for 6 queries with bm25" in captured.err
    card = (output / "README.md").read_text(encoding="utf-8")
    assert shlex.join(["crossrank", *argv]) in card
    report = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert report["steps"] == 2
    assert report["dev"] is None
    # A second run into the same directory is refused unless it resumes.
    assert main(argv) == 1
    assert "--resume" in capsys.readouterr().err


DOCUMENTED_IN = ("README.md", "docs/training.md")
# Flags whose value is a model a command reads.
MODEL_FLAGS = ("--base", "--teacher", "--student", "--model")


def _documented_commands() -> list[list[str]]:
    """Every ``crossrank ...`` command line of README.md and docs/training.md, in order.

    Commented-out lines are left out; continuation lines are joined; each command is returned
    without the leading ``crossrank``.
    """
    root = Path(__file__).resolve().parents[2]
    text = "\n".join((root / name).read_text(encoding="utf-8") for name in DOCUMENTED_IN)
    commands = []
    for line in text.replace("\\\n", " ").splitlines():
        if line.lstrip().startswith("crossrank "):
            commands.append(shlex.split(line.split("#", 1)[0])[1:])
    return commands


def _parse_in_a_fresh_checkout(
    commands: list[list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> int:
    """Parse the ``train`` and ``distill`` commands as on a fresh machine; return how many.

    The documented commands run from the root of a checkout with ``../shared`` beside it. Here
    the checkout is an empty folder and ``../shared`` holds empty stand-ins for the paths the
    commands name there (argparse checks only that a model path starting with ``.`` exists, and
    that a ``run:`` file does). Nothing else exists but what the documented commands make: the
    run files that a ``crossrank retrieve`` records, and each command's ``--output`` once that
    command has come. So a command that names a path outside the checkout, or reads a model no
    earlier command makes, fails, and so does one argparse refuses (exit 2).
    """
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    monkeypatch.chdir(checkout)
    recorded = {
        command[command.index("--output") + 1]
        for command in commands
        if command[:1] == ["retrieve"] and "--output" in command
    }
    for run in recorded:
        Path(run).parent.mkdir(parents=True, exist_ok=True)
        Path(run).write_text("1 Q0 d 1 1.0 dense\n", encoding="utf-8")
    parser, parsed = build_parser(), 0
    made: set[str] = set()
    for command in commands:
        line = "crossrank " + shlex.join(command)
        for word in command:
            path = word.removeprefix("run:")
            assert not path.startswith(("/", "~")), f"{line}: {path} is outside the checkout"
            if path.startswith("../"):
                assert path.startswith("../shared/"), f"{line}: {path} is outside the checkout"
                Path(path).mkdir(parents=True, exist_ok=True)
            if word.startswith("run:"):
                assert path in recorded, f"{line}: no documented `crossrank retrieve` records {path}"
        for flag, value in itertools.pairwise(command):
            if flag in MODEL_FLAGS and value.startswith(("models/", "./")):
                assert value in made, f"{line}: no earlier documented command makes {value}"
        if command[0] in ("train", "distill"):
            parser.parse_args(command)  # exits 2 on a flag that does not exist
            parsed += 1
        if "--output" in command:
            output = command[command.index("--output") + 1]
            made.add(output)
            if command[0] != "retrieve":
                Path(output).mkdir(parents=True, exist_ok=True)
    return parsed


def test_the_documented_train_and_distill_commands_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands = _documented_commands()
    assert {"train", "distill"} <= {command[0] for command in commands}
    assert _parse_in_a_fresh_checkout(commands, tmp_path, monkeypatch) >= 10


TRAIN = ["train", "../shared/data/scifact", "--base", "../shared/models/m", "--output", "models/a"]


@pytest.mark.parametrize(
    ("commands", "error"),
    [
        ([[*TRAIN, "--negatvies", "4"]], SystemExit),
        ([[*TRAIN, "--negatives", "four"]], SystemExit),
        ([["distill", "../shared/data/scifact", "--teacher", "models/a", "--layers", "2"]], AssertionError),
        ([TRAIN, ["distill", "d", "--teacher", "/elsewhere/models/a", "--layers", "2"]], AssertionError),
        ([[*TRAIN, "--first-stage", "run:runs/dense-train.trec"]], AssertionError),
    ],
    ids=["unknown-flag", "bad-value", "model-never-made", "absolute-path", "run-never-recorded"],
)
def test_a_malformed_documented_command_fails_the_check(
    commands: list[list[str]], error: type[BaseException], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(error):
        _parse_in_a_fresh_checkout(commands, tmp_path, monkeypatch)
