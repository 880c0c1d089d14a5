"""A population made of segments: each a population of its own, counted together.

Every segment is advanced by the class its own rules need (counts, sorted
thresholds, per person...), in file order, each drawing from the block's
streams exactly as a population of its size would; so a population of one
segment gives, draw for draw, the numbers of the same population without
segments. What a segment hears of its population (``hears``) is compiled
into its rules' signals (:func:`sim.ops.heard_fraction`); every other reader
sees the whole population's share, or a segment's own (``pop.segment``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.engine.population_base import Population
from sim.engine.streams import Streams
from sim.ops import PersonTarget, State
from sim.plan import PopulationSpec

Array = np.ndarray[Any, Any]


class SegmentedPopulation(Population):
    """Mode ``segments``: the whole's counts are the sum of its segments'."""

    def __init__(self, spec: PopulationSpec, n: int, tick: float, parts: list[Population]) -> None:
        super().__init__(spec, n, tick)
        self.parts = parts
        self._add_up()

    def _add_up(self) -> None:
        total = self.parts[0].counts.copy()
        for p in self.parts[1:]:
            total += p.counts
        self.counts = total

    def segment(self, index: int) -> Population:  # noqa: D102
        return self.parts[index]

    def switched(self) -> Array:
        """Share no longer in its own segment's initial position."""
        staying = self.parts[0].counts[:, self.parts[0].spec.initial_idx].copy()
        for p in self.parts[1:]:
            staying += p.counts[:, p.spec.initial_idx]
        return 1.0 - staying / self.N

    def take(self, index: Array) -> None:  # noqa: D102
        for p in self.parts:
            p.take(index)
        self._add_up()

    def drive(self, s: State) -> list[Any]:
        """Each segment's drive, all read before any segment moves."""
        return [p.drive(s) for p in self.parts]

    def advance(self, s: State, drive: Any, rng: Streams) -> None:  # noqa: D102
        for p, d in zip(self.parts, drive, strict=True):
            p.advance(s, d, rng)
        self._add_up()

    def change_person(self, how: str, amount: float, mask: Array) -> None:  # noqa: D102
        for p in self.parts:
            p.change_person(how, amount, mask)

    def change_values(  # noqa: D102
        self, target: PersonTarget, how: str, amount: float, mask: Array
    ) -> None:
        part = PersonTarget(-1, target.rule, target.param, target.bounds)
        self.parts[target.segment].change_values(part, how, amount, mask)
