"""Reference checks of events, decisions and outcomes (see :mod:`sim.scenario.references`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.scenario import references_effects as E
from sim.scenario.base import PARAM_RANGES
from sim.scenario.references_base import (
    _RULE_CLASS,
    RULE_PARAMS,
    Found,
    Index,
    Loc,
    _list,
    _map,
    _multiple,
    _names,
    _number,
    _position,
    _rule_list,
    condition,
    unknown,
)
from sim.votes import integer_weights


def event_triggers(ix: Index) -> Found:
    """A ``when`` names a signal; an ``every`` is a whole number of ticks."""
    for eid, e in ix.events.items():
        trigger = _map(e.get("trigger"))
        loc: Loc = ("events", eid, "trigger")
        if trigger.get("kind") == "when":
            yield from condition(ix, (*loc, "condition"), trigger.get("condition"))
        elif trigger.get("kind") == "every":
            yield from _multiple((*loc, "every"), trigger.get("every"), ix.tick)


def _rules_of(ix: Index, agent_id: str) -> list[dict[str, Any]]:
    if agent_id in ix.individuals:
        return [_map(r) for r in _list(ix.individuals[agent_id].get("rules"))]
    pid, _, seg = agent_id.partition(".")
    population = ix.populations[pid]
    holder = ix.segments(pid).get(seg, {}) if seg else {}
    if holder.get("rule") is None and holder.get("rules") is None:
        holder = population
    return [_map(r) for _, r in _rule_list(holder)]


def _param_effect(ix: Index, loc: Loc, effect: Mapping[str, Any]) -> Found:
    """An ``offset`` or ``change`` names an agent, a rule and a parameter it has."""
    agent_id = effect.get("agent")
    addressable = ix.addressable()
    if not isinstance(agent_id, str) or (
        agent_id not in ix.individuals and agent_id not in addressable
    ):
        if isinstance(agent_id, str) and not ix.broken(agent_id):
            known = [*ix.individuals, *addressable]
            yield unknown((*loc, "agent"), "individual or population", agent_id, known)
        return
    rules = _rules_of(ix, agent_id)
    index = effect.get("rule")
    if isinstance(index, str):
        ids = [r.get("id") for r in rules]
        if index not in ids:
            named = sorted({i for i in ids if isinstance(i, str)})
            where, message = unknown((*loc, "rule"), "rule id", index, named)
            yield where, message.replace("rule id", f"rule id of {agent_id!r}:", 1)
            return
        index = ids.index(index)
    if _number(index) and index >= len(rules):
        yield (*loc, "rule"), f"agent {agent_id!r} has {len(rules)} rule(s), no index {index}"
        return
    chosen = [rules[index]] if isinstance(index, int) and 0 <= index < len(rules) else rules
    param = effect.get("param") if effect.get("kind") == "change" else None
    name = param if isinstance(param, str) else "offset"
    kinds = [k if isinstance(k, str) else "" for k in (r.get("kind") for r in chosen)]
    if all(k in RULE_PARAMS for k in kinds) and not any(name in RULE_PARAMS[k] for k in kinds):
        where = (*loc, "param" if param else "agent")
        having = sorted(k for k, fields in RULE_PARAMS.items() if name in fields)
        yield (
            where,
            f"no rule of {agent_id!r} has a parameter {name!r} (its rules: "
            f"{', '.join(kinds)}; {name} is a parameter of {', '.join(having)} rules)",
        )
    if agent_id in addressable and name == "threshold":
        scale = effect.get("scale") if effect.get("kind") == "change" else None
        if _number(scale) and scale < 0:
            yield (
                (*loc, "scale"),
                f"a negative scale {float(scale)} would reverse the order of the per-person "
                f"thresholds of {agent_id!r}; scale by a factor >= 0, or set them",
            )
            return
    if agent_id in addressable and any(_held_per_person(r, name) for r in chosen):
        yield from E.per_person_problem(loc, agent_id, name, effect)
    if effect.get("kind") == "change":
        yield from _param_range(loc, agent_id, name, kinds, effect)
    if name == "weights":
        yield from E.weight_problems(loc, agent_id, chosen, effect)


def _held_per_person(rule: Mapping[str, Any], name: str) -> bool:
    """Whether a population's rule holds ``name`` per person (its thresholds, say)."""
    listed = rule.get("per_person")
    drawn = isinstance(rule.get(name), Mapping | list)
    return name == "threshold" or (name == "resistance" and drawn) or name in _list(listed)


def _param_range(
    loc: Loc, agent_id: str, name: str, kinds: list[Any], effect: Mapping[str, Any]
) -> Found:
    """A ``change`` of a bounded parameter keeps it in its range (a random size: all of it)."""
    for kind in kinds:
        bounds = PARAM_RANGES.get((_RULE_CLASS.get(str(kind), ""), name))
        if bounds is not None:
            found = list(E.range_problems(loc, agent_id, name, bounds, effect))
            yield from found
            if found:
                return


