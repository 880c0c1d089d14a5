"""What every reference checker shares: the scenario's index, name lookups, terms and conditions.

The checkers themselves are in :mod:`sim.scenario.references` (agents, rules,
signals, networks) and :mod:`sim.scenario.references_events` (events, decisions,
outcomes); this module is what both read.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from sim.scenario.references_opinions import OPINION_KINDS
from sim.scenario.schema_rules import (
    AveragingRule,
    BoundedConfidenceRule,
    FixedRule,
    HazardRule,
    LogisticRule,
    ScheduledRule,
    ThresholdRule,
)

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


def _rule_list(raw: Mapping[str, Any]) -> list[tuple[str | int, Any]]:
    """``(field, rule)`` pairs of an agent's ``rule`` or ``rules`` (field: "rule" or an index)."""
    if raw.get("rules") is not None:
        return [(i, r) for i, r in enumerate(_list(raw.get("rules")))]
    return [("rule", raw["rule"])] if raw.get("rule") is not None else []


def _number(value: Any) -> TypeGuard[float]:
    """A finite number (the schema reports anything else)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
