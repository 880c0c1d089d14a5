"""Times still to come, drawn anew after resampling (sim.refresh): law, engine and filter."""

from __future__ import annotations

import numpy as np
from conftest import observations as obs
from scipy import stats

import sim
from sim import refresh as RF
from sim.engine import Block
from sim.nowcast import nowcast
from sim.plan import compile_plan
from sim.seeds import nowcast_particles_rng

Z = 3.29  # two-sided 99.9%
HORIZON = 100


def scenario(hire: object = None) -> sim.Scenario:
    """An uncertain hire, an uncertain scheduled switch, a patience that runs out."""
    return sim.scenario_from_dict(
        {
            "kind": "scenario",
            "name": "times",
            "clock": {"horizon": HORIZON},
            "agents": {
                "m": {
                    "kind": "individual",
                    "positions": ["no", "yes"],
                    "initial": "no",
                    "rules": [
                        {
                            "id": "turn",
                            "kind": "scheduled",
                            "to": "yes",
                            "at": {"uniform": [10, 90]},
                            "probability": 0.5,
                        }
                    ],
                },
                "a": {
                    "kind": "individual",
                    "positions": ["away"],
                    "initial": "away",
                    "patience": {"normal": [80, 30], "clip": [20, 95]},
                },
            },
            "events": {
                "hire": {
                    "trigger": hire
                    or {"kind": "at", "time": {"uniform": [0, 100]}, "probability": 0.6}
                }
            },
            "outcomes": {
                "hired": {"trigger": {"kind": "event", "event": "hire"}},
                "gone": {"trigger": {"kind": "deadline", "patience": "a"}},
            },
        }
    )


def test_the_times_it_moves() -> None:
    labels = [t.label for t in RF.times(compile_plan(scenario()))]
    assert labels == ["events.hire.at", "agents.m.rules.turn.at", "agents.a.patience"]
    # a constant time that surely comes has nothing to move
    fixed = scenario({"kind": "at", "time": 30})
    assert "events.hire.at" not in [t.label for t in RF.times(compile_plan(fixed))]


def test_refreshed_times_follow_the_prior_given_not_yet_and_the_engine_keeps_them() -> None:
    """Copies of one particle at tick 40 get times from the conditional law; all of them happen."""
    plan = compile_plan(scenario())
    n, k = 20_000, 40
    block = Block(plan, nowcast_particles_rng(3), n, retimable=True)
    for _ in range(k):
        block.step()
    s = block.state
    hire, turn, patience = RF.times(plan)
    alive = np.flatnonzero(
        s.active & (s.due[hire.due] > k) & (s.due[turn.due] > k) & (s.due[patience.due] > k)
    )
    # one particle whose hire and turn come late (or never): copies would wait for it
    late = alive[(s.due[hire.due][alive] > 90) & (s.due[turn.due][alive] > 85)]
    block.take(np.full(n, late[0]))
    drawn = RF.refresh(block, RF.times(plan), np.random.default_rng(9))
    assert drawn == 3 * n
    hours = np.where(s.due[hire.due] < 10**6, s.due[hire.due], np.inf)
    # hire: comes with p S / (p S + 1 - p), then uniform on (40, 100]
    p, surv = 0.6, 0.6
    comes = p * surv / (p * surv + 1 - p)
    frac = np.isfinite(hours).mean()
    assert abs(frac - comes) < Z * np.sqrt(comes * (1 - comes) / n)
    came = hours[np.isfinite(hours)]
    assert came.min() == 41 and came.max() == 100
    # whole ticks: P(tick <= j) = (j - 40) / 60 exactly for j = 41..100
    ecdf = np.searchsorted(np.sort(came), np.arange(41, 101), side="right") / came.size
    assert np.abs(ecdf - (np.arange(41, 101) - 40) / 60).max() < 1.63 / np.sqrt(came.size)
    # scheduled turn: comes with 0.5 * 0.625 / (0.5 * 0.625 + 0.5); hours uniform on (40, 90]
    at = s.param[turn.hours]
    comes = 0.5 * 0.625 / (0.5 * 0.625 + 0.5)
    assert abs((at < 1e6).mean() - comes) < Z * np.sqrt(comes * (1 - comes) / n)
    assert stats.kstest(at[at < 1e6], stats.uniform(40, 50).cdf).pvalue > 0.001
    # patience: the clipped normal above 40, with its atom at 95 kept
    pat = s.due[patience.due]
    law = stats.norm(80, 30)
    atom = law.sf(95) / law.sf(40)
    assert abs((pat == 95).mean() - atom) < Z * np.sqrt(atom * (1 - atom) / n)
    assert pat.min() == 41
    due_hire, due_turn, due_pat = s.due[hire.due].copy(), s.due[turn.due].copy(), pat.copy()
    block.run()
    # the engine acts at the new times, also those before the one it waited for
    ends = np.minimum(due_hire, due_pat)
    hired = due_hire <= due_pat  # the hire is declared first: it wins a tie
    np.testing.assert_array_equal(s.end_time, ends.astype(float))
    np.testing.assert_array_equal(s.outcome, np.where(hired, 0, 1))
    switched = due_turn <= ends  # phase 1 comes before the outcomes (phase 5)
    np.testing.assert_array_equal(np.isfinite(s.switch_time[:, 0]), switched)
    np.testing.assert_array_equal(s.switch_time[switched, 0], due_turn[switched].astype(float))


