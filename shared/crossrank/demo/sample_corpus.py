"""The sample corpus and built-in queries the demo runs on: :mod:`crossrank.samples`, by the demo's name."""

from __future__ import annotations

from crossrank.samples import SampleDocument, SampleQuery, load_sample_corpus, load_sample_queries

__all__ = ["SampleDocument", "SampleQuery", "load_sample_corpus", "load_sample_queries"]
