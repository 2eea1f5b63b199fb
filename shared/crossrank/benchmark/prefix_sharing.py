"""A causal-LM reranker's shared prompt prefix against scoring each pair in full; and its memory.

:func:`measure_prefix_sharing` builds one query whose template head is about ``prefix_tokens``
long and ``candidates`` documents of about ``document_tokens`` each, then times, interleaved
round by round, the same model's :class:`~crossrank.models.causal_scorer.CausalLogitScorer`
with the head's key/value cache shared and without. :func:`measure_scoring_memory` runs
crossrank and ``CrossEncoder.predict`` on the same pairs in fresh processes and reads how much
each one's peak resident memory grew while scoring (after loading).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["PrefixSharing", "format_prefix_sharing", "measure_prefix_sharing", "measure_scoring_memory"]

_WORDS = [
    "participants",
    "walked",
    "briskly",
    "every",
    "morning",
    "and",
    "their",
    "systolic",
    "readings",
    "fell",
    "while",
    "diastolic",
    "readings",
    "barely",
    "moved",
    "during",
    "the",
    "twelve",
    "week",
    "trial",
    "in",
    "older",
    "adults",
    "with",
    "mild",
    "hypertension",
]


@dataclass(frozen=True)
class PrefixSharing:
    """One comparison, interleaved in one process.

    Attributes:
        head_tokens: Tokens of the shared head (template and query).
        document_tokens: Tokens of each candidate's window.
        candidates: Pairs per query.
        rounds: Timed rounds (each scores every candidate once per mode).
        shared_ms: Median per-query latency with the head's cache shared.
        full_ms: Median per-query latency scoring each pair in full.
        max_difference: Largest score difference between the two modes.
    """

    head_tokens: int
    document_tokens: int
    candidates: int
    rounds: int
    shared_ms: float
    full_ms: float
    max_difference: float

    @property
    def speedup(self) -> float:
        """How many times faster the shared prefix scores a query's candidates."""
        return self.full_ms / self.shared_ms


def _text(tokenize: Any, tokens: int, seed: int) -> str:
    words = [_WORDS[(seed + i) % len(_WORDS)] for i in range(tokens * 2)]
    text = " ".join(words)
    encoded = tokenize([text])[0]
    end = int(encoded.offsets[min(tokens, len(encoded.ids)) - 1][1])
    return text[:end]


def _pairs(scorer: Any, prefix_tokens: int, document_tokens: int, candidates: int) -> list[Any]:
    base = len(scorer.query_ids("q", 10**9))
    query = _text(scorer.tokenize, max(1, prefix_tokens - base), 0)
    head = scorer.query_ids(query, 10**9)
    documents = [_text(scorer.tokenize, document_tokens, seed) for seed in range(1, candidates + 1)]
    return [(head, [int(token) for token in text.ids]) for text in scorer.tokenize(documents)]


