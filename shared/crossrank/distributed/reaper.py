"""A watchdog that stops a driver's local Ray when the driver dies, even by SIGKILL.

``ray.init`` ties the head processes it starts (GCS, raylet) to the driver, but the raylet's
own children (the dashboard and runtime-env agents, the actors) outlive a killed driver for a
minute or more. This script runs beside the driver (:func:`start_reaper`) with the driver's
Ray processes as arguments and a pipe from the driver on its stdin: while the pipe is open it
notes those processes and all their descendants every half second; when it closes (the
driver exited, cleanly or not: the kernel closes it) it kills every process it noted that is
still running. It is run as a file, not a module, so that it starts without crossrank's
imports.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import psutil

__all__ = ["main", "start_reaper", "stop_reaper"]

POLL_SECONDS = 0.5


def start_reaper(pids: Iterable[int]) -> subprocess.Popen[bytes]:
    """Start the watchdog over ``pids`` (and their descendants) for this process."""
    return subprocess.Popen(
        [sys.executable, str(Path(__file__)), *(str(pid) for pid in pids)],
        stdin=subprocess.PIPE,
        # Its own session: a Ctrl-C or hang-up for the driver's terminal does not end it.
        start_new_session=True,
    )


def stop_reaper(reaper: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Close the watchdog's pipe (it kills what is left of the Ray processes) and wait for it."""
    if reaper.stdin is not None:
        reaper.stdin.close()
    try:
        reaper.wait(timeout)
    except subprocess.TimeoutExpired:
        reaper.kill()
        reaper.wait()


def _descendants(roots: list[psutil.Process]) -> list[psutil.Process]:
    found = []
    for root in roots:
        try:
            found.append(root)
            found.extend(root.children(recursive=True))
        except psutil.Error:
            continue  # gone: its children were noted on an earlier round
    return found


def main(argv: list[str]) -> int:
    """Watch the processes in ``argv`` until stdin closes, then kill what is left of them."""
    roots = []
    for pid in argv:
        try:
            roots.append(psutil.Process(int(pid)))
        except psutil.Error:
            continue
    noted: dict[tuple[int, float], psutil.Process] = {}
    while True:
        for process in _descendants(roots):
            try:
                noted[(process.pid, process.create_time())] = process
            except psutil.Error:
                continue
        ready, _, _ = select.select([sys.stdin.buffer], [], [], POLL_SECONDS)
        if ready and not os.read(sys.stdin.fileno(), 4096):
            break  # the driver closed the pipe, or died
    for process in noted.values():
        try:
            process.kill()  # psutil checks the pid was not reused for another process
        except psutil.Error:
            continue
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
