"""The sample corpus and built-in queries that ship with crossrank for the demo.

The texts were written for crossrank. Six long documents (over 1,500 tokens) each
hide the answer to one built-in query deep inside; the corpus also holds
near-duplicates and keyword traps that share words with a query but do not answer it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

__all__ = ["SampleDocument", "SampleQuery", "load_sample_corpus", "load_sample_queries"]


@dataclass(frozen=True, slots=True)
class SampleDocument:
    """One document of the sample corpus."""

    id: str
    title: str
    topic: str
    text: str

    @property
    def full_text(self) -> str:
        """Title and body, as indexed and reranked."""
        return f"{self.title}\n\n{self.text}"


@dataclass(frozen=True, slots=True)
class SampleQuery:
    """A built-in query with graded relevance labels (2 answers it, 1 helps)."""

    id: str
    text: str
    relevant: Mapping[str, int]


def _data_file(name: str) -> str:
    return resources.files("crossrank.samples").joinpath(name).read_text(encoding="utf-8")


def load_sample_corpus() -> list[SampleDocument]:
    """The sample documents, in file order."""
    return [
        SampleDocument(id=row["id"], title=row["title"], topic=row["topic"], text=row["text"])
        for row in map(json.loads, _data_file("corpus.jsonl").splitlines())
    ]


def load_sample_queries() -> list[SampleQuery]:
    """The built-in queries with their relevance labels."""
    return [
        SampleQuery(id=row["id"], text=row["text"], relevant=dict(row["relevant"]))
        for row in json.loads(_data_file("queries.json"))
    ]
