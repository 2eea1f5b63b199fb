"""Running the app under uvicorn: bound to 127.0.0.1 unless told otherwise, graceful on SIGTERM."""

from __future__ import annotations

import logging
import signal

from crossrank.serving.app import create_app
from crossrank.serving.settings import ServeSettings

__all__ = ["run_server"]


def run_server(
    settings: ServeSettings, *, host: str = "127.0.0.1", port: int = 8787, log_level: str = "info"
) -> int:
    """Serve until SIGTERM or SIGINT; return the exit code.

    On SIGTERM uvicorn stops accepting connections, lets the requests in flight finish
    (``timeout_graceful_shutdown=None``: however long they take), runs the app's shutdown
    (which stops the model worker) and returns, so the process exits 0.

    Args:
        settings: The model, batching, limits and key.
        host: Interface to bind; the default keeps the server on this machine.
        port: TCP port.
        log_level: uvicorn's and crossrank's log level.

    Returns:
        0 after a clean shutdown.
    """
    try:
        import uvicorn
    except ImportError as exc:
        raise ImportError('crossrank serve needs uvicorn: run `pip install "crossrank[serve]"`.') from exc

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,  # crossrank.serve logs one line per request, with documents and windows
        timeout_graceful_shutdown=None,
    )
    # uvicorn shuts down gracefully on SIGTERM/SIGINT and then re-raises the signal to the
    # process's previous handler; a no-op handler there lets the process exit 0 afterwards.
    for handled in (signal.SIGTERM, signal.SIGINT):
        signal.signal(handled, lambda number, frame: None)
    uvicorn.Server(config).run()
    return 0
