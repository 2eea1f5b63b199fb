"""Ray for one batch job: joined or started by the job, and stopped with it.

A Ray the caller already started is used and left running. Otherwise the job starts (or joins)
one and shuts it down when the job ends, however it ends: normally, by an error, Ctrl-C or
SIGTERM (a ``finally``), and by SIGKILL through :mod:`crossrank.distributed.reaper`, which kills
the local Ray processes the driver started once the driver is gone.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psutil

from crossrank.distributed.reaper import start_reaper, stop_reaper

__all__ = ["RAY_EXTRA", "import_ray", "ray_for_job"]

RAY_EXTRA = 'pip install "crossrank[ray]"'


def import_ray() -> Any:
    """Import Ray, or say which extra installs it.

    Raises:
        ImportError: Naming ``pip install "crossrank[ray]"``.
    """
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise ImportError(f"batch reranking on Ray needs Ray Data: {RAY_EXTRA}") from exc
    return ray


@contextmanager
def ray_for_job(address: str | None) -> Iterator[Any]:
    """Ray, ready for a job, and stopped after it unless the caller had started it.

    Args:
        address: A cluster to join (``"auto"`` or an address); ``None`` starts a local Ray.

    Yields:
        The ``ray`` module.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    before = {child.pid for child in psutil.Process().children()}
    main_thread = threading.current_thread() is threading.main_thread()
    handler = signal.getsignal(signal.SIGTERM) if main_thread else None
    reaper = None
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
        if main_thread and callable(handler):
            # ray.init puts its own SIGTERM handler in place; the caller's (the CLI's) says more.
            signal.signal(signal.SIGTERM, handler)
        started = [child.pid for child in psutil.Process().children() if child.pid not in before]
        if started:  # a local Ray: its processes are this job's to stop
            reaper = start_reaper(started)
        yield ray
    finally:
        try:
            ray.shutdown()
        finally:
            if reaper is not None:
                stop_reaper(reaper)
