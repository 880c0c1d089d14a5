"""Populations with structure: several rules, per-person parameters, segments who hear each other.

Each construct is checked against a closed form or an exact identity:

- ``rules: [one rule]`` and a population of one segment give, seed for seed,
  the numbers of today's ``rule:`` population (same draws, same order);
- two competing constant hazards tried in order: per tick a person in
  ``from`` takes the first with p1 and the second with (1 - p1) p2;
- a rate drawn per person: the share switched is the mean over the rate's
  law, and replicates scatter only binomially (a per-replicate rate does not);
- two segments with a known hearing matrix: the expected share after one and
  two ticks in closed form.

Tolerances: 99.9% normal intervals (z = 3.29) with fixed seeds.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

import sim

Z = 3.29


def population(**fields: Any) -> dict[str, Any]:
    """A population agent (positions silent, signed, left by default)."""
    base: dict[str, Any] = {
        "kind": "population",
        "positions": ["silent", "signed", "left"],
        "initial": "silent",
    }
    return {**base, **fields}


def scenario(pop: dict[str, Any], signals: dict[str, Any], horizon: float = 10) -> sim.Scenario:
    """A scenario around one population ``staff`` that ends at the horizon."""
    return sim.scenario_from_dict(
        {
            "kind": "scenario",
            "name": "structure",
            "clock": {"tick": 1, "horizon": horizon},
            "agents": {
                "staff": pop,
                "boss": {"kind": "individual", "positions": ["stays"], "initial": "stays"},
            },
            "signals": signals,
            "outcomes": {"never": {"trigger": {"kind": "deadline", "at": 1e6}}},
        }
    )


CASCADE = {
    "support": [{"fraction": "staff", "position": "signed", "weight": 0.8}, {"constant": 0.1}]
}
#: today's kinds of population rule, each advanced by its own class
RULES = {
    "threshold": {
        "kind": "threshold",
        "to": "signed",
        "support": "support",
        "threshold": {"beta": [2, 3]},
        "spontaneous": 0.02,
    },
    "threshold_reversible": {
        "kind": "threshold",
        "to": "signed",
        "support": "support",
        "threshold": {"uniform": [0, 0.5]},
        "reversible": True,
    },
    "hazard_counts": {
        "kind": "hazard",
        "to": "signed",
        "pressure": "support",
        "resistance": 0.05,
        "rate": {"uniform": [0.1, 0.5]},
        "reversible": True,
    },
    "hazard_dense": {
        "kind": "logistic",
        "to": "signed",
        "pressure": "support",
        "resistance": {"normal": [0.3, 0.1], "clip": [0, 1]},
        "rate": 0.3,
        "slope": 8,
    },
}


def _arrays(res: sim.RunResult, columns: int = 1) -> dict[str, Any]:
    return {
        "outcome": res.outcome,
        "time": res.time,
        "half_time": res.half_time[:, :columns],
        "final_fraction": res.final_fraction[:, :columns],
    }


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


# ------------------------------------------------------------- the same numbers
@pytest.mark.parametrize("kind", sorted(RULES))
def test_a_list_of_one_rule_gives_todays_numbers(kind: str) -> None:
    one = scenario(population(size=300, rule=RULES[kind]), CASCADE, horizon=30)
    listed = scenario(population(size=300, rules=[RULES[kind]]), CASCADE, horizon=30)
    a = sim.run(one, 700, seed=7, record=True)
    b = sim.run(listed, 700, seed=7, record=True)
    _same(_arrays(a), _arrays(b))
    assert a.trajectories is not None and b.trajectories is not None
    np.testing.assert_array_equal(a.trajectories["staff.signed"], b.trajectories["staff.signed"])


@pytest.mark.parametrize("hears", [False, True])
@pytest.mark.parametrize("kind", sorted(RULES))
def test_one_segment_gives_todays_numbers(kind: str, hears: bool) -> None:
    today = scenario(population(size=300, rule=RULES[kind]), CASCADE, horizon=30)
    extra: dict[str, Any] = {"hears": {"all": {"all": 1.0}}} if hears else {}
    one = scenario(
        population(rule=RULES[kind], segments={"all": {"size": 300}}, **extra), CASCADE, 30
    )
    a = sim.run(today, 700, seed=11, record=True)
    b = sim.run(one, 700, seed=11, record=True)
    _same(_arrays(a), _arrays(b))
    # the segment is the whole: its columns repeat the population's
    np.testing.assert_array_equal(b.final_fraction[:, 0], b.final_fraction[:, 1])
    assert b.populations == ["staff", "staff.all"]
    assert a.trajectories is not None and b.trajectories is not None
    for pos in ("silent", "signed"):
        np.testing.assert_array_equal(
            a.trajectories[f"staff.{pos}"], b.trajectories[f"staff.{pos}"]
        )
        np.testing.assert_array_equal(
            b.trajectories[f"staff.{pos}"], b.trajectories[f"staff.all.{pos}"]
        )


def test_one_segment_keeps_an_events_change_of_per_person_values() -> None:
    pop = population(size=200, rule=RULES["hazard_dense"])
    change = {"kind": "change", "agent": "staff", "param": "resistance", "add": -0.2}
    events = {"shock": {"trigger": {"kind": "at", "time": 5}, "effects": [change]}}

    def with_events(p: dict[str, Any]) -> sim.Scenario:
        d = scenario(p, CASCADE, 20).canonical()
        d["events"] = events
        return sim.scenario_from_dict(d)

    seg = copy.deepcopy(pop)
    del seg["size"]
    seg["segments"] = {"all": {"size": 200}}
    a = sim.run(with_events(pop), 300, seed=2)
    b = sim.run(with_events(seg), 300, seed=2)
    _same(_arrays(a), _arrays(b))


def test_results_do_not_depend_on_the_batch() -> None:
    sc = structured()
    a = sim.run(sc, 1300, seed=5, batch_blocks=1, record=True)
    b = sim.run(sc, 1300, seed=5, record=True)
    _same(_arrays(a, 3), _arrays(b, 3))
    assert a.trajectories is not None and b.trajectories is not None
    for k in a.trajectories:
        np.testing.assert_array_equal(a.trajectories[k], b.trajectories[k], err_msg=k)


def structured() -> sim.Scenario:
    """Two segments, two rules, a per-person rate, a hearing matrix."""
    pop = population(
        rules=[
            {
                "id": "sign",
                "kind": "threshold",
                "to": "signed",
                "support": "support",
                "threshold": {"beta": [2, 4]},
                "spontaneous": 0.01,
            },
            {
                "id": "leave",
                "kind": "hazard",
                "to": "left",
                "pressure": "support",
                "resistance": 0.2,
                "rate": {"uniform": [0.0, 0.2]},
                "per_person": ["rate"],
            },
        ],
        segments={"aides": {"size": 40, "threshold": {"beta": [4, 2]}}, "junior": {"size": 90}},
        hears={"aides": {"aides": 0.7, "junior": 0.3}, "junior": {"junior": 0.5, "aides": 0.5}},
    )
    return scenario(pop, CASCADE, horizon=24)


# ---------------------------------------------------------------- closed forms
def test_two_competing_constant_hazards_follow_the_per_tick_formula() -> None:
    h1, h2, T, N, R = 0.05, 0.08, 6, 200, 400
    rules = [
        {"kind": "hazard", "to": "signed", "pressure": "one", "resistance": 0, "rate": h1},
        {"kind": "hazard", "to": "left", "pressure": "one", "resistance": 0, "rate": h2},
    ]
    sc = scenario(population(size=N, rules=rules), {"one": [{"constant": 1.0}]}, horizon=T)
    res = sim.run(sc, R, seed=3, record=True)
    assert res.trajectories is not None
    last = res.trajectories["t"] == T
    # tried in order: the first with p1, the second with (1 - p1) p2, each tick
    stay = (1 - h1) * (1 - h2)
    p_signed = h1 * (1 - stay**T) / (1 - stay)
    p_left = (1 - h1) * h2 * (1 - stay**T) / (1 - stay)
    for pos, p in (("signed", p_signed), ("left", p_left)):
        got = res.trajectories[f"staff.{pos}"][last].mean()
        # people are independent under a constant pressure: N R Bernoulli trials
        assert abs(got - p) < Z * np.sqrt(p * (1 - p) / (N * R)), pos


def test_a_rate_drawn_per_person_averages_over_people_not_replicates() -> None:
    T, N, R, hi = 10, 400, 300, 0.2
    rule = {"kind": "hazard", "to": "signed", "pressure": "one", "resistance": 0}
    per_person = dict(rule, rate={"uniform": [0, hi]}, per_person=["rate"])
    per_replicate = dict(rule, rate={"uniform": [0, hi]})
    signals = {"one": [{"constant": 1.0}]}
    a = sim.run(scenario(population(size=N, rule=per_person), signals, T), R, seed=4)
    b = sim.run(scenario(population(size=N, rule=per_replicate), signals, T), R, seed=4)
    # E[1 - (1 - r)^T] for r ~ U(0, hi)
    p = 1 - (1 - (1 - hi) ** (T + 1)) / (hi * (T + 1))
    got = a.final_fraction[:, 0]
    assert abs(got.mean() - p) < Z * np.sqrt(p * (1 - p) / (N * R))
    # per person, replicates scatter binomially; one rate per replicate scatters them widely
    binomial_sd = np.sqrt(p * (1 - p) / N)
    assert got.std() < 1.3 * binomial_sd
    assert b.final_fraction[:, 0].std() > 5 * binomial_sd


def two_segments(horizon: float, w_ab: float) -> sim.Scenario:
    """Segment a (silent) hears b (all signed at t = 0) with weight ``w_ab``."""
    rule = {"kind": "hazard", "to": "signed", "pressure": "heard", "resistance": 0, "rate": 0.4}
    pop = population(
        positions=["silent", "signed"],
        rule=rule,
        segments={"a": {"size": 50}, "b": {"size": 150, "initial": "signed"}},
        hears={"a": {"a": 1 - w_ab, "b": w_ab}, "b": {"b": 1.0}},
    )
    return scenario(pop, {"heard": [{"fraction": "staff", "position": "signed"}]}, horizon)


@pytest.mark.parametrize("w_ab", [0.25, 0.6])
def test_a_segment_hears_the_others_as_its_row_says(w_ab: float) -> None:
    h, n_a, R = 0.4, 50, 2000
    w_aa = 1 - w_ab
    p1 = h * w_ab  # tick 1: a hears none of a signed and all of b
    one = sim.run(two_segments(1, w_ab), R, seed=8)
    col = one.populations.index("staff.a")
    got = one.final_fraction[:, col]
    assert abs(got.mean() - p1) < Z * np.sqrt(p1 * (1 - p1) / (n_a * R))
    # tick 2: E[X + (1 - X) h (w_aa X + w_ab)] with X ~ Binomial(n_a, p1) / n_a
    ex, ex2 = p1, p1 * (1 - p1) / n_a + p1**2
    p2 = ex + h * (w_aa * (ex - ex2) + w_ab * (1 - ex))
    two = sim.run(two_segments(2, w_ab), R, seed=9)
    got2 = two.final_fraction[:, col]
    assert abs(got2.mean() - p2) < Z * got2.std() / np.sqrt(R)
    # the whole counts b as in its initial position: it switched nobody there
    whole = two.final_fraction[:, 0]
    np.testing.assert_allclose(whole, got2 * 50 / 200)


def test_without_hears_every_segment_hears_the_whole() -> None:
    sc = two_segments(1, 0.5).canonical()
    del sc["agents"]["staff"]["hears"]
    res = sim.run(sim.scenario_from_dict(sc), 2000, seed=8)
    p1 = 0.4 * 150 / 200
    got = res.final_fraction[:, res.populations.index("staff.a")]
    assert abs(got.mean() - p1) < Z * np.sqrt(p1 * (1 - p1) / (50 * 2000))


# ------------------------------------------------------------- addressing, events
def test_signals_read_a_segment_and_the_whole_is_the_sum() -> None:
    sc = structured().canonical()
    sc["signals"]["aides_signed"] = [{"fraction": "staff.aides", "position": "signed"}]
    res = sim.run(sim.scenario_from_dict(sc), 50, seed=1, record=True)
    tr = res.trajectories
    assert tr is not None
    np.testing.assert_array_equal(tr["aides_signed"], tr["staff.aides.signed"])
    for pos in ("silent", "signed", "left"):
        whole = (40 * tr[f"staff.aides.{pos}"] + 90 * tr[f"staff.junior.{pos}"]) / 130
        np.testing.assert_allclose(tr[f"staff.{pos}"], whole, atol=1e-12)
    assert set(res.summary()["agents"]) >= {"staff", "staff.aides", "staff.junior"}


def test_an_event_changes_one_segments_thresholds_only() -> None:
    rule = {"kind": "threshold", "to": "signed", "support": "zero", "threshold": 0.5}
    pop = population(
        positions=["silent", "signed"],
        rule=rule,
        segments={"a": {"size": 10}, "b": {"size": 30}},
    )
    d = scenario(pop, {"zero": [{"constant": 0.0}]}, 5).canonical()
    change = {"kind": "change", "agent": "staff.a", "param": "threshold", "set": 0.0}
    d["events"] = {"lower": {"trigger": {"kind": "at", "time": 2}, "effects": [change]}}
    res = sim.run(sim.scenario_from_dict(d), 20, seed=1)
    cols = {name: res.final_fraction[:, j] for j, name in enumerate(res.populations)}
    assert (cols["staff.a"] == 1.0).all() and (cols["staff.b"] == 0.0).all()
    assert (cols["staff"] == 0.25).all()


def test_an_event_changes_a_per_person_rate_of_one_rule() -> None:
    rules = [
        {
            "id": "sign",
            "kind": "hazard",
            "to": "signed",
            "pressure": "one",
            "resistance": 0,
            "rate": {"uniform": [0.1, 0.2]},
            "per_person": ["rate"],
        },
        {
            "id": "leave",
            "kind": "hazard",
            "to": "left",
            "pressure": "one",
            "resistance": 0,
            "rate": 0.0,
        },
    ]
    d = scenario(population(size=50, rules=rules), {"one": [{"constant": 1.0}]}, 3).canonical()
    stop = {"kind": "change", "agent": "staff", "rule": "sign", "param": "rate", "set": 0.0}
    go = {"kind": "change", "agent": "staff", "rule": "leave", "param": "rate", "set": 1.0}
    d["events"] = {"turn": {"trigger": {"kind": "at", "time": 1}, "effects": [stop, go]}}
    res = sim.run(sim.scenario_from_dict(d), 30, seed=1, record=True)
    tr = res.trajectories
    assert tr is not None
    at = {t: tr["t"] == t for t in (1, 2)}
    # the change acts before the populations at t = 1: nobody signs, everyone leaves
    assert (tr["staff.signed"][at[1]] == 0).all()
    assert (tr["staff.left"][at[1]] == 1).all()


def test_world_reads_a_segments_share() -> None:
    from sim.engine import simulate_block
    from sim.engine.world import World
    from sim.plan import compile_plan

    block = simulate_block(compile_plan(structured()), np.random.default_rng(1), 8)
    world = World(block.state, block.env)
    whole = world.fraction("staff", "signed")
    parts = 40 * world.fraction("staff.aides", "signed") + 90 * world.fraction(
        "staff.junior", "signed"
    )
    np.testing.assert_allclose(whole, parts / 130)
    with pytest.raises(ValueError, match="unknown segment 'x' of 'staff'"):
        world.fraction("staff.x", "signed")


@pytest.mark.parametrize("w_ab", [0.25, 0.6])
def test_threshold_segments_reach_the_thresholds_their_row_lets_them_hear(w_ab: float) -> None:
    n_a, R = 50, 2000
    w_aa = 1 - w_ab
    d = two_segments(1, w_ab).canonical()
    d["agents"]["staff"]["rule"] = {
        "kind": "threshold",
        "to": "signed",
        "support": "heard",
        "threshold": {"uniform": [0, 1]},
    }
    one = sim.run(sim.scenario_from_dict(d), R, seed=12)
    col = one.populations.index("staff.a")
    # tick 1: a hears w_ab; uniform thresholds below it
    got = one.final_fraction[:, col]
    assert abs(got.mean() - w_ab) < Z * np.sqrt(w_ab * (1 - w_ab) / (n_a * R))
    # tick 2: those left have thresholds uniform above w_ab; the support rose by w_aa X
    d["clock"]["horizon"] = 2
    two = sim.run(sim.scenario_from_dict(d), R, seed=13)
    ex, ex2 = w_ab, w_ab * (1 - w_ab) / n_a + w_ab**2
    p2 = ex + w_aa * (ex - ex2) / (1 - w_ab)
    got2 = two.final_fraction[:, col]
    assert abs(got2.mean() - p2) < Z * got2.std() / np.sqrt(R)
