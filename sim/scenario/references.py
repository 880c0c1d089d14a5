"""References between the objects of a scenario, checked on the raw mapping.

Each checker does one job and yields ``(field path, message)`` pairs. They read
the data as it came from the file, not the validated models, so they run even
when other fields fail the schema and every problem is reported in one pass.
A part too broken to read (positions that are not a list, an agent of an
unknown kind) is skipped here: the schema already reports it, and guessing
would only add errors that are not the user's.

:func:`check_references` runs them all; it is called by the loader through
``Scenario``'s wrap validator, so ``Scenario.model_validate`` runs it too.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from sim.scenario import references_effects as E
from sim.scenario.base import PARAM_RANGES, UNRESOLVED
from sim.scenario.references_opinions import OPINION_KINDS, opinion_rules
from sim.scenario.schema_correlations import correlation_problems
from sim.scenario.schema_networks import network_problems
from sim.scenario.schema_rules import (
    PERSON_PARAMS,
    AveragingRule,
    BoundedConfidenceRule,
    FixedRule,
    HazardRule,
    LogisticRule,
    ScheduledRule,
    ThresholdRule,
)
from sim.scenario.signal_graph import signal_chains
from sim.votes import integer_weights

Loc = tuple[str | int, ...]
Found = Iterator[tuple[Loc, str]]

#: the fields of each rule kind (the parameters an event may change among them)
RULE_PARAMS: dict[str, set[str]] = {
    str(getattr(cls.model_fields["kind"].annotation, "__args__", ("",))[0]): set(cls.model_fields)
    for cls in (
        FixedRule,
        ScheduledRule,
        ThresholdRule,
        HazardRule,
        LogisticRule,
        AveragingRule,
        BoundedConfidenceRule,
    )
}
_RULE_CLASS = {
    "threshold": "ThresholdRule",
    "hazard": "HazardRule",
    "logistic": "LogisticRule",
    "averaging": "AveragingRule",
    "bounded_confidence": "BoundedConfidenceRule",
}
_AGENT_KINDS = ("individual", "population", "source", "group")


def _map(value: Any) -> dict[str, Any]:
    return {str(k): v for k, v in value.items()} if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _names(value: Any) -> list[str] | None:
    """A list of names, or None when it is not one (the schema reports that)."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def unknown(loc: Loc, what: str, name: Any, known: Iterable[str]) -> tuple[Loc, str]:
    """A reference to nothing, with the nearest known name as a hint."""
    names = sorted(known)
    hint = difflib.get_close_matches(str(name), names, n=1)
    tip = f"; did you mean {hint[0]!r}?" if hint else f" (known: {', '.join(names) or 'none'})"
    return loc, f"unknown {what} {name!r}{tip}"


@dataclass
class Index:
    """The names a scenario declares, read from its raw mapping."""

    agents: dict[str, dict[str, Any]]
    individuals: dict[str, dict[str, Any]] = field(default_factory=dict)
    populations: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: set[str] = field(default_factory=set)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    signals: dict[str, Any] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tick: float | None = 1.0

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Index:
        """Index a scenario's raw mapping."""
        agents = {k: _map(v) for k, v in _map(data.get("agents")).items()}
        ix = cls(agents=agents)
        for aid, a in agents.items():
            kind = a.get("kind")
            if kind == "individual":
                ix.individuals[aid] = a
            elif kind == "population":
                ix.populations[aid] = a
            elif kind == "source":
                ix.sources.add(aid)
            elif kind == "group":
                ix.groups[aid] = a
        ix.signals = _map(data.get("signals"))
        ix.events = {k: _map(v) for k, v in _map(data.get("events")).items()}
        ix.flags = set(_map(data.get("flags")))
        ix.decisions = {k: _map(v) for k, v in _map(data.get("decisions")).items()}
        ix.outcomes = {k: _map(v) for k, v in _map(data.get("outcomes")).items()}
        tick = _map(data.get("clock")).get("tick", 1.0)
        ok = _number(tick) and tick > 0
        ix.tick = float(tick) if ok else None
        return ix

    def broken(self, name: Any) -> bool:
        """Whether ``name`` is an agent whose kind the schema refuses (not checked here)."""
        return (
            isinstance(name, str)
            and name in self.agents
            and (self.agents[name].get("kind") not in _AGENT_KINDS)
        )

    def positions(self, agent: Mapping[str, Any]) -> list[str] | None:
        """An agent's declared positions, or None when they cannot be read."""
        return _names(agent.get("positions"))

    def group_positions(self, group: Mapping[str, Any]) -> list[str] | None:
        """Positions any member of a group can hold (None when a member's cannot be read)."""
        out: set[str] = set()
        for m in _names(group.get("members")) or []:
            if m not in self.individuals:
                continue
            own = self.positions(self.individuals[m])
            if own is None:
                return None
            out.update(own)
        return sorted(out)

    def segments(self, population: str) -> dict[str, dict[str, Any]]:
        """A population's segments by name (empty when it has none)."""
        return {k: _map(v) for k, v in _map(self.populations[population].get("segments")).items()}

    def addressable(self) -> dict[str, dict[str, Any]]:
        """Populations and their segments (``pop.segment``), each with its population's mapping."""
        out = dict(self.populations)
        for pid, p in self.populations.items():
            out.update({f"{pid}.{name}": p for name in self.segments(pid)})
        return out

    def averaging(self) -> list[str]:
        """Individuals with an averaging or bounded-confidence rule (they have an opinion)."""
        return [
            k
            for k, a in self.individuals.items()
            if any(_map(r).get("kind") in OPINION_KINDS for r in _list(a.get("rules")))
        ]


