"""Choosing ``backend="auto"``'s CPU backend by measurement, once per model and CPU.

Which exact (fp32) backend is fastest depends on the CPU: ONNX Runtime was ahead of PyTorch
on the AMD hosts and behind it on an Intel Xeon (the numbers: docs/benchmarks.md). So on first
load :func:`probe_fastest_backend` builds every candidate, checks each scores the probe pairs
as PyTorch fp32 does (within :data:`EXACT_TOLERANCE`; lower precisions are never candidates,
only ``tune`` picks them), times them and keeps the fastest.

The rule: the candidates are timed in interleaved rounds (alternating order, after one
warm-up call each), one batch each per round, within a time budget (2 s by default; at least
three rounds of two pairs run, so a large model on a small CPU takes longer). A candidate replaces
PyTorch only when the median of its per-round time ratios to PyTorch is below
``1 - noise``, noise being half the spread of those ratios and at least 3%; among those that
do, the lowest median ratio wins. So ``auto`` is never slower than PyTorch fp32 by more than
what the probe could not tell apart.

The choice is cached in a JSON file under ``<crossrank cache>/backend-probe/``
(:mod:`crossrank.models.probe_record`), keyed by the model's architecture and name, the CPU
(vendor, model, stepping, flags), the threads, the candidates and the library versions: any
change probes again. An unreadable or inconsistent file is ignored with a warning and rewritten.
Setting :data:`AUTO_BACKEND_ENV` (``torch``, ``onnx`` or ``openvino``) pins the choice without
probing.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from crossrank.errors import CrossrankError
from crossrank.log import logger
from crossrank.models.probe_record import (
    RECORDED_FIELDS,
    model_fingerprint,
    probe_cache_dir,
    probe_identity,
    read_probe_record,
    write_probe_record,
)
from crossrank.scorer import PairScorer, query_ids

__all__ = [
    "AUTO_BACKEND_ENV",
    "EXACT_BACKENDS",
    "EXACT_TOLERANCE",
    "ProbeChoice",
    "describe_choice",
    "model_fingerprint",
    "pinned_backend",
    "probe_cache_dir",
    "probe_fastest_backend",
    "sample_probe_pairs",
]

AUTO_BACKEND_ENV = "CROSSRANK_AUTO_BACKEND"
"""Environment variable pinning ``auto``'s CPU backend (``torch``, ``onnx``, ``openvino``) without a probe."""
EXACT_BACKENDS: tuple[str, ...] = ("torch", "onnx", "openvino")
EXACT_TOLERANCE = 1e-5
"""Largest score difference from PyTorch fp32 (scaled by the largest score above 1) of an exact backend."""

Pairs = Sequence[tuple[Sequence[int], Sequence[int]]]
_MIN_NOISE = 0.03  # below this, differences are within run-to-run drift on a shared machine
_MIN_ROUNDS, _MAX_ROUNDS = 3, 7
# Backends of an optional extra: not installed is normal, said at INFO only.
_OPTIONAL_EXTRAS = frozenset({"openvino"})
_LABELS = {"torch": "PyTorch", "onnx": "ONNX Runtime", "openvino": "OpenVINO"}
_MIN_PAIRS = 2  # a batch, so padding is timed (and checked) too
# A builder raising one of these means "this backend cannot run here": skip it.
_SKIPPABLE = (ImportError, OSError, CrossrankError)


@dataclass(frozen=True)
class ProbeChoice:
    """The backend ``auto`` runs, its scorer and the measurements behind it.

    Attributes:
        backend: ``"torch"``, ``"onnx"`` or ``"openvino"`` (all fp32).
        scorer: The chosen backend's scorer, built.
        source: ``"probe"`` (measured now), ``"cache"`` (measured before) or ``"pinned"``.
        model: The model key it was chosen for.
        seconds: Median seconds per probe batch of each timed candidate.
        ratio: Each other candidate's median per-round time ratio to PyTorch.
        noise: The margin each other candidate had to beat (see the module's text).
        skipped: Why each candidate not timed was left out.
        pairs: Pairs per timed batch; rounds: timed rounds.
        probe_seconds: Seconds the warm-up and timing took.
        probed_at: When it was measured (ISO 8601, UTC); empty when pinned.
        cache_file: Where the choice is kept, or ``None``.
    """

    backend: str
    scorer: PairScorer = field(repr=False, compare=False)
    source: Literal["probe", "cache", "pinned"]
    model: str
    seconds: Mapping[str, float] = field(default_factory=dict)
    ratio: Mapping[str, float] = field(default_factory=dict)
    noise: Mapping[str, float] = field(default_factory=dict)
    skipped: Mapping[str, str] = field(default_factory=dict)
    pairs: int = 0
    rounds: int = 0
    probe_seconds: float = 0.0
    probed_at: str = ""
    cache_file: Path | None = None


