"""Where a cold start goes: the first ``Reranker(...).rerank(...)`` of a fresh process, by phase.

The parent, :func:`measure_cold_start`, runs the child (:func:`main`, after timing
``import crossrank``) twice in fresh processes: first with an empty crossrank cache (the first run on a
machine: the model is exported to ONNX) and then with the cache the first run filled
(every later process). The child walks the same path as
``Reranker(model).rerank(...)`` (the default backend), timing each phase, and prints
one JSON line: ``{"phases": {name: seconds}, "backend": ...}``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["COLD_START_PHASES", "ColdStart", "format_cold_starts", "main", "measure_cold_start"]

COLD_START_PHASES = (
    "import_crossrank",
    "import_torch",
    "import_transformers",
    "import_sentence_transformers",
    "load_model",
    "onnx_export",
    "create_session",
    "first_rerank",
)
"""The phases, in the order a cold start goes through them."""


@dataclass(frozen=True)
class ColdStart:
    """One fresh process's first rerank, by phase.

    Attributes:
        cache: ``"empty"`` (first run on the machine) or ``"filled"`` (later runs).
        phases: Seconds per phase, in :data:`COLD_START_PHASES` order.
        backend: The backend the default options chose (``"onnx"``...).
        total_s: Wall time of the child process, interpreter start included.
    """

    cache: str
    phases: dict[str, float]
    backend: str
    total_s: float


def measure_cold_start(model: str, *, threads: int | None = None, timeout_s: float = 900) -> list[ColdStart]:
    """Time a fresh process's first rerank with an empty cache, then with the cache it filled.

    Args:
        model: The model's path or hub id.
        threads: torch threads in the child (``None``: torch's own choice).
        timeout_s: Give up on a child after this long.

    Returns:
        The two cold starts: ``"empty"`` then ``"filled"``.

    Raises:
        RuntimeError: If a child fails; the message carries its last error line.
    """
    runs: list[ColdStart] = []
    with tempfile.TemporaryDirectory(prefix="crossrank-cold-start-") as cache_dir:
        environment = {**os.environ, "CROSSRANK_CACHE_DIR": cache_dir}
        for cache in ("empty", "filled"):
            command = [sys.executable, "-c", _CHILD, model]
            if threads:
                command.append(str(threads))
            started = time.perf_counter()
            completed = subprocess.run(
                command, capture_output=True, text=True, env=environment, timeout=timeout_s, check=False
            )
            total_s = time.perf_counter() - started
            if completed.returncode != 0:
                last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
                raise RuntimeError(f"the cold-start probe failed ({cache} cache): {last}")
            result = json.loads(completed.stdout.strip().splitlines()[-1])
            runs.append(ColdStart(cache, result["phases"], result["backend"], round(total_s, 2)))
    return runs


def format_cold_starts(runs: Sequence[Mapping[str, Any]]) -> str:
    """Cold starts as a table: a row per phase, a column per cache state, and the totals.

    Args:
        runs: :class:`ColdStart` records as dictionaries (the ``--json`` report's ``cold_start``).

    Returns:
        Lines of text, without a trailing newline.
    """
    header = f"{'cold start (s)':<30}" + "".join(f"{run['cache'] + ' cache':>14}" for run in runs)
    lines = [header]
    for phase in COLD_START_PHASES:
        lines.append(f"{phase:<30}" + "".join(f"{run['phases'].get(phase, 0.0):>14.2f}" for run in runs))
    totals = "".join(f"{run['total_s']:>14.2f}" for run in runs)
    lines.append(f"{'process (interpreter included)':<30}{totals}")
    lines.append(f"{'backend':<30}" + "".join(f"{run['backend']:>14}" for run in runs))
    return "\n".join(lines)


# The child times ``import crossrank`` before anything of crossrank is imported.
_CHILD = (
    "import sys, time; started = time.perf_counter(); import crossrank; "
    "imported = time.perf_counter() - started; "
    "from crossrank.benchmark.cold_start import main; "
    "sys.exit(main(sys.argv[1:], import_crossrank_s=imported))"
)


def _timed(phases: dict[str, float], name: str, step: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    value = step()
    phases[name] = round(time.perf_counter() - started, 3)
    return value


def main(argv: list[str] | None = None, *, import_crossrank_s: float | None = None) -> int:
    """The child: one cold start, timed by phase, printed as a JSON line.

    Args:
        argv: ``[model]`` or ``[model, threads]`` (``None``: ``sys.argv[1:]``).
        import_crossrank_s: How long ``import crossrank`` took, timed by the caller
            before this module could be imported.

    Returns:
        The exit code.
    """
    import importlib

    args = sys.argv[1:] if argv is None else argv
    model = args[0]
    phases: dict[str, float] = {}
    phases["import_crossrank"] = round(import_crossrank_s or 0.0, 3)
    torch = _timed(phases, "import_torch", lambda: importlib.import_module("torch"))
    if len(args) > 1:
        torch.set_num_threads(int(args[1]))
    _timed(phases, "import_transformers", lambda: importlib.import_module("transformers"))
    _timed(phases, "import_sentence_transformers", lambda: importlib.import_module("sentence_transformers"))

    from crossrank import Reranker
    from crossrank.models.backends import build_scorer
    from crossrank.models.loading import load_cross_encoder
    from crossrank.models.onnx_export import exported_model_path

    cross_encoder = _timed(phases, "load_model", lambda: load_cross_encoder(model, device="cpu"))
    try:
        _timed(phases, "onnx_export", lambda: exported_model_path(cross_encoder, "fp32", name=model))
    except Exception:  # noqa: BLE001 - the default backend then falls back, as a Reranker's would
        phases["onnx_export"] = 0.0
    # The default options' backend, with the export already in the cache: the session.
    scorer = _timed(
        phases,
        "create_session",
        lambda: build_scorer(cross_encoder, name=model, backend="auto", precision="auto"),
    )
    reranker = Reranker(scorer, score_cache_size=0)
    _timed(
        phases,
        "first_rerank",
        lambda: reranker.rerank(
            "does exercise lower blood pressure?", ["Aerobic exercise lowered it.", "No."]
        ),
    )
    print(json.dumps({"phases": phases, "backend": scorer.backend}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
