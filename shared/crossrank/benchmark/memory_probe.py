"""One contender's peak memory, measured alone in a fresh process.

The parent, :func:`measure_peak_memory`, writes a spec (the contender, its settings,
the torch thread count and the inputs) and runs
``python -m crossrank.benchmark.memory_probe SPEC.json``. The child, :func:`main`, loads
the contender, warms it up on the first input, resets the peak-RSS counter, ranks
every input once and prints one JSON line: ``{"peak_rss_mb", "rss_before_mb", "scope"}``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from crossrank.benchmark.inputs import BenchInput
from crossrank.benchmark.protocol import BenchSettings

__all__ = ["PeakMemory", "main", "measure_peak_memory"]


@dataclass(frozen=True)
class PeakMemory:
    """Peak resident memory of a fresh process that ran one contender.

    Attributes:
        peak_rss_mb: Peak RSS while ranking every input once, in MiB; the process holds
            Python, torch and this contender's model, nothing else.
        rss_before_mb: RSS after loading and one warm-up call, before the measured run.
        scope: ``"ranking"`` when the peak counter was reset after loading, or
            ``"process"`` when it could not be and the peak includes model loading.
    """

    peak_rss_mb: float
    rss_before_mb: float | None
    scope: str


def measure_peak_memory(
    name: str, settings: BenchSettings, inputs: Sequence[BenchInput], *, threads: int, timeout_s: float = 900
) -> PeakMemory:
    """Run one contender over every input in a fresh Python process and read its peak RSS.

    Args:
        name: The contender.
        settings: As for the timed run.
        inputs: As for the timed run.
        threads: torch threads in the child, as in the parent.
        timeout_s: Give up after this long.

    Returns:
        The child's peak memory.

    Raises:
        RuntimeError: If the child fails; the message carries its last error line.
    """
    spec = {
        "name": name,
        "settings": asdict(settings),
        "threads": threads,
        "inputs": [asdict(item) for item in inputs],
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as handle:
        json.dump(spec, handle)
        spec_path = handle.name
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "crossrank.benchmark.memory_probe", spec_path],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            # No progress bars in the child: tqdm's, and those of transformers and the hub, which
            # read HF_HUB_DISABLE_PROGRESS_BARS when they are imported.
            env={**os.environ, "TQDM_DISABLE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"},
        )
    finally:
        os.unlink(spec_path)
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"memory probe for {name} failed (exit {completed.returncode}): {last}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    return PeakMemory(
        peak_rss_mb=float(result["peak_rss_mb"]),
        rss_before_mb=result.get("rss_before_mb"),
        scope=str(result["scope"]),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the probe in the child; the result is the last line on stdout.

    Args:
        argv: ``[SPEC.json]``; defaults to ``sys.argv[1:]``.

    Returns:
        The exit code.
    """
    import torch

    from crossrank.benchmark.contenders import build_contender
    from crossrank.benchmark.peak_memory import current_rss_mb, peak_rss_mb, reset_peak_rss

    arguments = list(sys.argv[1:] if argv is None else argv)
    if len(arguments) != 1:
        print("usage: python -m crossrank.benchmark.memory_probe SPEC.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(arguments[0]).read_text(encoding="utf-8"))
    torch.set_num_threads(int(spec["threads"]))
    contender = build_contender(spec["name"], BenchSettings(**spec["settings"]))
    inputs = [BenchInput.from_json(item) for item in spec["inputs"]]
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
