"""The compiler: a :class:`~sim.scenario.Scenario` becomes a :class:`Plan`, once per scenario.

Every name is resolved to an array index and every rule, term, effect and
trigger becomes a small object of :mod:`sim.ops`, so that the engine reads
only the plan: nothing on its per-tick path looks a name up or asks which
schema class something is.

The plan also fixes the order of the random draws that set up a block
(:attr:`Plan.draws`): agents in file order (each individual's rule parameters,
then its patience; each population's rules in order, each its rate, slope,
spontaneous and offset, then its thresholds or resistance, each per
replicate or per person; a population made of segments draws segment after
segment, each as a population of its size), then the sources' curves, the
events' times and the deadlines. That order is part of the reproducibility
contract.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Literal

import numpy as np

from sim import ops as O
from sim import rules as R
from sim import scenario as S
from sim import votes as V
from sim.distributions import NEVER_HOURS, Uniform, draw, is_random

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


@dataclass(frozen=True)
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

    def sample(self, rng: np.random.Generator, n: int, tick: float) -> Any:
        """Draw it for ``n`` replicates (constants draw nothing)."""
        v = self.value
        if self.kind == "curve":
            return draw(v, rng, n) if is_random(v) else float(v)
        if self.kind == "tick":
            return ticks_of(self._maybe(draw(v, rng, n), rng, n), tick)
        if self.kind == "person":
            if isinstance(v, list):
                return np.broadcast_to(np.asarray(v, dtype=float), (n, self.persons))
            return draw(v, rng, (n, self.persons))
        return self._maybe(draw(v, rng, n), rng, n)

    def _maybe(self, hours: Array, rng: np.random.Generator, n: int) -> Array:
        """Times that come only with ``probability`` (else never), drawn after the times."""
        if self.probability is None:
            return hours
        comes = rng.random(n) < self.probability
        return np.where(comes, hours, NEVER_HOURS)


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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
    drive: int  # signal index of its support or pressure
    offset: int
    rate: int
    slope: int
    spontaneous: int
    resistance: int  # hazard_counts
    person: int  # per-person thresholds or resistances
    reversible: bool
    logistic: bool
    #: what a segment that hears others reads in place of signal ``drive`` (an O.SignalOp)
    heard: Any = None
    #: mode "persons": its rules, tried in order for each person
    rules: tuple[PersonRule, ...] = ()
    #: mode "segments": one spec per segment, in file order
    segments: tuple[PopulationSpec, ...] = ()
    network: NetworkSpec | None = None  # a population on a graph (see _networks)


@dataclass(frozen=True)
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


def compile_plan(sc: S.Scenario) -> Plan:
    """Compile a scenario: resolve ids to indices and turn everything into operations."""
    plan = Plan(name=sc.name, tick=sc.clock.tick, n_ticks=sc.clock.n_ticks)
    for aid, a in sc.agents.items():
        if isinstance(a, S.Individual | S.Population):
            plan.positions[aid] = list(a.positions)
            rules = a.rules if isinstance(a, S.Individual) else a.rule_list
            plan.rule_ids[aid] = [r.id for r in rules]
            plan.rule_kinds[aid] = [type(r).__name__ for r in rules]
        if isinstance(a, S.Individual):
            plan.ind_index[aid] = len(plan.individuals)
            plan.individuals.append(aid)
            plan.initial_pos.append(a.positions.index(a.initial))
        elif isinstance(a, S.Source):
            plan.sources.append(aid)
        elif isinstance(a, S.Population):
            plan.pop_index[aid] = len(plan.pop_index)
    for aid, a in sc.agents.items():
        if isinstance(a, S.Group):
            plan.groups[aid] = [plan.ind_index[m] for m in a.members]
    plan.signal_names = list(sc.signals)
    plan.flag_names = [*sc.flags, *sc.events]
    plan.flag_initial = [*sc.flags.values(), *([False] * len(sc.events))]
    plan.outcomes = list(sc.outcomes)
    _agents(plan, sc)
    _curves(plan, sc)
    _events(plan, sc)
    _outcomes(plan, sc)
    _individual_rules(plan, sc)
    plan.signals = [O.SignalOp(tuple(_term(plan, sc, t) for t in ts)) for ts in sc.signals.values()]
    _decisions(plan, sc)
    _networks(plan, sc)
    for p in plan.populations:
        plan.population_columns.append(p.id)
        plan.column_of.append((p.index, -1))
        for i, part in enumerate(p.segments):
            plan.population_columns.append(part.id)
            plan.column_of.append((p.index, i))
    plan.record_columns = [
        f"{name}.{pos}"
        for name, (p, _) in zip(plan.population_columns, plan.column_of, strict=True)
        for pos in plan.populations[p].positions
    ]
    plan.record_columns += [f"{a}.position" for a in plan.individuals]
    plan.record_columns += list(sc.signals)
    return plan


def _agents(plan: Plan, sc: S.Scenario) -> None:
    """The agents' draws, in file order."""
    for aid, a in sc.agents.items():
        if isinstance(a, S.Individual):
            for j, rule in enumerate(a.rules):
                for name in _PARAM_NAMES:
                    value = getattr(rule, name, None)
                    if value is not None and not isinstance(value, list | bool):
                        # a scheduled switch's `probability` is drawn with its time
                        maybe = getattr(rule, "probability", None) if name == "at" else None
                        slot = plan.add_draw("param", value, probability=maybe)
                        plan.param_slot[(aid, j, name)] = slot
            if a.patience is not None:
                plan.patience_slot[aid] = plan.add_draw("tick", a.patience)
        elif isinstance(a, S.Population):
            plan.populations.append(_population(plan, sc, aid, a))


