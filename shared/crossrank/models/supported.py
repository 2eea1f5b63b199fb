"""Which rerankers crossrank scores, checked at load: what is not supported is refused, never guessed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crossrank.errors import ModelLoadError

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = ["check_supported_model"]

# The module layouts sentence-transformers 6 gives pointwise rerankers.
_SUPPORTED = {
    ("Transformer",): "sequence-classification",
    ("Transformer", "LogitScore"): "text-generation",
}


def check_supported_model(cross_encoder: CrossEncoder, name: str) -> None:
    """Refuse a model crossrank would score wrongly, naming what was found.

    crossrank scores pointwise rerankers: a sequence classifier with one relevance output,
    or a causal LM whose ``LogitScore`` reads the yes (and no) token. A listwise model, a
    head sentence-transformers composes from other modules, or several labels are refused.

    Args:
        cross_encoder: The loaded model.
        name: Its path or hub id, for the message.

    Raises:
        ModelLoadError: Naming the modules, task or labels found.
    """
    modules = tuple(type(module).__name__ for module in cross_encoder)
    task = getattr(cross_encoder[0], "transformer_task", "sequence-classification")
    expected = _SUPPORTED.get(modules)
    if expected is None or task != expected:
        raise ModelLoadError(
            "crossrank scores pointwise rerankers (a sequence classifier, or a causal LM followed by "
            "LogitScore); pass such a model as {option}",
            f"{name!r} is {' -> '.join(modules)} with transformer_task={task!r}",
        )
    if cross_encoder.num_labels != 1:
        raise ModelLoadError(
            "crossrank needs one relevance score per pair; pass a reranker with one output as {option}",
            f"{name!r} has num_labels={cross_encoder.num_labels} and no label is chosen as the score",
        )
