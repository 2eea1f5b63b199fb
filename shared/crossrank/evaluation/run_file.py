"""A recorded first stage: a TREC run file replayed as a retriever.

``crossrank retrieve`` writes one (``qid Q0 doc_id rank score tag``, the format of
trec_eval, Pyserini and BEIR's tooling); ``--first-stage run:PATH`` in ``crossrank eval``,
``train`` and ``distill`` reads it back. This lets a machine without the first stage's
index or embedding model (a GPU box with no Chroma, say) rerank exactly the candidates
another machine retrieved, and lets users evaluate crossrank on their own retriever's
ranking.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from crossrank.evaluation.first_stage import Candidate, _check_k

__all__ = ["RunFileSearch", "read_trec_run", "write_trec_run"]


def write_trec_run(
    path: str | os.PathLike[str], results: Mapping[str, Iterable[Candidate]], *, tag: str
) -> int:
    """Write ranked candidates as a TREC run file.

    Args:
        path: The file to write (parent folders are made).
        results: Query id to its candidates, best first.
        tag: The run's name (the sixth column), e.g. the first stage that made it.

    Returns:
        The number of lines written.

    Raises:
        ValueError: If ``tag`` or an id is empty or holds whitespace (TREC columns are
            whitespace-separated).
    """
    _check_field("tag", tag)
    lines: list[str] = []
    for query_id, candidates in results.items():
        _check_field(f"query id {query_id!r}", query_id)
        for rank, candidate in enumerate(candidates, start=1):
            _check_field(f"document id {candidate.doc_id!r} of query {query_id!r}", candidate.doc_id)
            lines.append(f"{query_id} Q0 {candidate.doc_id} {rank} {candidate.score!r} {tag}\n")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(lines), encoding="utf-8")
    return len(lines)


def _check_field(name: str, value: str) -> None:
    """A TREC column is whitespace-separated: a value must be non-empty and hold no whitespace."""
    if not value or any(character.isspace() for character in value):
        raise ValueError(f"{name} must be non-empty and hold no whitespace for a TREC run, got {value!r}.")


def read_trec_run(path: str | os.PathLike[str]) -> tuple[dict[str, list[Candidate]], str]:
    """Read a TREC run file: each query's candidates, best first, and the run's tag.

    Candidates are ordered by score (higher first), ties by the file's rank column, as
    trec_eval does.

    Raises:
        FileNotFoundError: If ``path`` does not exist; names the command that writes one.
        ValueError: Naming the file and line of a malformed line, a non-numeric rank or
            score, a document listed twice for one query, or a file with two tags.
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(
            f"no run file at {str(source)!r}: record one with "
            "`crossrank retrieve DATA_DIR --first-stage dense --split SPLIT --k 100 --output FILE`."
        )
    rows: dict[str, list[tuple[float, int, str]]] = {}
    seen: dict[str, set[str]] = {}
    tags: set[str] = set()
    with source.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            where = f"{source}, line {number}"
            if len(fields) != 6:
                raise ValueError(
                    f"{where}: expected 6 columns 'qid Q0 doc_id rank score tag', "
                    f"got {len(fields)}: {line!r}."
                )
            query_id, _, doc_id, rank_text, score_text, tag = fields
            try:
                rank, score = int(rank_text), float(score_text)
            except ValueError as exc:
                raise ValueError(
                    f"{where}: rank {rank_text!r} must be an integer and score {score_text!r} a number."
                ) from exc
            if doc_id in seen.setdefault(query_id, set()):
                raise ValueError(f"{where}: document {doc_id!r} is listed twice for query {query_id!r}.")
            seen[query_id].add(doc_id)
            rows.setdefault(query_id, []).append((score, rank, doc_id))
            tags.add(tag)
    if len(tags) > 1:
        raise ValueError(f"{source} mixes runs {sorted(tags)}; keep one run per file.")
    results = {
        query_id: [
            Candidate(doc_id, score) for score, _, doc_id in sorted(items, key=lambda r: (-r[0], r[1]))
        ]
        for query_id, items in rows.items()
    }
    return results, (tags.pop() if tags else "run")


class RunFileSearch:
    """A first stage that replays a TREC run for a dataset's queries.

    Args:
        path: The run file.
        queries: The dataset's query id to text (a search is by text, as for every first stage).
        corpus_ids: The corpus's document ids; a run naming another document is refused.

    Raises:
        ValueError: If the run names a document that is not in the corpus.
    """

    def __init__(
        self, path: str | os.PathLike[str], queries: Mapping[str, str], corpus_ids: Iterable[str]
    ) -> None:
        self._path = str(path)
        self._results, self._tag = read_trec_run(path)
        corpus = set(corpus_ids)
        for query_id, candidates in self._results.items():
            missing = [c.doc_id for c in candidates if c.doc_id not in corpus]
            if missing:
                raise ValueError(
                    f"run {self._path!r} ranks document {missing[0]!r} for query {query_id!r}, which the "
                    "corpus does not hold: record the run on this corpus."
                )
        self._query_ids: dict[str, str] = {}
        for query_id, text in queries.items():
            self._query_ids.setdefault(text, query_id)

    @property
    def name(self) -> str:
        """The run's tag: the first stage that recorded it (``crossrank retrieve`` writes its kind)."""
        return self._tag

    def search(self, query: str, k: int) -> list[Candidate]:
        """The run's best ``k`` candidates for ``query``.

        Raises:
            ValueError: If the query is not in the dataset or not in the run (a run of another
                split), or the run holds fewer than ``k`` candidates for it (a deeper run is
                needed; fewer would silently shrink the candidate list).
        """
        _check_k(k)
        query_id = self._query_ids.get(query)
        if query_id is None or query_id not in self._results:
            which = "the dataset has no such query" if query_id is None else f"query {query_id!r} is missing"
            raise ValueError(
                f"run {self._path!r} cannot answer {query[:60]!r}: {which}; record the run for this "
                "split with `crossrank retrieve`."
            )
        candidates = self._results[query_id]
        if len(candidates) < k:
            raise ValueError(
                f"run {self._path!r} holds {len(candidates)} candidates for query {query_id!r}, fewer than "
                f"k={k}: ask for k <= {len(candidates)} or record a deeper run."
            )
        return candidates[:k]
