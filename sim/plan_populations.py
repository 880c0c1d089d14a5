"""Compiling populations, segments and networks (part of :mod:`sim.plan`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from sim import ops as O
from sim import scenario as S
from sim.distributions import Uniform, is_random
from sim.plan_opinions import opinion_population
from sim.plan_specs import Listener, NetworkSpec, PersonRule, Plan, PopulationSpec
from sim.plan_terms import _mentions, _term
from sim.scenario.schema_rules import BoundedConfidenceRule

Array = np.ndarray[Any, Any]


def _population(plan: Plan, sc: S.Scenario, aid: str, a: S.Population) -> PopulationSpec:
    """A population's spec; with segments, one spec per segment inside it (draws in that order)."""
    if a.rules is not None:
        plan.rule_lists.add(aid)
    if isinstance(a.rule, BoundedConfidenceRule):  # references: alone, on no graph
        return opinion_population(plan, sc, aid, a, plan.pop_index[aid], a.rule)
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
        segments=tuple(parts),
    )


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
        rules=tuple(out),
    )


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
    for j, spec in enumerate(plan.populations):
        a = sc.agents[spec.id]
        graph = getattr(a, "network", None)
        if graph is None or spec.mode == "fixed":
            continue
        assert isinstance(a, S.Population)

        seed_slot = -1
        if getattr(graph, "fresh_graph_per_replicate", False):
            seed_slot = plan.add_draw("person", _GRAPH_SEED, 1)
        spontaneous = getattr(a.rule, "spontaneous", 0.0)
        persons = spec.mode == "persons"
        network = NetworkSpec(
            graph=graph,
            size=a.size,
            coefficients=() if persons else _own(plan, sc, spec.id, spec.drive),
            means=spec.mode,
            seed_slot=seed_slot,
            spontaneous=is_random(spontaneous) or float(spontaneous) > 0,
            rule_coefficients=tuple(_own(plan, sc, spec.id, r.drive) for r in spec.rules),
        )
        # the mode keeps its prefix: a threshold population still holds thresholds;
        # a population of several rules stays "persons" (events find its values so)
        mode = "threshold_network" if spec.mode.startswith("threshold") else "network"
        plan.populations[j] = replace(spec, mode=spec.mode if persons else mode, network=network)


def _own(plan: Plan, sc: S.Scenario, aid: str, drive: int) -> tuple[tuple[int, float], ...]:
    """``(position, c_P)`` of the population's own shares in signal ``drive`` (see NetworkSpec)."""
    from sim.scenario.schema_networks import own_coefficients

    a = sc.agents[aid]
    assert isinstance(a, S.Population)
    own = own_coefficients(sc.signals, plan.signal_names[drive], aid)
    return tuple((a.positions.index(p), c) for p, c in own.items())


#: Each replicate's graph seed when graphs are fresh: a uniform, made a 53-bit integer.
# made without validation: validating at import would build Uniform's validator in
# every run's start-up, whether or not the scenario has a network
_GRAPH_SEED = Uniform.model_construct(uniform=(0.0, 1.0))
