"""``crossrank eval``'s machinery: BEIR data, first stages, metrics, latency and the evaluator.

Tooling: it may import the library, the library never imports it.
"""

__all__: list[str] = []
