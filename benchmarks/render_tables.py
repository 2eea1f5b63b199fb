"""Render the JSON written by ``crossrank eval --json`` and ``crossrank bench --json`` as Markdown tables.

Usage: ``python benchmarks/render_tables.py RESULT.json [...]`` prints one table per file,
ready to paste into docs/benchmarks.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from crossrank.benchmark.report import format_gemm_peaks, gemm_peak_cell, number_cell
from crossrank.evaluation.evaluator import VARIANT_LABELS


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
    for name, label in VARIANT_LABELS.items():
        values = document["variants"][name]
        lines.append(
            f"| {label} | {values['ndcg_at_10']:.4f} | {values['recall_at_10']:.4f} "
            f"| {values['mrr_at_10']:.4f} "
            f"| {number_cell(values.get('median_latency_ms'), '.0f')} "
            f"| {number_cell(values.get('p95_latency_ms'), '.0f')} "
            f"| {number_cell(values.get('pairs_per_s'), '.1f')} "
            f"| {number_cell(values.get('windows_per_document'), '.2f')} |"
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
        lines.append(
            f"| {config['name']} | {config['pairs_per_s']:.1f} "
            f"| {number_cell(config['speedup_vs_sentence_transformer_rerank'], '.2f')} "
            f"| {config['median_latency_ms']:.0f} "
            f"| {number_cell(config.get('median_latency_speedup_vs_sentence_transformer_rerank'), '.2f')} "
            f"| {config['p95_latency_ms']:.0f} | {number_cell(config['peak_rss_mb'], '.0f')} "
            f"| {config['ndcg_at_10']:.4f} | {number_cell(config.get('gflop_per_pair'), '.2f')} "
            f"| {number_cell(config.get('gflop_per_s'), '.1f')} | {gemm_peak_cell(config, '({})')} |"
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
