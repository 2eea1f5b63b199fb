"""The ``crossrank`` command: the entry point (:mod:`crossrank.cli.main`) and one module per sub-command.

Tooling: it may import the library, the library never imports it.
"""

__all__: list[str] = []