def unknown_segment(loc: Loc, population: str, name: Any, known: Iterable[str]) -> tuple[Loc, str]:
    """A segment its population does not have, with the nearest one as a hint."""
    where, message = unknown(loc, "segment", name, known)
    return where, message.replace(f"{name!r}", f"{name!r} of {population!r}", 1)


def _position(loc: Loc, known: list[str] | None, pos: Any) -> Found:
    if known is not None and isinstance(pos, str) and pos not in known:
        yield unknown(loc, "position", pos, known)


def _signal(ix: Index, loc: Loc, name: Any) -> Found:
    if isinstance(name, str) and name not in ix.signals:
        yield unknown(loc, "signal", name, ix.signals)


def _multiple(loc: Loc, every: Any, tick: float | None) -> Found:
    if tick is None or not _number(every) or every <= 0:
        return  # the schema reports a bad number
    k = every / tick
    if not math.isfinite(k):
        return
    if abs(k - round(k)) > 1e-9 or round(k) < 1:
        what = "shorter than one tick" if round(k) < 1 else "not a whole number of ticks"
        yield loc, f"every {float(every)} is {what} of {tick}"


# ------------------------------------------------------------------ checkers
def reserved_names(ix: Index) -> Found:
    """Signals named like agents; an outcome named like "no outcome"."""
    for name in sorted(set(ix.signals) & set(ix.agents)):
        yield ("signals", name), f"signal {name!r} has the same name as an agent"
    if UNRESOLVED in ix.outcomes:
        yield ("outcomes", UNRESOLVED), f"{UNRESOLVED!r} is reserved for no outcome"


def group_members(ix: Index) -> Found:
    """Members of groups are individuals, each listed once."""
    for gid, g in ix.groups.items():
        members = _names(g.get("members"))
        if members is None:
            continue
        for i, m in enumerate(members):
            if m not in ix.individuals and not ix.broken(m):
                yield unknown(("agents", gid, "members", i), "individual", m, ix.individuals)
        if len(set(members)) != len(members):
            yield ("agents", gid, "members"), "a member is listed twice"


def _rule(ix: Index, loc: Loc, agent: Mapping[str, Any], rule: Any, individual: bool) -> Found:
    rule = _map(rule)
    if rule.get("kind") == "fixed" or not rule:
        return
    positions = ix.positions(agent)
    to, src = rule.get("to"), rule.get("from")
    yield from _position((*loc, "to"), positions, to)
    yield from _position((*loc, "from"), positions, src)
    start = src if src is not None else agent.get("initial")
    if isinstance(to, str) and start == to:
        yield (*loc, "to"), f"rule switches from {start!r} to itself"
    for name in ("support", "pressure"):
        yield from _signal(ix, (*loc, name), rule.get(name))
    if rule.get("kind") == "averaging":
        for key in _map(rule.get("weights")):
            if key not in ix.individuals and key not in ix.signals and not ix.broken(key):
                known = [*ix.individuals, *ix.signals]
                yield unknown((*loc, "weights", key), "individual or signal", key, known)
    if individual and isinstance(rule.get("threshold"), list):
        yield (*loc, "threshold"), "a list of thresholds is for populations only"
    yield from _per_person(loc, rule, individual)


