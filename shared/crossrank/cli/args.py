"""Arguments shared by the ``crossrank`` sub-commands.

A reranking option's flag is declared with :func:`add_option_argument`, which takes its
help, choices and default from :data:`crossrank.options.OPTIONS` and stores the value
under the option's own name, so :func:`option_values` hands the parsed options straight
to :class:`~crossrank.Reranker`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crossrank.cli.option_help import UNSET, cli_text, cli_value, drop_unset_clauses, switch_text
from crossrank.evaluation.first_stage import RUN_PREFIX
from crossrank.options import OPTIONS
from crossrank.ranking.inputs import check_query

__all__ = [
    "add_cascade_arguments",
    "add_model_argument",
    "add_option_argument",
    "add_profile_argument",
    "first_stage_argument",
    "flag_given",
    "given_options",
    "model_and_options",
    "model_argument",
    "non_negative_int",
    "option_values",
    "positive_int",
    "query_argument",
]

_UNSET: Any = object()
# Each option's flags (commands may spell one differently), as add_option_argument declared
# them: given_options reads them back.
_FLAGS: dict[str, set[str]] = {}


def positive_int(text: str) -> int:
    """Parse a command-line integer that must be at least 1 (an argparse ``type``).

    Raises:
        argparse.ArgumentTypeError: Naming the text, when it is not a whole number >= 1.
    """
    return _int_at_least(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """Parse a command-line integer that must be at least 0 (an argparse ``type``).

    Raises:
        argparse.ArgumentTypeError: Naming the text, when it is not a whole number >= 0.
    """
    return _int_at_least(text, 0, "a whole number >= 0")


def _int_at_least(text: str, minimum: int, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
    return value


def first_stage_argument(text: str) -> str:
    """Parse ``--first-stage``: ``dense``, ``bm25`` or ``run:PATH`` of an existing run file.

    Raises:
        argparse.ArgumentTypeError: For another value, or a run file that does not exist.
    """
    if text in ("dense", "bm25"):
        return text
    if text.startswith(RUN_PREFIX):
        path = text.removeprefix(RUN_PREFIX)
        if not Path(path).expanduser().is_file():
            raise argparse.ArgumentTypeError(
                f"no run file at {path!r}: record one with `crossrank retrieve DATA_DIR --output FILE`"
            )
        return text
    raise argparse.ArgumentTypeError(f"expected dense, bm25 or run:PATH (a TREC run file), got {text!r}")


def model_argument(text: str) -> str:
    """Parse ``--model``: a hub id, or a local path that must exist (an argparse ``type``).

    Checked while parsing, so a wrong path fails at once instead of after loading Chroma
    and the embedder.

    Raises:
        argparse.ArgumentTypeError: For a path (it starts with ``.``, ``/`` or ``~``) that
            does not exist.
    """
    path = Path(text).expanduser()
    if text.startswith((".", "/", "~")) and not path.exists():
        raise argparse.ArgumentTypeError(
            f"no model at {text!r}: point --model DIR at a directory that holds a sentence-transformers "
            "cross-encoder"
        )
    return text


def query_argument(text: str) -> str:
    """Parse ``--query``: a query with something to search for (an argparse ``type``).

    Raises:
        argparse.ArgumentTypeError: For an empty, blank or invisible query, as the core says.
    """
    try:
        return check_query(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("query must", "--query must")) from None


def add_model_argument(
    parser: argparse.ArgumentParser,
    help: str = "cross-encoder path or hub id (default: $CROSSRANK_MODEL or the hub default)",
) -> None:
    """Add ``--model``, the cross-encoder to load (``None``: ``$CROSSRANK_MODEL`` or the hub default).

    Args:
        parser: The sub-command's parser.
        help: The flag's help text.
    """
    parser.add_argument("--model", default=None, type=model_argument, metavar="MODEL", help=help)


def add_option_argument(
    parser: argparse.ArgumentParser,
    name: str,
    flag: str,
    *,
    type: Callable[[str], Any] | None = None,
    const: Any = _UNSET,
    default: Any = _UNSET,
    note: str = "",
) -> None:
    """Add the flag of one reranking option, described by :data:`~crossrank.options.OPTIONS`.

    The help is the option's doc in the command line's terms (values as typed, ``None``
    as unset, options as flags: :mod:`crossrank.cli.option_help`), then ``note``, then its
    default; the choices are the option's. The parsed value goes through the option's own
    check while parsing, so ``--rrf-k -1`` fails at once with the library's message. The
    value is stored under the option's name (``--threshold`` sets ``args.score_threshold``),
    which :func:`option_values` reads back.

    Args:
        parser: The sub-command's parser.
        name: The option's name in the table.
        flag: The flag, such as ``"--backend"``.
        type: Parses the flag's text (ignored for a switch).
        const: Makes the flag a switch that sets the option to this value.
        default: A default of this command's own, where it differs from the table's;
            the help then names both (the table's only if it is set: an unset one cannot
            happen here).
        note: What the flag means for this command, added to the option's doc.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_option_argument(parser, "backend", "--backend")
        >>> parser.parse_args(["--backend", "onnx"]).backend
        'onnx'
    """
    option = OPTIONS[name]
    _FLAGS.setdefault(name, set()).add(flag)
    value = option.default if default is _UNSET else default
    switch = const is not _UNSET
    text = switch_text(option.doc, const, value) if switch else option.doc
    if value is not None:
        # Unset cannot happen when the flag has a value without being given.
        text = drop_unset_clauses(text)
    text = " ".join(part for part in (cli_text(text), note) if part)
    said = text.lower()
    if switch:
        # The doc says what the flag does and what happens without it, unless it cannot.
        if const == value:
            text += " (already the default here)"
        elif "this flag" not in said or "without it" not in said:
            text += f" (this flag: {cli_value(const)}; without it: {cli_value(value)})"
    elif value != option.default:
        library = "" if option.default is None else f"; the library's default is {cli_value(option.default)}"
        text += f" (default here: {cli_value(value)}{library})"
    elif not (value is None and UNSET in said):
        # An unset default the doc already explains is not said twice.
        text += f" (default: {cli_value(value)})"
    # argparse %-formats help: a literal % must be doubled.
    text = text.replace("%", "%%")
    if switch:
        parser.add_argument(flag, dest=name, action="store_const", const=const, default=value, help=text)
    else:
        parser.add_argument(
            flag,
            dest=name,
            # A choice is argparse's to check (its message lists them); any other value the option's.
            type=(type or str) if option.choices else _checked_by(name, type or str),
            choices=option.choices,
            default=value,
            # The flag's own name in the usage line, not the option's (THRESHOLD, not SCORE_THRESHOLD).
            metavar=None if option.choices else flag.lstrip("-").replace("-", "_").upper(),
            help=text,
        )


def _checked_by(name: str, parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse``, then the check of option ``name``; its refusal becomes argparse's error."""

    def parse_and_check(text: str) -> Any:
        value = parse(text)
        try:
            return OPTIONS[name].check(value)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    # argparse names the type in "invalid int value: 'x'" when ``parse`` itself refuses the text.
    parse_and_check.__name__ = getattr(parse, "__name__", "value")
    return parse_and_check


