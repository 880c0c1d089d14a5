"""References between the objects of a scenario, checked on the raw mapping.

Each checker does one job and yields ``(field path, message)`` pairs. They read
the data as it came from the file, not the validated models, so they run even
when other fields fail the schema and every problem is reported in one pass.
A part too broken to read (positions that are not a list, an agent of an
unknown kind) is skipped here: the schema already reports it, and guessing
would only add errors that are not the user's.

:func:`check_references` runs them all; it is called by the loader through
``Scenario``'s wrap validator, so ``Scenario.model_validate`` runs it too.
The checkers of agents, rules, signals and networks are here; those of
events, decisions and outcomes in :mod:`sim.scenario.references_events`; what
both read (the scenario's :class:`Index`, terms, conditions) in
:mod:`sim.scenario.references_base`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sim.scenario.base import PARAM_RANGES, UNRESOLVED
from sim.scenario.references_base import (
    _RULE_CLASS,
    _list,
    _map,
    _names,
    _number,
    _position,
    _rule_list,
    _signal,
    _term,
)
from sim.scenario.references_base import (
    RULE_PARAMS as RULE_PARAMS,
)
from sim.scenario.references_base import (
    Found as Found,
)
from sim.scenario.references_base import (
    Index as Index,
)
from sim.scenario.references_base import (
    Loc as Loc,
)
from sim.scenario.references_base import (
    condition as condition,
)
from sim.scenario.references_base import (
    unknown as unknown,
)
from sim.scenario.references_base import (
    unknown_segment as unknown_segment,
)
from sim.scenario.references_events import decisions, event_effects, event_triggers, outcomes
from sim.scenario.references_opinions import opinion_rules
from sim.scenario.schema_correlations import correlation_problems
from sim.scenario.schema_networks import network_problems
from sim.scenario.schema_rules import (
    PERSON_PARAMS,
)
from sim.scenario.signal_graph import signal_chains


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


def signal_terms(ix: Index) -> Found:
    """What each term of a signal names exists, with the position it names."""
    for sid, terms in ix.signals.items():
        for i, t in enumerate(_list(terms)):
            yield from _term(ix, ("signals", sid, i), _map(t))


def signal_chain(ix: Index) -> Found:
    """Signals referring to signals form no cycle and no chain too long to evaluate."""
    yield from signal_chains(ix.signals)


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
