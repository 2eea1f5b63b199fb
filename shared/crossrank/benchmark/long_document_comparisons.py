"""Paired comparisons of the long-document study's rows, from their per-query NDCG@10.

``python -m crossrank.benchmark.long_document_comparisons RUN.json [RUN.json ...]`` merges the
rows of one or more ``crossrank.benchmark.long_documents --json`` files (for example passes
run as separate processes) and prints, for each text version, the paired difference with a
95% bootstrap interval of: sentence windows against fixed ones (max), every other
aggregation against max, and max + RRF against the first stage. The rows must come from the
same queries, in the same order; files that disagree are refused.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["compare_rows", "load_rows", "main"]

Key = tuple[str, str, str]


def load_rows(paths: Sequence[Path]) -> tuple[dict[Key, dict[str, Any]], list[float]]:
    """The rows of several study files by (texts, windows, aggregation), and the first stage per query.

    Raises:
        ValueError: If the files hold different queries, or two of them the same row with
            different values.
    """
    rows: dict[Key, dict[str, Any]] = {}
    query_ids: list[str] | None = None
    first_stage: list[float] = []
    for path in paths:
        document = json.loads(path.read_text(encoding="utf-8"))
        if query_ids is None:
            query_ids, first_stage = document["query_ids"], document["first_stage_per_query"]
        elif document["query_ids"] != query_ids:
            raise ValueError(f"{path} ranks other queries than {paths[0]}; compare runs of the same queries.")
        for row in document["rows"]:
            key = (row["texts"], row["windows"], row["aggregation"])
            if key in rows and rows[key]["per_query"] != row["per_query"]:
                raise ValueError(
                    f"{path} and an earlier file disagree on row {key}; were they the same model?"
                )
            rows[key] = row
    return rows, first_stage


def _difference(baseline: Sequence[float], candidate: Sequence[float]) -> dict[str, float]:
    from crossrank.evaluation.comparison import paired_bootstrap_interval

    differences = [after - before for before, after in zip(baseline, candidate, strict=True)]
    low, high = paired_bootstrap_interval(differences)
    return {"mean": statistics.fmean(differences), "low": low, "high": high}


def compare_rows(rows: Mapping[Key, Mapping[str, Any]], first_stage: Sequence[float]) -> list[dict[str, Any]]:
    """Every comparison the rows allow, alone and with RRF.

    Returns:
        ``{"comparison", "variant", "mean", "low", "high"}`` records.
    """
    out: list[dict[str, Any]] = []

    def add(name: str, baseline: Mapping[str, Any], candidate: Mapping[str, Any]) -> None:
        for variant in ("alone", "rrf"):
            difference = _difference(baseline["per_query"][variant], candidate["per_query"][variant])
            out.append({"comparison": name, "variant": variant, **difference})

    for texts in dict.fromkeys(key[0] for key in rows):
        plans = {(windows, aggregation): row for (t, windows, aggregation), row in rows.items() if t == texts}
        if ("tokens", "max") in plans and ("sentences", "max") in plans:
            add(f"{texts}: sentences - tokens (max)", plans["tokens", "max"], plans["sentences", "max"])
        for (windows, aggregation), row in plans.items():
            if aggregation != "max" and (windows, "max") in plans:
                add(f"{texts}: {aggregation} - max ({windows})", plans[windows, "max"], row)
        for windows in ("tokens", "sentences"):
            if (windows, "max") in plans:
                out.append(
                    {
                        "comparison": f"{texts}: max + RRF ({windows}) - first stage",
                        "variant": "rrf",
                        **_difference(first_stage, plans[windows, "max"]["per_query"]["rrf"]),
                    }
                )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Print the comparisons of the given study files."""
    parser = argparse.ArgumentParser(prog="python -m crossrank.benchmark.long_document_comparisons")
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN.json")
    parser.add_argument("--json", type=Path, help="also write the comparisons here")
    args = parser.parse_args(argv)
    rows, first_stage = load_rows(args.runs)
    comparisons = compare_rows(rows, first_stage)
    print("| comparison | variant | difference | 95% CI |")
    print("| --- | --- | ---: | --- |")
    for item in comparisons:
        print(
            f"| {item['comparison']} | {item['variant']} | {item['mean']:+.4f} | "
            f"[{item['low']:+.4f}, {item['high']:+.4f}] |"
        )
    if args.json:
        args.json.write_text(json.dumps(comparisons, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