def rules(ix: Index) -> Found:
    """Positions and signals that rules name; rule ids are unique within their agent.

    A population's rule starts from its initial position.
    """
    for aid, a in ix.individuals.items():
        seen: dict[str, int] = {}
        for i, rule in enumerate(_list(a.get("rules"))):
            yield from _rule(ix, ("agents", aid, "rules", i), a, rule, individual=True)
            rid = _map(rule).get("id")
            if isinstance(rid, str) and rid in seen:
                yield (
                    ("agents", aid, "rules", i, "id"),
                    f"rule id {rid!r} is already used by rule {seen[rid]} of {aid!r}",
                )
            elif isinstance(rid, str):
                seen[rid] = i
    for aid, a in ix.populations.items():
        yield from _population_rules(ix, ("agents", aid), a, a)
        yield from _segment_sizes(ix, aid, a)
        for name, seg in ix.segments(aid).items():
            yield from _segment(ix, ("agents", aid, "segments", name), a, seg)
        yield from _hears(ix, aid, a)


def _rule_list(raw: Mapping[str, Any]) -> list[tuple[str | int, Any]]:
    """``(field, rule)`` pairs of an agent's ``rule`` or ``rules`` (field: "rule" or an index)."""
    if raw.get("rules") is not None:
        return [(i, r) for i, r in enumerate(_list(raw.get("rules")))]
    return [("rule", raw["rule"])] if raw.get("rule") is not None else []


def _population_rules(
    ix: Index, loc: Loc, population: Mapping[str, Any], holder: Mapping[str, Any]
) -> Found:
    """The rules a population (or one of its segments, ``holder``) gives.

    A single ``rule`` starts from the population's initial position; in a list
    each rule may start from any position, as an individual's.
    """
    seen: dict[str, int] = {}
    for key, rule in _rule_list(holder):
        at = (*loc, "rule") if key == "rule" else (*loc, "rules", key)
        yield from _rule(ix, at, population, rule, individual=False)
        rule = _map(rule)
        src, initial = rule.get("from"), population.get("initial")
        if key == "rule" and src is not None and isinstance(initial, str) and src != initial:
            yield (
                (*at, "from"),
                f"a population's rule starts from its initial position {initial!r}",
            )
        rid = rule.get("id")
        if isinstance(rid, str) and rid in seen:
            yield (*at, "id"), f"rule id {rid!r} is already used by rule {seen[rid]}"
        elif isinstance(rid, str) and isinstance(key, int):
            seen[rid] = key


def _per_person(loc: Loc, rule: Mapping[str, Any], individual: bool) -> Found:
    """``per_person`` is for populations, and names parameters the rule kind has."""
    names = rule.get("per_person")
    if names is None:
        return
    if individual:
        yield (
            (*loc, "per_person"),
            "per_person is for a population's rules: an individual has one value of each "
            "parameter per replicate",
        )
        return
    have = PERSON_PARAMS.get(str(rule.get("kind")))
    if have is None:
        return  # the schema reports the kind
    for i, name in enumerate(_list(names)):
        if isinstance(name, str) and name not in have:
            yield (
                (*loc, "per_person", i),
                f"a {rule.get('kind')} rule has no parameter {name!r} to draw per person "
                f"(it has {', '.join(have)})",
            )


