"""Refuse a cross-encoder whose tokenizer cannot be the model's own.

A model directory without its tokenizer files still loads: transformers builds a tiny
fallback vocabulary, every word becomes the unknown token and the model ranks
nonsense with no warning. These checks catch that at load time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from crossrank.errors import ModelLoadError

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = ["check_tokenizer"]

# Ordinary words that any English or multilingual vocabulary knows.
_PROBE = "the water in the river was cold and the people walked to the old house by the sea"
# Above this share of unknown tokens the tokenizer does not know the language at all.
_MOST_UNKNOWN = 0.5
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


def check_tokenizer(cross_encoder: CrossEncoder, name: str) -> None:
    """Raise when the tokenizer's vocabulary cannot be the model's.

    Args:
        cross_encoder: The loaded model.
        name: Its path or hub id, for the message.

    Raises:
        ModelLoadError: When the tokenizer has more tokens than the model has embeddings,
            far fewer than its configured ``vocab_size``, or maps ordinary words to the
            unknown token; the message names the missing tokenizer files of a local
            directory.
    """
    tokenizer = cross_encoder.tokenizer
    config = getattr(getattr(cross_encoder, "model", None), "config", None)
    vocab_size = getattr(config, "vocab_size", None)
    size = len(tokenizer)
    problem = None
    if isinstance(vocab_size, int) and size > vocab_size:
        problem = f"the tokenizer has {size} tokens but the model only {vocab_size} embeddings"
    elif isinstance(vocab_size, int) and size < vocab_size // 2:
        problem = f"the tokenizer has {size} tokens but the model's config says vocab_size={vocab_size}"
    else:
        unknown_id = getattr(tokenizer, "unk_token_id", None)
        ids = tokenizer(_PROBE, add_special_tokens=False)["input_ids"]
        if unknown_id is not None and ids and sum(i == unknown_id for i in ids) > _MOST_UNKNOWN * len(ids):
            problem = "the tokenizer maps ordinary English words to its unknown token"
    if problem is None:
        return
    path = Path(name).expanduser()
    if path.is_dir():
        missing = [file for file in _TOKENIZER_FILES if not (path / file).exists()]
        where = f" {path} lacks {', '.join(missing)}." if missing else ""
        fix = "Copy the tokenizer files of the model it was trained from into the directory"
    else:
        where = ""
        fix = "Pass {option} a complete model directory or hub id, with its own tokenizer files"
    raise ModelLoadError(
        fix,
        f"the cross-encoder {name!r} cannot score: {problem}, so every score would be meaningless.{where}",
    )
