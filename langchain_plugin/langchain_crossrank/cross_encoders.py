"""A LangChain ``BaseCrossEncoder`` that scores long documents by their best window."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import ConfigDict, model_validator

from crossrank.adapters import ModelSpec, SyncedReranker

if TYPE_CHECKING:
    from langchain_core.cross_encoders import BaseCrossEncoder
else:

    def _find_base_cross_encoder() -> type:
        """The ``BaseCrossEncoder`` ABC that LangChain's ``CrossEncoderReranker`` checks ``model`` against.

        It lives in ``langchain_core.cross_encoders`` in recent langchain-core releases
        (langchain-classic and langchain-community re-export it); older releases only
        have it in langchain-classic or langchain-community.
        """
        try:
            from langchain_core.cross_encoders import BaseCrossEncoder
        except ImportError:
            pass
        else:
            return BaseCrossEncoder
        try:
            from langchain_classic.retrievers.document_compressors.cross_encoder import BaseCrossEncoder
        except ImportError:
            pass
        else:
            return BaseCrossEncoder
        try:
            from langchain_community.cross_encoders import BaseCrossEncoder
        except ImportError:
            pass
        else:
            return BaseCrossEncoder
        raise ImportError(
            "CrossEncoderModel needs LangChain's BaseCrossEncoder, which this langchain-core does not "
            'have: upgrade it (`pip install -U "crossrank[langchain]"`) or install langchain-classic '
            "or langchain-community."
        )

    BaseCrossEncoder = _find_base_cross_encoder()

__all__ = ["CrossEncoderModel"]


class CrossEncoderModel(SyncedReranker, BaseCrossEncoder):
    """LangChain cross-encoder whose scores cover the whole of long documents.

    Pass it as the ``model`` of LangChain's ``CrossEncoderReranker`` in place of
    ``HuggingFaceCrossEncoder``, whose arguments it also takes: ``model_name`` (for
    ``model``) and ``model_kwargs`` (``device`` and ``trust_remote_code`` go to those
    options, the rest to ``cross_encoder_kwargs``). A text longer than the model's
    window is split into overlapping token windows and scored by its best window
    (chunk-max), instead of by whatever fits before truncation. Texts that fit score
    as ``CrossEncoder.predict`` scores them. The model loads on first use; the fields
    are those of :class:`crossrank.Reranker` that concern scores (ranking options such
    as ``top_n`` belong to ``CrossEncoderReranker``), documented in
    :data:`crossrank.options.OPTIONS`.

    Raises:
        TypeError: If ``model`` is not one of the accepted types.
        ValueError: If an option is out of range; the message names the value.

    Example:
        .. code-block:: python

            from langchain_classic.retrievers.document_compressors import CrossEncoderReranker
            from langchain_crossrank import CrossEncoderModel

            compressor = CrossEncoderReranker(model=CrossEncoderModel(), top_n=3)
            same = CrossEncoderModel(model_name="path/to/model", model_kwargs={"device": "cpu"})
    """

    model_config = ConfigDict(extra="forbid")
    _ranking_belongs_to: ClassVar[str | None] = "LangChain's CrossEncoderReranker(model=..., top_n=...)"

    def __init__(self, model: ModelSpec = None, /, **data: Any) -> None:
        # The model may come positionally (CrossEncoderModel("path")) as well as by name.
        if model is not None:
            data = {"model": model, **data}
        super().__init__(**data)

    @model_validator(mode="before")
    @classmethod
    def _accept_huggingface_names(cls, data: Any) -> Any:
        """Map ``HuggingFaceCrossEncoder``'s ``model_name`` and ``model_kwargs`` to ours."""
        if not isinstance(data, dict) or not ({"model_name", "model_kwargs"} & data.keys()):
            return data
        data = dict(data)
        if "model_name" in data:
            if data.get("model") is not None:
                raise ValueError("pass the model as model= or as model_name=, not both.")
            data["model"] = data.pop("model_name")
        kwargs = dict(data.pop("model_kwargs", None) or {})
        for name in ("device", "trust_remote_code"):
            if name in kwargs:
                if name in data:
                    raise ValueError(f"{name} is given both as {name}= and in model_kwargs; pass it once.")
                data[name] = kwargs.pop(name)
        if kwargs:
            if data.get("cross_encoder_kwargs"):
                raise ValueError(
                    "pass CrossEncoder arguments as model_kwargs= or cross_encoder_kwargs=, not both."
                )
            data["cross_encoder_kwargs"] = kwargs
        return data

    @property
    def model_name(self) -> str:
        """The model's id or path (without loading it)."""
        return self.reranker.model_name

    def score(self, text_pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Score (query, text) pairs; a long text scores as its best window.

        Args:
            text_pairs: ``(query, text)`` pairs.

        Returns:
            One float per pair, in input order; higher is more relevant.

        Raises:
            TypeError: If a pair is not two strings.
            ValueError: If a query is empty.
            crossrank.ModelLoadError: If the model cannot be loaded.
        """
        return self.reranker.score_pairs(text_pairs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model_name!r}, long_documents={self.long_documents!r})"
