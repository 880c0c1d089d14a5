"""The protocol through which every op reads and writes a block's arrays (see :mod:`sim.ops`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

Array = np.ndarray[Any, Any]
Value = Array | float


class State(Protocol):
    """The arrays of one block that compiled operations read and write.

    Implemented by :class:`sim.engine.state.BlockState`; see there for each field.
    """

    size: int
    k: int
    t: float
    pos: Array
    pinned: Array
    opinion: Array
    opinion0: Array
    flags: list[Array]
    param: list[Array]
    due: list[Array]
    fired_tick: list[Array]
    passed_tick: list[Array]
    tracing: bool

    def signal(self, index: int) -> Array:
        """Value of signal ``index`` in every replicate (cached until the state changes)."""
        ...

    def curve_value(self, index: int) -> Value:
        """Curve of source ``index`` at the current tick."""
        ...

    def fraction(self, population: int, position: int) -> Array:
        """Share of population ``population`` in ``position``."""
        ...

    def segment_fraction(self, population: int, segment: int, position: int) -> Array:
        """Share of a segment of population ``population`` in ``position``."""
        ...

    def switch(self, i: int, mask: Array, to: int, why: str) -> None:
        """Put individual ``i`` in position ``to`` where ``mask``."""
        ...

    def say(self, mask: Array, text: str) -> None:
        """A trace line, when the traced replicate is in ``mask`` and still running."""
        ...

    def traced_row(self) -> int:
        """Row of the replicate whose story is told (0 when none is)."""
        ...

    @property
    def populations(self) -> Sequence[PersonValues]:
        """The block's populations, in plan order."""
        ...


class PersonValues(Protocol):
    """A population whose rules hold one value per person (thresholds, resistances, ...)."""

    def change_person(self, how: str, amount: float, mask: Array) -> None:
        """``add`` to, ``scale`` or ``set`` every person's value in the rows of ``mask``."""
        ...

    def change_values(self, target: PersonTarget, how: str, amount: float, mask: Array) -> None:
        """The same for one parameter of one rule (of one segment), as ``target`` says."""
        ...


@dataclass(frozen=True, eq=False)
class PersonTarget:
    """Which per-person values a change reaches: all of a simple population's (the defaults).

    ``segment`` (index) of a population made of segments; ``rule`` (index) and
    ``param`` of a population with several rules or per-person parameters;
    ``bounds``: the parameter's range, or None.
    """

    segment: int = -1
    rule: int = -1
    param: str = ""
    bounds: tuple[float, float] | None = None


#: A term of a signal (or anything an averaging agent hears): state -> value per replicate.
Term = Callable[[State], Value]
#: A condition: state -> bool per replicate.
Condition = Callable[[State], Array]
