"""A :class:`~crossrank.scorer.PairScorer` that runs a cross-encoder's ONNX export in OpenVINO.

OpenVINO reads the same cached, verified ONNX file ONNX Runtime runs (its ONNX reader
knows ONNX Runtime's fused transformer operators), so there is nothing more to export or
cache: compiling it takes a fraction of a second. In fp32 its scores are the export's (to
float rounding); in bf16 it runs matrix products in bfloat16 on CPUs that have AVX512-BF16
or AMX, which moves scores by up to a few thousandths (sigmoid outputs, measured on
SciFact; see docs/benchmarks.md). In int8 it runs the statically quantized graph
(``exported_model_path(..., "int8-static")``): matrix products in int8 with fixed scales.

In bf16 and int8 a pair's padded length changes its score: padded to a longer neighbour, it
sums its attention in another order, and the difference survives bf16's rounding or tips an
int8 value over a quantization step (up to 0.0033 in bf16 and 0.0086 in int8, measured on
real pairs). So in those precisions every pair is padded to a length of its own, the next
multiple of :data:`LENGTH_BUCKET` tokens, and batched only with pairs of that length: its
score is then the same, bit for bit, whatever it is scored with.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from crossrank.models.cpu import usable_cpu_count
from crossrank.models.pair_encoder import CrossEncoderPairScorer, graph_input_names

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = ["LENGTH_BUCKET", "OpenVinoPrecision", "OpenVinoScorer"]

OpenVinoPrecision = Literal["fp32", "bf16", "int8"]
# OpenVINO's names for the precisions it runs the graph's float operations in. The int8
# graph keeps its float operations (softmax, layer norms, what NNCF left unquantized) in
# f32, so its scores depend on the calibrated scales alone, not on the batch.
_INFERENCE_PRECISION = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}
_BACKEND_NAMES = {"fp32": "openvino", "bf16": "openvino-bf16", "int8": "openvino-int8"}
LENGTH_BUCKET = 64
"""In bf16 and int8, pairs are padded to the next multiple of this many tokens (see the module's text)."""


class OpenVinoScorer(CrossEncoderPairScorer):
    """Scores token-id pairs with OpenVINO on the CPU.

    Tokenization, pair layout and padding are those of every other backend
    (:class:`~crossrank.models.pair_encoder.PairEncoder`), and the graph already applies
    the model's activation, so scores are ``CrossEncoder.predict``'s (fp32) or close to
    them (bf16). A causal-LM reranker's graph (:mod:`crossrank.models.causal_export`) is fed
    the same right-padded arrays; ``"int8"`` is not built for it (see
    :func:`crossrank.models.backends.build_scorer`).

    Args:
        cross_encoder: The model the graph was exported from (for its tokenizer, maximum
            length and activation; the scorer keeps no reference to it).
        model_file: The ``.onnx`` file from
            :func:`crossrank.models.onnx_export.exported_model_path`: the fp32 export for
            ``"fp32"`` and ``"bf16"``, the ``"int8-static"`` one for ``"int8"``.
        precision: ``"fp32"``, ``"bf16"`` or ``"int8"``.
        name: The model's path or hub id.
        threads: Inference threads; defaults to the CPUs this process may use.

    Raises:
        ValueError: If ``precision`` is unknown.
        RuntimeError: If OpenVINO cannot read or compile the graph (OpenVINO's own error).

    Example:
        >>> path = exported_model_path(cross_encoder, "fp32", name="my-model")  # doctest: +SKIP
        >>> scorer = OpenVinoScorer(cross_encoder, path, precision="bf16", name="my-model")  # doctest: +SKIP
    """

    def __init__(
        self,
        cross_encoder: CrossEncoder,
        model_file: Path,
        *,
        precision: OpenVinoPrecision,
        name: str,
        threads: int | None = None,
        instruction: str | None = None,
    ) -> None:
        if precision not in _INFERENCE_PRECISION:
            raise ValueError(f"precision must be one of {tuple(_INFERENCE_PRECISION)}, got {precision!r}.")
        import openvino

        super().__init__(cross_encoder, name, instruction=instruction)
        core = openvino.Core()
        self._compiled = core.compile_model(
            core.read_model(str(model_file)),
            "CPU",
            {
                "INFERENCE_PRECISION_HINT": _INFERENCE_PRECISION[precision],
                # One request at a time, on every core this process may use: the batches
                # are already as large as the caller allows.
                "PERFORMANCE_HINT": "LATENCY",
                "INFERENCE_NUM_THREADS": threads or usable_cpu_count(),
            },
        )
        self._request = self._compiled.create_infer_request()
        self._request_lock = threading.Lock()
        self._output = self._compiled.output(0)
        self._inputs = graph_input_names(
            [value.get_any_name() for value in self._compiled.inputs],
            self._encoder.input_names,
            str(model_file),
        )
        self._precision: OpenVinoPrecision = precision

    @property
    def precision(self) -> OpenVinoPrecision:
        """The precision matrix products run in."""
        return self._precision

    @property
    def backend(self) -> str:
        """``"openvino"`` (fp32), ``"openvino-bf16"`` or ``"openvino-int8"``."""
        return _BACKEND_NAMES[self._precision]

    def score(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[float]:
        """Score one batch of pairs, padded to its longest pair (in bf16 and int8: to each one's bucket)."""
        if not pairs:
            return []
        if self._precision == "fp32":
            return self._infer(self._encoder.encode(pairs), len(pairs))
        by_length: dict[int, list[int]] = {}
        for index, (query_ids, passage_ids) in enumerate(pairs):
            by_length.setdefault(self.padded_length(query_ids, passage_ids), []).append(index)
        scores = [0.0] * len(pairs)
        for length, indices in by_length.items():
            inputs = self._encoder.encode([pairs[index] for index in indices], pad_to=length)
            for index, value in zip(indices, self._infer(inputs, len(indices)), strict=True):
                scores[index] = value
        return scores

    def padded_length(self, query_ids: Sequence[int], passage_ids: Sequence[int]) -> int:
        """The length a bf16 or int8 pair is padded to: the next bucket's, at most the window's."""
        length = self._encoder.pair_length(query_ids, passage_ids)
        bucket = -(-length // LENGTH_BUCKET) * LENGTH_BUCKET
        return bucket if bucket <= self.max_length else max(length, self.max_length)

    def _infer(self, inputs: dict[str, Any], count: int) -> list[float]:
        # An infer request is not thread-safe, and a Reranker may be shared by threads;
        # they would contend for the same cores anyway, so they take turns.
        with self._request_lock:
            scores = self._request.infer({name: inputs[name] for name in self._inputs})[self._output].copy()
        return [float(value) for value in scores.reshape(count).tolist()]
