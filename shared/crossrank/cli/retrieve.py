"""``crossrank retrieve``: record a first stage's ranking of a BEIR split as a TREC run file.

The run replays with ``--first-stage run:PATH`` in ``crossrank eval``, ``train`` and
``distill``, so another machine (one without Chroma or the embedding model) reranks
exactly these candidates.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from crossrank.cli.args import positive_int
from crossrank.cli.output import status

__all__ = ["add_retrieve_command"]


def add_retrieve_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``retrieve`` sub-command to the ``crossrank`` parser."""
    parser = commands.add_parser(
        "retrieve",
        help="record the first stage's top-k of a BEIR split as a TREC run file",
        description=(
            "Retrieve the top k documents of every judged query of a split with the dense or BM25 first "
            "stage and write them as a TREC run ('qid Q0 doc_id rank score tag'), which "
            "--first-stage run:PATH replays in crossrank eval, train and distill."
        ),
    )
    parser.add_argument("data_dir", metavar="DATA_DIR", help="a BEIR dataset directory (e.g. .../scifact)")
    parser.add_argument(
        "--split", default="test", help="qrels split whose queries to retrieve for (default: test)"
    )
    parser.add_argument("--first-stage", choices=("dense", "bm25"), default="dense", help="(default: dense)")
    parser.add_argument("--k", type=positive_int, default=100, help="documents per query (default: 100)")
    parser.add_argument("--limit", type=positive_int, default=None, help="only the first N queries by id")
    parser.add_argument("--output", required=True, metavar="FILE", help="the run file to write")
    parser.add_argument("--cache-dir", default=None, help="where the dense index is cached")
    parser.add_argument("--quiet", action="store_true", help="no status lines")
    parser.set_defaults(run=run_retrieve)


def run_retrieve(args: argparse.Namespace) -> int:
    """Retrieve, write the run and say where it went."""
    from crossrank.evaluation.beir import load_beir
    from crossrank.evaluation.evaluator import select_query_ids
    from crossrank.evaluation.first_stage import build_first_stage
    from crossrank.evaluation.run_file import write_trec_run

    dataset = load_beir(args.data_dir, split=args.split)
    query_ids = select_query_ids(dataset, args.limit)
    first_stage = build_first_stage(
        args.first_stage,
        dataset,
        data_dir=args.data_dir,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
        on_build=lambda: status(args, f"building the {args.first_stage} first stage"),
    )
    k = min(args.k, len(dataset.corpus))
    results = {query_id: first_stage.search(dataset.queries[query_id], k) for query_id in query_ids}
    lines = write_trec_run(args.output, results, tag=first_stage.name)
    status(
        args, f"wrote {lines} lines ({len(query_ids)} queries x top-{k}, {first_stage.name}) to {args.output}"
    )
    return 0
