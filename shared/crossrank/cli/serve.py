"""``crossrank serve``: the rerank HTTP server (Cohere v2, Jina and TEI routes)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from crossrank.cli.args import (
    add_cascade_arguments,
    add_model_argument,
    add_option_argument,
    add_profile_argument,
    model_and_options,
    positive_int,
)
from crossrank.cli.option_help import cli_value

__all__ = ["add_serve_command", "run_serve"]

API_KEY_ENV_VAR = "CROSSRANK_API_KEY"


def add_serve_command(commands: Any) -> None:
    """Register ``crossrank serve``."""
    from crossrank.serving.settings import ServeSettings

    defaults = ServeSettings()
    parser = commands.add_parser(
        "serve",
        help="serve the reranker over HTTP (Cohere v2, Jina and TEI rerank APIs)",
        description=(
            "Load the model once and serve POST /v2/rerank (Cohere), /v1/rerank (Jina) and /rerank "
            "(TEI), merging concurrent requests into token-budget batches. Long documents are "
            "scored window by window (chunk-max) unless a request asks to truncate."
        ),
    )
    add_model_argument(parser)
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, this machine only)"
    )
    parser.add_argument("--port", type=positive_int, default=8787, help="TCP port (default: 8787)")
    parser.add_argument(
        "--api-key",
        default=None,
        help=f"require Authorization: Bearer KEY on the rerank routes (default: ${API_KEY_ENV_VAR}, or none)",
    )
    limits = (
        (
            "--max-batch-tokens",
            positive_int,
            defaults.max_batch_tokens,
            "most padded tokens per merged model call",
        ),
        (
            "--max-wait-ms",
            float,
            defaults.max_wait_ms,
            "longest wait for more requests to merge into a batch",
        ),
        ("--max-documents", positive_int, defaults.max_documents, "most documents per request"),
        ("--max-document-chars", positive_int, defaults.max_document_chars, "most characters per document"),
        ("--max-body-bytes", positive_int, defaults.max_body_bytes, "largest request body, in bytes"),
        ("--max-queue", positive_int, defaults.max_queue, "most requests in flight; beyond it, 429"),
    )
    for flag, kind, default, text in limits:
        shown = _in_mib(default) if flag == "--max-body-bytes" else cli_value(default)
        parser.add_argument(flag, type=kind, default=default, help=f"{text} (default: {shown})")
    served_options: tuple[tuple[str, str, Any], ...] = (
        ("device", "--device", None),
        ("backend", "--backend", None),
        ("precision", "--precision", None),
        ("instruction", "--instruction", None),
        ("max_windows", "--max-windows", int),
        ("score_cache_size", "--score-cache-size", int),
    )
    for name, flag, parse in served_options:
        add_option_argument(parser, name, flag, type=parse)
    add_cascade_arguments(parser)
    add_profile_argument(parser)
    levels = ("debug", "info", "warning", "error")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=levels,
        help=f"how much the server logs: {', '.join(levels[:-1])} or {levels[-1]}; info logs one line per "
        "request (default: info)",
    )
    on_ray = parser.add_argument_group('Ray Serve (pip install "crossrank[ray]")')
    on_ray.add_argument("--ray", action="store_true", help="serve the same app as Ray Serve replicas")
    on_ray.add_argument("--replicas", type=positive_int, default=1, help="fixed replica count (default: 1)")
    on_ray.add_argument(
        "--autoscale", metavar="MIN:MAX", default=None, help="autoscale between MIN and MAX replicas"
    )
    on_ray.add_argument(
        "--ray-address",
        default=None,
        help="a Ray cluster to join (auto or HOST:PORT; default: a local Ray)",
    )
    on_ray.add_argument("--cpus-per-replica", type=float, default=1.0, help="CPUs per replica (default: 1)")
    on_ray.add_argument("--gpus-per-replica", type=float, default=0.0, help="GPUs per replica (default: 0)")
    parser.set_defaults(run=run_serve)


def _in_mib(size: float) -> str:
    """A byte count as typed, and in MiB: ``16777216 = 16 MiB``, not ``1.67772e+07``."""
    return f"{cli_value(size)} = {size / 2**20:g} MiB"


def run_serve(args: argparse.Namespace) -> int:
    """Run the server as the parsed options say; return the exit code."""
    from crossrank.serving.server import run_server
    from crossrank.serving.settings import ServeSettings

    model, options = model_and_options(args)
    settings = ServeSettings(
        model=model,
        options=options,
        api_key=args.api_key or os.environ.get(API_KEY_ENV_VAR) or None,
        max_batch_tokens=args.max_batch_tokens,
        max_wait_ms=args.max_wait_ms,
        max_documents=args.max_documents,
        max_document_chars=args.max_document_chars,
        max_body_bytes=args.max_body_bytes,
        max_queue=args.max_queue,
    )
    if args.ray:
        from crossrank.distributed.ray_serve import ReplicaPlan, parse_autoscale, serve_on_ray

        plan = ReplicaPlan(
            replicas=args.replicas,
            autoscale=parse_autoscale(args.autoscale) if args.autoscale else None,
            cpus_per_replica=args.cpus_per_replica,
            gpus_per_replica=args.gpus_per_replica,
        )
        return serve_on_ray(settings, plan, host=args.host, port=args.port, ray_address=args.ray_address)
    if args.autoscale or args.ray_address or args.replicas != 1:
        raise ValueError("--replicas, --autoscale and --ray-address need --ray")
    return run_server(settings, host=args.host, port=args.port, log_level=args.log_level)
