"""The reranking-option flags take their help, choices and defaults from ``crossrank.options.OPTIONS``."""

from __future__ import annotations

import argparse

import pytest

from crossrank.cli.args import add_option_argument, option_values, positive_int
from crossrank.cli.demo import demo_settings
from crossrank.cli.main import build_parser
from crossrank.cli.option_help import cli_text, option_flag
from crossrank.demo.runner import DemoSettings
from crossrank.options import OPTIONS
from crossrank.reranker import Reranker


def _action(parser: argparse.ArgumentParser, flag: str) -> argparse.Action:
    return next(action for action in parser._actions if flag in action.option_strings)


def test_a_value_flag_takes_its_doc_choices_and_default_from_the_table() -> None:
    parser = argparse.ArgumentParser()
    add_option_argument(parser, "backend", "--backend")
    action = _action(parser, "--backend")
    assert action.choices == OPTIONS["backend"].choices
    assert action.default == OPTIONS["backend"].default == "auto"
    assert action.help == f"{cli_text(OPTIONS['backend'].doc)} (default: auto)"
    assert str(action.help).startswith("How the model runs: auto (ONNX Runtime in fp32 on a CPU")
    assert parser.parse_args(["--backend", "onnx-int8"]).backend == "onnx-int8"
    with pytest.raises(SystemExit):
        parser.parse_args(["--backend", "fast"])


def test_a_default_of_the_command_is_named_beside_the_librarys() -> None:
    parser = argparse.ArgumentParser()
    add_option_argument(parser, "top_n", "--top-n", type=positive_int, default=5, note="Shown per query.")
    action = _action(parser, "--top-n")
    # The library's unset default (all of them) cannot happen with a default of 5: not said.
    assert action.help == "Keep only this many of the best results. Shown per query. (default here: 5)"
    bench = argparse.ArgumentParser()
    add_option_argument(bench, "batch_size", "--batch-size", default=8)
    assert str(_action(bench, "--batch-size").help).endswith("(default here: 8; the library's default is 32)")
    assert parser.parse_args([]).top_n == 5
    assert parser.parse_args(["--top-n", "3"]).top_n == 3


def test_a_switch_sets_the_option_and_the_value_lands_under_the_option_name() -> None:
    parser = argparse.ArgumentParser()
    add_option_argument(parser, "long_documents", "--no-chunk", const="truncate")
    add_option_argument(parser, "score_threshold", "--threshold", type=float)
    # A switch's help says what the flag does and what happens without it, not the option's values.
    assert _action(parser, "--no-chunk").help == (
        "How a long document is scored: without it, every window, keeping the best; this flag, "
        "only its first window, like other rerankers."
    )
    # The usage line names the flag, not the option.
    assert "[--threshold THRESHOLD]" in parser.format_usage()
    fusion = argparse.ArgumentParser()
    add_option_argument(fusion, "fusion", "--rrf", const="rrf")
    add_option_argument(fusion, "fusion", "--no-rrf", const=None, default="rrf")
    add_option_argument(fusion, "fusion", "--rrf-again", const="rrf", default="rrf")
    fused = "by Reciprocal Rank Fusion of the cross-encoder ranking with the retrieval ranking"
    assert str(_action(fusion, "--rrf").help).startswith(f"How results are ranked: this flag, {fused}")
    assert str(_action(fusion, "--rrf").help).endswith("; without it, by the cross-encoder alone.")
    assert str(_action(fusion, "--no-rrf").help).startswith(f"How results are ranked: without it, {fused}")
    assert str(_action(fusion, "--no-rrf").help).endswith("; this flag, by the cross-encoder alone.")
    # A switch that sets the command's default: no None, no "without it" (it cannot be unset here).
    assert str(_action(fusion, "--rrf-again").help).endswith(
        "w_ce/(k + rank_ce) + w_ret/(k + rank_ret). (already the default here)"
    )
    args = parser.parse_args(["--no-chunk", "--threshold", "0.5"])
    assert option_values(args) == {"long_documents": "truncate", "score_threshold": 0.5}
    assert option_values(parser.parse_args([])) == {"long_documents": "chunk_max", "score_threshold": None}