def pinned_backend(environ: Mapping[str, str] | None = None) -> str | None:
    """The backend :data:`AUTO_BACKEND_ENV` pins, or ``None`` when it is unset or empty.

    Raises:
        ValueError: If it names anything but an exact backend, listing them.
    """
    raw = (os.environ if environ is None else environ).get(AUTO_BACKEND_ENV, "")
    value = raw.strip().lower()
    if not value:
        return None
    if value not in EXACT_BACKENDS:
        allowed = ", ".join(map(repr, EXACT_BACKENDS))
        raise ValueError(f"{AUTO_BACKEND_ENV} must be one of {allowed} (or unset, to measure), got {raw!r}.")
    return value


def sample_probe_pairs(
    scorer: PairScorer, *, pairs: int = 16, tokens: int = 256
) -> list[tuple[list[int], list[int]]]:
    """Token-id pairs of a realistic reranking batch, from crossrank's sample texts.

    Each sample query in turn with its labelled documents, then the corpus in file order
    (as static int8 calibrates), each pair cut to ``min(tokens, scorer.max_length)`` tokens.
    """
    from crossrank.samples import load_sample_corpus, load_sample_queries

    corpus = {document.id: document for document in load_sample_corpus()}
    queries = load_sample_queries()
    room = min(tokens, scorer.max_length) - scorer.num_special_tokens
    chosen = []
    for i in range(pairs):
        query = queries[i % len(queries)]
        order = [d for d in query.relevant if d in corpus] + [d for d in corpus if d not in query.relevant]
        chosen.append((query.text, corpus[order[(i // len(queries)) % len(order)]].full_text))
    passages = scorer.tokenize([text for _, text in chosen])
    result = []
    for (query_text, _), passage in zip(chosen, passages, strict=True):
        query_part = query_ids(scorer, query_text, room // 2)
        result.append((query_part, [int(t) for t in passage.ids[: room - len(query_part)]]))
    return result


def probe_fastest_backend(
    candidates: Mapping[str, Callable[[], PairScorer]],
    *,
    model_key: str,
    probe_pairs: Pairs | None = None,
    budget_s: float = 2.0,
    cache_dir: Path | None = None,
    refresh: bool = False,
    explain: Callable[[BaseException], str] | None = None,
) -> ProbeChoice:
    """The fastest exact backend for this model on this CPU: pinned, cached, or measured now.

    Args:
        candidates: Builders of exact (fp32) scorers by backend name; ``"torch"`` is
            required (the reference, and what is kept when nothing beats it). A builder
            raising ImportError, OSError or a crossrank error is skipped, its reason kept.
        model_key: The model's identity (:func:`model_fingerprint`).
        probe_pairs: The pairs to time (the first one warms up; rounds take as many as the
            budget allows, at least two); :func:`sample_probe_pairs` of the PyTorch scorer
            when ``None``.
        budget_s: Seconds for warming up and timing (building is not counted); at least
            three rounds run, on fewer pairs when a round would not fit.
        cache_dir: Where choices are kept; :func:`probe_cache_dir` when ``None``.
        refresh: Measure again even when a cached choice exists.
        explain: Words a builder's exception for the logs (the type and message by default).

    Returns:
        The choice, with its scorer built; logged at INFO on the ``crossrank`` logger.

    Raises:
        ValueError: If a candidate is not an exact backend, ``"torch"`` is missing or
            :data:`AUTO_BACKEND_ENV` is invalid.
    """
    unknown = sorted(set(candidates) - set(EXACT_BACKENDS))
    if unknown or "torch" not in candidates:
        raise ValueError(
            f"candidates must include 'torch', all in {EXACT_BACKENDS}; got {sorted(candidates)}."
        )
    pinned = pinned_backend()
    if pinned is not None:
        choice = _pinned(candidates, pinned, model_key, explain or _reason)
    else:
        identity, key = probe_identity(model_key, list(candidates))
        path = (cache_dir if cache_dir is not None else probe_cache_dir()) / f"probe-{key[:24]}.json"
        cached = None if refresh else _cached_choice(path, key, candidates, model_key)
        if cached is not None:
            choice = cached
        else:
            choice = _measure(candidates, model_key, probe_pairs, budget_s, explain or _reason)
            choice = replace(choice, cache_file=path)
            write_probe_record(path, {**identity, "key": key, **_record(choice)})
    logger.info("%s", describe_choice(choice))
    return choice


def describe_choice(choice: ProbeChoice) -> str:
    """One line saying what ``auto`` runs and why, for logs."""
    line = f"crossrank: backend='auto' runs {choice.backend} for {choice.model}"
    if choice.source == "pinned":
        line += f": pinned by {AUTO_BACKEND_ENV}"
    else:
        timed = [f"{name} {seconds * 1000:.1f} ms" for name, seconds in choice.seconds.items()]
        timed += [f"{n} {r:.2f}x torch (noise {choice.noise[n]:.0%})" for n, r in choice.ratio.items()]
        when = ("cached, measured " if choice.source == "cache" else "measured ") + choice.probed_at
        line += (
            f": median per batch of {choice.pairs} pairs over {choice.rounds} rounds: {', '.join(timed)}"
            f" ({when} in {choice.probe_seconds:.1f} s; kept in {choice.cache_file})"
        )
    skipped = "; ".join(f"{name}: {reason}" for name, reason in choice.skipped.items())
    return f"{line}. Not candidates: {skipped}" if skipped else line


def _pinned(
    candidates: Mapping[str, Callable[[], PairScorer]],
    pinned: str,
    model: str,
    explain: Callable[[BaseException], str],
) -> ProbeChoice:
    if pinned in candidates:
        try:
            return ProbeChoice(pinned, candidates[pinned](), "pinned", model)
        except _SKIPPABLE as exc:
            reason = explain(exc)
    else:
        reason = "not available for this model or device"
    # Like auto's other fallbacks: PyTorch fp32, said loudly, never a crash.
    logger.warning(
        "crossrank: backend %r is not usable for %s: %s. Scoring with PyTorch instead (%s=%s).",
        pinned,
        model.rpartition("@")[0] or model,
        reason,
        AUTO_BACKEND_ENV,
        pinned,
    )
    return ProbeChoice("torch", candidates["torch"](), "pinned", model, skipped={pinned: reason})


def _measure(
    candidates: Mapping[str, Callable[[], PairScorer]],
    model: str,
    probe_pairs: Pairs | None,
    budget_s: float,
    explain: Callable[[BaseException], str],
) -> ProbeChoice:
    skipped: dict[str, str] = {}
    expected: set[str] = set()  # left out for a reason that needs no warning
    scorers = {"torch": candidates["torch"]()}  # the reference: its failure is the caller's
    for name, build in candidates.items():
        if name != "torch":
            try:
                scorers[name] = build()
            except _SKIPPABLE as exc:
                skipped[name] = explain(exc)
                if isinstance(exc, ImportError) and name in _OPTIONAL_EXTRAS:
                    expected.add(name)
    pairs = list(probe_pairs) if probe_pairs is not None else sample_probe_pairs(scorers["torch"])
    times: dict[str, list[float]] = {name: [] for name in scorers}

    def run_round(batch: Pairs, backwards: bool) -> float:
        """Each scorer scores ``batch`` once; a failing or inexact one stops being a candidate."""
        scores: dict[str, list[float]] = {}
        for name in list(scorers)[::-1] if backwards else list(scorers):
            begun = time.perf_counter()
            try:
                scores[name] = list(scorers[name].score(batch))
            except Exception as exc:  # an optional backend failing at run time is no candidate
                if name == "torch":
                    raise
                skipped[name] = f"scoring failed ({type(exc).__name__}: {exc})"
            times[name].append(time.perf_counter() - begun)
        for name in list(scorers)[1:]:
            problem = skipped.get(name) or _inexact(scores[name], scores["torch"])
            if problem is not None:
                skipped[name] = problem
                del scorers[name], times[name]
        return sum(series[-1] for series in times.values())

    started = time.perf_counter()
    # Warm up on one pair: first-call costs out of the way, and a cost per pair to plan with.
    per_pair = run_round(pairs[:1], backwards=False)
    rounds, batch = 0, pairs[:1]
    if len(scorers) > 1:
        for series in times.values():
            series.clear()  # the warm-up is not timed
        left = budget_s - (time.perf_counter() - started)
        batch = pairs[: max(_MIN_PAIRS, min(len(pairs), int(left / (_MIN_ROUNDS * max(per_pair, 1e-6)))))]
        round_cost = per_pair * len(batch)
        while len(scorers) > 1 and (
            rounds < _MIN_ROUNDS
            or (rounds < _MAX_ROUNDS and time.perf_counter() - started + round_cost <= budget_s)
        ):
            round_cost = run_round(batch, backwards=rounds % 2 == 1)
            rounds += 1
    backend, ratio, noise = _decide(times)
    for name in sorted(skipped.keys() - expected):
        logger.warning(
            "crossrank: backend %r is not usable for %s: %s. Scoring with %s instead.",
            name,
            model.rpartition("@")[0] or model,
            skipped[name],
            _LABELS[backend],
        )
    return ProbeChoice(
        backend,
        scorers[backend],
        "probe",
        model,
        seconds={name: statistics.median(series) for name, series in times.items()},
        ratio=ratio,
        noise=noise,
        skipped=skipped,
        pairs=len(batch),
        rounds=rounds,
        probe_seconds=round(time.perf_counter() - started, 3),
        probed_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def _decide(times: Mapping[str, Sequence[float]]) -> tuple[str, dict[str, float], dict[str, float]]:
    """The backend kept by the rule in the module's text, each ratio to PyTorch and its noise."""
    baseline = times["torch"]
    chosen, best = "torch", 1.0
    ratios: dict[str, float] = {}
    noises: dict[str, float] = {}
    for name, series in times.items():
        if name == "torch":
            continue
        # Paired per round: both ran within the same moments, so machine-wide drift cancels.
        per_round = [own / base for own, base in zip(series, baseline, strict=True)]
        ratios[name] = statistics.median(per_round)
        noises[name] = max(_MIN_NOISE, (max(per_round) - min(per_round)) / 2)
        if ratios[name] < min(best, 1 - noises[name]):
            chosen, best = name, ratios[name]
    return chosen, ratios, noises


def _inexact(scores: Sequence[float], reference: Sequence[float]) -> str | None:
    if len(scores) != len(reference):
        return f"it returned {len(scores)} scores for {len(reference)} pairs"
    difference = max((abs(float(a) - float(b)) for a, b in zip(scores, reference, strict=True)), default=0.0)
    tolerance = EXACT_TOLERANCE * max([1.0, *(abs(float(b)) for b in reference)])
    if not difference <= tolerance:  # also catches NaN
        return f"not exact: its scores differ from PyTorch fp32's by {difference:.2g} (> {tolerance:.0e})"
    return None


def _cached_choice(
    path: Path, key: str, candidates: Mapping[str, Callable[[], PairScorer]], model: str
) -> ProbeChoice | None:
    fields = read_probe_record(path, key, list(candidates))
    if fields is None:
        return None
    try:
        scorer = candidates[fields["backend"]]()
    except _SKIPPABLE as exc:
        logger.warning(
            "crossrank: the cached choice %s cannot run now (%s); probing again.", fields["backend"], exc
        )
        return None
    return ProbeChoice(scorer=scorer, source="cache", model=model, cache_file=path, **fields)


def _record(choice: ProbeChoice) -> dict[str, Any]:
    return {name: getattr(choice, name) for name in RECORDED_FIELDS}


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
