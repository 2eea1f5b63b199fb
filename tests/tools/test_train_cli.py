"""``crossrank train`` and ``crossrank distill`` on the command line."""

from __future__ import annotations

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


def _documented_commands() -> list[list[str]]:
    root = Path(__file__).resolve().parents[2]
    text = "\n".join(
        (root / name).read_text(encoding="utf-8") for name in ("README.md", "docs/training.md")
    ).replace("\\\n", " ")
    commands = []
    for line in text.splitlines():
        words = shlex.split(line.split("#", 1)[0]) if line.lstrip().startswith("crossrank ") else []
        if words[1:2] in (["train"], ["distill"]):
            commands.append(words[1:])
    return commands


def test_the_documented_train_and_distill_commands_parse(model_path: str, tmp_path: Path) -> None:
    commands = _documented_commands()
    assert {command[0] for command in commands} == {"train", "distill"}
    parser = build_parser()
    for command in commands:
        # A recorded run must exist to parse (--first-stage checks at once): stand one in.
        for position, word in enumerate(command):
            if word.startswith("run:"):
                stand_in = tmp_path / Path(word[4:]).name
                stand_in.write_text("1 Q0 d 1 1.0 dense\n")
                command[position] = f"run:{stand_in}"
        parser.parse_args(command)  # exits 2 on a flag that does not exist
