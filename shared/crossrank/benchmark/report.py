"""The bench report: one row per contender, with ratios to the reference peer, and its table.

:func:`summarize_contenders` builds the ``"configs"`` list of the JSON ``crossrank bench
--json`` writes; :func:`format_bench_table` prints a whole report. The cell formatters
are shared with ``benchmarks/render_tables.py``, which renders the same rows as Markdown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crossrank.benchmark.flops import GEMM_SIZE, gemm_size_for
from crossrank.benchmark.memory_probe import PeakMemory
from crossrank.benchmark.peers import REFERENCE_CONTENDER
from crossrank.benchmark.runner import Measured
from crossrank.evaluation.latency import LatencySummary
from crossrank.evaluation.metrics import evaluate_run

__all__ = [
    "ContenderResult",
    "format_bench_table",
    "format_gemm_peaks",
    "gemm_peak_cell",
    "number_cell",
    "summarize_contenders",
]


@dataclass(frozen=True)
class ContenderResult:
    """One row of the bench report.

    Attributes:
        name: The contender.
        latency: Its latency summary.
        ndcg_at_10: Mean NDCG@10 of its rankings over the inputs.
        memory: Its peak memory, or ``None`` when not measured.
        flops: FLOPs of its timed calls, or ``None``.
        compute_dtype: Element type of its matrix multiplies, or ``None``.
        gemm_peak_gflop_per_s: The measured GEMM peak in that type, or ``None``.
    """

    name: str
    latency: LatencySummary
    ndcg_at_10: float
    memory: PeakMemory | None
    flops: float | None = None
    compute_dtype: str | None = None
    gemm_peak_gflop_per_s: float | None = None


def summarize_contenders(
    measured: Mapping[str, Measured],
    qrels: Mapping[str, Mapping[str, int]],
    memory: Mapping[str, PeakMemory | None],
    gemm_peaks: Mapping[str, float | None] | None = None,
) -> list[dict[str, Any]]:
    """The ``"configs"`` list of the bench JSON, with ratios to the LlamaIndex reranker.

    Args:
        measured: As returned by :func:`crossrank.benchmark.runner.run_benchmark`.
        qrels: Judgements of the benchmarked queries.
        memory: Contender name to its peak memory (or ``None``).
        gemm_peaks: Element type (``"fp32"``, ``"bf16"``, ``"int8"``...) to the GEMM
            GFLOP/s measured in this run, for each contender's fraction of peak.

    Returns:
        One dict per contender, in the order of ``measured``: ``name``, ``pairs_per_s``,
        ``median_latency_ms``, ``p95_latency_ms``, ``peak_rss_mb``, ``ndcg_at_10``,
        ``speedup_vs_sentence_transformer_rerank`` (pairs/s ratio; ``None`` without the
        reference), ``gflop_per_s`` and ``fraction_of_gemm_peak`` (``None`` when unknown)
        and further detail.
    """
    peaks = gemm_peaks or {}
    results = [
        ContenderResult(
            name=name,
            latency=result.latency,
            ndcg_at_10=evaluate_run(result.rankings, {q: qrels[q] for q in result.rankings}, 10)["ndcg_at_10"]
            if result.rankings
            else 0.0,
            memory=memory.get(name),
            flops=result.flops,
            compute_dtype=result.compute_dtype,
            gemm_peak_gflop_per_s=peaks.get(result.compute_dtype) if result.compute_dtype else None,
        )
        for name, result in measured.items()
    ]
    reference = next((result for result in results if result.name == REFERENCE_CONTENDER), None)
    return [_config_json(result, reference) for result in results]


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _config_json(result: ContenderResult, reference: ContenderResult | None) -> dict[str, Any]:
    latency = result.latency
    peak = result.memory.peak_rss_mb if result.memory else None
    ref_latency = reference.latency if reference else None
    ref_peak = reference.memory.peak_rss_mb if reference and reference.memory else None
    gflop_per_s = (
        result.flops / latency.total_s / 1e9 if result.flops is not None and latency.total_s > 0 else None
    )
    return {
        "name": result.name,
        "pairs_per_s": latency.pairs_per_s,
        "median_latency_ms": latency.median_ms,
        "p95_latency_ms": latency.p95_ms,
        "peak_rss_mb": peak,
        "ndcg_at_10": result.ndcg_at_10,
        "speedup_vs_sentence_transformer_rerank": _ratio(
            latency.pairs_per_s, ref_latency.pairs_per_s if ref_latency else None
        ),
        "median_latency_speedup_vs_sentence_transformer_rerank": _ratio(
            ref_latency.median_ms if ref_latency else None, latency.median_ms
        ),
        "peak_rss_ratio_vs_sentence_transformer_rerank": _ratio(peak, ref_peak),
        "compute_dtype": result.compute_dtype,
        "gflop_per_pair": result.flops / latency.pairs / 1e9 if result.flops and latency.pairs else None,
        "gflop_per_s": gflop_per_s,
        "gemm_peak_gflop_per_s": result.gemm_peak_gflop_per_s,
        "fraction_of_gemm_peak": _ratio(gflop_per_s, result.gemm_peak_gflop_per_s),
        "pairs_scored": latency.pairs,
        "calls": latency.calls,
        "total_s": latency.total_s,
        "rss_before_mb": result.memory.rss_before_mb if result.memory else None,
        "peak_rss_scope": result.memory.scope if result.memory else None,
    }


def number_cell(value: float | None, spec: str, suffix: str = "") -> str:
    """A table cell: ``value`` in the format ``spec`` followed by ``suffix``, or ``"-"`` when unknown.

    Example:
        >>> number_cell(2.5, ".2f", "x"), number_cell(None, ".2f", "x")
        ('2.50x', '-')
    """
    return "-" if value is None else f"{value:{spec}}{suffix}"


def gemm_peak_cell(config: Mapping[str, Any], dtype_format: str = "{}") -> str:
    """A table cell: a config's fraction of the GEMM peak in percent, and the element type.

    Args:
        config: One entry of the report's ``"configs"``.
        dtype_format: How the element type is written after the percentage.

    Example:
        >>> gemm_peak_cell({"fraction_of_gemm_peak": 0.234, "compute_dtype": "fp32"}, "({})")
        '23% (fp32)'
    """
    fraction = config.get("fraction_of_gemm_peak")
    if fraction is None:
        return "-"
    return f"{100 * fraction:.0f}% " + dtype_format.format(config["compute_dtype"])


def format_bench_table(document: Mapping[str, Any]) -> str:
    """The bench report as a fixed-width table.

    Args:
        document: The report as written by ``--json``.

    Returns:
        Lines of text, without a trailing newline.
    """
    settings = document["settings"]
    machine = document["machine"]
    lines = [
        f"{settings['queries']} queries x {settings['candidates']} candidates, {settings['repeat']} rounds; "
        f"{machine['cpu']}{_core(machine)}, {settings['threads']} torch threads, {settings['device']}",
        f"{'configuration':<34} {'pairs/s':>8} {'median ms':>9} {'p95 ms':>8} {'peak MB':>8} "
        f"{'NDCG@10':>8} {'x LlamaIndex':>12} {'GFLOP/s':>8} {'of peak':>13}",
    ]
    for config in document["configs"]:
        lines.append(
            f"{config['name']:<34} {config['pairs_per_s']:>8.1f} {config['median_latency_ms']:>9.0f} "
            f"{config['p95_latency_ms']:>8.0f} {number_cell(config['peak_rss_mb'], '.0f'):>8} "
            f"{config['ndcg_at_10']:>8.4f} "
            f"{number_cell(config['speedup_vs_sentence_transformer_rerank'], '.2f', 'x'):>12} "
            f"{number_cell(config.get('gflop_per_s'), '.1f'):>8} {gemm_peak_cell(config):>13}"
        )
    peaks = document.get("gemm_peak_gflop_per_s") or {}
    if peaks:
        lines.append(format_gemm_peaks(peaks, size=gemm_size_for(str(settings.get("device") or "cpu"))))
    for entry in document["skipped"]:
        lines.append(f"skipped {entry['name']}: {entry['reason']}")
    return "\n".join(lines)


def format_gemm_peaks(peaks: Mapping[str, float | None], *, size: int = GEMM_SIZE) -> str:
    """One line naming the GEMM peak measured for each element type.

    Args:
        peaks: Element type to GFLOP/s (``None`` where it could not be measured).
        size: The side of the square matrices the peak was measured on.

    Returns:
        ``"GEMM peak, GFLOP/s (torch 2048x2048, same run): bf16 909, fp32 213"``.
    """
    measured = ", ".join(f"{dtype} {number_cell(value, '.0f')}" for dtype, value in sorted(peaks.items()))
    return f"GEMM peak, GFLOP/s (torch {size}x{size}, same run): {measured}"


def _core(machine: dict[str, Any]) -> str:
    """`` (Zen 4: AuthenticAMD family 25 model 17)``, or nothing for a report without it."""
    identity = machine.get("cpu_identity")
    if not identity:
        return ""
    return (
        f" ({identity['microarchitecture']}: {identity['vendor']} family {identity['family']} "
        f"model {identity['model']})"
    )
