"""References of bounded-confidence rules, checked on the raw mapping (see :mod:`.references`).

An individual holds one opinion (one ``averaging`` or ``bounded_confidence``
rule at most); its ``peers`` are individuals with a bounded-confidence rule of
the same model (named, or the members of a group). A population's
bounded-confidence rule is its only ``rule``: not in a list of rules, not in a
segment, not on a network (its persons hear each other, any pair may meet).

Each checker takes the :class:`sim.scenario.references.Index` of the scenario
(typed ``Any`` here, so that this module does not import the one calling it).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Any

Loc = tuple[str | int, ...]
Found = Iterator[tuple[Loc, str]]
KIND = "bounded_confidence"
OPINION_KINDS = ("averaging", KIND)


def _map(value: Any) -> dict[str, Any]:
    return {str(k): v for k, v in value.items()} if isinstance(value, Mapping) else {}


def _rules(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def model_of(individual: Mapping[str, Any]) -> str | None:
    """The model of an individual's bounded-confidence rule (None without one)."""
    for r in _rules(individual.get("rules")):
        if _map(r).get("kind") == KIND:
            model = _map(r).get("model")
            return model if isinstance(model, str) else None
    return None


def opinion_rules(ix: Any) -> Found:
    """One opinion per individual, peers that share the model, populations' rules alone."""
    for aid, a in ix.individuals.items():
        seen = None
        for i, raw in enumerate(_rules(a.get("rules"))):
            rule, loc = _map(raw), ("agents", aid, "rules", i)
            kind = rule.get("kind")
            if kind in OPINION_KINDS and seen is not None:
                yield (
                    (*loc, "kind"),
                    f"{aid!r} already holds an opinion by its rule {seen}: an individual has "
                    "one averaging or bounded_confidence rule at most",
                )
            if kind in OPINION_KINDS:
                seen = i if seen is None else seen
            if kind == KIND:
                yield from _peers(ix, (*loc, "peers"), rule)
    for aid, p in ix.populations.items():
        yield from _population(ix, aid, p)


def _peers(ix: Any, loc: Loc, rule: Mapping[str, Any]) -> Found:
    peers, model = rule.get("peers"), rule.get("model")
    same = [k for k, a in ix.individuals.items() if model_of(a) == model]
    names: list[tuple[Loc, Any]] = []
    if isinstance(peers, list):
        names = [((*loc, n), name) for n, name in enumerate(peers)]
    elif isinstance(peers, str) and peers in ix.groups:
        members = _rules(ix.groups[peers].get("members"))
        names = [(loc, name) for name in members if name in ix.individuals]
    elif isinstance(peers, str):
        names = [(loc, peers)]
    for where, name in names:
        if not isinstance(name, str) or name in same or ix.broken(name):
            continue
        if name in ix.individuals:
            yield (
                where,
                f"peer {name!r} has no bounded_confidence rule of model {model!r}: peers "
                f"hear each other's opinions (of that model: {', '.join(same) or 'none'})",
            )
        else:
            known = sorted([*same, *ix.groups])
            hint = difflib.get_close_matches(name, known, n=1)
            tip = f"; did you mean {hint[0]!r}?" if hint else f" (known: {', '.join(known)})"
            yield where, f"unknown individual or group {name!r}{tip}"


def _population(ix: Any, aid: str, p: Mapping[str, Any]) -> Found:
    loc: Loc = ("agents", aid)
    rule = _map(p.get("rule"))
    if rule.get("kind") == KIND:
        if rule.get("peers") is not None:
            yield (
                (*loc, "rule", "peers"),
                "peers is for individuals: a population hears itself (any two persons may meet)",
            )
        for name in ("segments", "network"):
            if p.get(name) is not None:
                yield (
                    (*loc, name),
                    f"a population with a bounded_confidence rule has no {name}: "
                    "its persons all hear each other",
                )
    for i, raw in enumerate(_rules(p.get("rules"))):
        if _map(raw).get("kind") == KIND:
            yield (
                (*loc, "rules", i, "kind"),
                "a bounded_confidence rule is a population's only rule: give it as `rule`",
            )
    for name, seg in _map(p.get("segments")).items():
        seg = _map(seg)
        inner = [("rule", seg.get("rule"))] + [
            (n, r) for n, r in enumerate(_rules(seg.get("rules")))
        ]
        for key, raw in inner:
            if _map(raw).get("kind") == KIND:
                where = (*loc, "segments", name, *(("rules", key) if key != "rule" else ("rule",)))
                yield (
                    (*where, "kind"),
                    "a bounded_confidence rule is a whole population's only rule, not a segment's",
                )
