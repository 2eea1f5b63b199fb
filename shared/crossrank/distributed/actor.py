"""Reranking on a Ray Data actor pool: one model per actor, every option passed on.

:func:`rerank_dataset` maps a Ray Dataset of ``{query, candidates, ...}`` rows to the same rows
plus ``results`` (and ``error``, ``None`` unless the row could not be reranked).
:class:`RerankActor` is the callable class both it and :func:`~crossrank.distributed.rerank_file`
run on the pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from crossrank.distributed.ray_session import import_ray
from crossrank.distributed.rows import RowError, rerank_line, rerank_row

if TYPE_CHECKING:
    import pyarrow as pa
    import ray.data

    from crossrank.scorer import PairScorer

__all__ = ["RerankActor", "map_options", "rerank_dataset"]


class RerankActor:
    """The callable class of ``map_batches``: loads the model once per actor.

    Args:
        model: The model (path, hub id or server URL).
        options: Every other :class:`~crossrank.Reranker` option.
        mode: ``"lines"`` (rows of ``line``, JSON ``raw`` and a read ``error``, from
            :func:`~crossrank.distributed.rerank_file`) or ``"records"`` (the user's own rows,
            from :func:`rerank_dataset`).
        threads: Torch threads for this actor (its CPUs); ``None`` leaves torch's default.
    """

    def __init__(
        self, model: str | PairScorer | None, options: Mapping[str, Any], mode: str, threads: int | None
    ) -> None:
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        from crossrank.reranker import Reranker

        self.reranker = Reranker(model, **options)
        self.mode = mode

    def __call__(self, batch: pa.Table) -> pa.Table:
        """Rerank one batch of rows."""
        import pyarrow as pa

        if self.mode == "lines":
            columns = [batch.column(name).to_pylist() for name in ("line", "raw", "error")]
            outcomes = [
                rerank_line(self.reranker, line, raw, error)
                for line, raw, error in zip(*columns, strict=True)
            ]
            return pa.table(
                {
                    "line": pa.array([outcome.line for outcome in outcomes], pa.int64()),
                    "output": pa.array([outcome.output for outcome in outcomes], pa.large_string()),
                    "error": pa.array([outcome.error for outcome in outcomes], pa.large_string()),
                    "raw": batch.column("raw"),
                    "pairs": pa.array([outcome.pairs for outcome in outcomes], pa.int64()),
                }
            )
        rows = []
        for row in batch.to_pylist():
            try:
                output, _ = rerank_row(self.reranker, row)
                output["error"] = None
            except RowError as exc:
                output = {**row, "results": [], "error": str(exc)}
            rows.append(output)
        return pa.Table.from_pylist(rows)


def map_options(actors: int, cpus_per_actor: float, num_gpus: float) -> dict[str, Any]:
    """The ``map_batches`` arguments of an actor pool.

    Raises:
        ValueError: For fewer than 1 actor, CPUs not above 0 or negative GPUs.
    """
    ray = import_ray()
    if actors < 1:
        raise ValueError(f"actors must be at least 1, got {actors}")
    if cpus_per_actor <= 0 or num_gpus < 0:
        raise ValueError(f"cpus_per_actor must be > 0 and num_gpus >= 0, got {cpus_per_actor} and {num_gpus}")
    mapped: dict[str, Any] = {
        "compute": ray.data.ActorPoolStrategy(size=actors),
        "num_cpus": cpus_per_actor,
        "batch_format": "pyarrow",
        # Ray Data's own defaults restart a dead actor and retry its batch
        # (max_restarts=-1, max_task_retries=-1); the fault test holds them to it.
    }
    if num_gpus:
        mapped["num_gpus"] = num_gpus
    return mapped


def rerank_dataset(
    dataset: ray.data.Dataset,
    *,
    model: str | PairScorer | None = None,
    actors: int = 1,
    rows_per_batch: int = 16,
    cpus_per_actor: float = 1,
    num_gpus: float = 0,
    **options: Any,
) -> ray.data.Dataset:
    """Rerank every row of a Ray Dataset on an actor pool (lazily, as Ray Data does).

    Args:
        dataset: Rows with ``query`` and ``candidates`` (texts, or ``{text, id?, score?}``).
        model: The cross-encoder (path, hub id or server URL) each actor loads once.
        actors: Size of the actor pool.
        rows_per_batch: Rows per ``map_batches`` call (the model's own ``batch_size`` is an option).
        cpus_per_actor: CPUs each actor reserves (and its torch threads).
        num_gpus: GPUs each actor reserves (pass ``device="cuda"`` as well).
        **options: Any other :class:`~crossrank.Reranker` option (chunk-max, fusion, cascade...).

    Returns:
        The rows plus ``results`` (best first) and ``error`` (``None``, or why the row failed).
    """
    from crossrank.options import validate_options

    validate_options(options)
    threads = max(1, int(cpus_per_actor))
    return dataset.map_batches(
        RerankActor,
        fn_constructor_args=(model, options, "records", threads),
        batch_size=rows_per_batch,
        **map_options(actors, cpus_per_actor, num_gpus),
    )