def _population(plan: Plan, sc: S.Scenario, aid: str, a: S.Population) -> PopulationSpec:
    """A population's spec; with segments, one spec per segment inside it (draws in that order)."""
    if a.rules is not None:
        plan.rule_lists.add(aid)
    if a.segments is None:
        return _unit(plan, sc, aid, a, a.size, a.initial, a.rule_list, None)
    plan.segments[aid] = list(a.segments)
    parts = []
    for name, size, initial, rules in a.parts():
        key = f"{aid}.{name}"
        segment = a.segments[name or ""]
        plan.positions[key] = list(a.positions)
        plan.rule_ids[key] = [r.id for r in rules]
        plan.rule_kinds[key] = [type(r).__name__ for r in rules]
        if segment.rules is not None or (segment.rule is None and a.rules is not None):
            plan.rule_lists.add(key)
        listener = _listener(plan, aid, a, name or "") if a.hears is not None else None
        parts.append(_unit(plan, sc, key, a, size, initial, rules, listener))
    initial_idx = a.positions.index(a.initial)
    return PopulationSpec(
        id=aid,
        index=plan.pop_index[aid],
        size=a.size,
        positions=tuple(a.positions),
        initial_idx=initial_idx,
        to_idx=initial_idx,
        mode="segments",
        drive=-1,
        offset=-1,
        rate=-1,
        slope=-1,
        spontaneous=-1,
        resistance=-1,
        person=-1,
        reversible=False,
        logistic=False,
        segments=tuple(parts),
    )


@dataclass(frozen=True)
class Listener:
    """A segment hearing its population: the weight of each segment's share (``hears``)."""

    population: str
    index: int
    row: tuple[tuple[int, float], ...]  # (segment index, weight)


def _listener(plan: Plan, aid: str, a: S.Population, name: str) -> Listener:
    assert a.hears is not None
    names = plan.segments[aid]
    row = tuple((names.index(k), w) for k, w in a.hears[name].items() if w != 0)
    return Listener(aid, plan.pop_index[aid], row)


#: Rule parameters in the order a population's rule draws them (the last per person).
_POPULATION_PARAMS = ("rate", "slope", "spontaneous", "offset")


def _classic(rules: list[Any], initial: str, population_initial: str) -> bool:
    """Whether one rule is advanced by the counts or per-person classes of one rule."""
    if len(rules) != 1:
        return False
    rule = rules[0]
    if isinstance(rule, S.FixedRule):
        return True
    start = rule.from_ if rule.from_ is not None else population_initial
    held = {"threshold"} if isinstance(rule, S.ThresholdRule) else {"resistance"}
    return start == initial and set(rule.per_person or ()) <= held


