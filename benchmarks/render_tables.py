"""Render the JSON written by ``crossrank eval --json`` and ``crossrank bench --json`` as Markdown tables.

Usage: ``python benchmarks/render_tables.py RESULT.json [...]`` prints one table per file,
ready to paste into docs/benchmarks.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from shared.bench_cli import format_gemm_peaks

_VARIANTS = {
    "first_stage": "first stage",
    "truncate": "truncate",
    "chunk_max": "chunk-max",
    "chunk_max_rrf": "chunk-max + RRF",
}


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def eval_table(document: dict[str, Any]) -> str:
    """One row per variant: quality, then speed of the pass the ranking came from."""
    lines = [
        f"{document['dataset']} {document['split']}, {document['first_stage']} top-{document['k']}, "
        f"{document['queries']} queries{', long documents' if document['long'] else ''}, "
        f"backend {document.get('backend', '?')}; first-stage Recall@{document['k']} "
        f"{document['recall_at_k_first_stage']:.4f}",
        "",
        "| variant | NDCG@10 | Recall@10 | MRR@10 | median ms/query | p95 ms | pairs/s | windows/doc |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, label in _VARIANTS.items():
        values = document["variants"][name]
        lines.append(
            f"| {label} | {values['ndcg_at_10']:.4f} | {values['recall_at_10']:.4f} "
            f"| {values['mrr_at_10']:.4f} "
            f"| {_number(values.get('median_latency_ms'), 0)} | {_number(values.get('p95_latency_ms'), 0)} "
            f"| {_number(values.get('pairs_per_s'), 1)} | {_number(values.get('windows_per_document'), 2)} |"
        )
    return "\n".join(lines)


def bench_table(document: dict[str, Any]) -> str:
    """One row per configuration, with its ratios to LlamaIndex's SentenceTransformerRerank."""
    settings, machine = document["settings"], document["machine"]
    lines = [
        f"{settings['queries']} queries x {settings['candidates']} candidates, {settings['repeat']} rounds; "
        f"{machine['cpu']}, {settings['threads']} threads, {settings['device']}",
        "",
        "| configuration | pairs/s | x LlamaIndex | median ms | x LlamaIndex (latency) | p95 ms "
        "| peak RSS MB | NDCG@10 | GFLOP/pair | GFLOP/s | of GEMM peak |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for config in document["configs"]:
        fraction = config.get("fraction_of_gemm_peak")
        of_peak = "-" if fraction is None else f"{100 * fraction:.0f}% ({config['compute_dtype']})"
        lines.append(
            f"| {config['name']} | {config['pairs_per_s']:.1f} "
            f"| {_number(config['speedup_vs_sentence_transformer_rerank'], 2)} "
            f"| {config['median_latency_ms']:.0f} "
            f"| {_number(config.get('median_latency_speedup_vs_sentence_transformer_rerank'), 2)} "
            f"| {config['p95_latency_ms']:.0f} | {_number(config['peak_rss_mb'], 0)} "
            f"| {config['ndcg_at_10']:.4f} | {_number(config.get('gflop_per_pair'), 2)} "
            f"| {_number(config.get('gflop_per_s'), 1)} | {of_peak} |"
        )
    peaks = document.get("gemm_peak_gflop_per_s") or {}
    if peaks:
        lines.append("")
        lines.append(format_gemm_peaks(peaks))
    return "\n".join(lines)


def main(paths: list[str]) -> int:
    """Print a table for every JSON file named."""
    for path in paths:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        print(bench_table(document) if "configs" in document else eval_table(document))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
