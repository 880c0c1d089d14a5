"""The plan's data: draws, population specs and :class:`Plan` (see :mod:`sim.plan`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from sim import ops as O
from sim.distributions import NEVER_HOURS, draw, draw_into, is_random
from sim.seeds import correlated_rng

Array = np.ndarray[Any, Any]

#: Rule fields drawn once per replicate, in this order within each rule.
_PARAM_NAMES = tuple(
    "at resistance rate slope spontaneous offset threshold stubbornness opinion".split()
)
#: Curve fields, in the order they are drawn.
_CURVE_FIELDS = tuple("value at before after start end start_value end_value".split())


def first_tick(hours: float, tick: float) -> int:
    """Index of the first tick at or after ``hours`` (ticks are numbered from 1)."""
    return max(1, math.ceil(hours / tick - 1e-9))


def ticks_of(hours: Array, tick: float) -> Array:
    """First tick index at or after each time (arrays)."""
    return np.maximum(1, np.ceil(hours / tick - 1e-9)).astype(np.int64)


def tick_range(
    start: float, every: float, until: float | None, tick: float, n_ticks: int
) -> set[int]:
    """Ticks of the times ``start, start + every, ...`` up to ``until`` and the horizon.

    Each time maps to the first tick at or after it, like every other time.
    """
    last = n_ticks * tick if until is None else min(n_ticks * tick, until)
    out: set[int] = set()
    j = 0
    # validation makes every at least one tick; the bound is a second guard against a hang
    while start + j * every <= last + 1e-9 and j <= n_ticks:
        k = first_tick(start + j * every, tick)
        if k <= n_ticks:
            out.add(k)
        j += 1
    return out


@dataclass(frozen=True, eq=False)
class Draw:
    """One random draw that sets up a block, into slot ``slot`` of the list ``kind`` names.

    ``param``: one value per replicate (a rule parameter); ``curve``: a source's
    curve parameter (a scalar when it is a constant); ``tick``: a time, kept as
    its first tick; ``person``: one value per replicate and person (``persons``).
    ``probability`` (a time's, of a ``param`` or ``tick`` draw): after the
    values, one uniform per replicate says whether the time comes at all
    (below the probability) or never; without it nothing more is drawn.
    """

    kind: Literal["param", "curve", "tick", "person"]
    slot: int
    value: Any
    persons: int = 0
    probability: float | None = None
    #: a correlated parameter (``correlations``): its copula and its column in it
    copula: Copula | None = None
    column: int = 0

    def sample(self, rng: np.random.Generator, n: int, tick: float) -> Any:
        """Draw it for ``n`` replicates (constants draw nothing)."""
        v = self.value
        if self.kind == "curve":
            return draw(v, rng, n) if is_random(v) else float(v)
        if self.kind == "tick":
            return ticks_of(self._maybe(self._values(rng, n), rng, n), tick)
        if self.kind == "person":
            if isinstance(v, list):
                return np.broadcast_to(np.asarray(v, dtype=float), (n, self.persons))
            return draw(v, rng, (n, self.persons))
        return self._maybe(self._values(rng, n), rng, n)

    def fill_persons(self, rng: np.random.Generator, out: Array) -> None:
        """Write into ``out`` the ``person`` draw :meth:`sample` makes for ``len(out)`` rows."""
        assert self.kind == "person" and not isinstance(self.value, list)
        draw_into(self.value, rng, out)

    def _values(self, rng: np.random.Generator, n: int) -> Array:
        """Its ``n`` values: drawn on their own or, correlated, through the copula."""
        values = draw(self.value, rng, n)
        if self.copula is None:
            return values
        # the draw above keeps its place in the block's stream, so that every other
        # parameter draws exactly as it would without `correlations`; the values
        # themselves come from the copula's own stream (see sim.seeds)
        return self.value.from_normal(self.copula.normals(rng, n)[:, self.column])

    def _maybe(self, hours: Array, rng: np.random.Generator, n: int) -> Array:
        """Times that come only with ``probability`` (else never), drawn after the times."""
        if self.probability is None:
            return hours
        comes = rng.random(n) < self.probability
        return np.where(comes, hours, NEVER_HOURS)


@dataclass(frozen=True, eq=False)
class Copula:
    """Correlated standard normals of one ``correlations`` entry (a Gaussian copula).

    ``factor`` is a lower-triangular ``L`` with ``L Lᵀ`` the entry's correlation
    matrix; ``index`` the entry's number in file order, which keys its stream.
    """

    index: int
    factor: tuple[tuple[float, ...], ...]

    def normals(self, rng: np.random.Generator, n: int) -> Array:
        """The ``(n, k)`` correlated normals of the block whose model stream is ``rng``.

        Made afresh from the copula's stream each time (each member parameter
        takes its own column), so they never depend on the order of the draws.
        Each column is summed in a fixed order with elementwise numpy, not a
        matrix product whose BLAS may round differently on another machine.
        """
        k = len(self.factor)
        e = correlated_rng(rng, self.index).standard_normal((n, k))
        z = np.zeros((n, k))
        for i, row in enumerate(self.factor):
            for j in range(i + 1):
                z[:, i] += row[j] * e[:, j]
        return z


@dataclass(frozen=True, eq=False)
class PersonRule:
    """One rule of a population advanced person by person (mode ``persons``).

    ``params`` holds ``(name, slot, per_person)`` for each of its parameters: a
    per-person slot is in the ``person`` draws (one value per replicate and
    person), any other in the ``param`` draws (one value per replicate).
    """

    kind: str  # "threshold", "hazard" or "logistic"
    index: int  # among its population's (or segment's) rules
    from_idx: int
    to_idx: int
    drive: int  # signal index of its support or pressure
    heard: Any  # in place of that signal for a segment that hears others (an O.SignalOp), or None
    offset: int
    reversible: bool
    params: tuple[tuple[str, int, bool], ...]
    draws: bool  # takes one uniform per person each tick

    def slot(self, name: str) -> tuple[int, bool]:
        """``(slot, per_person)`` of a parameter, ``(-1, False)`` when it has none."""
        return next(((sl, per) for n, sl, per in self.params if n == name), (-1, False))


@dataclass(frozen=True, eq=False)
class PopulationSpec:
    """A population and how its rule is advanced (slots are -1 when absent).

    A segment of a population is a population of its own (id ``pop.segment``)
    inside its population's spec (``segments``, mode ``segments``).
    """

    id: str
    index: int
    size: int
    positions: tuple[str, ...]
    initial_idx: int
    to_idx: int
    #: "fixed", "threshold" (irreversible, counts), "threshold_reversible",
    #: "hazard_counts" (one resistance per replicate), "hazard_dense", "persons"
    #: (several rules or per-person parameters, person by person) or "segments"
    mode: str
    drive: int = -1  # signal index of its support or pressure
    offset: int = -1
    rate: int = -1
    slope: int = -1
    spontaneous: int = -1
    resistance: int = -1  # hazard_counts
    person: int = -1  # per-person thresholds or resistances
    reversible: bool = False
    logistic: bool = False
    #: what a segment that hears others reads in place of signal ``drive`` (an O.SignalOp)
    heard: Any = None
    #: mode "persons": its rules, tried in order for each person
    rules: tuple[PersonRule, ...] = ()
    #: mode "segments": one spec per segment, in file order
    segments: tuple[PopulationSpec, ...] = ()
    network: NetworkSpec | None = None  # a population on a graph (see _networks)
    #: mode "bounded_confidence": its opinion dynamics (an sim.ops_opinions.OpinionSpec)
    opinions: Any = None


@dataclass(frozen=True, eq=False)
class NetworkSpec:
    """How a population on a graph reads its neighbours (see :mod:`sim.engine.networks`).

    ``coefficients`` holds, for each position ``P``, the weight ``c_P`` of
    ``{fraction: this population, position: P}`` in the rule's signal (through
    nested signals): a person reads ``signal - sum c_P fraction(P) + sum c_P
    share of their neighbours in P``. ``means`` is how the rule is advanced
    without the graph (the population's mode before), which says what it holds
    person by person. ``seed_slot`` is the person draw of each replicate's graph
    seed when a fresh graph is drawn per replicate (-1: one graph for all).
    """

    graph: Any  # the scenario's network (sim.scenario.schema_networks)
    size: int
    coefficients: tuple[tuple[int, float], ...]
    means: str
    seed_slot: int
    spontaneous: bool  # a threshold rule whose spontaneous switching is not the constant 0
    #: mode "persons" (several rules): each rule's ``coefficients``, in rule order
    rule_coefficients: tuple[tuple[tuple[int, float], ...], ...] = ()


@dataclass
class Plan:
    """A compiled scenario: indices, draws and the operations of every phase."""

    name: str
    tick: float
    n_ticks: int
    individuals: list[str] = field(default_factory=list)
    ind_index: dict[str, int] = field(default_factory=dict)
    positions: dict[str, list[str]] = field(default_factory=dict)
    initial_pos: list[int] = field(default_factory=list)
    populations: list[PopulationSpec] = field(default_factory=list)
    pop_index: dict[str, int] = field(default_factory=dict)
    groups: dict[str, list[int]] = field(default_factory=dict)
    #: each population's segments, by name, in file order (populations without: none)
    segments: dict[str, list[str]] = field(default_factory=dict)
    #: outputs of the populations: each population, then each of its segments (``pop.seg``)
    population_columns: list[str] = field(default_factory=list)
    #: (population index, segment index or -1) of each of ``population_columns``
    column_of: list[tuple[int, int]] = field(default_factory=list)
    # -- set-up: draws (in order) and values derived from them
    draws: list[Draw] = field(default_factory=list)
    n_slots: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("param", "curve", "tick", "person"), 0)
    )
    param_slot: dict[tuple[str, int, str], int] = field(default_factory=dict)
    #: (agent, rule index, name) of per-person parameters -> their ``person`` slot
    person_slot: dict[tuple[str, int, str], int] = field(default_factory=dict)
    #: each individual's, population's and segment's rule ids, by index (None: no id)
    rule_ids: dict[str, list[str | None]] = field(default_factory=dict)
    #: each one's rule kinds (class names), by index
    rule_kinds: dict[str, list[str]] = field(default_factory=dict)
    #: populations and segments whose rules are a list (``rules``), not one ``rule``
    rule_lists: set[str] = field(default_factory=set)
    patience_slot: dict[str, int] = field(default_factory=dict)
    scheduled_due: list[tuple[int, int]] = field(default_factory=list)  # (due slot, param slot)
    earliest_due: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)
    opinion_slots: list[int] = field(default_factory=list)
    # -- the phases' operations
    scheduled: list[O.ScheduledOp] = field(default_factory=list)
    rules: list[O.RuleStep] = field(default_factory=list)
    n_columns: int = 0
    averaging: list[O.AveragingOp] = field(default_factory=list)
    opinion_col: dict[str, int] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    curves: list[O.CurveOp] = field(default_factory=list)
    signal_names: list[str] = field(default_factory=list)
    signals: list[O.SignalOp] = field(default_factory=list)
    flag_names: list[str] = field(default_factory=list)  # declared flags, then events
    flag_initial: list[bool] = field(default_factory=list)
    events: list[O.EventOp] = field(default_factory=list)
    decisions: list[O.DecisionOp] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    watchers: list[tuple[int, O.Trigger]] = field(default_factory=list)  # (outcome, trigger)
    record_columns: list[str] = field(default_factory=list)
    #: random sizes of effects, drawn after :attr:`draws` (see sim.plan._size)
    late_draws: list[Draw] = field(default_factory=list)
    #: averaging individuals whose weights an event changes: a param slot per weight
    weight_slots: dict[str, tuple[int, ...]] = field(default_factory=dict)
    #: bounded-confidence individuals, one op per model (sim.ops_opinions.ConfidenceOp)
    confidence: list[Any] = field(default_factory=list)

    def position(self, agent: str, name: str) -> int:
        """Index of a position in an agent's list, -1 when it has none of that name."""
        ps = self.positions[agent]
        return ps.index(name) if name in ps else -1

    def rule_index(self, agent: str, rule: int | str) -> int:
        """Index of an agent's rule given by index or id (-1 when it has no such id)."""
        if isinstance(rule, int):
            return rule
        ids = self.rule_ids.get(agent, [])
        return ids.index(rule) if rule in ids else -1

    def slot(self, kind: str) -> int:
        """A new slot in the list ``kind``."""
        self.n_slots[kind] += 1
        return self.n_slots[kind] - 1

    def add_draw(
        self,
        kind: Literal["param", "curve", "tick", "person"],
        value: Any,
        n: int = 0,
        probability: float | None = None,
    ) -> int:
        """Append a draw into a new slot; returns the slot."""
        slot = self.slot(kind)
        self.draws.append(Draw(kind, slot, value, n, probability))
        return slot


@dataclass(frozen=True, eq=False)
class Listener:
    """A segment hearing its population: the weight of each segment's share (``hears``)."""

    population: str
    index: int
    row: tuple[tuple[int, float], ...]  # (segment index, weight)