def _unit(
    plan: Plan,
    sc: S.Scenario,
    key: str,
    a: S.Population,
    size: int,
    initial: str,
    rules: list[Any],
    listener: Listener | None,
) -> PopulationSpec:
    """The spec of a population without segments, or of one segment (``key``: ``pop.seg``)."""
    if not _classic(rules, initial, a.initial):
        return _persons(plan, sc, key, a, size, initial, rules, listener)
    rule = rules[0]
    slots = {}
    for name in _POPULATION_PARAMS:
        value = getattr(rule, name, None)
        if value is not None and not isinstance(value, bool):
            slots[name] = plan.param_slot[(key, 0, name)] = plan.add_draw("param", value)
    initial_idx = a.positions.index(initial)
    resistance = person = -1
    if isinstance(rule, S.FixedRule):
        mode, to_idx = "fixed", initial_idx
    else:
        to_idx = a.positions.index(rule.to)
        if isinstance(rule, S.ThresholdRule):
            mode = "threshold_reversible" if rule.reversible else "threshold"
            person = plan.add_draw("person", rule.threshold, size)
        elif is_random(rule.resistance):
            mode = "hazard_dense"
            person = plan.add_draw("person", rule.resistance, size)
        else:
            mode = "hazard_counts"
            resistance = plan.add_draw("param", rule.resistance)
            plan.param_slot[(key, 0, "resistance")] = resistance
    drive_name = getattr(rule, "support", None) or getattr(rule, "pressure", None)
    return PopulationSpec(
        id=key,
        index=plan.pop_index[a_id(key)],
        size=size,
        positions=tuple(a.positions),
        initial_idx=initial_idx,
        to_idx=to_idx,
        mode=mode,
        drive=list(sc.signals).index(drive_name) if drive_name is not None else -1,
        offset=slots.get("offset", -1),
        rate=slots.get("rate", -1),
        slope=slots.get("slope", -1),
        spontaneous=slots.get("spontaneous", -1),
        resistance=resistance,
        person=person,
        reversible=bool(getattr(rule, "reversible", False)),
        logistic=isinstance(rule, S.LogisticRule),
        heard=_heard_signal(plan, sc, drive_name, listener),
    )


def a_id(key: str) -> str:
    """The population of a population or segment key (``pop`` of ``pop.seg``)."""
    return key.partition(".")[0]


def _persons(
    plan: Plan,
    sc: S.Scenario,
    key: str,
    a: S.Population,
    size: int,
    initial: str,
    rules: list[Any],
    listener: Listener | None,
) -> PopulationSpec:
    """Several rules (or per-person parameters beyond the thresholds and resistances).

    Each rule draws, in this order, its rate, slope, spontaneous and offset,
    then its resistance or thresholds: per person when ``per_person`` names it
    (thresholds, and a random resistance, always), else per replicate.
    """
    signals = list(sc.signals)
    out = []
    for j, rule in enumerate(rules):
        if isinstance(rule, S.FixedRule):
            continue
        listed = set(rule.per_person or ())
        if isinstance(rule, S.ThresholdRule):
            listed.add("threshold")
        elif is_random(rule.resistance):
            listed.add("resistance")
        params = []
        last = "threshold" if isinstance(rule, S.ThresholdRule) else "resistance"
        for name in (*_POPULATION_PARAMS, last):
            value = getattr(rule, name, None)
            if value is None or isinstance(value, bool):
                continue
            if name in listed:
                slot = plan.person_slot[(key, j, name)] = plan.add_draw("person", value, size)
            else:
                slot = plan.param_slot[(key, j, name)] = plan.add_draw("param", value)
            params.append((name, slot, name in listed))
        drive_name = getattr(rule, "support", None) or getattr(rule, "pressure", None)
        assert drive_name is not None  # every rule but a fixed one has a signal
        src = rule.from_ if rule.from_ is not None else a.initial
        kind = str(rule.kind)
        spontaneous = getattr(rule, "spontaneous", 0.0)
        draws = kind != "threshold" or is_random(spontaneous) or float(spontaneous) > 0
        out.append(
            PersonRule(
                kind=kind,
                index=j,
                from_idx=a.positions.index(src),
                to_idx=a.positions.index(rule.to),
                drive=signals.index(drive_name),
                heard=_heard_signal(plan, sc, drive_name, listener),
                offset=plan.param_slot[(key, j, "offset")],
                reversible=bool(rule.reversible),
                params=tuple(params),
                draws=draws,
            )
        )
    initial_idx = a.positions.index(initial)
    return PopulationSpec(
        id=key,
        index=plan.pop_index[a_id(key)],
        size=size,
        positions=tuple(a.positions),
        initial_idx=initial_idx,
        to_idx=initial_idx,
        mode="persons" if out else "fixed",
        drive=-1,
        offset=-1,
        rate=-1,
        slope=-1,
        spontaneous=-1,
        resistance=-1,
        person=-1,
        reversible=False,
        logistic=False,
        rules=tuple(out),
    )


