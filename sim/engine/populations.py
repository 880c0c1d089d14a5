"""Populations: counts per position (and per-person arrays where a rule needs them).

One class per way a population's rule is advanced (:attr:`PopulationSpec.mode`).
Every class keeps one row per replicate, so :meth:`Population.take` can
resample a block between ticks. A population draws from the block's stream
only in :meth:`Population.advance`, in population order, every tick; in a
batch of blocks each block's rows draw from that block's stream
(:class:`~sim.engine.streams.Streams`), exactly as the block alone would.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim import rules as R
from sim.engine.networks import Neighbours
from sim.engine.persons import NetworkPersonsPopulation, PersonsPopulation
from sim.engine.population_base import Population
from sim.engine.segments import SegmentedPopulation
from sim.engine.streams import Streams
from sim.ops import State
from sim.plan import PopulationSpec
from sim.thresholds import SortedThresholds, uses_index

Array = np.ndarray[Any, Any]


def _sorted_blocks(
    thresholds: Array, n: int, streams: Streams
) -> tuple[list[slice], list[SortedThresholds]]:
    """Rows and sorted thresholds (sorted in place): one index for the batch, or one per block.

    The bucket index counts exactly, row by row, so one index serves all the
    batch's rows and each tick makes one query. The search over rows laid end
    to end rounds with its offsets, so each block keeps its own: its counts are
    then exactly what the block alone finds.
    """
    blocks = [rows for _, rows in streams.spans(n)]
    if len(blocks) == 1 or uses_index(thresholds.shape[1]):
        return [slice(0, n)], [SortedThresholds(thresholds, inplace=True)]
    return blocks, [SortedThresholds(thresholds[rows], inplace=True) for rows in blocks]


class _Thresholds(Population):
    """Per-person thresholds, sorted once; events change them through a per-row map.

    Every row's count is exactly what its block alone would find: with the
    bucket index (exact row by row) one index serves the whole batch; with
    the search over rows laid end to end (larger populations, whose keys
    depend on the block's values) each block keeps its own. An event's
    ``add``, ``scale`` (by a factor >= 0) or ``set`` changes each threshold
    ``th`` of a row to ``a * th + b``; the row keeps ``(a, b)`` and the
    thresholds as drawn. Since ``a >= 0`` keeps their order, the count
    reached by a support ``x`` is the count of drawn thresholds reached by
    ``(x - b) / a`` (everyone or no one when ``a == 0``), with the same
    tolerance: no re-sorting, no rounding that builds up over many changes.
    Rows no event touched compare the support as it is.
    """

    ROWS: tuple[str, ...] = ("counts",)

    def __init__(
        self,
        spec: PopulationSpec,
        n: int,
        tick: float,
        thresholds: Array,
        streams: Streams,
    ) -> None:
        super().__init__(spec, n, tick)
        self.blocks, self.sorted = _sorted_blocks(thresholds, n, streams)
        self.map: tuple[Array, Array] | None = None

    def take(self, index: Array) -> None:
        super().take(index)
        (st,) = self.sorted  # a batch of several blocks is never resampled
        self.sorted = [st.take(index)]
        self.blocks = [slice(0, len(index))]
        if self.map is not None:
            self.map = (self.map[0][index], self.map[1][index])

    def change_person(self, how: str, amount: float, mask: Array) -> None:
        if self.map is None:
            self.map = (np.ones(len(self.counts)), np.zeros(len(self.counts)))
        a, b = self.map
        if how == "set":
            a, b = np.where(mask, 0.0, a), np.where(mask, amount, b)
        elif how == "add":
            b = np.where(mask, b + amount, b)
        else:  # scale: validation keeps the factor >= 0, so the order holds
            a, b = np.where(mask, a * amount, a), np.where(mask, b * amount, b)
        self.map = (a, b)

    def reach(self, drive: Array) -> Array:
        """The support in the drawn thresholds' terms (as it is where no event changed them)."""
        if self.map is None:
            return drive
        a, b = self.map
        tol = R.TOLERANCE
        # a * th + b <= x + tol  <=>  th <= (x + tol - b) / a, which count_reached
        # (th <= q + tol) answers with q = (x + tol - b) / a - tol
        with np.errstate(divide="ignore", invalid="ignore"):
            mapped = (drive + tol - b) / np.where(a > 0, a, 1.0) - tol
        flat = np.where(drive >= b - tol, np.inf, -np.inf)
        q = np.where(a > 0, mapped, flat)
        return np.where((a == 1.0) & (b == 0.0), drive, q)


class ThresholdPopulation(_Thresholds):
    """Irreversible thresholds against the running maximum of the support, in counts.

    Only rows whose running maximum rises are counted again (with one index
    for the batch), or only blocks where some row's does (one search per
    block): elsewhere the count reached cannot change.
    """

    ROWS = ("counts", "crossed", "spont", "running_max")

    def __init__(
        self,
        spec: PopulationSpec,
        n: int,
        tick: float,
        thresholds: Array,
        streams: Streams,
    ) -> None:
        super().__init__(spec, n, tick, thresholds, streams)
        self.crossed = np.zeros(n, dtype=np.int64)
        self.spont = np.zeros(n, dtype=np.int64)
        #: running maximum of the support in the drawn thresholds' terms: a person
        #: has switched once ``support(t) >= a(t) * th + b(t)`` at some tick t,
        #: that is once ``th`` is below the maximum of :meth:`reach` so far
        self.running_max = np.full(n, -np.inf)

    def moved(self, s: State, drive: Array, before: Array, rng: Streams) -> Array:  # noqa: D102
        reach = self.reach(drive)
        rising = ~(reach <= self.running_max)  # NaN compares as rising, as before
        self.running_max = np.maximum(self.running_max, reach)
        new_crossed = self.crossed.copy()
        if len(self.sorted) == 1:  # one index: a query of the rows that rose only
            rose = np.flatnonzero(rising)
            if rose.size:
                reached = self.sorted[0].count_reached(self.running_max[rose], rose)
                new_crossed[rose] = np.maximum(new_crossed[rose], reached)
        elif rising.any():
            for rows, st in zip(self.blocks, self.sorted, strict=True):
                if rising[rows].any():
                    reached = st.count_reached(self.running_max[rows])
                    np.maximum(new_crossed[rows], reached, out=new_crossed[rows])
        p = R.per_tick(s.param[self.spec.spontaneous], self.tick)
        self.crossed, self.spont = R.threshold_population_step(
            rng.spans(len(before)), self.N, self.crossed, self.spont, new_crossed, p
        )
        return self.crossed + self.spont

    def why(self, r: int) -> str:  # noqa: D102
        return f"; {self.crossed[r]} by threshold, {self.spont[r]} spontaneously"


class ReversibleThresholdPopulation(_Thresholds):
    """Reversible thresholds: in the target position while the support reaches them."""

    def moved(self, s: State, drive: Array, before: Array, rng: Streams) -> Array:  # noqa: D102
        reach = self.reach(drive)
        if len(self.sorted) == 1:
            return self.sorted[0].count_reached(reach)
        pairs = zip(self.blocks, self.sorted, strict=True)
        return np.concatenate([st.count_reached(reach[rows]) for rows, st in pairs])


class _Hazard(Population):
    """Shared by the hazard and logistic populations: per-hour probabilities both ways."""

    def probabilities(
        self, s: State, drive: Array, res: Array, rate: Array
    ) -> tuple[Array, Array | None]:
        """Per-hour probabilities of switching to the target and (reversible rules only) back.

        Computed for the first ``len(drive)`` rows (see :meth:`BlockState.compute_only`).
        """
        back = self.spec.reversible
        if not self.spec.logistic:
            fwd = R.hazard_probability(drive, res, rate)
            return fwd, R.hazard_back_probability(drive, res, rate) if back else None
        slope = s.param[self.spec.slope][: len(drive)]
        if drive.ndim == 2:
            slope = slope[:, None]
        fwd = R.logistic_probability(drive, res, rate, slope)
        return fwd, R.logistic_back_probability(drive, res, rate, slope) if back else None


class HazardCountsPopulation(_Hazard):
    """One resistance per replicate: everyone out switches with the same probability (binomial)."""

    def moved(self, s: State, drive: Array, before: Array, rng: Streams) -> Array:  # noqa: D102
        spec = self.spec
        res, rate = s.param[spec.resistance], s.param[spec.rate]
        fwd_p, back_p = self.probabilities(s, drive, res, rate)
        fwd = R.per_tick(fwd_p, self.tick)
        back = None if back_p is None else R.per_tick(back_p, self.tick)
        moved = before.copy()
        out = self.N - before
        # a binomial with nobody to move or a probability of 0 takes nothing from
        # the stream: a block where no row has both makes no call (NaN still calls)
        go_fwd = (out > 0) & ~(fwd <= 0)
        go_back = None if back is None else (before > 0) & ~(back <= 0)
        for g, rows in rng.spans(len(before)):  # in a block's order: forward, then back
            if go_fwd[rows].any():
                moved[rows] += g.binomial(out[rows], fwd[rows])
            if back is not None and go_back is not None and go_back[rows].any():
                moved[rows] -= g.binomial(before[rows], back[rows])
        return moved


class HazardDensePopulation(_Hazard):
    """A resistance per person: one uniform per person and tick (the dense path)."""

    ROWS = ("counts", "resistance", "in_to")

    def __init__(self, spec: PopulationSpec, n: int, tick: float, resistance: Array) -> None:
        super().__init__(spec, n, tick)
        self.resistance = resistance
        self.in_to = np.zeros((n, self.N), dtype=bool)

    def keep_first(self, rows: int) -> None:
        """Drop the per-person arrays of replicates ``>= rows`` (see BlockState.compute_only)."""
        self.resistance = self.resistance[:rows].copy()
        self.in_to = self.in_to[:rows].copy()

    def change_person(self, how: str, amount: float, mask: Array) -> None:  # noqa: D102
        live = len(self.resistance)  # rows past it are not computed
        old = self.resistance
        self.resistance = np.where(mask[:live, None], R.changed_values(old, how, amount), old)

    def moved(self, s: State, drive: Array, before: Array, rng: Streams) -> Array:  # noqa: D102
        live = len(self.in_to)  # rows past it are not computed (BlockState.compute_only)
        rate = s.param[self.spec.rate][:live, None]
        fwd_p, back_p = self.probabilities(s, drive[:live, None], self.resistance, rate)
        if live < len(before):
            # PCG64 spends exactly one 64-bit output per double, row after row:
            # skipping the other rows' outputs leaves the stream as a whole block's
            g = rng.single
            assert g is not None  # compute_only applies to a block on its own only
            u = g.random((live, self.N))
            g.bit_generator.advance((len(before) - live) * self.N)  # type: ignore[attr-defined]
        else:
            u = rng.random(live, self.N)
        go = ~self.in_to & (u < R.per_tick(fwd_p, self.tick))
        if back_p is not None:
            self.in_to &= ~(u < R.per_tick(back_p, self.tick))
        self.in_to |= go
        moved = before.copy()
        moved[:live] = self.in_to.sum(axis=1)
        return moved


class NetworkPopulation(Neighbours, Population):
    """A population on a graph: each person hears their neighbours (:mod:`sim.engine.networks`)."""

    ROWS = ("counts", "in_to")

    def __init__(self, spec: PopulationSpec, n: int, tick: float, person: list[Any]) -> None:
        super().__init__(spec, n, tick)
        self.setup(n, person)


def make_population(
    spec: PopulationSpec, n: int, tick: float, person: list[Any], streams: Streams
) -> Population:
    """The population object for a spec; ``person`` holds the drawn per-person arrays."""
    if spec.network is not None and spec.mode == "persons":
        return NetworkPersonsPopulation(spec, n, tick, person)
    if spec.network is not None:
        return NetworkPopulation(spec, n, tick, person)
    if spec.mode == "segments":
        parts = [make_population(p, n, tick, person, streams) for p in spec.segments]
        return SegmentedPopulation(spec, n, tick, parts)
    if spec.mode == "persons":
        return PersonsPopulation(spec, n, tick, person)
    if spec.mode == "threshold":
        return ThresholdPopulation(spec, n, tick, person[spec.person], streams)
    if spec.mode == "threshold_reversible":
        return ReversibleThresholdPopulation(spec, n, tick, person[spec.person], streams)
    if spec.mode == "hazard_counts":
        return HazardCountsPopulation(spec, n, tick)
    if spec.mode == "hazard_dense":
        return HazardDensePopulation(spec, n, tick, person[spec.person])
    return Population(spec, n, tick)
