"""``crossrank bench``'s machinery: contenders, their inputs, the timed run, memory and the report.

Tooling, like :mod:`crossrank.cli`, :mod:`crossrank.evaluation` and :mod:`crossrank.demo`: it
may import the library, the library never imports it.
"""

__all__: list[str] = []