def _mentions(sc: S.Scenario, signal: str, population: str) -> bool:
    """Whether a signal (or one it refers to) holds the share of ``population`` as a whole."""
    for t in sc.signals[signal]:
        if isinstance(t, S.FractionTerm) and t.fraction == population:
            return True
        if isinstance(t, S.SignalTerm) and _mentions(sc, t.signal, population):
            return True
    return False


def _heard_signal(
    plan: Plan, sc: S.Scenario, name: str | None, listener: Listener | None
) -> O.SignalOp | None:
    """Signal ``name`` as a segment hears it: its population's share weighted by ``hears``.

    None when nothing changes (no ``hears``, or the signal does not hold the share).
    """
    if name is None or listener is None or not _mentions(sc, name, listener.population):
        return None
    return O.SignalOp(tuple(_term(plan, sc, t, listener) for t in sc.signals[name]))


def _networks(plan: Plan, sc: S.Scenario) -> None:
    """Populations on a graph: their neighbours' terms, and a graph seed per replicate if fresh.

    Runs after every other draw, so that a scenario without networks draws as before
    and a fresh graph's seed comes last in a block's set-up.
    """
    from sim.scenario.schema_networks import own_coefficients

    for j, spec in enumerate(plan.populations):
        a = sc.agents[spec.id]
        graph = getattr(a, "network", None)
        if graph is None or spec.mode == "fixed":
            continue
        assert isinstance(a, S.Population) and spec.drive >= 0
        own = own_coefficients(sc.signals, plan.signal_names[spec.drive], spec.id)
        seed_slot = -1
        if getattr(graph, "fresh_graph_per_replicate", False):
            seed_slot = plan.add_draw("person", _GRAPH_SEED, 1)
        spontaneous = getattr(a.rule, "spontaneous", 0.0)
        network = NetworkSpec(
            graph=graph,
            size=a.size,
            coefficients=tuple((a.positions.index(p), c) for p, c in own.items()),
            means=spec.mode,
            seed_slot=seed_slot,
            spontaneous=is_random(spontaneous) or float(spontaneous) > 0,
        )
        # the mode keeps its prefix: a threshold population still holds thresholds
        mode = "threshold_network" if spec.mode.startswith("threshold") else "network"
        plan.populations[j] = replace(spec, mode=mode, network=network)


#: Each replicate's graph seed when graphs are fresh: a uniform, made a 53-bit integer.
_GRAPH_SEED = Uniform(uniform=(0.0, 1.0))


def _curves(plan: Plan, sc: S.Scenario) -> None:
    for aid in plan.sources:
        src = sc.agents[aid]
        assert isinstance(src, S.Source)
        c = src.curve
        slots = tuple(plan.add_draw("curve", getattr(c, k)) for k in _CURVE_FIELDS if hasattr(c, k))
        fn: O.CurveFn
        if isinstance(c, S.ConstantCurve):
            fn = O.constant_curve
        elif isinstance(c, S.StepCurve):
            fn = O.step_curve
        elif isinstance(c, S.RampCurve):
            fn = O.ramp_curve
        else:
            assert isinstance(c, S.PiecewiseCurve)
            fn = O.piecewise_curve(c.points)
        plan.curves.append(O.CurveOp(fn, slots))


