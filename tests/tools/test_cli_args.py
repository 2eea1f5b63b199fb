"""The reranking-option flags take their help, choices and defaults from ``crossrank.options.OPTIONS``."""

from __future__ import annotations

import argparse

import pytest

from crossrank.cli.args import add_option_argument, option_values, positive_int
from crossrank.cli.main import build_parser
from crossrank.demo.runner import DemoSettings
from crossrank.options import OPTIONS


def _action(parser: argparse.ArgumentParser, flag: str) -> argparse.Action:
    return next(action for action in parser._actions if flag in action.option_strings)


def test_a_value_flag_takes_its_doc_choices_and_default_from_the_table() -> None:
    parser = argparse.ArgumentParser()
    add_option_argument(parser, "backend", "--backend")
    action = _action(parser, "--backend")
    assert action.choices == OPTIONS["backend"].choices
    assert action.default == OPTIONS["backend"].default == "auto"
    assert action.help == f"{OPTIONS['backend'].doc} (default: auto)"
    assert parser.parse_args(["--backend", "onnx-int8"]).backend == "onnx-int8"
    with pytest.raises(SystemExit):
        parser.parse_args(["--backend", "fast"])


def test_a_default_of_the_command_is_named_beside_the_librarys() -> None:
    parser = argparse.ArgumentParser()
    add_option_argument(parser, "top_n", "--top-n", type=positive_int, default=5, note="Shown per query.")
    action = _action(parser, "--top-n")
    assert action.help == (
        f"{OPTIONS['top_n'].doc} Shown per query. (default here: 5; the library's default is None)"
    )
    assert parser.parse_args([]).top_n == 5
    assert parser.parse_args(["--top-n", "3"]).top_n == 3


def test_a_switch_sets_the_option_and_the_value_lands_under_the_option_name() -> None:
    parser = argparse.ArgumentParser()
    add_option_argument(parser, "long_documents", "--no-chunk", const="truncate")
    add_option_argument(parser, "score_threshold", "--threshold", type=float)
    no_chunk = str(_action(parser, "--no-chunk").help)
    assert no_chunk.endswith("(this flag sets long_documents=truncate; default: chunk_max)")
    # The usage line names the flag, not the option.
    assert "[--threshold THRESHOLD]" in parser.format_usage()
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
    bench = parser.parse_args(["bench", "--data", "data"])
    assert (bench.device, bench.batch_size) == ("cpu", 32)


def test_every_demo_flag_reaches_the_demos_settings() -> None:
    # `crossrank demo` hands its reranking options to DemoSettings by name: a flag without a
    # field there would stop the demo before it starts.
    parser = build_parser()
    flags = ["demo", "--coarse-model", "lexical", "--fine-windows", "2", "--fine-window-margin", "0.5"]
    settings = DemoSettings(queries=["q"], **option_values(parser.parse_args(flags)))
    assert (settings.coarse_model, settings.fine_windows_per_document, settings.fine_window_margin) == (
        "lexical",
        2,
        0.5,
    )


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