def measure_prefix_sharing(
    model: str,
    *,
    prefix_tokens: int = 100,
    document_tokens: int = 200,
    candidates: int = 20,
    rounds: int = 5,
    batch_size: int = 20,
) -> PrefixSharing:
    """Time a query's candidates with and without the shared prefix, interleaved.

    Args:
        model: A causal-LM reranker (``LogitScore``): path or hub id.
        prefix_tokens: About how long the head (template and query) is.
        document_tokens: How long each candidate is.
        candidates: Candidates per query.
        rounds: Timed rounds, after one untimed warm-up of each mode.
        batch_size: Pairs per model call.

    Returns:
        The comparison.
    """
    from crossrank.models.causal_scorer import CausalLogitScorer
    from crossrank.models.loading import load_cross_encoder

    cross_encoder = load_cross_encoder(model, device="cpu")
    shared = CausalLogitScorer(cross_encoder, model, share_prefix=True)
    full = CausalLogitScorer(cross_encoder, model, share_prefix=False)
    pairs = _pairs(shared, prefix_tokens, document_tokens, candidates)
    batches = [pairs[start : start + batch_size] for start in range(0, len(pairs), batch_size)]

    def run(scorer: CausalLogitScorer) -> tuple[float, list[float]]:
        started = time.perf_counter()
        scores = [score for batch in batches for score in scorer.score(batch)]
        return (time.perf_counter() - started) * 1000, scores

    run(shared)
    run(full)
    timings: dict[str, list[float]] = {"shared": [], "full": []}
    difference = 0.0
    for round_number in range(rounds):
        order = (
            (("shared", shared), ("full", full))
            if round_number % 2 == 0
            else (("full", full), ("shared", shared))
        )
        scores: dict[str, list[float]] = {}
        for label, scorer in order:
            # A new query each round would re-run the head; the shared mode keeps its last head,
            # so clear it to time the head's pass too.
            scorer._cached_head = None
            milliseconds, scores[label] = run(scorer)
            timings[label].append(milliseconds)
        difference = max(
            difference, *(abs(a - b) for a, b in zip(scores["shared"], scores["full"], strict=True))
        )
    return PrefixSharing(
        head_tokens=len(pairs[0][0]),
        document_tokens=document_tokens,
        candidates=candidates,
        rounds=rounds,
        shared_ms=statistics.median(timings["shared"]),
        full_ms=statistics.median(timings["full"]),
        max_difference=difference,
    )


def format_prefix_sharing(result: PrefixSharing) -> str:
    """The comparison as two lines of text."""
    return (
        f"prefix sharing: {result.candidates} candidates of {result.document_tokens} tokens behind a "
        f"{result.head_tokens}-token head, median of {result.rounds} interleaved rounds\n"
        f"  shared head {result.shared_ms:.0f} ms/query, each pair in full {result.full_ms:.0f} ms/query: "
        f"{result.speedup:.2f}x; scores differ by at most {result.max_difference:.1e}"
    )


def measure_scoring_memory(
    model: str, *, candidates: int = 20, document_tokens: int = 200
) -> dict[str, float]:
    """Peak-memory growth (MiB) while scoring one query's candidates: crossrank and ``predict``.

    Each runs in a fresh process that loads the model and then scores the pairs once; the
    figure is how much the peak resident set grew during that call.

    Args:
        model: A causal-LM reranker.
        candidates: Candidates per query.
        document_tokens: Tokens per candidate.

    Returns:
        ``{"crossrank": MiB, "sentence_transformers": MiB}``.

    Raises:
        RuntimeError: If a child fails.
    """
    grown: dict[str, float] = {}
    for who in ("crossrank", "sentence_transformers"):
        command = [
            sys.executable,
            "-m",
            "crossrank.benchmark.prefix_sharing",
            who,
            model,
            str(candidates),
            str(document_tokens),
        ]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
        if completed.returncode != 0:
            last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"the memory probe failed ({who}): {last}")
        grown[who] = float(json.loads(completed.stdout.strip().splitlines()[-1])["grown_mib"])
    return grown


def _memory_child(who: str, model: str, candidates: int, document_tokens: int) -> None:
    import resource

    from crossrank.models.causal_scorer import CausalLogitScorer
    from crossrank.models.loading import load_cross_encoder

    cross_encoder = load_cross_encoder(model, device="cpu")
    scorer = CausalLogitScorer(cross_encoder, model)
    query = _text(scorer.tokenize, 40, 0)
    documents = [_text(scorer.tokenize, document_tokens, seed) for seed in range(1, candidates + 1)]
    if who == "crossrank":
        pairs = [(scorer.query_ids(query, 10**9), list(text.ids)) for text in scorer.tokenize(documents)]

        def score() -> None:
            scorer._cached_head = None
            scorer.score(pairs)
    else:

        def score() -> None:
            cross_encoder.predict([(query, document) for document in documents], batch_size=candidates)

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    score()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"grown_mib": (after - before) / 1024}))


if __name__ == "__main__":
    _memory_child(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
