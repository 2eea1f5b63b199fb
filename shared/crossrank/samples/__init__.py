"""Text written for crossrank: the sample corpus and built-in queries, and their loaders.

The texts were written for crossrank. Six long documents (over 1,500 tokens) each
hide the answer to one built-in query deep inside; the corpus also holds
near-duplicates and keyword traps that share words with a query but do not answer it.
The demo shows reranking on them (:mod:`crossrank.demo`), and static int8 quantization
calibrates on their (query, document) pairs (:mod:`crossrank.models.onnx_static_quantize`).
Nothing here imports crossrank, so every room may read them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

__all__ = [
    "SampleDocument",
    "SampleQuery",
    "load_sample_corpus",
    "load_sample_queries",
    "sample_files_digest",
]

_FILES = ("corpus.jsonl", "queries.json")


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
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


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


def sample_files_digest() -> str:
    """The SHA-256 of the sample files' bytes: what a graph calibrated on them depends on."""
    digest = hashlib.sha256()
    for name in _FILES:
        digest.update(resources.files(__name__).joinpath(name).read_bytes())
    return digest.hexdigest()