def test_the_commands_hand_their_reranking_options_to_the_reranker_by_name() -> None:
    parser = build_parser()
    single_stage = {
        "coarse_model": None,
        "coarse_backend": None,
        "coarse_keep": 30,
        "coarse_max_length": None,
        "fine_windows_per_document": None,
        "fine_window_margin": None,
    }
    demo = parser.parse_args(["demo", "--rrf", "--precision", "fp32"])
    assert option_values(demo) == {
        "top_n": 5,
        "long_documents": "chunk_max",
        "backend": "auto",
        "precision": "fp32",
        "fusion": "rrf",
        "score_threshold": None,
        **single_stage,
    }
    evaluation = parser.parse_args(["eval", "data", "--batch-size", "8"])
    assert option_values(evaluation) == {
        "device": None,
        "backend": "auto",
        "precision": "auto",
        "instruction": None,
        "batch_size": 8,
        "window_boundaries": "tokens",
        "window_aggregation": "max",
        "window_overlap": None,
        "max_windows": 16,
        **single_stage,
    }
    snapped = parser.parse_args(
        ["eval", "data", "--window-boundaries", "sentences", "--window-aggregation", "top2_mean"]
    )
    assert (option_values(snapped)["window_boundaries"], option_values(snapped)["window_aggregation"]) == (
        "sentences",
        "top2_mean",
    )
    cascade = parser.parse_args(["eval", "data", "--coarse-backend", "onnx-int8", "--coarse-keep", "20"])
    assert option_values(cascade)["coarse_backend"] == "onnx-int8"
    assert option_values(cascade)["coarse_keep"] == 20
    instructed = parser.parse_args(["eval", "data", "--instruction", "Find abstracts that answer it"])
    assert option_values(instructed)["instruction"] == "Find abstracts that answer it"
    bench = parser.parse_args(["bench", "--data", "data"])
    assert (bench.device, bench.batch_size) == ("cpu", 32)


def test_every_demo_flag_reaches_the_demos_reranker() -> None:
    # `crossrank demo` hands its reranking options to the Reranker by name, as parsed: none is
    # re-declared on the way, so a new option cannot be lost or refused there.
    parser = build_parser()
    flags = ["demo", "--coarse-model", "lexical", "--fine-windows", "2", "--fine-window-margin", "0.5"]
    settings = demo_settings(parser.parse_args([*flags, "--rrf", "--top-n", "3"]))
    assert settings.top_n == 3
    assert settings.option("fusion") == "rrf"
    reranker = Reranker(settings.model, top_n=settings.top_n, **settings.options)  # lazy: loads nothing
    assert (reranker.coarse_model, reranker.fine_windows_per_document, reranker.fine_window_margin) == (
        "lexical",
        2,
        0.5,
    )
    assert reranker.fusion == "rrf"


