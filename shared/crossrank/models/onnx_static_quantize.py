"""Static int8 quantization of a cross-encoder's ONNX graph with NNCF, calibrated on real pairs.

Static quantization fixes every activation's int8 scale once, from calibration pairs, so a
pair's score does not depend on the pairs batched with it (dynamic int8 computes the scales
per batch, which is why ``backend="onnx-int8"`` scores each pair alone). NNCF inserts
QuantizeLinear/DequantizeLinear pairs into the plain (unfused) ONNX graph; OpenVINO reads that
graph and runs the quantized matrix products in int8 (VNNI/AMX).

The calibration pairs are crossrank's own sample texts (:mod:`crossrank.samples`): each
built-in query with the sample documents, the first window of each pair. What is kept in
float and what the pairs are was chosen by measurement (``benchmarks/static_int8_probe.py``;
docs/benchmarks.md has the numbers).

Calibrating takes minutes on a CPU: NNCF runs the float graph over every calibration pair
twice (SmoothQuant's statistics, then the activation ranges) and the check runs the float
and the quantized graph once more each, so the time grows with the number of pairs. The
environment variable ``CROSSRANK_STATIC_INT8_PAIRS_PER_QUERY`` calibrates on fewer (or
more) pairs per sample query than :data:`STATIC_INT8_OPTIONS` says; the quantized graph is
cached under its own key, as for any other option. The test suite sets it low, to keep
the quantization it checks to seconds.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crossrank.errors import OnnxExportError
from crossrank.log import logger

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from sentence_transformers import CrossEncoder

    from crossrank.models.pair_encoder import PairEncoder

__all__ = [
    "PAIRS_PER_QUERY_ENV",
    "STATIC_INT8_OPTIONS",
    "calibration_batches",
    "check_quantized",
    "quantize_calibrated",
    "quantize_static",
    "require_nncf",
    "sample_calibration_pairs",
    "static_int8_fingerprint",
    "static_int8_options",
]

# A quantized graph whose scores of the calibration pairs rank below this against fp32's
# is broken (NNCF's defaults without the transformer scheme gave one constant score for
# every pair), not merely lossy: measured, a good one is at 0.99 (docs/benchmarks.md).
MIN_RANK_CORRELATION = 0.9

# Chosen by measurement (benchmarks/static_int8_probe.py, docs/benchmarks.md):
# model_type "transformer" is NNCF's scheme for attention models (SmoothQuant, softmax and
# layer norms left in float); keep_in_float lists regular expressions of node names that
# stay in float.
STATIC_INT8_OPTIONS: dict[str, Any] = {
    "model_type": "transformer",
    "preset": "performance",
    "keep_in_float": (),
    "pairs_per_query": 32,
    "pairs_per_sample": 4,
}
PAIRS_PER_QUERY_ENV = "CROSSRANK_STATIC_INT8_PAIRS_PER_QUERY"
"""Environment variable that overrides ``STATIC_INT8_OPTIONS["pairs_per_query"]`` (see the module's text)."""


def static_int8_options() -> dict[str, Any]:
    """:data:`STATIC_INT8_OPTIONS`, with ``pairs_per_query`` from :data:`PAIRS_PER_QUERY_ENV` where set.

    Raises:
        ValueError: If the variable is set to anything but a positive integer.
    """
    options = dict(STATIC_INT8_OPTIONS)
    value = os.environ.get(PAIRS_PER_QUERY_ENV, "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{PAIRS_PER_QUERY_ENV} must be a positive integer, got {value!r}.")
        options["pairs_per_query"] = int(value)
    return options


def require_nncf() -> Any:
    """The ``nncf`` module.

    Raises:
        ImportError: Naming the extra to install when NNCF is missing.
    """
    try:
        import nncf
    except ImportError as exc:
        raise ImportError('static int8 needs NNCF: pip install "crossrank[openvino]"') from exc
    return nncf


def static_int8_fingerprint() -> dict[str, Any]:
    """What a static int8 graph depends on beyond the model: the options, NNCF, the texts."""
    from crossrank.samples import sample_files_digest

    nncf = require_nncf()
    return {
        "options": static_int8_options(),
        "nncf": nncf.__version__,
        "calibration_texts": sample_files_digest(),
    }


def quantize_calibrated(
    cross_encoder: CrossEncoder,
    source: Path,
    path: Path,
    options: Mapping[str, Any] | None = None,
) -> None:
    """Quantize ``source`` on the sample calibration pairs and refuse a broken result.

    Args:
        cross_encoder: The model the plain graph ``source`` was exported from (its tokenizer
            and window).
        source: The plain fp32 graph.
        path: Where the quantized graph goes.
        options: :data:`STATIC_INT8_OPTIONS` or a variant of it; :func:`static_int8_options`
            (the defaults, and the environment's calibration size) when ``None``.

    Raises:
        ImportError: If NNCF or OpenVINO is missing.
        OnnxExportError: If quantizing fails or the result does not rank like ``source``.
    """
    from crossrank.models.pair_encoder import PairEncoder

    options = static_int8_options() if options is None else options
    encoder = PairEncoder(cross_encoder.tokenizer)
    window = int(cross_encoder.max_seq_length or cross_encoder.tokenizer.model_max_length)
    pairs = sample_calibration_pairs(encoder, window, pairs_per_query=int(options["pairs_per_query"]))
    batches = calibration_batches(encoder, pairs, pairs_per_sample=int(options["pairs_per_sample"]))
    # The longest step of a first load: say what it is, and roughly how long, before it starts.
    logger.info(
        "crossrank: calibrating static int8 with NNCF on %d sample pairs (%d per sample query, "
        "up to %d tokens each), about four passes over them: minutes on a CPU at the default "
        "%d per query (%s sets it)",
        len(pairs),
        options["pairs_per_query"],
        window,
        STATIC_INT8_OPTIONS["pairs_per_query"],
        PAIRS_PER_QUERY_ENV,
    )
    quantize_static(source, path, batches, options)
    check_quantized(source, path, batches)


def sample_calibration_pairs(
    encoder: PairEncoder, max_length: int, *, pairs_per_query: int | None = None
) -> list[tuple[list[int], list[int]]]:
    """Token-id pairs from crossrank's sample texts: each query with its first documents.

    Every query is paired with the documents it is labelled with and then the corpus in
    file order, up to ``pairs_per_query`` pairs, so calibration sees relevant, related and
    unrelated candidates of every length (a long document's first window). Deterministic:
    the same pairs, so the same quantized graph, every time.

    Args:
        encoder: The model's pair encoder (its tokenizer).
        max_length: The model's window in tokens; each pair is cut to fit it.
        pairs_per_query: Pairs per sample query; ``STATIC_INT8_OPTIONS["pairs_per_query"]``
            when ``None``.
    """
    from crossrank.samples import load_sample_corpus, load_sample_queries

    corpus = load_sample_corpus()
    document_ids = [document.id for document in corpus]
    tokenized = dict(zip(document_ids, encoder.tokenize([d.full_text for d in corpus]), strict=True))
    per_query = int(STATIC_INT8_OPTIONS["pairs_per_query"] if pairs_per_query is None else pairs_per_query)
    room = max_length - encoder.num_special_tokens
    pairs = []
    for query in load_sample_queries():
        query_ids = encoder.query_ids(query.text, room // 2)
        labelled = [i for i in query.relevant if i in tokenized]
        chosen = (labelled + [i for i in document_ids if i not in labelled])[:per_query]
        for document_id in chosen:
            pairs.append((query_ids, list(tokenized[document_id].ids[: room - len(query_ids)])))
    return pairs


def calibration_batches(
    encoder: PairEncoder,
    pairs: Sequence[tuple[Sequence[int], Sequence[int]]],
    *,
    pairs_per_sample: int | None = None,
) -> list[dict[str, npt.NDArray[np.int64]]]:
    """The model inputs NNCF calibrates on: the pairs in groups of ``pairs_per_sample``.

    Args:
        encoder: The model's pair encoder.
        pairs: Token-id pairs (:func:`sample_calibration_pairs`).
        pairs_per_sample: Pairs per batch; ``STATIC_INT8_OPTIONS["pairs_per_sample"]`` when ``None``.
    """
    size = int(STATIC_INT8_OPTIONS["pairs_per_sample"] if pairs_per_sample is None else pairs_per_sample)
    return [encoder.encode(pairs[start : start + size]) for start in range(0, len(pairs), size)]


def quantize_static(
    source: Path,
    path: Path,
    batches: Sequence[Mapping[str, Any]],
    options: Mapping[str, Any] = STATIC_INT8_OPTIONS,
) -> None:
    """Write the statically quantized version of the plain fp32 graph ``source`` to ``path``.

    Args:
        source: A plain (unfused) fp32 ONNX graph of the scores.
        path: Where the quantized graph goes.
        batches: Calibration inputs (:func:`calibration_batches`).
        options: :data:`STATIC_INT8_OPTIONS`, or a variant of it (the probe tries several).

    Raises:
        ImportError: If NNCF is missing, naming the extra to install.
        OnnxExportError: If NNCF fails, naming why.
    """
    nncf = require_nncf()
    import onnx

    extra: dict[str, Any] = {}
    if options.get("model_type") == "transformer":
        extra["model_type"] = nncf.ModelType.TRANSFORMER
    if options.get("keep_in_float"):
        extra["ignored_scope"] = nncf.IgnoredScope(patterns=list(options["keep_in_float"]), validate=False)
    presets = nncf.QuantizationPreset
    preset = presets.MIXED if options.get("preset") == "mixed" else presets.PERFORMANCE
    # NNCF reports progress on its own logger at INFO; the export already says what it does.
    nncf_logger = logging.getLogger("nncf")
    level = nncf_logger.level
    nncf_logger.setLevel(logging.WARNING)
    # And it draws progress bars on rich's global console (stdout), with no switch of its own:
    # quiet that console, not the process's stdout, which other threads may be writing to.
    import rich

    console = rich.get_console()
    was_quiet = console.quiet
    console.quiet = True
    try:
        quantized = nncf.quantize(
            onnx.load(str(source)),
            nncf.Dataset(list(batches)),
            preset=preset,
            subset_size=len(batches),
            **extra,
        )
        onnx.save(quantized, str(path))
    except Exception as exc:  # any quantizer failure means "use another backend"
        raise OnnxExportError(f"static int8 quantization failed ({type(exc).__name__}: {exc})") from exc
    finally:
        console.quiet = was_quiet
        nncf_logger.setLevel(level)


def check_quantized(reference: Path, quantized: Path, batches: Sequence[Mapping[str, Any]]) -> None:
    """Refuse a quantized graph that does not rank the calibration pairs like the fp32 one.

    Both graphs run in OpenVINO in f32 on every calibration batch; the rank correlation
    of their scores must reach :data:`MIN_RANK_CORRELATION` and the quantized scores must
    not all be equal.

    Raises:
        OnnxExportError: Naming the correlation measured and the bound.
    """
    import numpy as np
    import openvino

    core = openvino.Core()
    scores = []
    for graph in (reference, quantized):
        compiled = core.compile_model(core.read_model(str(graph)), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        request = compiled.create_infer_request()
        values = [request.infer(dict(batch))[compiled.output(0)].reshape(-1) for batch in batches]
        scores.append(np.concatenate(values).astype(np.float64))
    expected, got = scores
    if np.ptp(got) == 0.0:
        raise OnnxExportError(
            f"static int8 quantization gave one score ({got[0]:.4g}) for all {got.size} calibration "
            "pairs: the quantized graph is broken"
        )
    ranks_expected = np.argsort(np.argsort(expected))
    ranks_got = np.argsort(np.argsort(got))
    correlation = float(np.corrcoef(ranks_expected, ranks_got)[0, 1])
    if not correlation >= MIN_RANK_CORRELATION:
        raise OnnxExportError(
            f"the static int8 graph ranks the {got.size} calibration pairs with a rank correlation of "
            f"{correlation:.3f} to fp32, below {MIN_RANK_CORRELATION}: the quantized graph is broken"
        )
