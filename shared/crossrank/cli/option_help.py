"""A reranking option's doc, said in the command line's terms.

The options table (:data:`crossrank.options.OPTIONS`) documents each option once, for
Python: values as literals (``'chunk_max'``, ``None``), other options by keyword
(``coarse_keep``, ``backend='auto'``). A flag's help says the same thing as the command
line spells it: values as typed (``chunk_max``), ``None`` as *unset*, other options by
their flags (``--coarse-keep``, ``--backend auto``), so no doc is written twice.

Example:
    >>> cli_text("None picks cuda; with backend='auto' and coarse_keep, 'lexical' counts words.")
    'Unset picks cuda; with --backend auto and --coarse-keep, lexical counts words.'
"""

from __future__ import annotations

import re
from typing import Any

from crossrank.options import OPTIONS

__all__ = [
    "OPTION_FLAGS",
    "UNSET",
    "cli_text",
    "cli_value",
    "drop_unset_clauses",
    "option_flag",
    "switch_text",
]

UNSET = "unset"
"""How the command line says ``None``: the flag is not given."""

OPTION_FLAGS = {"score_threshold": "--threshold", "fine_windows_per_document": "--fine-windows"}
"""The flags whose names are not their option's name with dashes."""

# name='value' / name=None / name=3 of a table option: its flag and the value as typed.
_ASSIGNMENT = re.compile(r"\b([a-z][a-z0-9_]*)=('[^']*'|None|[\w.]+)")
# A quoted value ('chunk_max'), not an apostrophe (the model's).
_QUOTED = re.compile(r"(?<!\w)'([^'\s]+)'(?!\w)")
_NONE = re.compile(r"\bNone\b")
# A sentence that points at a Python call (Reranker.cache_info()): nothing to type on a command line.
_PYTHON_CALL_SENTENCE = re.compile(r"(?:^|(?<=\. ))[^.]*\b[A-Z]\w*\.\w+\(\)[^.]*\.\s*")
# What an unset value does, where the command's default is not unset: it cannot happen there.
_UNSET_CLAUSES = (
    re.compile(r"\s*\((?:None|unset): [^()]*\)"),  # "(None: no cap)"
    re.compile(r";\s*(?:None|unset)\b[^;.]*"),  # "; None picks cuda, then mps, then cpu"
    re.compile(r"(?:^|(?<=\. ))(?:None|unset)\b[^.]*\.\s*"),  # "None uses one eighth ... ."
)
_SENTENCE_START = re.compile(r"(^|\.\s+)(unset|this flag|without it)\b")


def option_flag(name: str) -> str:
    """The flag of option ``name`` (``coarse_keep`` -> ``--coarse-keep``)."""
    return OPTION_FLAGS.get(name, "--" + name.replace("_", "-"))


def cli_value(value: Any) -> str:
    """A value as the command line types it: ``None`` is unset, ``16777216.0`` is ``16777216``."""
    if value is None:
        return UNSET
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:g}"
    if isinstance(value, tuple | list):
        return ",".join(cli_value(item) for item in value)
    return str(value)


def drop_unset_clauses(text: str) -> str:
    """``text`` without what an unset (``None``) value does: for a flag whose default is set."""
    for clause in _UNSET_CLAUSES:
        text = clause.sub("", text)
    return text.strip()


def switch_text(doc: str, const: Any, default: Any) -> str:
    """An option's doc for a switch: its value is *this flag*, the default *without it*."""
    return _value_pattern(default).sub("without it", _value_pattern(const).sub("this flag", doc))


def cli_text(doc: str) -> str:
    """A doc of the options table in the command line's terms.

    Args:
        doc: Python-flavoured text: ``'value'`` literals, ``None``, ``option=value``
            and option names.

    Returns:
        The text with values as typed, ``None`` as *unset*, options as their flags,
        and no sentence that only points at a Python call.
    """
    text = _PYTHON_CALL_SENTENCE.sub("", doc)
    text = _ASSIGNMENT.sub(_flag_and_value, text)
    # Only names with an underscore: "backend" or "precision" alone is also an English word.
    for name in sorted((name for name in OPTIONS if "_" in name), key=len, reverse=True):
        text = re.sub(rf"(?<![\w.-]){name}\b", option_flag(name), text)
    text = _QUOTED.sub(r"\1", text)
    text = _NONE.sub(UNSET, text)
    return _SENTENCE_START.sub(lambda match: match.group(1) + match.group(2).capitalize(), text).strip()


def _flag_and_value(match: re.Match[str]) -> str:
    name, value = match.groups()
    if name not in OPTIONS:
        return match.group(0)
    return f"{option_flag(name)} {UNSET if value == 'None' else value.strip(chr(39))}"


def _value_pattern(value: Any) -> re.Pattern[str]:
    return re.compile(r"\bNone\b" if value is None else re.escape(repr(value)))
