"""Rankings a configuration would give, computed from scores other configurations produced.

Most of tune's grid reranks with the same few models: a shallower depth ranks the first
candidates with the model that also scored every candidate, an exact backend scores as the
reference does, and a self-cascade's stages are a coarse model over every candidate and the
exact one over the survivors. So once a configuration's latency is measured (on the first
queries), its ranking on the other queries can be *derived* from the per-candidate scores of
the configurations that run anyway, through the reranker's own ranking functions
(:func:`~crossrank.ranking.depth.depth_indices`, :func:`~crossrank.ranking.selection.rank_documents`,
:func:`~crossrank.ranking.cascade.rank_through_stages`), instead of running it again.

This module says which configurations can be derived and from what (:func:`derivation`), and
ranks from score tables (:func:`rank_from_scores`). The search checks every derivation against
the configuration's own rankings on the timed queries before relying on it
(:func:`crossrank.tuning.search.search`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crossrank.ranking.cascade import StageScoring, rank_through_stages
from crossrank.ranking.depth import depth_indices, restore_indices
from crossrank.ranking.selection import rank_documents
from crossrank.ranking.window_scoring import TextScore, WindowScores
from crossrank.results import RerankResult
from crossrank.tuning.configurations import EXACT_BACKENDS, configuration_options
from crossrank.tuning.records import Configuration

__all__ = [
    "Derivation",
    "ScoresKey",
    "derivation",
    "plain_scoring",
    "rank_from_scores",
    "scores_key",
    "text_scores_of",
]

ScoresKey = tuple[Any, ...]
"""Names a score table: the scoring options of a reranker over every candidate, or
``("coarse stage of", name)`` for a cascade's own coarse stage."""

_SCORING = frozenset({"backend", "precision"})
_DEPTH = "rerank_depth"
_CASCADE = frozenset({"coarse_backend", "coarse_keep", "coarse_max_length"})


@dataclass(frozen=True)
class Derivation:
    """How to derive one configuration's ranking.

    Attributes:
        scores_from: The table its (fine stage's) scores come from.
        coarse_from: For a cascade, the table of its coarse stage's scores; else ``None``.
        depth: Its ``rerank_depth``, or ``None`` for every candidate.
    """

    scores_from: ScoresKey
    coarse_from: ScoresKey | None
    depth: int | None


def scores_key(options: Mapping[str, Any]) -> ScoresKey:
    """The key of the table of a plain reranker with these scoring options, over every candidate."""
    return tuple(sorted((name, repr(value)) for name, value in options.items()))


def plain_scoring(configuration: Configuration) -> bool:
    """It scores every candidate with nothing but a backend and precision: a table others derive from."""
    return set(configuration_options(configuration)) <= _SCORING


def _exact(options: Mapping[str, Any]) -> bool:
    return options.get("backend", "auto") in (*EXACT_BACKENDS, "auto") and options.get(
        "precision", "auto"
    ) in ("auto", "fp32")


def derivation(configuration: Configuration, reference: Configuration) -> Derivation | None:
    """Whether, and from what, ``configuration``'s ranking can be derived.

    Derivable: a backend at a depth (from that backend's scores over every candidate; an exact
    one from the reference's), and a self-cascade whose coarse stage is another backend or the
    model reading the first ``coarse_max_length`` tokens, with an exact fine stage. Anything
    with other options (window caps, the lexical window cascade, a coarse model) is not.

    Args:
        configuration: The configuration.
        reference: The search's reference (measured on every query: never derived).

    Returns:
        The derivation, or ``None``.
    """
    if configuration.name == reference.name:
        return None
    options = configuration_options(configuration)
    if set(options) - _SCORING - _CASCADE - {_DEPTH}:
        return None
    depth = options.pop(_DEPTH, None)
    cascade = {name: options.pop(name) for name in sorted(_CASCADE & set(options))}
    reference_key = scores_key(configuration_options(reference))
    if not cascade:
        source = reference_key if configuration.exact else scores_key(options)
        if source == scores_key(options) and depth is None and source != reference_key:
            return None  # it is its own source: it runs
        return Derivation(source, None, depth)
    if not _exact(options):
        return None
    if cascade.get("coarse_max_length") is not None:
        coarse: ScoresKey = ("coarse stage of", configuration.name)
    else:
        coarse_backend = cascade.get("coarse_backend") or "auto"
        coarse_options = {"backend": coarse_backend}
        coarse = reference_key if _exact(coarse_options) else scores_key(coarse_options)
    return Derivation(reference_key, coarse, depth)


def text_scores_of(documents: Sequence[str], results: Sequence[RerankResult]) -> dict[str, TextScore]:
    """Each text's score from a plain reranking of ``documents`` (every result kept).

    Raises:
        ValueError: If a document has no result (``top_n`` or a threshold cut it).
    """
    table = {
        documents[result.index]: TextScore(
            result.cross_encoder_score, result.num_windows, result.window_index, result.window_span
        )
        for result in results
    }
    missing = [index for index, text in enumerate(documents) if text not in table]
    if missing:
        raise ValueError(f"documents {missing[:5]} have no score: a source must rank every candidate.")
    return table


def _lookup(table: Mapping[str, TextScore]) -> StageScoring:
    def scores(
        query: str,
        texts: Sequence[str],
        names: Sequence[str],
        *,
        window_scores_out: WindowScores | None = None,
        only_windows: Mapping[str, Sequence[tuple[int, int]]] | None = None,
    ) -> dict[str, TextScore]:
        del query, names, window_scores_out, only_windows
        return {text: table[text] for text in texts}

    return scores


def rank_from_scores(
    documents: Sequence[str],
    retrieval_scores: Sequence[float] | None,
    *,
    scores: Mapping[str, TextScore],
    coarse_scores: Mapping[str, TextScore] | None,
    depth: int | None,
    keep: int,
    ranking: Mapping[str, Any],
) -> list[RerankResult]:
    """The results a reranker would return, ranked from score tables as its ``rerank`` ranks.

    Args:
        documents: The candidates, in the retriever's order.
        retrieval_scores: The retriever's scores, or ``None`` for input order.
        scores: Each text's (fine stage's) score.
        coarse_scores: A cascade's coarse scores, or ``None``.
        depth: ``rerank_depth``, or ``None``.
        keep: A cascade's ``coarse_keep``.
        ranking: ``fusion``, ``rrf_k``, ``rrf_weights``, ``top_n``, ``score_threshold``.

    Returns:
        The results, best first, ``index`` into ``documents``.
    """
    kept = depth_indices(len(documents), retrieval_scores, depth)
    texts = list(documents) if kept is None else [documents[index] for index in kept]
    scores_in = None if retrieval_scores is None else list(retrieval_scores)
    if kept is not None and scores_in is not None:
        scores_in = [scores_in[index] for index in kept]
    if coarse_scores is None:
        results = rank_documents(texts, scores, scores_in, **ranking)
    else:
        results = rank_through_stages(
            "",
            texts,
            [f"documents[{index}]" for index in (kept or range(len(texts)))],
            scores_in,
            coarse=_lookup(coarse_scores),
            fine=_lookup(scores),
            keep=keep,
            fine_windows=None,
            fine_window_margin=None,
            ranking=ranking,
        )
    return results if kept is None else restore_indices(results, kept)