def add_cascade_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the cascade's flags: ``--coarse-model/-backend/-keep/-max-length``, ``--fine-windows(-margin)``.

    Args:
        parser: The sub-command's parser.
    """
    add_option_argument(parser, "coarse_model", "--coarse-model", type=model_argument)
    add_option_argument(parser, "coarse_backend", "--coarse-backend")
    add_option_argument(parser, "coarse_keep", "--coarse-keep", type=positive_int)
    add_option_argument(parser, "coarse_max_length", "--coarse-max-length", type=positive_int)
    add_option_argument(parser, "fine_windows_per_document", "--fine-windows", type=positive_int)
    add_option_argument(parser, "fine_window_margin", "--fine-window-margin", type=float)


def option_values(args: argparse.Namespace) -> dict[str, Any]:
    """The reranking options on a parsed command line, by option name.

    Args:
        args: The parsed command line.

    Returns:
        Every parsed value stored under an option's name, ready for ``Reranker(**...)``.
    """
    return {name: value for name, value in vars(args).items() if name in OPTIONS}


def given_options(args: argparse.Namespace) -> dict[str, Any]:
    """The reranking options whose flags were typed on the command line (not left at a default).

    What a ``--profile`` run lets the command line change: a profile's ``max_windows=4``
    stays unless ``--max-windows`` is given, even with the default's value.

    Args:
        args: The parsed command line, with ``argv`` (set by :func:`crossrank.cli.main.main`).

    Returns:
        The given options by name, as :func:`option_values` has them.
    """
    typed = {name for name, flags in _FLAGS.items() if any(flag_given(args, flag) for flag in flags)}
    return {name: value for name, value in option_values(args).items() if name in typed}


def flag_given(args: argparse.Namespace, flag: str) -> bool:
    """Whether ``flag`` (``--k``) was typed on the command line, alone or as ``--k=...``."""
    return any(word == flag or word.startswith(f"{flag}=") for word in map(str, getattr(args, "argv", [])))


def add_profile_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--profile``: start from the options ``crossrank tune`` chose; flags typed here win."""
    parser.add_argument(
        "--profile",
        default=None,
        metavar="PROFILE.json",
        help="start from a profile written by crossrank tune (its model and options); flags given "
        "here win over it, and a profile tuned on another CPU or for another model warns",
    )


def model_and_options(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The model and reranking options of a command: its flags, over ``--profile``'s when given.

    Returns:
        ``(model, options)`` for ``Reranker(model, **options)``.

    Raises:
        FileNotFoundError: If the profile does not exist.
        ValueError: If it is not a profile or holds an option crossrank rejects.
    """
    options = option_values(args)
    if not getattr(args, "profile", None):
        return args.model, options
    from crossrank.profiles import load_profile

    overrides = given_options(args)
    if args.model is not None:
        overrides["model"] = args.model
    model, chosen = load_profile(args.profile, overrides, stacklevel=2)
    return model, {**options, **chosen}