def _segment(ix: Index, loc: Loc, population: Mapping[str, Any], seg: Mapping[str, Any]) -> Found:
    """A segment's initial position, rules and parameters it sets for them."""
    yield from _position((*loc, "initial"), ix.positions(population), seg.get("initial"))
    if seg.get("rule") is not None or seg.get("rules") is not None:
        yield from _population_rules(ix, loc, population, seg)
        rules = [_map(r) for _, r in _rule_list(seg)]
    else:
        rules = [_map(r) for _, r in _rule_list(population)]
    kinds = [r.get("kind") for r in rules]
    for name in ("threshold", "resistance", "rate", "slope", "spontaneous", "offset"):
        value = seg.get(name)
        if value is None or not all(isinstance(k, str) and k in RULE_PARAMS for k in kinds):
            continue
        if not any(name in RULE_PARAMS[str(k)] for k in kinds):
            yield (*loc, name), f"no rule of this segment has a parameter {name!r}"
            continue
        for k in kinds:
            bounds = PARAM_RANGES.get((_RULE_CLASS.get(str(k), ""), name))
            if bounds is not None and _number(value) and not bounds[0] <= value <= bounds[1]:
                span = f"[{bounds[0]:g}, {bounds[1]:g}]".replace("inf", "∞")
                yield (*loc, name), f"{name} of a {k} rule must lie in {span}, got {float(value)}"


def _segment_sizes(ix: Index, aid: str, a: Mapping[str, Any]) -> Found:
    """A size given beside segments is their sum."""
    raw = [g.get("size") for g in ix.segments(aid).values()]
    sizes = [float(n) for n in raw if _number(n)]
    size = a.get("size")
    if sizes and len(sizes) == len(raw) and _number(size) and sum(sizes) != size:
        yield (
            ("agents", aid, "size"),
            f"size {size} is not the sum of its segments' sizes {sum(sizes):g} "
            "(leave it out to take their sum)",
        )


def _hears(ix: Index, aid: str, a: Mapping[str, Any]) -> Found:
    """``hears`` names segments, one row for each, with weights >= 0 summing to 1."""
    hears = a.get("hears")
    if hears is None:
        return
    loc: Loc = ("agents", aid, "hears")
    segments = ix.segments(aid)
    if not segments:
        yield loc, "hears needs segments: it says how much each segment hears each other"
        return
    rows = _map(hears)
    for listener, row in rows.items():
        if listener not in segments:
            yield unknown_segment((*loc, listener), aid, listener, segments)
            continue
        weights = _map(row)
        for heard, w in weights.items():
            if heard not in segments:
                yield unknown_segment((*loc, listener, heard), aid, heard, segments)
            elif _number(w) and w < 0:
                yield (*loc, listener, heard), f"a weight must be >= 0, got {float(w)}"
        values = list(weights.values())
        if values and all(_number(w) for w in values) and abs(sum(values) - 1.0) > 1e-9:
            yield (
                (*loc, listener),
                f"the weights of what {listener!r} hears must sum to 1, they sum to "
                f"{sum(values):g}",
            )
    for name in segments:
        if name not in rows:
            yield loc, f"hears has no row for segment {name!r} (every segment needs one)"


def _term(ix: Index, loc: Loc, term: Mapping[str, Any]) -> Found:
    if "fraction" in term:
        name = term["fraction"]
        if not isinstance(name, str):
            return
        addressable = ix.addressable()
        if name in addressable:
            known = ix.positions(addressable[name])
            yield from _position((*loc, "position"), known, term.get("position"))
        elif "." in name and name.split(".", 1)[0] in ix.populations:
            pid, seg = name.split(".", 1)
            yield unknown_segment((*loc, "fraction"), pid, seg, ix.segments(pid))
        elif name in ix.groups:
            known = ix.group_positions(ix.groups[name])
            yield from _position((*loc, "position"), known, term.get("position"))
        elif not ix.broken(name):
            known = [*ix.populations, *ix.groups]
            yield unknown((*loc, "fraction"), "population or group", name, known)
    elif "count" in term:
        yield from _count(ix, loc, term)
    elif "agent" in term:
        yield from _agent_position(ix, loc, term)
    elif "opinion" in term:
        averaging = ix.averaging()
        name = term["opinion"]
        if isinstance(name, str) and name not in averaging and not ix.broken(name):
            yield unknown((*loc, "opinion"), "averaging individual", name, averaging)
    elif "flag" in term:
        flags = ix.flags | set(ix.events)
        if isinstance(term["flag"], str) and term["flag"] not in flags:
            yield unknown((*loc, "flag"), "flag or event", term["flag"], flags)
    elif "curve" in term:
        name = term["curve"]
        if isinstance(name, str) and name not in ix.sources and not ix.broken(name):
            yield unknown((*loc, "curve"), "source", name, ix.sources)
    elif "signal" in term:
        yield from _signal(ix, (*loc, "signal"), term["signal"])