def test_a_nowcast_with_refreshed_times_matches_the_closed_form() -> None:
    """Not hired by 60 h and the patience not run out: P(hired) in closed form, with or without."""
    sc = scenario()
    seen = obs({"kind": "not_before", "event": "hire", "at": [60, 60]})
    # P(hired | no hire and still running at 60): hire at H ~ p U(0, 100), patience D a
    # clipped normal; hired when H <= min(D, 100) (the hire wins a tie)
    law = stats.norm(80, 30)
    d = np.arange(61, 96)  # the patience's tick, given > 60: 61..95 (95 holds the atom)
    pd = np.diff(law.cdf(np.r_[60, d[:-1], np.inf]))  # P(tick(D) = d), 95 with the tail
    pd /= law.sf(60)
    p_come = 0.6 * 0.4 / (0.6 * 0.4 + 0.4)
    exact = p_come * float(pd @ ((d - 60) / 40))
    for rejuvenate in (True, False):
        n = nowcast(sc, seen, at=60, particles=20_000, seed=4, rejuvenate=rejuvenate)
        assert n.resamples >= 1
        se = np.sqrt(exact * (1 - exact) / n.ess_min)
        assert abs(n.probabilities["hired"] - exact) < Z * se, (rejuvenate, n.probabilities)
        if rejuvenate:
            assert n.moves.accepted["events.hire.at"] > 0


def test_a_time_deep_in_its_tail_is_drawn_finite_and_after_now() -> None:
    """P(T > h0) of 1e-23: the quantile rounds to infinity; the time goes past every horizon."""
    unbounded = RF.Law(sim.distributions.Normal(normal=(10.0, 1.0)), None)
    assert unbounded.survival(20.0) < 1e-20
    assert np.isinf(unbounded.above(20.0, np.random.default_rng(1).random(1000))).any()
    time = {"normal": [10, 1], "clip": [0, 50]}
    plan = compile_plan(scenario({"kind": "at", "time": time, "probability": 0.5}))
    block = Block(plan, nowcast_particles_rng(1), 64, retimable=True)
    for _ in range(20):
        block.step()
    hire = RF.times(plan)[0]
    assert hire.label == "events.hire.at"
    active = block.state.active.copy()
    assert (block.state.due[hire.due][active] > 20).sum() > 10  # never came: drawn anew
    RF.refresh(block, [RF.Time(hire.label, unbounded, hire.due)], np.random.default_rng(2))
    due = block.state.due[hire.due][active & (block.state.fired_tick[0] == -1)]
    never = RF.ticks_of(np.array([RF.NEVER_HOURS]), 1.0)[0]
    assert due.size > 10 and (due == never).all()
    block.run()
    assert (block.state.fired_tick[0][active] <= 20).all()  # none fires after now


def test_a_random_deadline_is_named_by_its_outcome() -> None:
    data = scenario().canonical()
    data["outcomes"]["gone"] = {"trigger": {"kind": "deadline", "at": {"uniform": [50, 90]}}}
    labels = [t.label for t in RF.times(compile_plan(sim.scenario_from_dict(data)))]
    assert labels == ["events.hire.at", "agents.m.rules.turn.at", "outcomes.gone.deadline"]
