"""``python -m shared.memory_probe SPEC.json``: one bench contender's peak memory, alone in a process.

The spec (written by :func:`shared.benchmark.measure_peak_memory`) names the
contender, its settings, the torch thread count and the inputs. The probe loads
the contender, warms it up on the first input, resets the peak-RSS counter, ranks
every input once and prints one JSON line: ``{"peak_rss_mb", "rss_before_mb", "scope"}``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the probe; the result is the last line on stdout.

    Args:
        argv: ``[SPEC.json]``; defaults to ``sys.argv[1:]``.

    Returns:
        The exit code.
    """
    import torch

    from shared.benchmark import BenchInput, BenchSettings, build_contender
    from shared.peak_memory import current_rss_mb, peak_rss_mb, reset_peak_rss
    from shared.progress import silence_library_progress

    arguments = list(sys.argv[1:] if argv is None else argv)
    if len(arguments) != 1:
        print("usage: python -m shared.memory_probe SPEC.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(arguments[0]).read_text(encoding="utf-8"))
    torch.set_num_threads(int(spec["threads"]))
    silence_library_progress()
    contender = build_contender(spec["name"], BenchSettings(**spec["settings"]))
    inputs = [
        BenchInput(
            query_id=item["query_id"],
            query=item["query"],
            doc_ids=tuple(item["doc_ids"]),
            texts=tuple(item["texts"]),
            retrieval_scores=tuple(item["retrieval_scores"]),
        )
        for item in spec["inputs"]
    ]
    prepared = [contender.prepare(item) for item in inputs]
    if prepared:
        contender.rank(contender.prepare(inputs[0]))
    rss_before = current_rss_mb()
    scope = "ranking" if reset_peak_rss() else "process"
    for item in prepared:
        contender.rank(item)
    print(json.dumps({"peak_rss_mb": peak_rss_mb(), "rss_before_mb": rss_before, "scope": scope}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
