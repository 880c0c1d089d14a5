"""Compiling signal terms and conditions into :mod:`sim.ops` (part of :mod:`sim.plan`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from sim import ops as O
from sim import rules as R
from sim import scenario as S
from sim.plan_specs import Listener, Plan

Array = np.ndarray[Any, Any]


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


def _mentions(sc: S.Scenario, signal: str, population: str) -> bool:
    """Whether a signal (or one it refers to) holds the share of ``population`` as a whole."""
    for t in sc.signals[signal]:
        if isinstance(t, S.FractionTerm) and t.fraction == population:
            return True
        if isinstance(t, S.SignalTerm) and _mentions(sc, t.signal, population):
            return True
    return False
