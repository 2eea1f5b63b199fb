"""Batch reranking of a file: every row exactly once, in input order, resumable.

:func:`rerank_file` does a JSONL or Parquet file end to end: the driver plans shards (it
counts lines, it does not parse them), Ray reads and reranks them on an actor pool (or this
process does, with the same row logic), and the driver writes the output in input order and
the failed rows to the errors file, both under temporary names until the job is complete
(:class:`~crossrank.distributed.files.OutputFiles`). A stopped job resumes from its progress
file with ``resume=True`` and ends with exactly the files an uninterrupted run writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crossrank.distributed.actor import RerankActor, map_options, rerank_dataset
from crossrank.distributed.files import (
    CHECKPOINT_SECONDS,
    OutputFiles,
    Shard,
    iter_rows,
    plan_shards,
    read_shard,
)
from crossrank.distributed.progress import describe_job
from crossrank.distributed.ray_session import RAY_EXTRA, import_ray, ray_for_job
from crossrank.distributed.rows import rerank_line

if TYPE_CHECKING:
    from crossrank.scorer import PairScorer

__all__ = ["RAY_EXTRA", "BatchSummary", "RerankActor", "import_ray", "rerank_dataset", "rerank_file"]

# Shards (blocks) per actor at least, so that every actor has work and a slow one is not last.
SHARDS_PER_ACTOR = 4


@dataclass(frozen=True)
class BatchSummary:
    """What a batch job did (a resumed job: with the rows its earlier runs did).

    Attributes:
        rows: Rows read (blank JSONL lines are not rows).
        reranked: Rows written to the output.
        failed: Rows written to the errors file.
        pairs: (query, window) pairs scored.
        seconds: Wall time of this run, from planning to the last row written.
        engine: ``"ray"`` or ``"in-process"``.
        actors: Model actors (1 in-process).
        duplicates_dropped: Outcomes Ray delivered twice (after a retried task) and that
            were written once.
        resumed_rows: Rows an earlier, stopped run had done (0 for a fresh start).
    """

    rows: int
    reranked: int
    failed: int
    pairs: int
    seconds: float
    engine: str
    actors: int
    duplicates_dropped: int = 0
    resumed_rows: int = 0

    @property
    def pairs_per_second(self) -> float:
        """Pairs scored per second of wall time."""
        return self.pairs / self.seconds if self.seconds > 0 else 0.0

    @property
    def rows_per_second(self) -> float:
        """Rows done (reranked or failed) per second of wall time."""
        return (self.reranked + self.failed) / self.seconds if self.seconds > 0 else 0.0


def _read_rows(shard_row: dict[str, Any], after: int) -> list[dict[str, Any]]:
    return [row._asdict() for row in read_shard(Shard(**shard_row), after)]


def _run_on_ray(
    files: OutputFiles,
    shards: list[Shard],
    model: str | PairScorer | None,
    options: dict[str, Any],
    ray_address: str | None,
    pool: dict[str, Any],
    on_rows: Callable[[int], object] | None,
) -> int:
    """Rerank the shards' rows past the checkpoint on Ray; return the duplicates dropped."""
    after = files.resumed.line
    todo = [asdict(shard) for shard in shards if shard.first_line + shard.lines - 1 > after]
    if not todo:
        return 0
    duplicates = 0
    with ray_for_job(ray_address) as ray:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # output in input order
        context.enable_progress_bars = False
        lines = ray.data.from_items(todo, override_num_blocks=len(todo))
        lines = lines.flat_map(_read_rows, fn_kwargs={"after": after}, num_cpus=0)
        outcomes = lines.map_batches(
            RerankActor,
            fn_constructor_args=(model, options, "lines", max(1, int(pool["cpus_per_actor"]))),
            batch_size=pool["rows_per_batch"],
            **map_options(pool["actors"], pool["cpus_per_actor"], pool["num_gpus"]),
        )
        last_line = after
        for batch in outcomes.iter_batches(batch_format="pyarrow", batch_size=None):
            columns = [batch.column(name).to_pylist() for name in ("line", "output", "error", "raw", "pairs")]
            for line, output, error, raw, scored in zip(*columns, strict=True):
                if line <= last_line:  # in order, so a line already written came twice
                    duplicates += 1
                    continue
                last_line = line
                files.write(output, line, error, raw, scored)
            if on_rows is not None:
                on_rows(batch.num_rows)
    return duplicates


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
    resume: bool = False,
    checkpoint_seconds: float = CHECKPOINT_SECONDS,
    on_rows: Callable[[int], object] | None = None,
    **options: Any,
) -> BatchSummary:
    """Rerank a JSONL or Parquet file of rows into ``output_path`` and its errors file.

    Args:
        input_path: Rows with ``query`` and ``candidates``.
        output_path: Where the reranked rows go (same format choice by extension).
        model: The cross-encoder.
        use_ray: Run on Ray (``False``: in this process).
        ray_address: A cluster to join (``"auto"`` or an address); ``None`` starts a local Ray,
            stopped when the job ends (a Ray already initialized in this process is used).
        actors: Size of the actor pool.
        rows_per_batch: Rows per actor call (the model's own ``batch_size`` is an option).
        cpus_per_actor: CPUs each actor reserves.
        num_gpus: GPUs each actor reserves.
        rows_per_shard: Rows per read task.
        resume: Continue the stopped job that left ``output_path``'s partial files (same
            input, model and options; start from the beginning if there is none).
        checkpoint_seconds: Seconds between checkpoints, the most a resume does again (each
            costs two fsyncs; 0: after every row).
        on_rows: Called with the number of rows just written (a progress bar); on resume,
            first with the rows already done.
        **options: Any other :class:`~crossrank.Reranker` option.

    Returns:
        The job's summary.

    Raises:
        RuntimeError: If fewer outcomes came back than the input has rows.
        ValueError: If ``resume`` finds a job on another input, model or options.
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
    duplicates = 0
    job = describe_job(input_path, model, options)
    with OutputFiles(output_path, job=job, resume=resume, checkpoint_seconds=checkpoint_seconds) as files:
        if on_rows is not None and files.resumed.rows:
            on_rows(files.resumed.rows)
        if use_ray:
            pool = {
                "actors": actors,
                "rows_per_batch": rows_per_batch,
                "cpus_per_actor": cpus_per_actor,
                "num_gpus": num_gpus,
            }
            duplicates = _run_on_ray(files, shards, model, options, ray_address, pool, on_rows)
        else:
            from crossrank.reranker import Reranker

            reranker = Reranker(model, **options)
            for row in iter_rows(shards, files.resumed.line):
                outcome = rerank_line(reranker, *row)
                files.write(outcome.output, outcome.line, outcome.error, row.raw, outcome.pairs)
                if on_rows is not None:
                    on_rows(1)
        expected = sum(shard.rows for shard in shards)
        if files.done.rows != expected:
            # Raised inside the files' context: the partial output stays, for a resume.
            raise RuntimeError(
                f"{files.done.rows} of the {expected} rows of {input_path} came back; "
                "rerun the job with --resume (resume=True)"
            )
        done = files.done
    return BatchSummary(
        rows=done.rows,
        reranked=done.reranked,
        failed=done.failed,
        pairs=done.pairs,
        seconds=time.perf_counter() - started,
        engine="ray" if use_ray else "in-process",
        actors=actors if use_ray else 1,
        duplicates_dropped=duplicates,
        resumed_rows=files.resumed.rows,
    )
