"""Batch reranking on Ray Data: an actor pool, one model per actor, every option passed on.

:func:`rerank_dataset` maps a Ray Dataset of ``{query, candidates, ...}`` rows to the same rows
plus ``results`` (and ``error``, ``None`` unless the row could not be reranked).
:func:`rerank_file` does a JSONL or Parquet file end to end: the driver plans shards (it
counts lines, it does not parse them), Ray reads and reranks them, and the driver writes the
output in input order, every row exactly once, and the failed rows to the errors file. Without
Ray it runs in this process with the same row logic.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crossrank.distributed.files import OutputFiles, Shard, iter_rows, plan_shards, read_shard
from crossrank.distributed.rows import RowError, rerank_line, rerank_row

if TYPE_CHECKING:
    import pyarrow as pa
    import ray.data

    from crossrank.scorer import PairScorer

__all__ = ["BatchSummary", "RerankActor", "import_ray", "rerank_dataset", "rerank_file"]

RAY_EXTRA = 'pip install "crossrank[ray]"'

# Shards (blocks) per actor at least, so that every actor has work and a slow one is not last.
SHARDS_PER_ACTOR = 4


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


@dataclass(frozen=True)
class BatchSummary:
    """What a batch job did.

    Attributes:
        rows: Rows read (blank JSONL lines are not rows).
        reranked: Rows written to the output.
        failed: Rows written to the errors file.
        pairs: (query, window) pairs scored.
        seconds: Wall time from planning to the last row written.
        engine: ``"ray"`` or ``"in-process"``.
        actors: Model actors (1 in-process).
        duplicates_dropped: Outcomes Ray delivered twice (after a retried task) and that
            were written once.
    """

    rows: int
    reranked: int
    failed: int
    pairs: int
    seconds: float
    engine: str
    actors: int
    duplicates_dropped: int = 0

    @property
    def pairs_per_second(self) -> float:
        """Pairs scored per second of wall time."""
        return self.pairs / self.seconds if self.seconds > 0 else 0.0

    @property
    def rows_per_second(self) -> float:
        """Rows done (reranked or failed) per second of wall time."""
        return (self.reranked + self.failed) / self.seconds if self.seconds > 0 else 0.0


class RerankActor:
    """The callable class of ``map_batches``: loads the model once per actor.

    Args:
        model: The model (path, hub id or server URL).
        options: Every other :class:`~crossrank.Reranker` option.
        mode: ``"lines"`` (rows of ``line`` and JSON ``raw``, from :func:`rerank_file`) or
            ``"records"`` (the user's own rows, from :func:`rerank_dataset`).
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
            outcomes = [
                rerank_line(self.reranker, line, raw)
                for line, raw in zip(
                    batch.column("line").to_pylist(), batch.column("raw").to_pylist(), strict=True
                )
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


def _map_options(actors: int, cpus_per_actor: float, num_gpus: float) -> dict[str, Any]:
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
        **_map_options(actors, cpus_per_actor, num_gpus),
    )


def _read_rows(shard_row: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"line": line, "raw": raw} for line, raw in read_shard(Shard(**shard_row))]


def rerank_file(
    input_path: Path,
    output_path: Path,
    *,
    model: str | PairScorer | None = None,
    use_ray: bool = True,
    ray_address: str | None = None,
    actors: int = 1,
    rows_per_batch: int = 16,
    cpus_per_actor: float = 1,
    num_gpus: float = 0,
    rows_per_shard: int = 1000,
    on_rows: Callable[[int], object] | None = None,
    **options: Any,
) -> BatchSummary:
    """Rerank a JSONL or Parquet file of rows into ``output_path`` and its errors file.

    Args:
        input_path: Rows with ``query`` and ``candidates``.
        output_path: Where the reranked rows go (same format choice by extension).
        model: The cross-encoder.
        use_ray: Run on Ray (``False``: in this process).
        ray_address: A cluster to join (``"auto"`` or an address); ``None`` starts a local Ray.
        actors: Size of the actor pool.
        rows_per_batch: Rows per actor call (the model's own ``batch_size`` is an option).
        cpus_per_actor: CPUs each actor reserves.
        num_gpus: GPUs each actor reserves.
        rows_per_shard: Rows per read task.
        on_rows: Called with the number of rows just written (a progress bar).
        **options: Any other :class:`~crossrank.Reranker` option.

    Returns:
        The job's summary.

    Raises:
        RuntimeError: If Ray delivered fewer outcomes than the input has rows.
    """
    from crossrank.options import validate_options

    validate_options(options)
    started = time.perf_counter()
    shards = plan_shards(input_path, rows_per_shard)
    if use_ray and len(shards) < SHARDS_PER_ACTOR * actors:
        # Each shard is one block, and one block feeds one actor at a time: a small input
        # cut in big shards would leave actors idle. Cut it finer (lines are cheap to count).
        lines = sum(shard.lines for shard in shards)
        finer = max(1, -(-lines // (SHARDS_PER_ACTOR * actors)))
        if finer < rows_per_shard:
            shards = plan_shards(input_path, finer)
    rows = pairs = duplicates = 0
    with OutputFiles(output_path) as files:
        if not use_ray:
            from crossrank.reranker import Reranker

            reranker = Reranker(model, **options)
            for line, raw in iter_rows(shards):
                outcome = rerank_line(reranker, line, raw)
                files.write(outcome.output, outcome.line, outcome.error, raw)
                rows, pairs = rows + 1, pairs + outcome.pairs
                if on_rows is not None:
                    on_rows(1)
        else:
            ray = import_ray()
            if not ray.is_initialized():
                ray.init(address=ray_address, include_dashboard=False, log_to_driver=False)
            context = ray.data.DataContext.get_current()
            context.execution_options.preserve_order = True  # output in input order
            context.enable_progress_bars = False
            lines = ray.data.from_items([asdict(shard) for shard in shards], override_num_blocks=len(shards))
            lines = lines.flat_map(_read_rows, num_cpus=0)
            outcomes = lines.map_batches(
                RerankActor,
                fn_constructor_args=(model, options, "lines", max(1, int(cpus_per_actor))),
                batch_size=rows_per_batch,
                **_map_options(actors, cpus_per_actor, num_gpus),
            )
            last_line = 0
            for batch in outcomes.iter_batches(batch_format="pyarrow", batch_size=None):
                columns = [
                    batch.column(name).to_pylist() for name in ("line", "output", "error", "raw", "pairs")
                ]
                for line, output, error, raw, scored in zip(*columns, strict=True):
                    if line <= last_line:  # in order, so a line already written came twice
                        duplicates += 1
                        continue
                    last_line = line
                    files.write(output, line, error, raw)
                    rows, pairs = rows + 1, pairs + scored
                if on_rows is not None:
                    on_rows(batch.num_rows)
            expected = sum(shard.rows for shard in shards)
            if rows != expected:
                raise RuntimeError(f"Ray returned {rows} of {expected} rows of {input_path}; rerun the job")
        summary = BatchSummary(
            rows=rows,
            reranked=files.rows_written,
            failed=files.errors_written,
            pairs=pairs,
            seconds=time.perf_counter() - started,
            engine="ray" if use_ray else "in-process",
            actors=actors if use_ray else 1,
            duplicates_dropped=duplicates,
        )
    return summary
