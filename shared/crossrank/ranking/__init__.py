"""Reranking logic that needs no model (no torch, no models room).

Inputs, windows, window scoring, batching, fusion, selection and the score cache.
"""