def event_effects(ix: Index) -> Found:
    """Flags, agents, rules, parameters and positions that effects name."""
    for eid, e in ix.events.items():
        for i, raw in enumerate(_list(e.get("effects"))):
            effect, loc = _map(raw), ("events", eid, "effects", i)
            kind = effect.get("kind")
            if kind == "set_flag":
                flag = effect.get("flag")
                if isinstance(flag, str) and flag not in ix.flags:
                    yield unknown((*loc, "flag"), "declared flag", flag, ix.flags)
            elif kind in ("offset", "change"):
                yield from _param_effect(ix, loc, effect)
            elif kind == "force":
                agent_id = effect.get("agent")
                if not isinstance(agent_id, str):
                    continue
                if agent_id in ix.individuals:
                    known = ix.positions(ix.individuals[agent_id])
                    yield from _position((*loc, "position"), known, effect.get("position"))
                elif not ix.broken(agent_id):
                    yield unknown((*loc, "agent"), "individual", agent_id, ix.individuals)


def decisions(ix: Index) -> Found:
    """The group, event, motion, absent and abstaining positions, vetoes and quorum of each."""
    for did, d in ix.decisions.items():
        loc: Loc = ("decisions", did)
        group_id = d.get("group")
        on = d.get("on")
        if isinstance(on, str) and on not in ix.events:
            yield unknown((*loc, "on"), "event", on, ix.events)
        yield from _multiple(
            (*loc, "schedule", "every"), _map(d.get("schedule")).get("every"), ix.tick
        )
        if not isinstance(group_id, str):
            continue
        if group_id not in ix.groups:
            if not ix.broken(group_id):
                yield unknown((*loc, "group"), "group", group_id, ix.groups)
            continue
        group = ix.groups[group_id]
        known = ix.group_positions(group)
        motion = d.get("motion")
        yield from _position((*loc, "motion"), known, motion)
        absent, abstain = _list(d.get("absent")), _list(d.get("abstain"))
        for i, p in enumerate(absent):
            yield from _position((*loc, "absent", i), known, p)
        if isinstance(motion, str) and motion in absent:
            yield (*loc, "absent"), f"the motion {motion!r} cannot also be an absent position"
        for i, p in enumerate(abstain):
            yield from _position((*loc, "abstain", i), known, p)
            if isinstance(p, str) and (p == motion or p in absent):
                what = "the motion" if p == motion else "an absent position"
                yield (*loc, "abstain", i), f"{p!r} cannot abstain and also be {what}"
        members = _names(group.get("members"))
        if members is None:
            continue
        for i, v in enumerate(_list(d.get("veto"))):
            if isinstance(v, str) and v not in members:
                yield unknown((*loc, "veto", i), f"member of {group_id!r}", v, members)
        yield from _weights(loc, group_id, members, d)


def _weights(loc: Loc, group_id: str, members: list[str], d: Mapping[str, Any]) -> Found:
    """Weights name members and add up to more than 0; amounts to reach are reachable."""
    weights = _map(d.get("weights"))
    for name in weights:
        if name not in members:
            yield unknown((*loc, "weights", name), f"member of {group_id!r}", name, members)
    values = [weights.get(m, 1) for m in members]
    if not all(_number(v) for v in values):
        return  # the schema reports it
    total = sum(values)
    if total <= 0:
        yield (*loc, "weights"), f"the members of {group_id!r} weigh {total:g} in all, not > 0"
        return
    try:
        integer_weights(values)
    except ValueError as exc:
        yield (*loc, "weights"), str(exc)
        return
    heads = f"group {group_id!r} ({len(members)} members)"
    weighed = f"the total weight {total:g} of group {group_id!r}" if weights else heads
    at_least = _map(d.get("quorum")).get("at_least")
    if _number(at_least) and at_least > total:
        yield (*loc, "quorum", "at_least"), f"quorum {at_least} is larger than {weighed}"
    attendance = _map(d.get("attendance"))
    need, by_members = attendance.get("at_least"), attendance.get("by") == "members"
    if _number(need) and need > (len(members) if by_members else total):
        yield (
            (*loc, "attendance", "at_least"),
            f"attendance {need} is larger than {heads if by_members else weighed}",
        )


def _outcome_trigger(ix: Index, loc: Loc, trigger: Mapping[str, Any]) -> Found:
    kind = trigger.get("kind")
    if kind == "decision":
        name = trigger.get("decision")
        if isinstance(name, str) and name not in ix.decisions:
            yield unknown((*loc, "decision"), "decision", name, ix.decisions)
    elif kind == "deadline" and trigger.get("patience") is not None:
        who = trigger["patience"]
        names = [who] if isinstance(who, str) else _names(who) or []
        patient = [k for k, v in ix.individuals.items() if v.get("patience") is not None]
        for n, name in enumerate(names):
            if name not in patient:
                yield unknown((*loc, "patience", n), "individual with a patience", name, patient)
    elif kind == "condition":
        yield from condition(ix, (*loc, "condition"), trigger.get("condition"))
    elif kind == "event":
        name = trigger.get("event")
        if isinstance(name, str) and name not in ix.events:
            yield unknown((*loc, "event"), "event", name, ix.events)


def outcomes(ix: Index) -> Found:
    """What each outcome's trigger (or list of triggers) names exists."""
    for oid, o in ix.outcomes.items():
        trigger = o.get("trigger")
        loc: Loc = ("outcomes", oid, "trigger")
        if isinstance(trigger, list):
            for k, t in enumerate(trigger):
                yield from _outcome_trigger(ix, (*loc, k) if len(trigger) > 1 else loc, _map(t))
        else:
            yield from _outcome_trigger(ix, loc, _map(trigger))
