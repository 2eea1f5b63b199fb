"""How well does a model-free coarse stage pick the window the model would pick?

On the ``--long`` protocol (random fillers), for the first N SciFact test claims and their
dense top-k candidates from a recorded TREC run, the model scores every window of every
judged-relevant candidate and of a fixed sample of the others; each lexical variant picks
one window per candidate. Printed per variant and per kind of candidate: how often its pick
is the model's best window, and how much of the model's chunk-max score is lost by reading
only its pick (mean and worst). The lexical variants:

* ``unigram``: :class:`crossrank.models.lexical_scorer.LexicalScorer` (what
  ``coarse_model="lexical"`` runs): the query's content tokens, ``log(1 + count)`` each.
* ``unigram+bigram``: also the query's adjacent content-token pairs found in the window.
* ``idf``: unigrams weighted by their inverse document frequency over the claim's candidates
  (a per-query statistic, shown for comparison: a scorer that sees only pairs cannot have it).

A second table asks what an adaptive read would buy (``fine_window_margin``): with the
``unigram`` count, the model reads the candidate's best window and, when its count is within
``margin`` of the best one's, the second (``margin`` in the count's units, ``log(1 + count)``
summed over the query's tokens), so a clear winner costs one window and a close call two; the
``ratio`` rows read the second when its count is at least that share of the best one's. Printed
per rule and kind of candidate: windows read per candidate, how often the model's best window is
among them, and the score lost (mean).

Usage::

    python benchmarks/window_selection_probe.py MODEL SCIFACT_DIR RUN.trec [CLAIMS] [OTHERS]
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
import sys
from collections import Counter
from collections.abc import Sequence

import numpy as np

from crossrank import Reranker
from crossrank.evaluation.beir import load_beir
from crossrank.evaluation.evaluator import select_query_ids
from crossrank.evaluation.long_protocol import long_documents
from crossrank.evaluation.run_file import read_trec_run
from crossrank.models.lexical_scorer import LexicalScorer
from crossrank.scorer import PairScorer

# When a second window is read too: within a margin of the best lexical count, or at a share of it.
ADAPTIVE_RULES = (
    *(("margin", value) for value in (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)),
    *(("ratio", value) for value in (0.95, 0.9, 0.8)),
)


class _BigramScorer(LexicalScorer):
    def score(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[float]:
        unigrams = super().score(pairs)
        ignored = set(self._ignored.tolist())
        scores = []
        for (query_ids, window_ids), base in zip(pairs, unigrams, strict=True):
            query = [int(t) for t in query_ids if int(t) not in ignored]
            wanted = set(itertools.pairwise(query))
            window = [int(t) for t in window_ids]
            found = Counter(pair for pair in itertools.pairwise(window) if pair in wanted)
            scores.append(base + sum(math.log1p(count) for count in found.values()))
        return scores


class _IdfScorer(LexicalScorer):
    def __init__(self, tokenizer: PairScorer) -> None:
        super().__init__(tokenizer)
        self.idf: dict[int, float] = {}

    def score(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[float]:
        scores = []
        for query_ids, window_ids in pairs:
            terms = set(np.setdiff1d(np.asarray(query_ids), self._ignored).tolist())
            counts = Counter(int(t) for t in window_ids if int(t) in terms)
            scores.append(sum(self.idf.get(t, 0.0) * math.log1p(c) for t, c in counts.items()))
        return scores


def main(model: str, data_dir: str, run_path: str, claims: int, others: int) -> None:
    dataset = load_beir(data_dir, split="test")
    run, _ = read_trec_run(run_path)
    fine = Reranker(model, score_cache_size=0)
    long_text, _ = long_documents(dataset, fine)
    tokenizer = fine.scorer
    idf_scorer = _IdfScorer(tokenizer)
    variants = {
        "unigram": Reranker(LexicalScorer(tokenizer), score_cache_size=0),
        "unigram+bigram": Reranker(_BigramScorer(tokenizer), score_cache_size=0),
        "idf": Reranker(idf_scorer, score_cache_size=0),
    }
    rng = random.Random(7)
    records: dict[tuple[str, str], list[tuple[bool, float]]] = {}
    adaptive: dict[tuple[tuple[str, float], str], list[tuple[bool, float, int]]] = {}
    windows_seen = []
    # The eval's own choice (numeric ids numerically), so `crossrank eval --limit N` reads the same claims.
    query_ids = select_query_ids(dataset, claims)
    for query_id in query_ids:
        query = dataset.queries[query_id]
        ranked = [candidate.doc_id for candidate in run[query_id]][:100]
        relevant = [d for d in ranked if dataset.qrels[query_id].get(d, 0) > 0]
        rest = [d for d in ranked if d not in relevant]
        sample = rng.sample(rest, min(others, len(rest)))
        texts = [long_text(d) for d in relevant + sample]
        kinds = ["relevant"] * len(relevant) + ["other"] * len(sample)
        tokens = [set(t.ids) for t in tokenizer.tokenize([long_text(d) for d in ranked])]
        idf_scorer.idf = {}
        for token in set().union(*tokens):
            df = sum(token in doc for doc in tokens)
            idf_scorer.idf[int(token)] = math.log(len(tokens) / df)
        names = [f"d{i}" for i in range(len(texts))]
        fine_windows: dict[str, list[tuple[float, tuple[int, int]]]] = {}
        fine._score_texts(query, texts, names, window_scores_out=fine_windows)
        for text, kind in zip(texts, kinds, strict=True):
            scored = fine_windows[text]
            windows_seen.append(len(scored))
            best_score, best_span = max(scored, key=lambda window: window[0])
            by_span = {span: score for score, span in scored}
            for name, coarse in variants.items():
                coarse_windows: dict[str, list[tuple[float, tuple[int, int]]]] = {}
                coarse._score_texts(query, [text], ["d"], window_scores_out=coarse_windows)
                # Ties go to the earlier window (a stable sort), as the cascade's best_windows does.
                ordered = sorted(coarse_windows[text], key=lambda window: -window[0])
                pick = ordered[0][1]
                records.setdefault((name, kind), []).append((pick == best_span, best_score - by_span[pick]))
                if name == "unigram":
                    _record_adaptive(adaptive, kind, ordered, by_span, best_span)
    print(f"{len(query_ids)} claims, {statistics.fmean(windows_seen):.2f} windows per candidate")
    header = ("variant", "candidates", "n", "same window", "mean loss", "worst loss")
    print("{:16} {:10} {:>5} {:>12} {:>10} {:>11}".format(*header))
    for (name, kind), values in records.items():
        same = sum(hit for hit, _ in values) / len(values)
        losses = [loss for _, loss in values]
        mean, worst = statistics.fmean(losses), max(losses)
        print(f"{name:16} {kind:10} {len(values):5d} {same:12.3f} {mean:10.4f} {worst:11.4f}")
    print()
    header = ("rule", "candidates", "n", "windows read", "best found", "mean loss")
    print("{:12} {:10} {:>5} {:>13} {:>12} {:>10}".format(*header))
    for ((rule, value), kind), rows in sorted(adaptive.items(), key=lambda item: item[0][1]):
        read = statistics.fmean(n for _, _, n in rows)
        found = sum(hit for hit, _, _ in rows) / len(rows)
        loss = statistics.fmean(lost for _, lost, _ in rows)
        print(f"{rule:6} {value:5.2f} {kind:10} {len(rows):5d} {read:13.2f} {found:12.3f} {loss:10.4f}")


def _record_adaptive(
    adaptive: dict[tuple[tuple[str, float], str], list[tuple[bool, float, int]]],
    kind: str,
    ordered: list[tuple[float, tuple[int, int]]],
    model_by_span: dict[tuple[int, int], float],
    model_best: tuple[int, int],
) -> None:
    """Record, for each rule, what reading the one or two lexically best windows finds.

    ``ordered`` is the candidate's windows by lexical count, best first.
    """
    top = ordered[0][0]
    best_score = model_by_span[model_best]
    for rule, value in ADAPTIVE_RULES:
        limit = top - value if rule == "margin" else value * top
        read = [ordered[0][1]] + [span for score, span in ordered[1:2] if score >= limit]
        found = max(model_by_span[span] for span in read)
        record = (model_best in read, best_score - found, len(read))
        adaptive.setdefault(((rule, value), kind), []).append(record)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if len(arguments) < 3:
        sys.exit(__doc__)
    main(
        arguments[0],
        arguments[1],
        arguments[2],
        int(arguments[3]) if len(arguments) > 3 else 30,
        int(arguments[4]) if len(arguments) > 4 else 10,
    )
