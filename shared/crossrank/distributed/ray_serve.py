"""``crossrank serve --ray``: the same HTTP app as ``crossrank serve``, as Ray Serve replicas.

Each replica builds the app of :func:`crossrank.serving.create_app` (routes, limits, API key,
metrics, the model worker that merges concurrent requests), so a client cannot tell the two
apart; Ray Serve's proxy spreads requests over the replicas and can autoscale them.
"""

from __future__ import annotations

import re
import signal
import threading
from dataclasses import dataclass
from typing import Any

from crossrank.distributed.ray_session import import_ray
from crossrank.serving.settings import ServeSettings

__all__ = ["ReplicaPlan", "parse_autoscale", "serve_on_ray"]

DEPLOYMENT_NAME = "crossrank"


@dataclass(frozen=True)
class ReplicaPlan:
    """How many replicas: a fixed count, or an autoscaling range.

    Attributes:
        replicas: Fixed replica count (when ``autoscale`` is ``None``).
        autoscale: ``(min, max)`` replicas for Ray Serve's autoscaler.
        cpus_per_replica: CPUs each replica reserves.
        gpus_per_replica: GPUs each replica reserves.
    """

    replicas: int = 1
    autoscale: tuple[int, int] | None = None
    cpus_per_replica: float = 1.0
    gpus_per_replica: float = 0.0

    def deployment_options(self, settings: ServeSettings) -> dict[str, Any]:
        """The keyword arguments of ``serve.deployment`` for this plan."""
        actor: dict[str, Any] = {"num_cpus": self.cpus_per_replica}
        if self.gpus_per_replica:
            actor["num_gpus"] = self.gpus_per_replica
        options: dict[str, Any] = {
            "name": DEPLOYMENT_NAME,
            "ray_actor_options": actor,
            # Let a replica see more than its queue bound, so the app's own 429 is the limit
            # (and its model worker has concurrent requests to merge).
            "max_ongoing_requests": settings.max_queue + 1,
        }
        if self.autoscale is None:
            options["num_replicas"] = self.replicas
        else:
            low, high = self.autoscale
            options["autoscaling_config"] = {
                "min_replicas": low,
                "max_replicas": high,
                "initial_replicas": low,
                "target_ongoing_requests": max(1, settings.max_queue // 4),
            }
        return options


def parse_autoscale(text: str) -> tuple[int, int]:
    """Parse ``MIN:MAX`` (``1:4``) into a replica range.

    Raises:
        ValueError: Naming the text, unless 0 <= MIN <= MAX and MAX >= 1.
    """
    found = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", text)
    if found is None:
        raise ValueError(f"--autoscale takes MIN:MAX replicas such as 1:4, got {text!r}")
    low, high = int(found.group(1)), int(found.group(2))
    if high < 1 or low > high:
        raise ValueError(f"--autoscale needs 0 <= MIN <= MAX and MAX >= 1, got {text!r}")
    return low, high


def _replica_class(serve: Any) -> Any:
    @serve.ingress()
    class CrossrankReplica:
        """One Ray Serve replica: the ``crossrank serve`` app with its own model worker."""

        def __init__(self, settings: ServeSettings) -> None:
            self._settings = settings

        def __serve_build_asgi_app__(self) -> Any:
            from crossrank.serving.app import create_app

            # Loaded before the replica reports healthy, so Ray Serve routes to warm models only.
            return create_app(self._settings, load_in_background=False)

    return CrossrankReplica


def serve_on_ray(
    settings: ServeSettings,
    plan: ReplicaPlan,
    *,
    host: str = "127.0.0.1",
    port: int = 8787,
    ray_address: str | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Deploy the app on Ray Serve and keep it up until SIGTERM/SIGINT (or ``stop``).

    Args:
        settings: Model, batching, limits and key, the same for every replica.
        plan: Replica count or autoscaling range, and resources per replica.
        host: Interface for Ray Serve's HTTP proxy (127.0.0.1 unless told otherwise).
        port: Its TCP port.
        ray_address: A cluster to join; ``None`` starts a local Ray.
        stop: Set it to shut down (for embedding); signals do the same.

    Returns:
        0 after the deployment is shut down.
    """
    ray = import_ray()
    try:
        from ray import serve
    except ImportError as exc:
        raise ImportError('crossrank serve --ray needs Ray Serve: pip install "crossrank[ray]"') from exc
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for handled in (signal.SIGTERM, signal.SIGINT):
            signal.signal(handled, lambda number, frame: stop.set())
    if not ray.is_initialized():
        ray.init(address=ray_address, include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": host, "port": port})
    deployment: Any = serve.deployment(_replica_class(serve), **plan.deployment_options(settings))
    try:
        serve.run(deployment.bind(settings), name=DEPLOYMENT_NAME, route_prefix="/")
        print(f"crossrank serve --ray: http://{host}:{port} ready", flush=True)
        stop.wait()
    finally:
        serve.shutdown()  # type: ignore[no-untyped-call]
    return 0
