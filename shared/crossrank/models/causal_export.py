"""What an ONNX export traces: a classifier's scores, or a causal LM's ``LogitScore`` alone, and on what.

A sequence classifier is traced whole (the CrossEncoder's forward pass, then its activation).
A causal-LM reranker (a text-generation Transformer followed by ``LogitScore``, as Qwen3-Reranker
or zerank) is traced as the graph crossrank's PyTorch path computes
(:class:`~crossrank.models.causal_scorer.CausalLogitScorer`), not as ``predict`` does:

- inputs ``input_ids`` and ``attention_mask``, padded on the right (every backend feeds the
  same :class:`~crossrank.models.pair_encoder.PairEncoder` arrays), so each row's last real
  token is at ``attention_mask.sum(1) - 1`` and its positions are those of the unpadded pair;
- the decoder's hidden states (the base model, without the LM head), each row's last real
  token gathered from them;
- multiplied by the LM head's rows of the true and false tokens only, kept in the graph as a
  ``(2, hidden)`` constant: no vocabulary-sized logits exist anywhere, so memory stays flat in
  the vocabulary (:func:`check_graph` proves it on every causal export);
- ``true - false`` (or ``true`` alone), as ``LogitScore`` computes it, then the CrossEncoder's
  activation, which ``predict`` applies after ``LogitScore``: one score per row, as every
  crossrank graph gives.

The shared-prefix key/value cache of the PyTorch path is not exported: the graph scores
full pairs.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crossrank.errors import OnnxExportError
from crossrank.log import logger

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = ["CAUSAL_GRAPH", "causal_graph_fingerprint", "check_graph", "export_module", "probe_inputs"]

CAUSAL_GRAPH = "causal-last-token-logit-score"
"""What a causal export computes; part of its cache key, so it is never taken for a classifier's."""
# Bump when the causal graph changes what it computes or how.
_CAUSAL_GRAPH_REVISION = 1


def export_module(cross_encoder: CrossEncoder, input_names: tuple[str, ...]) -> Any:
    """The ``torch.nn.Module`` to trace: positional input tensors (in ``input_names`` order) to scores.

    Args:
        cross_encoder: The model, in float32 on the CPU. It is not changed: the module
            runs a copy with eager attention.
        input_names: The inputs the exporter feeds, in order.

    Returns:
        A module in eval mode returning ``(batch, 1)`` scores after the model's activation.

    Raises:
        OnnxExportError: If a causal model's LM head or decoder cannot be read.
    """
    exportable = _with_eager_attention(cross_encoder)
    if _logit_tokens(cross_encoder) is not None:
        return _causal_module(exportable, input_names)
    return _sequence_module(exportable, input_names)


def probe_inputs(cross_encoder: CrossEncoder) -> dict[str, Any]:
    """The exporter's example inputs: two pairs of different lengths, so the graph handles padding.

    Laid out as every backend lays them out (:class:`~crossrank.models.pair_encoder.PairEncoder`,
    the model's chat template where it has one), the longer first: the other row is padded on
    the right, as a causal graph expects.
    """
    from crossrank.models.pair_encoder import PairEncoder

    encoder = PairEncoder(cross_encoder.tokenizer, cross_encoder)
    query = encoder.query_ids("how do cross-encoders rank passages", 10**9)
    short, long = encoder.tokenize(
        [
            "A cross-encoder reads the query and the passage together.",
            "Rerankers score each candidate passage jointly with the query, which is slower than "
            "comparing embeddings but much more accurate on hard, ambiguous questions.",
        ]
    )
    return encoder.encode([(query, long.ids), (query, short.ids)])


def causal_graph_fingerprint(cross_encoder: CrossEncoder) -> dict[str, Any]:
    """What a causal export depends on beyond the weights, for the cache key; ``{}`` for a classifier.

    The true and false token ids live in ``LogitScore``'s config, not in the weights: a model
    re-saved with another true token must not re-use the old graph.
    """
    tokens = _logit_tokens(cross_encoder)
    if tokens is None:
        return {}
    return {"graph": CAUSAL_GRAPH, "graph_revision": _CAUSAL_GRAPH_REVISION, "logit_tokens": tokens}


