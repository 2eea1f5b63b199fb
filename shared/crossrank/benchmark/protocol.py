"""What a configuration under test (a *contender*) is: its settings, its answer, its protocol.

Each contender turns a :class:`~crossrank.benchmark.inputs.BenchInput` (a query and its
candidate texts) into a :class:`Ranked` and says how many (query, window) pairs its
model scored. crossrank's own contenders are in :mod:`crossrank.benchmark.contenders`,
the peers' in :mod:`crossrank.benchmark.peers`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from crossrank.benchmark.inputs import BenchInput

__all__ = ["BenchSettings", "Contender", "Ranked"]


@dataclass(frozen=True)
class BenchSettings:
    """What every contender shares.

    Attributes:
        model: Cross-encoder path or hub id, loaded by every contender.
        device: Device every contender runs on.
        batch_size: Pairs per model call.
        candidates: Candidates per query (the peers' ``top_n``, so they return a full ranking).
        student: A second, smaller model (a distilled student), timed as ``crossrank-student``
            with crossrank's defaults next to ``crossrank-default`` on ``model``.
    """

    model: str
    device: str = "cpu"
    batch_size: int = 32
    candidates: int = 50
    student: str | None = None


@dataclass(frozen=True)
class Ranked:
    """A contender's answer for one input.

    Attributes:
        order: Candidate positions, best first.
        pairs: (query, window) pairs the model scored; one per candidate for a
            reranker that truncates, more for chunk-max on long candidates.
        sequence_lengths: Tokens of each scored pair (special tokens included,
            padding excluded), from which the bench counts FLOPs; empty when the
            contender does not say.
    """

    order: list[int]
    pairs: int
    sequence_lengths: tuple[int, ...] = ()


class Contender(Protocol):
    """A configuration under test.

    Attributes:
        name: Its name in the report.
        compute_dtype: The element type its matrix multiplies run in (``"fp32"``,
            ``"bf16"``, ``"fp16"``, ``"int8"``), which picks the GEMM peak it is
            compared with.
    """

    name: str
    compute_dtype: str

    def prepare(self, item: BenchInput) -> Any:
        """Convert the input to the framework's own objects (not timed)."""
        ...

    def rank(self, prepared: Any) -> Ranked:
        """Rerank one prepared input (timed)."""
        ...