def _events(plan: Plan, sc: S.Scenario) -> None:
    for e_idx, (eid, e) in enumerate(sc.events.items()):
        trig = e.trigger
        label = f"event {eid}" + (f": {e.description}" if e.description else "")
        effects = tuple(_effect(plan, sc, eff) for eff in e.effects)
        flag = plan.flag_names.index(eid)
        common: dict[str, Any] = dict(id=eid, index=e_idx, flag=flag, label=label)
        if isinstance(trig, S.AtTrigger):
            at_slot = plan.add_draw("tick", trig.time, probability=trig.probability)
            op = O.EventOp(**common, effects=effects, at_slot=at_slot)
        elif isinstance(trig, S.EveryTrigger):
            ticks = tick_range(trig.start, trig.every, trig.until, plan.tick, plan.n_ticks)
            op = O.EventOp(**common, effects=effects, ticks=tuple(sorted(ticks)))
        else:
            assert isinstance(trig, S.WhenTrigger)
            op = O.EventOp(**common, effects=effects, when=_condition(plan, sc, trig.condition))
        plan.events.append(op)


def _outcomes(plan: Plan, sc: S.Scenario) -> None:
    for o, out in enumerate(sc.outcomes.values()):
        for trig in out.trigger:
            t: O.Trigger
            if isinstance(trig, S.DecisionTrigger):
                t = O.OnDecision(list(sc.decisions).index(trig.decision))
            elif isinstance(trig, S.DeadlineTrigger):
                if trig.patience is not None:
                    slot = plan.slot("tick")
                    sources = tuple(plan.patience_slot[who] for who in trig.patience)
                    plan.earliest_due.append((slot, sources))
                else:
                    slot = plan.add_draw("tick", trig.at)
                t = O.OnDeadline(slot)
            elif isinstance(trig, S.ConditionTrigger):
                t = O.OnCondition(_condition(plan, sc, trig.condition))
            else:
                t = O.OnEvent(list(sc.events).index(trig.event))
            plan.watchers.append((o, t))


def _individual_rules(plan: Plan, sc: S.Scenario) -> None:
    averaging: list[tuple[str, S.AveragingRule, int]] = []
    for aid, a in sc.agents.items():
        if not isinstance(a, S.Individual):
            continue
        i = plan.ind_index[aid]
        for j, rule in enumerate(a.rules):
            if isinstance(rule, S.FixedRule):
                continue
            src = rule.from_ if rule.from_ is not None else a.initial
            from_idx, to_idx = a.positions.index(src), a.positions.index(rule.to)
            slot = {name: plan.param_slot.get((aid, j, name), -1) for name in _PARAM_NAMES}
            if isinstance(rule, S.ScheduledRule):
                due = plan.slot("tick")
                plan.scheduled_due.append((due, slot["at"]))
                plan.scheduled.append(O.ScheduledOp(i, from_idx, to_idx, due))
                continue
            column = -1
            if isinstance(rule, S.HazardRule | S.LogisticRule) or (
                isinstance(rule, S.ThresholdRule)
                and (is_random(rule.spontaneous) or float(rule.spontaneous) > 0)  # type: ignore[arg-type]
            ):
                column = plan.n_columns
                plan.n_columns += 1
            base: dict[str, Any] = dict(
                agent=aid,
                agent_index=i,
                positions=tuple(a.positions),
                from_idx=from_idx,
                to_idx=to_idx,
                column=column,
                reversible=rule.reversible,
                tick=plan.tick,
            )
            if isinstance(rule, S.AveragingRule):
                averaging.append((aid, rule, slot["stubbornness"]))
                plan.opinion_slots.append(slot["opinion"])
                plan.opinion_col[aid] = len(averaging) - 1
                plan.rules.append(O.AveragingStep(**base, col=-1, cutoff=rule.cutoff))
                continue
            signals = list(sc.signals)
            if isinstance(rule, S.ThresholdRule):
                step: O.RuleStep = O.ThresholdStep(
                    **base,
                    signal=signals.index(rule.support),
                    offset=slot["offset"],
                    threshold=slot["threshold"],
                    spontaneous=slot["spontaneous"],
                )
            else:
                cls = O.HazardStep if isinstance(rule, S.HazardRule) else O.LogisticStep
                step = cls(
                    **base,
                    signal=signals.index(rule.pressure),
                    offset=slot["offset"],
                    resistance=slot["resistance"],
                    rate=slot["rate"],
                    slope=slot["slope"],
                )
            plan.rules.append(step)
    # an averaging agent's column is known once every averaging agent is
    plan.rules = [_with_col(plan, r) if isinstance(r, O.AveragingStep) else r for r in plan.rules]
    for aid, rule, stubborn in averaging:
        heard = tuple(_heard(plan, sc, name, rule.to) for name in rule.weights)
        weights = np.array([[rule.weights[n] for n in rule.weights]])
        plan.averaging.append(O.AveragingOp(plan.opinion_col[aid], stubborn, heard, weights))


