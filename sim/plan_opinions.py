"""Compiling bounded-confidence rules (part of :mod:`sim.plan`).

An individual's rule draws, after the fields every rule draws
(:data:`sim.plan_specs._PARAM_NAMES`, its opinion among them), its
confidence, convergence and cut-off, once per replicate (a constant draws
nothing from the stream); a population's draws its confidence, convergence
and cut-off per replicate, then its opinions per person.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim import scenario as S
from sim.ops_opinions import ConfidenceOp, OpinionSpec
from sim.plan_specs import Plan, PopulationSpec
from sim.scenario.schema_rules import BoundedConfidenceRule

#: Fields of opinion rules drawn per replicate after ``_PARAM_NAMES``, in this order.
_OPINION_PARAMS = ("confidence", "convergence", "cutoff")


def _rule_of(a: S.Individual) -> tuple[int, BoundedConfidenceRule] | None:
    return next(
        ((j, r) for j, r in enumerate(a.rules) if isinstance(r, BoundedConfidenceRule)), None
    )


def peer_names(sc: S.Scenario, rule: BoundedConfidenceRule) -> list[str] | None:
    """The individuals a rule's ``peers`` names (a group's members), None for the default."""
    if rule.peers is None:
        return None
    if isinstance(rule.peers, list):
        return list(rule.peers)
    agent = sc.agents.get(rule.peers)
    return list(agent.members) if isinstance(agent, S.Group) else [rule.peers]


def confidence_ops(plan: Plan, sc: S.Scenario) -> list[ConfidenceOp]:
    """One op per model among the individuals, in file order of the agents."""
    ops = []
    for model in ("deffuant", "hegselmann_krause"):
        found = []
        for aid, a in sc.agents.items():
            if isinstance(a, S.Individual) and (hit := _rule_of(a)) and hit[1].model == model:
                found.append((aid, *hit))
        if not found:
            continue
        names = [aid for aid, _, _ in found]
        peers = np.eye(len(names), dtype=bool)
        for i, (_, _, rule) in enumerate(found):
            heard = peer_names(sc, rule)
            for name in names if heard is None else heard:
                if name in names:
                    peers[i, names.index(name)] = True
        deffuant = model == "deffuant"
        starts: list[int] = []
        if deffuant:
            for i, (_, _, rule) in enumerate(found):
                if peers[i].sum() > 1:  # someone to meet besides itself
                    starts += [i] * (rule.encounters or 1)
        if deffuant and not starts:
            continue
        ops.append(
            ConfidenceOp(
                model=model,
                cols=tuple(plan.opinion_col[aid] for aid in names),
                confidence=tuple(plan.param_slot[(aid, j, "confidence")] for aid, j, _ in found),
                convergence=tuple(
                    plan.param_slot[(aid, j, "convergence")] for aid, j, _ in found if deffuant
                ),
                peers=peers,
                starts=tuple(starts),
            )
        )
    return ops


def opinion_population(
    plan: Plan,
    sc: S.Scenario,
    key: str,
    a: S.Population,
    index: int,
    rule: BoundedConfidenceRule,
) -> PopulationSpec:
    """The spec of a population with a bounded-confidence rule (mode ``bounded_confidence``)."""
    slots: dict[str, int] = {}
    for name in _OPINION_PARAMS:
        value: Any = getattr(rule, name)
        if value is not None:
            slots[name] = plan.param_slot[(key, 0, name)] = plan.add_draw("param", value)
    opinion = plan.add_draw("person", rule.opinion, a.size)
    initial_idx = a.positions.index(a.initial)
    spec = OpinionSpec(
        model=rule.model,
        opinion=opinion,
        confidence=slots["confidence"],
        convergence=slots.get("convergence", -1),
        cutoff=slots["cutoff"],
        encounters=rule.encounters or max(1, a.size // 2),
        reversible=rule.reversible,
    )
    return PopulationSpec(
        id=key,
        index=index,
        size=a.size,
        positions=tuple(a.positions),
        initial_idx=initial_idx,
        to_idx=a.positions.index(rule.to),
        mode="bounded_confidence",
        reversible=rule.reversible,
        opinions=spec,
    )