def test_demo_settings_refuse_an_unknown_option_and_keep_their_own_copy() -> None:
    with pytest.raises(ValueError, match=r"\['fine_windows'\] are not reranking options"):
        DemoSettings(queries=["q"], options={"fine_windows": 2})
    with pytest.raises(ValueError, match="give 'top_n' as the settings' own field"):
        DemoSettings(queries=["q"], options={"top_n": 2})
    given = {"fusion": "rrf"}
    settings = DemoSettings(queries=["q"], options=given)
    given["fusion"] = None
    assert settings.option("fusion") == "rrf"
    assert settings.option("long_documents") == OPTIONS["long_documents"].default


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["rerank-batch", "in.jsonl", "--rrf-k", "-1"], "--rrf-k: rrf_k must be a number >= 0, got -1.0."),
        (["rerank-batch", "in.jsonl", "--rrf-k", "nan"], "rrf_k must be a number >= 0, got nan."),
        (["serve", "--max-windows", "0"], "--max-windows: max_windows must be a positive integer, got 0."),
        (["serve", "--score-cache-size", "-3"], "score_cache_size must be an integer >= 0, got -3."),
        (["demo", "--threshold", "nan"], "--threshold: score_threshold must be a number or None, got nan."),
        (["eval", "data", "--window-overlap", "-2"], "window_overlap must be an integer >= 0, got -2."),
        (["eval", "data", "--window-overlap", "two"], "argument --window-overlap: invalid int value: 'two'"),
        (["demo", "--fine-window-margin", "-1"], "fine_window_margin must be a number >= 0 or None, got -1."),
    ],
)
def test_every_option_flag_is_checked_by_its_option_while_parsing(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The library's own check, at parse time: a bad value never reaches a model load.
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_version_and_verbose() -> None:
    import subprocess
    import sys

    import crossrank

    version = subprocess.run(
        [sys.executable, "-m", "crossrank", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert version.stdout.strip() == f"crossrank {crossrank.__version__}"
    for command in ("demo", "eval", "bench"):
        help_text = subprocess.run(
            [sys.executable, "-m", "crossrank", command, "--help"], capture_output=True, text=True, check=True
        ).stdout
        assert "--verbose" in help_text, command


def test_library_progress_bars_are_hidden_unless_verbose(monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers.utils import logging as transformers_logging

    from crossrank.cli.progress import set_up_progress

    transformers_logging.enable_progress_bar()
    set_up_progress(quiet=False, verbose=True)
    assert transformers_logging.is_progress_bar_enabled()
    set_up_progress(quiet=False, verbose=False)
    assert not transformers_logging.is_progress_bar_enabled()
    transformers_logging.enable_progress_bar()


def _helps(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """``crossrank --help`` and every sub-command's ``--help``, as printed, one line per paragraph."""
    monkeypatch.setenv("COLUMNS", "10000")  # no wrapping: a phrase is never cut across lines
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {"crossrank": parser.format_help()}
    helps.update({name: command.format_help() for name, command in commands.choices.items()})
    return helps


def test_every_help_speaks_command_line_terms(monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    helps = _helps(monkeypatch)
    assert set(helps) >= {"crossrank", "demo", "eval", "bench", "compare", "serve", "train", "rerank-batch"}
    for command, text in helps.items():
        # argparse %-formats help strings but not descriptions: a %% in either is a doubled escape.
        assert "%%" not in text, command
        # Python literals: None, True/False, quoted values ('chunk_max'), float reprs (1.67772e+07).
        for literal in (r"\bNone\b", r"\bTrue\b", r"\bFalse\b", r"(?<!\w)'[^'\s]+'(?!\w)", r"\d\.\d+e[+-]\d"):
            assert not re.search(literal, text), (
                command,
                literal,
                re.search(rf".{{0,60}}{literal}.{{0,20}}", text),
            )
        assert not re.search(r"<[\w.]+ object at|<function |<class ", text), command


def test_every_option_flag_names_flags_its_command_has(monkeypatch: pytest.MonkeyPatch) -> None:
    # An option named in another's doc is shown as its flag (coarse_keep -> --coarse-keep), and
    # that flag is one the same command takes.
    import re

    monkeypatch.setenv("COLUMNS", "10000")
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in commands.choices.items():
        flags = {flag for action in command._actions for flag in action.option_strings}
        for action in command._actions:
            if action.dest in OPTIONS:
                named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", str(action.help)))
                assert named <= flags, (name, action.option_strings, named - flags)
                assignments = set(re.findall(r"\b([a-z][a-z0-9_]*)=", str(action.help)))
                assert not assignments & set(OPTIONS), (name, action.help)


def test_compare_and_serve_help(monkeypatch: pytest.MonkeyPatch) -> None:
    helps = _helps(monkeypatch)
    assert "mean NDCG@10 difference with a 95% paired bootstrap interval" in helps["compare"]
    assert "paired NDCG@10 difference (95% bootstrap interval)" in helps["crossrank"]
    serve = helps["serve"]
    assert "largest request body, in bytes (default: 16777216 = 16 MiB)" in serve
    assert "how much the server logs: debug, info, warning or error" in serve
    # The cascade's and the options' docs in flags and values: no Python to translate.
    assert "only its best --coarse-keep are scored by the main model" in serve
    assert "Unset with --coarse-backend set" in serve
    assert "(cpu, cuda, mps...); unset picks cuda, then mps, then cpu" in serve
    assert "Reranker.cache_info()" not in serve
    # --max-windows has a value here without being given: what None does in Python is not said.
    assert "Most windows scored per document. Beyond the cap" in serve
    assert "--fusion {rrf}" in helps["rerank-batch"]
    assert "unset, by the cross-encoder alone." in helps["rerank-batch"]
    assert "An explicit precision with --backend auto selects PyTorch, so --precision fp32" in serve
    train = helps["train"]
    assert "(default: None)" not in train
    assert "--max-length MAX_LENGTH" in train
    assert "(unset: the model's own window)" not in train


@pytest.mark.parametrize(
    ("doc", "said"),
    [
        ("None picks cuda.", "Unset picks cuda."),
        ("(None: all of them)", "(unset: all of them)"),
        ("'chunk_max' or 'truncate'; the model's own", "chunk_max or truncate; the model's own"),
        ("with backend='auto' and coarse_keep", "with --backend auto and --coarse-keep"),
        ("fine_windows_per_document=None", "--fine-windows unset"),
        ("a score_threshold; cut_at_stage='coarse'", "a --threshold; cut_at_stage=coarse"),
        ("Fast. See Reranker.cache_info(). Done.", "Fast. Done."),
    ],
)
def test_a_doc_in_command_line_terms(doc: str, said: str) -> None:
    assert cli_text(doc) == said


def test_option_flags() -> None:
    assert option_flag("coarse_keep") == "--coarse-keep"
    assert option_flag("fine_windows_per_document") == "--fine-windows"
    assert option_flag("score_threshold") == "--threshold"