def _with_col(plan: Plan, r: O.AveragingStep) -> O.AveragingStep:
    return replace(r, col=plan.opinion_col[r.agent])


def _heard(plan: Plan, sc: S.Scenario, name: str, to: str) -> O.Term:
    """What an averaging agent hears from ``name``: an opinion, a stance (0/1) or a signal."""
    if name in plan.opinion_col:
        return O.opinion_of(plan.opinion_col[name])
    if name in plan.ind_index:
        return O.stance_of(plan.ind_index[name], plan.position(name, to))
    return O.signal_of(list(sc.signals).index(name))


def _term(
    plan: Plan, sc: S.Scenario, term: Any, listener: Listener | None = None
) -> tuple[float, O.Term]:
    """A signal's term; for a ``listener`` segment, its population's share as it hears it."""
    if isinstance(term, S.ConstantTerm):
        return 1.0, O.constant(term.constant)
    fn: O.Term
    if listener is not None and isinstance(term, S.FractionTerm | S.SignalTerm):
        heard = _heard_term(plan, sc, term, listener)
        if heard is not None:
            return term.weight, heard
    if isinstance(term, S.FractionTerm):
        pid, _, segment = term.fraction.partition(".")
        if segment:
            position = plan.positions[pid].index(term.position)
            fn = O.segment_fraction(
                plan.pop_index[pid], plan.segments[pid].index(segment), position
            )
        elif term.fraction in plan.pop_index:
            p = plan.pop_index[term.fraction]
            fn = O.population_fraction(p, plan.positions[term.fraction].index(term.position))
        else:
            fn = _group_term(plan, sc, term.fraction, term.position, O.group_fraction)
    elif isinstance(term, S.CountTerm):
        fn = _group_term(plan, sc, term.count, term.position, O.group_count)
    elif isinstance(term, S.PositionTerm):
        fn = O.position_is(plan.ind_index[term.agent], plan.position(term.agent, term.position))
    elif isinstance(term, S.OpinionTerm):
        fn = O.opinion_of(plan.opinion_col[term.opinion])
    elif isinstance(term, S.FlagTerm):
        fn = O.flag_of(plan.flag_names.index(term.flag))
    elif isinstance(term, S.CurveTerm):
        fn = O.curve_of(plan.sources.index(term.curve))
    else:
        assert isinstance(term, S.SignalTerm)
        fn = O.signal_of(plan.signal_names.index(term.signal))
    return term.weight, fn


def _heard_term(plan: Plan, sc: S.Scenario, term: Any, listener: Listener) -> O.Term | None:
    """What a listener segment hears in place of a term, None when the term is the same."""
    if isinstance(term, S.FractionTerm):
        if term.fraction != listener.population:
            return None
        position = plan.positions[listener.population].index(term.position)
        return O.heard_fraction(listener.index, listener.row, position)
    if not _mentions(sc, term.signal, listener.population):
        return None
    return O.SignalOp(tuple(_term(plan, sc, t, listener) for t in sc.signals[term.signal]))


