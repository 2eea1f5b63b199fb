"""The timed run: every contender on every input, interleaved, after a warm-up.

The runner warms every contender up, then times them interleaved, round-robin, so
slow drift of the machine (other jobs, thermal state) spreads over all of them alike.
Peak memory is measured apart, per contender in a fresh process
(:mod:`crossrank.benchmark.memory_probe`), because in a shared process the peak would
include every other contender's model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from crossrank.benchmark.flops import TransformerShape, pair_flops
from crossrank.benchmark.inputs import BenchInput
from crossrank.benchmark.protocol import Contender
from crossrank.evaluation.latency import LatencySummary, summarize_latency

__all__ = ["Measured", "run_benchmark"]


@dataclass
class _Timings:
    seconds: list[float] = field(default_factory=list)
    pairs: int = 0
    rankings: dict[str, list[str]] = field(default_factory=dict)
    flops: float = 0.0
    counted: bool = True


@dataclass(frozen=True)
class Measured:
    """What the timed run found about one contender.

    Attributes:
        latency: Its latency summary over all timed calls.
        rankings: Its ranking of every input as doc ids, from the first round.
        flops: FLOPs of the pairs it scored over all timed calls (from the model's
            shape and each pair's tokens), or ``None`` when unknown.
        compute_dtype: The element type of its matrix multiplies, or ``None``.
    """

    latency: LatencySummary
    rankings: dict[str, list[str]]
    flops: float | None = None
    compute_dtype: str | None = None


def run_benchmark(
    contenders: Sequence[Contender],
    inputs: Sequence[BenchInput],
    *,
    repeat: int = 3,
    warmup: int = 1,
    on_call: Callable[[], object] | None = None,
    on_round: Callable[[int, float], object] | None = None,
    shape: TransformerShape | None = None,
) -> dict[str, Measured]:
    """Time every contender on every input, interleaved, after a warm-up.

    In each of ``repeat`` rounds, every input is ranked by every contender before the
    next input; the contenders' order rotates from one input to the next, so none is
    always first after a cache-cold switch.

    Args:
        contenders: The configurations under test.
        inputs: The queries and candidates.
        repeat: Timed rounds over all inputs.
        warmup: Untimed calls per contender (on the first inputs) before timing.
        on_call: Called after each timed call (for a progress bar).
        on_round: Called as ``on_round(0, warm-up seconds)`` after the warm-up, then as
            ``on_round(rounds done, seconds since timing began)`` after each round (for
            progress lines and an estimate of the time left).
        shape: The model's sizes, to count FLOPs from the pairs' tokens (none counted
            without it); a contender with a ``shape`` of its own (a student) uses that.

    Returns:
        Contender name to what was measured.

    Raises:
        ValueError: If ``repeat`` is below 1 or ``warmup`` below 0.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be a positive integer, got {repeat}.")
    if warmup < 0:
        raise ValueError(f"warmup must be an integer >= 0, got {warmup}.")
    warmup_started = time.perf_counter()
    for contender in contenders:
        for item in inputs[:warmup] if inputs else ():
            contender.rank(contender.prepare(item))
    if on_round is not None:
        on_round(0, time.perf_counter() - warmup_started)

    timings = {contender.name: _Timings() for contender in contenders}
    count = len(contenders)
    timing_started = time.perf_counter()
    for round_index in range(repeat):
        for position, item in enumerate(inputs):
            shift = (round_index * len(inputs) + position) % count if count else 0
            for contender in [*contenders[shift:], *contenders[:shift]]:
                prepared = contender.prepare(item)
                started = time.perf_counter()
                ranked = contender.rank(prepared)
                elapsed = time.perf_counter() - started
                record = timings[contender.name]
                record.seconds.append(elapsed)
                record.pairs += ranked.pairs
                own_shape = getattr(contender, "shape", None) or shape
                if own_shape is None or len(ranked.sequence_lengths) != ranked.pairs:
                    record.counted = False
                else:
                    record.flops += sum(pair_flops(own_shape, length) for length in ranked.sequence_lengths)
                if round_index == 0:
                    record.rankings[item.query_id] = [item.doc_ids[i] for i in ranked.order]
                if on_call is not None:
                    on_call()
        if on_round is not None:
            on_round(round_index + 1, time.perf_counter() - timing_started)
    dtypes = {contender.name: getattr(contender, "compute_dtype", None) for contender in contenders}
    return {
        name: Measured(
            latency=summarize_latency(record.seconds, record.pairs),
            rankings=record.rankings,
            flops=record.flops if record.counted and record.seconds else None,
            compute_dtype=dtypes[name],
        )
        for name, record in timings.items()
    }
