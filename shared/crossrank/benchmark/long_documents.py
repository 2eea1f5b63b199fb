"""Where chunk-max loses on long documents, and what each window plan and aggregation wins back.

``python -m crossrank.benchmark.long_documents --model DIR --data SCIFACT_DIR --limit 30 --k 20``
retrieves each query's candidates once (dense or BM25), then scores every window of every
candidate once per text version and window plan: the original abstracts, the ``random``
long protocol and the ``on-topic`` one, each with windows at fixed strides (``tokens``)
and snapped to sentences (``sentences``). Every aggregation (truncate = first window,
max, first_blend, top2_mean) and its RRF with the retrieval rank is then ranked from the
same window scores, so the variants differ in nothing else. For the long versions it also
says where each relevant document's own text fell (inside one window, split across two, or
cut by ``max_windows``), how its best window scored against its original text, and how often
an irrelevant document's best window beat every relevant one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

AGGREGATIONS = ("truncate", "max", "first_blend", "top2_mean")
Scored = dict[str, list[tuple[float, tuple[int, int]]]]


def _ranking(ids: Sequence[str], scores: Sequence[float]) -> list[str]:
    order = sorted(range(len(ids)), key=lambda i: (-scores[i], i))
    return [ids[i] for i in order]


def _fused(ids: Sequence[str], scores: Sequence[float]) -> list[str]:
    from crossrank.ranking.fusion import reciprocal_rank_fusion

    by_score = sorted(range(len(ids)), key=lambda i: (-scores[i], i))
    ranks = [0] * len(ids)
    for rank, i in enumerate(by_score, start=1):
        ranks[i] = rank
    fused = reciprocal_rank_fusion(ranks, list(range(1, len(ids) + 1)))
    return [ids[i] for i in sorted(range(len(ids)), key=lambda i: (-fused[i], ranks[i]))]


def _aggregate(windows: list[tuple[float, tuple[int, int]]], aggregation: str) -> float:
    from crossrank.ranking.windows import aggregate_window_scores

    if aggregation == "truncate":
        return windows[0][0]
    return aggregate_window_scores([score for score, _ in windows], aggregation)[0]


def _score_pass(
    reranker: Any, queries: Mapping[str, str], texts: Mapping[str, list[str]], boundaries: str
) -> tuple[dict[str, list[list[tuple[float, tuple[int, int]]]]], float, int]:
    """Every window's score for every query's candidate texts; seconds and pairs."""
    from crossrank.ranking.window_scoring import score_texts

    options = reranker.with_options(window_boundaries=boundaries, long_documents="chunk_max").options
    scorer = reranker.scorer
    scored: dict[str, list[list[tuple[float, tuple[int, int]]]]] = {}
    pairs = 0
    started = time.perf_counter()
    for query_id, candidate_texts in texts.items():
        out: Scored = {}
        score_texts(
            scorer,
            queries[query_id],
            candidate_texts,
            options=options,
            cache=None,
            backend=reranker.backend_in_use,
            names=[f"candidate {i}" for i in range(len(candidate_texts))],
            window_scores_out=out,
        )
        scored[query_id] = [out[text] for text in candidate_texts]
        pairs += sum(len(out[text]) for text in dict.fromkeys(candidate_texts))
    return scored, time.perf_counter() - started, pairs


def _placement(windows: list[tuple[float, tuple[int, int]]], start: int, end: int) -> str:
    spans = [span for _, span in windows]
    if any(s <= start and e >= end for s, e in spans):
        return "inside one window"
    covered = start
    for s, e in sorted(spans):
        if s <= covered < e:
            covered = e
    return "split across windows" if covered >= end else "cut (not all in any window)"


def _analysis(
    ids: Mapping[str, list[str]],
    qrels: Mapping[str, Mapping[str, int]],
    long_scored: Mapping[str, list[list[tuple[float, tuple[int, int]]]]],
    short_scored: Mapping[str, list[list[tuple[float, tuple[int, int]]]]],
    own_span: Callable[[str, str], tuple[int, int]],
) -> dict[str, Any]:
    placements: dict[str, int] = {}
    deltas: list[float] = []
    beaten = 0
    margins: list[float] = []
    judged = 0
    for query_id, candidates in ids.items():
        relevant_best, other_best = [], []
        for position, doc_id in enumerate(candidates):
            windows = long_scored[query_id][position]
            best = max(score for score, _ in windows)
            if qrels[query_id].get(doc_id, 0) > 0:
                start, end = own_span(query_id, doc_id)
                where = _placement(windows, start, end)
                placements[where] = placements.get(where, 0) + 1
                deltas.append(best - max(score for score, _ in short_scored[query_id][position]))
                relevant_best.append(best)
            else:
                other_best.append(best)
        if relevant_best and other_best:
            judged += 1
            if max(other_best) > max(relevant_best):
                beaten += 1
                margins.append(max(other_best) - max(relevant_best))
    return {
        "relevant_documents": len(deltas),
        "own_text": placements,
        "best_window_minus_original": statistics.fmean(deltas) if deltas else 0.0,
        "share_scored_lower_than_original": sum(delta < 0 for delta in deltas) / len(deltas)
        if deltas
        else 0.0,
        "queries_with_a_relevant_candidate": judged,
        "share_where_an_irrelevant_best_window_beats_every_relevant": beaten / judged if judged else 0.0,
        "mean_margin_when_beaten": statistics.fmean(margins) if margins else 0.0,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the measurement and print its tables."""
    parser = argparse.ArgumentParser(prog="python -m crossrank.benchmark.long_documents")
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, type=Path, help="a BEIR folder (SciFact)")
    parser.add_argument(
        "--first-stage", default="dense", help="dense, bm25, or run:PATH (a run from `crossrank retrieve`)"
    )
    parser.add_argument("--limit", type=int, default=30, help="queries (the first N by id)")
    parser.add_argument("--k", type=int, default=20, help="candidates per query")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: the best available)")
    parser.add_argument("--precision", default="auto", help="PyTorch precision (auto: fp16 on CUDA)")
    parser.add_argument("--batch-size", type=int, default=32, help="windows per batch")
    parser.add_argument("--max-tokens-per-batch", type=int, default=16384)
    parser.add_argument(
        "--texts",
        default="original,random,on-topic",
        help="text versions to score, comma-separated (original is always scored: the reference)",
    )
    parser.add_argument("--windows", default="tokens,sentences", help="window plans, comma-separated")
    args = parser.parse_args(argv)
    for flag, given, known in (
        ("--texts", args.texts, ("original", "random", "on-topic")),
        ("--windows", args.windows, ("tokens", "sentences")),
    ):
        unknown = sorted(set(given.split(",")) - set(known))
        if unknown:
            parser.error(f"{flag}: unknown {unknown}; choose from {', '.join(known)}")

    from crossrank import Reranker
    from crossrank.evaluation.beir import load_beir
    from crossrank.evaluation.evaluator import select_query_ids
    from crossrank.evaluation.first_stage import build_first_stage
    from crossrank.evaluation.long_corpus import build_long_corpus, build_on_topic_corpus
    from crossrank.evaluation.metrics import ndcg_at_k
    from crossrank.models.devices import default_device

    dataset = load_beir(args.data, split="test")
    query_ids = select_query_ids(dataset, args.limit)
    reranker = Reranker(
        args.model,
        device=args.device,
        precision=args.precision,
        batch_size=args.batch_size,
        max_tokens_per_batch=args.max_tokens_per_batch,
        score_cache_size=0,
    )
    scorer = reranker.scorer
    first_stage = build_first_stage(args.first_stage, dataset, data_dir=args.data)
    ids = {
        query_id: [c.doc_id for c in first_stage.search(dataset.queries[query_id], args.k)]
        for query_id in query_ids
    }
    queries = {query_id: dataset.queries[query_id] for query_id in query_ids}
    qrels = {query_id: dataset.qrels[query_id] for query_id in query_ids}
    originals = {doc_id: document.full_text for doc_id, document in dataset.corpus.items()}
    relevant = {doc_id for judged in dataset.qrels.values() for doc_id, grade in judged.items() if grade > 0}

    def count(texts: Sequence[str]) -> list[int]:
        return [len(tokens.ids) for tokens in scorer.tokenize(texts)]

    random_corpus = build_long_corpus(originals, count, exclude_fillers=relevant)
    on_topic = build_on_topic_corpus(originals, count, exclude_fillers=relevant)
    versions: dict[str, tuple[dict[str, list[str]], Callable[[str, str], tuple[int, int]]]] = {
        "original": (
            {q: [originals[d] for d in ids[q]] for q in query_ids},
            lambda q, d: (0, len(originals[d])),
        ),
        "random": (
            {q: [random_corpus.text(d) for d in ids[q]] for q in query_ids},
            lambda q, d: (random_corpus.own_text_start(d), len(random_corpus.text(d))),
        ),
        "on-topic": (
            {q: [on_topic.text(q, d, ids[q]) for d in ids[q]] for q in query_ids},
            lambda q, d: (on_topic.own_text_start(q, d, ids[q]), len(on_topic.text(q, d, ids[q]))),
        ),
    }
    first = statistics.fmean(ndcg_at_k(ids[q], qrels[q], 10) for q in query_ids)
    rows: list[dict[str, Any]] = []
    analyses: dict[str, Any] = {}

    def write_document(*, complete: bool) -> None:
        if not args.json:
            return
        document = {
            "complete": complete,
            "first_stage_ndcg_at_10": first,
            "rows": rows,
            "analysis": analyses,
            "queries": len(query_ids),
            "query_ids": query_ids,
            "first_stage_per_query": [ndcg_at_k(ids[q], qrels[q], 10) for q in query_ids],
            "first_stage": args.first_stage,
            "k": args.k,
            "device": args.device or default_device(),
            "backend": reranker.backend_in_use,
            "precision": args.precision,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")

    # The original abstracts' window scores per plan: what a long version's own text is compared with.
    short_scored: dict[str, Any] = {}
    chosen_texts = {"original", *args.texts.split(",")}
    for version, (texts, own_span) in versions.items():
        if version not in chosen_texts:
            continue
        for boundaries in args.windows.split(","):
            scored, seconds, pairs = _score_pass(reranker, queries, texts, boundaries)
            if version == "original":
                short_scored[boundaries] = scored
            else:
                analyses[f"{version}/{boundaries}"] = _analysis(
                    ids, qrels, scored, short_scored[boundaries], own_span
                )
            windows = pairs / sum(len(set(texts[q])) for q in query_ids)
            for aggregation in AGGREGATIONS:
                if aggregation != "max" and version == "original" and aggregation != "truncate":
                    continue  # one window per abstract: every aggregation is max
                ndcg: dict[str, list[float]] = {"alone": [], "rrf": []}
                for query_id in query_ids:
                    doc_scores = [_aggregate(windows_of, aggregation) for windows_of in scored[query_id]]
                    ndcg["alone"].append(ndcg_at_k(_ranking(ids[query_id], doc_scores), qrels[query_id], 10))
                    ndcg["rrf"].append(ndcg_at_k(_fused(ids[query_id], doc_scores), qrels[query_id], 10))
                rows.append(
                    {
                        "texts": version,
                        "windows": boundaries,
                        "aggregation": aggregation,
                        "ndcg_at_10": statistics.fmean(ndcg["alone"]),
                        "ndcg_at_10_rrf": statistics.fmean(ndcg["rrf"]),
                        "windows_per_document": windows,
                        "pairs_per_s": pairs / seconds,
                        "per_query": ndcg,
                    }
                )
            print(
                json.dumps({"pass": f"{version}/{boundaries}", "seconds": seconds}),
                file=sys.stderr,
                flush=True,
            )
            # Written after every pass: a run stopped at its time limit keeps what it measured.
            write_document(complete=False)
    print(
        f"SciFact test, {len(query_ids)} queries, {args.first_stage} top-{args.k}; "
        f"first stage NDCG@10 {first:.4f}"
    )
    print("| texts | windows | aggregation | NDCG@10 | + RRF | windows/doc | pairs/s |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['texts']} | {row['windows']} | {row['aggregation']} | {row['ndcg_at_10']:.4f} | "
            f"{row['ndcg_at_10_rrf']:.4f} | {row['windows_per_document']:.2f} | {row['pairs_per_s']:.1f} |"
        )
    for name, analysis in analyses.items():
        print(f"{name}: {json.dumps(analysis)}")
    write_document(complete=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