def _condition(plan: Plan, sc: S.Scenario, cond: Any) -> O.Condition:
    """A condition as operations on arrays (its comparisons chosen here, not per tick)."""
    if isinstance(cond, S.AllOf):
        return O.AllOf(tuple(_condition(plan, sc, c) for c in cond.all))
    if isinstance(cond, S.AnyOf):
        return O.AnyOf(tuple(_condition(plan, sc, c) for c in cond.any))
    if isinstance(cond, S.NotOf):
        return O.NotOf(_condition(plan, sc, cond.not_))
    if isinstance(cond, S.PositionCondition):
        wanted = tuple(plan.position(cond.agent, p) for p in cond.position)
        return O.InPositions(plan.ind_index[cond.agent], wanted)
    op, number = cond.comparison
    value: O.Term
    if isinstance(cond, S.CountCondition):
        value = _group_term(plan, sc, cond.count, cond.position, O.group_count)
    else:
        assert isinstance(cond, S.SignalCondition)
        value = O.signal_of(plan.signal_names.index(cond.signal))
    return O.Compare(value, R.COMPARISONS[op], number)


def _group_term(
    plan: Plan,
    sc: S.Scenario,
    group: str,
    position: str,
    make: Callable[[list[int], Array], O.Term],
) -> O.Term:
    """A term over a group's members (``make``: :func:`sim.ops.group_fraction` or ``count``)."""
    names = sc.agents[group].members  # type: ignore[union-attr]
    idx = np.array([plan.position(m, position) for m in names])
    return make(plan.groups[group], idx)


def _effect(plan: Plan, sc: S.Scenario, eff: Any) -> O.Effect:
    if isinstance(eff, S.SetFlag):
        return O.SetFlagOp(plan.flag_names.index(eff.flag), eff.value)
    if isinstance(eff, S.AddOffset):
        return param_op(plan, eff.agent, "offset", "add", eff.add, ranges=True)
    if isinstance(eff, S.ChangeParam):
        how, amount = next(
            (k, getattr(eff, k)) for k in ("set", "add", "scale") if getattr(eff, k) is not None
        )
        person = person_ops(plan, eff.agent, eff.param, how, amount, eff.rule)
        op = param_op(plan, eff.agent, eff.param, how, amount, eff.rule, ranges=True)
        if not person:
            return op
        if not op.targets and len(person) == 1:
            return person[0]
        return O.EffectList((*person, op) if op.targets else tuple(person))
    if isinstance(eff, S.Force):
        return O.ForceOp(plan.ind_index[eff.agent], plan.position(eff.agent, eff.position))
    return O.TraceOp(eff.message)


def _units(plan: Plan, agent: str) -> list[str]:
    """The keys an agent's rules are kept under: itself, or each of its population's segments."""
    if agent in plan.segments:
        return [f"{agent}.{name}" for name in plan.segments[agent]]
    return [agent]


def _label(plan: Plan, key: str, j: int) -> str:
    """How a rule is named in the trace: ``toner.rules.1``, ``employees.rule``."""
    individual = key in plan.ind_index
    return f"{key}.rules.{j}" if individual or key in plan.rule_lists else f"{key}.rule"


def param_op(
    plan: Plan,
    agent: str,
    name: str,
    how: str,
    amount: float,
    rule: int | str | None = None,
    ranges: bool = False,
) -> O.ParamOp:
    """Change parameter ``name`` of ``agent``'s rules (all, or rule ``rule``) that have it.

    ``agent`` is an individual, a population (each of its segments) or a
    segment (``pop.seg``); ``rule`` is the rule's index or its id.

    With ``ranges``, a change that would take a bounded parameter out of its
    range is clipped to it, with a warning (see :class:`sim.ops.ParamOp`).
    """
    found = []
    for key in _units(plan, agent):
        index = None if rule is None else plan.rule_index(key, rule)
        for (a, j, n), slot in plan.param_slot.items():
            if a == key and n == name and (index is None or index == j):
                kind = plan.rule_kinds[key][j] if ranges else ""
                found.append((slot, _label(plan, key, j), S.PARAM_RANGES.get((kind, name))))
    targets = tuple((slot, label) for slot, label, _ in found)
    bounds = tuple(b for _, _, b in found)
    return O.ParamOp(name, targets, how, amount, agent, bounds)