def check_graph(cross_encoder: CrossEncoder, path: Path) -> None:
    """Check a causal export computes no vocabulary-sized tensor and gives one score per row.

    ONNX's shape inference gives every computed tensor its static dimensions; one with a
    dimension of the LM head's vocabulary size would be logits over the whole vocabulary
    (the embedding table itself is a constant, and only indexed). Nothing is checked for a
    sequence classifier.

    Raises:
        OnnxExportError: Naming the offending tensor or output.
    """
    if _logit_tokens(cross_encoder) is None:
        return
    import onnx

    language_model: Any = cross_encoder[0].auto_model
    vocabulary = int(language_model.get_output_embeddings().weight.shape[0])
    try:
        model = onnx.shape_inference.infer_shapes(onnx.load(str(path), load_external_data=False))
    except Exception as exc:  # a graph ONNX cannot read is no graph to run
        raise OnnxExportError(f"ONNX cannot read the causal export ({type(exc).__name__}: {exc})") from exc
    graph = model.graph
    constants = {tensor.name for tensor in graph.initializer}
    constants.update(output for node in graph.node if node.op_type == "Constant" for output in node.output)
    for value in [*graph.value_info, *graph.output]:
        if value.name not in constants and vocabulary in _static_dims(value):
            raise OnnxExportError(
                f"the causal export computes {value.name!r} with a vocabulary-sized dimension "
                f"({vocabulary}): it would make logits over the whole vocabulary"
            )
    # One output, (batch, 1): the batch is dynamic, the one score per row a fixed 1.
    outputs = [(out.name, [dim.dim_value or dim.dim_param for dim in _dims(out)]) for out in graph.output]
    if len(outputs) != 1 or outputs[0][0] != "scores" or len(outputs[0][1]) != 2 or outputs[0][1][1] != 1:
        raise OnnxExportError(f"the causal export's outputs are {outputs}, not one (batch, 1) 'scores'")


def _dims(value: Any) -> list[Any]:
    """The dimensions of a graph value's shape (ONNX ``TensorShapeProto.Dimension``)."""
    return list(value.type.tensor_type.shape.dim)


def _static_dims(value: Any) -> list[int]:
    """The dimensions of a graph value that are known numbers (the batch and sequence are not)."""
    return [dim.dim_value for dim in _dims(value) if dim.HasField("dim_value")]


def _logit_tokens(cross_encoder: CrossEncoder) -> list[int | None] | None:
    """``[true, false]`` token ids of the model's ``LogitScore`` (false may be ``None``), or ``None``."""
    from crossrank.models.causal_scorer import logit_score_module

    scoring = logit_score_module(cross_encoder)
    if scoring is None:
        return None
    false = scoring.false_token_id
    return [int(scoring.true_token_id), None if false is None else int(false)]


def _with_eager_attention(cross_encoder: CrossEncoder) -> CrossEncoder:
    """A copy of the model with plain (eager) attention, whose graph ONNX Runtime can fuse.

    PyTorch's SDPA attention exports as a pattern ONNX Runtime does not recognise; the
    eager one becomes a single fused ``Attention`` operator, which runs faster (see
    docs/benchmarks.md). A copy, because the caller's model may be in use elsewhere.
    """
    exportable = copy.deepcopy(cross_encoder)
    set_attention = getattr(getattr(exportable, "model", None), "set_attn_implementation", None)
    if set_attention is not None:
        try:
            set_attention("eager")
        except (ValueError, ImportError, NotImplementedError):
            logger.debug("Exporting with the model's own attention implementation")
    return exportable


def _sequence_module(cross_encoder: CrossEncoder, input_names: tuple[str, ...]) -> Any:
    """The CrossEncoder's own forward pass, then its activation."""
    import torch

    class Scores(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.cross_encoder = cross_encoder

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            features = dict(zip(input_names, inputs, strict=True))
            scores: torch.Tensor = self.cross_encoder(features)["scores"]
            activation = self.cross_encoder.activation_fn
            return activation(scores) if activation is not None else scores

    return Scores().eval()


def _causal_module(cross_encoder: CrossEncoder, input_names: tuple[str, ...]) -> Any:
    """The decoder, each row's last real token, the true/false rows of the LM head, ``LogitScore``."""
    import torch

    tokens = _logit_tokens(cross_encoder)
    language_model: Any = cross_encoder[0].auto_model
    head = language_model.get_output_embeddings()
    decoder: Any = getattr(language_model, "model", None)
    if tokens is None or head is None or decoder is None:
        raise OnnxExportError("the causal model has no LM head or decoder to export")
    ids = torch.tensor([token for token in tokens if token is not None], dtype=torch.long)
    # Copies of the two rows (and their bias), traced as constants: the graph holds a
    # (2, hidden) matrix, never the (vocabulary, hidden) head, even where the head is tied
    # to the embeddings.
    rows = head.weight.detach()[ids].clone()
    bias = getattr(head, "bias", None)
    row_bias = None if bias is None else bias.detach()[ids].clone()
    activation: Any = cross_encoder.activation_fn

    class CausalScores(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.decoder = decoder

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            features = dict(zip(input_names, inputs, strict=True))
            mask = features["attention_mask"]
            hidden: torch.Tensor = self.decoder(
                input_ids=features["input_ids"], attention_mask=mask
            ).last_hidden_state
            # Right padding: a row's last real token is at its length - 1. A gather with an
            # index tensor keeps the batch and sequence sizes dynamic in the traced graph.
            last = (mask.sum(dim=1) - 1).view(-1, 1, 1).expand(-1, 1, hidden.shape[-1])
            logits = hidden.gather(1, last).squeeze(1) @ rows.T
            if row_bias is not None:
                logits = logits + row_bias
            scores = logits[:, 0] - logits[:, 1] if len(ids) == 2 else logits[:, 0]
            scores = scores.unsqueeze(1)
            return scores if activation is None else torch.as_tensor(activation(scores))

    return CausalScores().eval()
