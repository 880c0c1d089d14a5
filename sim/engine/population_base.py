"""The base of every population: counts per position, one row per replicate.

:class:`Population` is a population that never moves (a ``fixed`` rule); each
way of advancing a population is a subclass (:mod:`sim.engine.populations`,
:mod:`sim.engine.persons`, :mod:`sim.engine.segments`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.engine.streams import Streams
from sim.ops import PersonTarget, State
from sim.plan import PopulationSpec

Array = np.ndarray[Any, Any]


class Population:
    """A population that never moves (``fixed`` rule); the base of the others."""

    #: per-replicate arrays that :meth:`take` resamples
    ROWS: tuple[str, ...] = ("counts",)

    def __init__(self, spec: PopulationSpec, n: int, tick: float) -> None:
        self.spec = spec
        self.N = spec.size
        self.tick = tick
        self.counts = np.zeros((n, len(spec.positions)), dtype=np.int64)
        self.counts[:, spec.initial_idx] = self.N

    def fraction(self, position: int) -> Array:
        """Share in ``position``, per replicate."""
        return self.counts[:, position] / self.N

    def switched(self) -> Array:
        """Share no longer in its initial position, per replicate."""
        return 1.0 - self.fraction(self.spec.initial_idx)

    def segment(self, index: int) -> Population:
        """One of its segments (only a population made of segments has any)."""
        raise TypeError(f"population {self.spec.id!r} has no segments")

    def take(self, index: Array) -> None:
        """Keep rows ``index``."""
        for name in self.ROWS:
            setattr(self, name, getattr(self, name)[index])

    def drive(self, s: State) -> Any:
        """The support or pressure it reads, from the state before the populations' phase."""
        if self.spec.drive < 0:
            return None
        if self.spec.heard is not None:  # a segment hearing the others (``hears``)
            return self.spec.heard(s) + s.param[self.spec.offset]
        return s.signal(self.spec.drive) + s.param[self.spec.offset]

    def advance(self, s: State, drive: Any, rng: Streams) -> None:
        """One tick; draws from ``rng`` (each block's stream) as its mode needs."""
        if drive is None:
            return
        spec = self.spec
        before = self.counts[:, spec.to_idx].copy()
        moved = self.moved(s, drive, before, rng)
        self.counts[:, spec.to_idx] = moved
        self.counts[:, spec.initial_idx] = self.N - moved
        if s.tracing:
            r = s.traced_row()
            if moved[r] != before[r]:
                target = spec.positions[spec.to_idx]
                detail = f"drive {drive[r]:.3f}" + self.why(r)
                text = f"{spec.id}: {before[r]} -> {moved[r]} of {self.N} {target} ({detail})"
                s.say(np.ones(s.size, dtype=bool), text)

    def moved(self, s: State, drive: Array, before: Array, rng: Streams) -> Array:
        """How many are in the target position after this tick."""
        return before

    def why(self, r: int) -> str:
        """Extra detail for the trace."""
        return ""

    def change_person(self, how: str, amount: float, mask: Array) -> None:
        """Change every person's threshold or resistance (only per-person populations can)."""
        raise TypeError(f"population {self.spec.id!r} holds no per-person values")

    def change_values(self, target: PersonTarget, how: str, amount: float, mask: Array) -> None:
        """Change per-person values of one rule's parameter (see :class:`sim.ops.PersonTarget`)."""
        if target.segment >= 0 or target.rule >= 0:
            raise TypeError(f"population {self.spec.id!r} holds no such per-person values")
        self.change_person(how, amount, mask)