def person_ops(
    plan: Plan, agent: str, name: str, how: str, amount: float, rule: int | str | None = None
) -> list[O.PersonParamOp]:
    """Changes of a population's per-person values of ``name`` (none for anything else).

    A population holds one value per person for its thresholds, a random
    resistance and the parameters its rules draw ``per_person``; the change
    then applies to each person (see :class:`sim.ops.PersonParamOp`).
    """
    pid = a_id(agent)
    if pid not in plan.pop_index:
        return []
    spec = plan.populations[plan.pop_index[pid]]
    out = []
    for key in _units(plan, agent):
        segment = -1
        unit = spec
        if spec.segments:
            segment = plan.segments[pid].index(key.partition(".")[2])
            unit = spec.segments[segment]
        index = None if rule is None else plan.rule_index(key, rule)
        label = f"{key}.rule.{name}"
        if unit.mode != "persons":
            held = "threshold" if unit.mode.startswith("threshold") else "resistance"
            if unit.person >= 0 and name == held and index in (None, 0):
                out.append(O.PersonParamOp(spec.index, label, how, amount, segment))
            continue
        for r in unit.rules:
            if (key, r.index, name) in plan.person_slot and index in (None, r.index):
                bounds = S.PARAM_RANGES.get((plan.rule_kinds[key][r.index], name))
                label = f"{_label(plan, key, r.index)}.{name}"
                out.append(
                    O.PersonParamOp(spec.index, label, how, amount, segment, r.index, name, bounds)
                )
    return out


def _decisions(plan: Plan, sc: S.Scenario) -> None:
    for index, (did, d) in enumerate(sc.decisions.items()):
        names = sc.agents[d.group].members  # type: ignore[union-attr]
        ticks: tuple[int, ...] = ()
        if d.schedule is not None:
            s = d.schedule
            ticks = tuple(sorted(tick_range(s.start, s.every, s.until, plan.tick, plan.n_ticks)))
        plan.decisions.append(
            O.DecisionOp(
                id=did,
                index=index,
                members=plan.groups[d.group],
                motion_idx=np.array([plan.position(m, d.motion) for m in names]),
                absent_idx=[[plan.position(m, p) for p in d.absent] for m in names],
                abstain_idx=[[plan.position(m, p) for p in d.abstain] for m in names],
                rule=vote_rule(d, names),
                ticks=ticks,
                on=list(sc.events).index(d.on) if d.on is not None else -1,
            )
        )


def vote_rule(d: S.Decision, members: list[str]) -> V.VoteRule:
    """A decision's counting rule, with its weights and bars as exact integers and rationals."""
    ints, scale = V.integer_weights([d.weights.get(m, 1) for m in members])
    quorum = d.quorum
    if isinstance(quorum, S.AtLeast):
        bar = V.Bar(at_least=V.exact(quorum.at_least))
    elif isinstance(quorum, S.FractionQuorum):
        bar = V.Bar(fraction=quorum.rational)
    else:
        bar = V.Bar(fraction=Fraction(1))
    attendance, by_weight = None, True
    if d.attendance is not None:
        a = d.attendance
        if a.at_least is not None:
            attendance = V.Bar(at_least=V.exact(a.at_least))
        else:
            assert a.fraction is not None
            attendance = V.Bar(fraction=V.exact(a.fraction))
        by_weight = a.by == "weight"
    return V.VoteRule(
        weights=np.array(ints, dtype=np.int64),
        scale=scale,
        quorum=bar,
        attendance=attendance,
        attendance_by_weight=by_weight,
        veto=tuple(members.index(v) for v in d.veto),
    )


__all__ = ["Draw", "Plan", "PopulationSpec", "compile_plan", "first_tick", "tick_range", "ticks_of"]
