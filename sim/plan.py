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
events' times and the deadlines, and last the random sizes of the events'
effects, in event and effect order. That order is part of the reproducibility
contract.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np

from sim import ops as O
from sim import scenario as S
from sim import votes as V
from sim.distributions import is_random

# the plan's data and the compilers of populations and terms live beside this
# module (each under 500 lines); sim.plan stays the one entry point and re-exports them
from sim.plan_opinions import _OPINION_PARAMS, confidence_ops
from sim.plan_populations import _networks, _population
from sim.plan_populations import a_id as a_id
from sim.plan_specs import _CURVE_FIELDS, _PARAM_NAMES, Copula
from sim.plan_specs import Draw as Draw
from sim.plan_specs import Listener as Listener
from sim.plan_specs import NetworkSpec as NetworkSpec
from sim.plan_specs import PersonRule as PersonRule
from sim.plan_specs import Plan as Plan
from sim.plan_specs import PopulationSpec as PopulationSpec
from sim.plan_specs import first_tick as first_tick
from sim.plan_specs import tick_range as tick_range
from sim.plan_specs import ticks_of as ticks_of
from sim.plan_terms import _condition, _heard, _term, _with_col
from sim.scenario.schema_correlations import factor, resolve
from sim.scenario.schema_rules import BoundedConfidenceRule

Array = np.ndarray[Any, Any]


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
    _correlations(plan, sc)
    # random effect sizes draw after everything else (a file without any draws as before)
    plan.draws += plan.late_draws
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
                for name in (*_PARAM_NAMES, *_OPINION_PARAMS):
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


def _correlations(plan: Plan, sc: S.Scenario) -> None:
    """Tie the draws of correlated parameters to their entry's copula.

    Each such draw stays where it is in :attr:`Plan.draws` (and still draws
    there, so that the other draws do not move); only its values then come
    from the copula. A file without ``correlations`` compiles as before.
    """
    agents = sc.canonical()["agents"] if sc.correlations else {}
    for c, entry in enumerate(sc.correlations.values()):
        copula = Copula(c, factor(entry.matrix()))
        for column, path in enumerate(entry.parameters):
            target = resolve(path, agents)
            assert not isinstance(target, str)  # validation resolved every path
            if target.rule < 0:
                kind, slot = "tick", plan.patience_slot[target.agent]
            else:
                kind, slot = "param", plan.param_slot[(target.agent, target.rule, target.name)]
            i = next(i for i, d in enumerate(plan.draws) if d.kind == kind and d.slot == slot)
            plan.draws[i] = replace(plan.draws[i], copula=copula, column=column)


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
            if isinstance(rule, S.AveragingRule | BoundedConfidenceRule):
                if isinstance(rule, S.AveragingRule):
                    averaging.append((aid, rule, slot["stubbornness"]))
                plan.opinion_slots.append(slot["opinion"])
                plan.opinion_col[aid] = len(plan.opinion_slots) - 1
                cut = plan.param_slot[(aid, j, "cutoff")]
                plan.rules.append(
                    O.AveragingStep(**base, col=-1, cutoff=rule.cutoff, cutoff_slot=cut)
                )
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
        changed = plan.weight_slots.get(aid, ())
        op = O.AveragingOp(plan.opinion_col[aid], stubborn, heard, weights, changed)
        plan.averaging.append(op)
    plan.confidence = confidence_ops(plan, sc)


def _size(plan: Plan, amount: Any) -> tuple[float, int]:
    """An effect's size: a number, or a per-replicate draw (its slot) made after all others.

    A random size takes a ``param`` slot at once but joins :attr:`Plan.draws`
    only at the end of :func:`compile_plan` (:attr:`Plan.late_draws`), so that
    every other draw keeps its place in the block's stream.
    """
    if not is_random(amount):
        return float(amount), -1
    slot = plan.slot("param")
    plan.late_draws.append(Draw("param", slot, amount))
    return 0.0, slot


def _effect(plan: Plan, sc: S.Scenario, eff: Any) -> O.Effect:
    if isinstance(eff, S.SetFlag):
        return O.SetFlagOp(plan.flag_names.index(eff.flag), eff.value)
    if isinstance(eff, S.AddOffset):
        add, slot = _size(plan, eff.add)
        op = param_op(plan, eff.agent, "offset", "add", add, ranges=True)
        return replace(op, amount_slot=slot)
    if isinstance(eff, S.ChangeParam) and eff.weight is not None:
        how, given = next(
            (k, getattr(eff, k)) for k in ("set", "add", "scale") if getattr(eff, k) is not None
        )
        amount, slot = _size(plan, given)
        slots, names = _weight_slots(plan, sc, eff.agent)
        label = f"{eff.agent}.weights.{eff.weight}"
        return O.WeightOp(slots, names.index(eff.weight), how, amount, label, slot)
    if isinstance(eff, S.ChangeParam):
        how, given = next(
            (k, getattr(eff, k)) for k in ("set", "add", "scale") if getattr(eff, k) is not None
        )
        amount, slot = _size(plan, given)
        person = person_ops(plan, eff.agent, eff.param, how, amount, eff.rule)
        if person and slot >= 0:  # validation reports it, located (see references)
            raise ValueError(f"a random effect size cannot change per-person values of {eff.agent}")
        op = param_op(plan, eff.agent, eff.param, how, amount, eff.rule, ranges=True)
        op = replace(op, amount_slot=slot)
        if not person:
            return op
        if not op.targets and len(person) == 1:
            return person[0]
        return O.EffectList((*person, op) if op.targets else tuple(person))
    if isinstance(eff, S.Force):
        return O.ForceOp(plan.ind_index[eff.agent], plan.position(eff.agent, eff.position))
    return O.TraceOp(eff.message)


def _weight_slots(plan: Plan, sc: S.Scenario, agent: str) -> tuple[tuple[int, ...], list[str]]:
    """An averaging individual's weights as per-replicate values an event can change.

    Made the first time an event changes one of them: constants, so they draw
    nothing and every stream stays as it was.
    """
    a = sc.agents[agent]
    assert isinstance(a, S.Individual)
    rule = next(r for r in a.rules if isinstance(r, S.AveragingRule))
    names = list(rule.weights)
    if agent not in plan.weight_slots:
        slots = []
        for name in names:
            slots.append(plan.slot("param"))
            plan.late_draws.append(Draw("param", slots[-1], float(rule.weights[name])))
        plan.weight_slots[agent] = tuple(slots)
    return plan.weight_slots[agent], names


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