def _count(ix: Index, loc: Loc, item: Mapping[str, Any]) -> Found:
    """``{count: GROUP, position: P}``: a group, and a position its members can hold."""
    name = item["count"]
    if not isinstance(name, str):
        return
    if name in ix.groups:
        known = ix.group_positions(ix.groups[name])
        yield from _position((*loc, "position"), known, item.get("position"))
    elif name in ix.populations:
        yield (
            (*loc, "count"),
            f"{name!r} is a population: count is for a group's members; "
            f"use {{fraction: {name}, position: ...}} for a population",
        )
    elif not ix.broken(name):
        yield unknown((*loc, "count"), "group", name, ix.groups)


def _agent_position(ix: Index, loc: Loc, item: Mapping[str, Any]) -> Found:
    """``{agent: X, position: P}`` (P may be a list): an individual and its positions."""
    name = item["agent"]
    if not isinstance(name, str):
        return
    if name in ix.individuals:
        known = ix.positions(ix.individuals[name])
        wanted = item.get("position")
        if isinstance(wanted, list):
            for i, p in enumerate(wanted):
                yield from _position((*loc, "position", i), known, p)
        else:
            yield from _position((*loc, "position"), known, wanted)
    elif name in ix.populations or name in ix.groups:
        yield (
            (*loc, "agent"),
            f"{name!r} is not an individual; use {{fraction: {name}, position: ...}}"
            + (" or {count: ...}" if name in ix.groups else ""),
        )
    elif not ix.broken(name):
        yield unknown((*loc, "agent"), "individual", name, ix.individuals)


def condition(ix: Index, loc: Loc, raw: Any) -> Found:
    """What a condition names exists; ``all:`` and ``any:`` hold at least one condition."""
    cond = _map(raw)
    for key in ("all", "any"):
        if key in cond:
            items = cond[key]
            if isinstance(items, list) and not items:
                yield (*loc, key), f"{key}: needs at least one condition"
            for i, item in enumerate(_list(items)):
                yield from condition(ix, (*loc, key, i), item)
            return
    if "not" in cond:
        yield from condition(ix, (*loc, "not"), cond["not"])
    elif "signal" in cond:
        yield from _signal(ix, (*loc, "signal"), cond["signal"])
    elif "count" in cond:
        yield from _count(ix, loc, cond)
    elif "agent" in cond:
        yield from _agent_position(ix, loc, cond)


def signal_terms(ix: Index) -> Found:
    """What each term of a signal names exists, with the position it names."""
    for sid, terms in ix.signals.items():
        for i, t in enumerate(_list(terms)):
            yield from _term(ix, ("signals", sid, i), _map(t))


def signal_chain(ix: Index) -> Found:
    """Signals referring to signals form no cycle and no chain too long to evaluate."""
    yield from signal_chains(ix.signals)


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


def _number(value: Any) -> TypeGuard[float]:
    """A finite number (the schema reports anything else)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


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


def networks(ix: Index) -> Found:
    """A population's network fits its size, and its rule's signal reads the population."""
    for aid, a in ix.populations.items():
        yield from network_problems(aid, a, ix.signals)


CHECKERS: tuple[Callable[[Index], Found], ...] = (
    reserved_names,
    group_members,
    rules,
    signal_terms,
    signal_chain,
    event_triggers,
    event_effects,
    decisions,
    outcomes,
    networks,
    opinion_rules,
)


def check_references(data: Mapping[str, Any] | Any) -> list[tuple[Loc, str]]:
    """Every reference to something that does not exist, as ``(field path, message)`` pairs.

    Parameters
    ----------
    data : mapping or Scenario
        A scenario's raw mapping (as read from YAML), or a validated scenario.
    """
    if not isinstance(data, Mapping):
        data = data.canonical()
    ix = Index.of(data)
    found = [problem for checker in CHECKERS for problem in checker(ix)]
    return found + list(correlation_problems(data))
