"""Bounded-confidence rules: against plain per-agent loops and the published behaviour.

Independent implementations here are literal per-agent Python loops of
Deffuant et al. (2000) and Hegselmann & Krause (2002), fed the same random
numbers as the engine (drawn from the same stream, in the documented order).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import sim
from sim import rules as R
from sim.engine.opinion_populations import deffuant_population
from sim.ops_opinions import deffuant_individuals
from sim.plan import compile_plan
from sim.runner import simulate_block

TOL = R.TOLERANCE


# ------------------------------------------------------ independent versions
def hk_loop(x: list[float], eps: float) -> list[float]:
    """One HK step, agent by agent: the mean of all opinions within eps (own included)."""
    out = []
    for xi in x:
        near = [xj for xj in x if abs(xj - xi) <= eps + TOL]
        out.append(sum(near) / len(near))
    return out


def deffuant_loop(x: list[float], pairs: list[tuple[int, int]], eps: float, mu: float) -> None:
    """Deffuant encounters one after the other, in place."""
    for i, j in pairs:
        d = x[j] - x[i]
        if abs(d) < eps - TOL:
            x[i], x[j] = x[i] + mu * d, x[j] - mu * d


def _pairs(u0: np.ndarray, u1: np.ndarray, n: int) -> list[tuple[int, int]]:
    out = []
    for a, b in zip(u0, u1, strict=True):
        i = int(a * n)
        j = int(b * (n - 1))
        out.append((i, j + (j >= i)))
    return out


def _population(model: str, size: int, confidence: float, **extra: Any) -> dict[str, Any]:
    rule = {
        "kind": "bounded_confidence",
        "model": model,
        "to": "yes",
        "opinion": {"uniform": [0, 1]},
        "confidence": confidence,
        **extra,
    }
    return {
        "kind": "population",
        "size": size,
        "positions": ["no", "yes"],
        "initial": "no",
        "rule": rule,
    }


def _scenario(agents: dict[str, Any], horizon: int, **more: Any) -> dict[str, Any]:
    return {
        "kind": "scenario",
        "name": "bc",
        "clock": {"horizon": horizon},
        "agents": agents,
        "outcomes": {"end": {"trigger": {"kind": "deadline", "at": horizon}}},
        **more,
    }


def _run(data: dict[str, Any], seed: int, rows: int) -> Any:
    plan = compile_plan(sim.scenario_from_dict(data))
    return simulate_block(plan, np.random.default_rng(seed), rows)


def _major(x: np.ndarray, share: float = 0.05) -> np.ndarray:
    """Clusters (opinions within 1e-3) holding at least ``share`` of the persons, per row."""
    out = []
    for row in np.sort(x, axis=1):
        cuts = np.flatnonzero(np.diff(row) > 1e-3) + 1
        sizes = np.diff(np.concatenate([[0], cuts, [len(row)]]))
        out.append(int((sizes >= share * len(row)).sum()))
    return np.array(out)


# ------------------------------------------------------------ pure functions
def test_hk_sorted_equals_the_agent_loop_on_ties_and_random_opinions() -> None:
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, (6, 300))
    x[:, :40] = 0.25  # ties
    x[:, 40:45] = 0.25 + 0.1  # exactly at the bound from the ties
    eps = np.array([0.1, 0.05, 0.2, 0.0, 1.0, 0.1])
    got = R.hegselmann_krause_sorted(x, eps)
    for r in range(6):
        np.testing.assert_allclose(got[r], hk_loop(list(x[r]), eps[r]), rtol=0, atol=1e-12)


def test_hk_sorted_searches_rows_one_by_one_when_offsets_would_round() -> None:
    rng = np.random.default_rng(6)
    x = rng.uniform(0, 1, (3, 50)) * np.array([[1.0], [1e9], [1.0]])  # a wide row
    eps = np.array([0.2, 2e8, 0.2])
    got = R.hegselmann_krause_sorted(x, eps)
    for r in range(3):
        np.testing.assert_allclose(got[r], hk_loop(list(x[r]), eps[r]), rtol=1e-15, atol=1e-12)


def test_hk_dense_equals_the_agent_loop_with_peers() -> None:
    rng = np.random.default_rng(8)
    x = rng.uniform(0, 1, (4, 5))
    eps = rng.uniform(0.1, 0.6, (4, 5))
    peers = rng.random((5, 5)) < 0.5
    np.fill_diagonal(peers, True)
    got = R.hegselmann_krause_dense(x, eps, peers)
    for r in range(4):
        for i in range(5):
            near = [
                x[r, j]
                for j in range(5)
                if peers[i, j] and abs(x[r, j] - x[r, i]) <= eps[r, i] + TOL
            ]
            assert got[r, i] == pytest.approx(sum(near) / len(near), abs=1e-15)


def test_deffuant_population_step_equals_the_encounter_loop_exactly() -> None:
    rng = np.random.default_rng(9)
    rows, n, e = 3, 40, 60
    x = rng.uniform(0, 1, (rows, n))
    u = rng.random((rows, 2, e))
    eps, mu = np.array([0.3, 0.5, 1.1]), np.array([0.5, 0.2, 0.3])
    want = [list(row) for row in x]
    deffuant_population(x, eps, mu, u)
    for r in range(rows):
        deffuant_loop(want[r], _pairs(u[r, 0], u[r, 1], n), eps[r], mu[r])
        assert list(x[r]) == want[r]  # bit for bit


def test_deffuant_individuals_equal_a_loop_with_their_own_bounds() -> None:
    rng = np.random.default_rng(10)
    rows, a = 5, 4
    x = rng.uniform(0, 1, (rows, a))
    eps, mu = rng.uniform(0.2, 0.8, (rows, a)), rng.uniform(0.1, 0.5, (rows, a))
    peers = np.ones((a, a), dtype=bool)
    peers[0, 3] = peers[3, 0] = False
    starts = (0, 0, 1, 2, 3)
    u = rng.random((rows, 2, len(starts)))
    got = deffuant_individuals(x, eps, mu, peers, starts, u)
    for r in range(rows):
        y = list(x[r])
        for t, e in enumerate(np.argsort(u[r, 0], kind="stable")):
            i = starts[e]
            others = [j for j in range(a) if peers[i, j] and j != i]
            j = others[int(u[r, 1, t] * len(others))]
            d = y[j] - y[i]
            xi, xj = y[i], y[j]
            if abs(d) < eps[r, i] - TOL:
                xi = y[i] + mu[r, i] * d
            if abs(d) < eps[r, j] - TOL:
                xj = y[j] - mu[r, j] * d
            y[i], y[j] = xi, xj
        assert list(got[r]) == y


# ---------------------------------------------- the engine, same draws as a loop
def test_a_deffuant_population_draws_as_documented_and_matches_the_loop() -> None:
    n, ticks, rows, e = 30, 8, 2, 7
    data = _scenario(
        {"crowd": _population("deffuant", n, 0.4, convergence=0.3, encounters=e)}, ticks
    )
    block = _run(data, 11, rows)
    rng = np.random.default_rng(11)
    x = rng.uniform(0, 1, (rows, n))  # the set-up's one draw: opinions per person
    for _ in range(ticks):
        u = rng.random((rows, 2, e))  # then each tick's encounters
        for r in range(rows):
            row = list(x[r])
            deffuant_loop(row, _pairs(u[r, 0], u[r, 1], n), 0.4, 0.3)
            x[r] = row
    got = block.world.opinions("crowd")
    np.testing.assert_array_equal(got, x)
    share = (x >= 0.5 - TOL).mean(axis=1)
    np.testing.assert_array_equal(block.world.fraction("crowd", "yes"), share)


def test_an_hk_population_matches_the_loop_and_draws_nothing_per_tick() -> None:
    n, ticks, rows = 60, 6, 2
    data = _scenario({"crowd": _population("hegselmann_krause", n, 0.15, cutoff=0.4)}, ticks)
    block = _run(data, 12, rows)
    rng = np.random.default_rng(12)
    x = rng.uniform(0, 1, (rows, n))
    for _ in range(ticks):
        x = np.array([hk_loop(list(row), 0.15) for row in x])
    np.testing.assert_allclose(block.world.opinions("crowd"), x, rtol=0, atol=1e-12)


def test_deffuant_individuals_in_the_engine_match_the_loop_and_move_by_cutoff() -> None:
    names = ["a", "b", "c"]
    agents = {
        k: {
            "kind": "individual",
            "positions": ["no", "yes"],
            "initial": "no",
            "rules": [
                {
                    "kind": "bounded_confidence",
                    "model": "deffuant",
                    "to": "yes",
                    "opinion": {"uniform": [0, 1]},
                    "confidence": 0.5,
                    "cutoff": 0.45,
                }
            ],
        }
        for k in names
    }
    ticks, rows = 5, 4
    block = _run(_scenario(agents, ticks), 13, rows)
    rng = np.random.default_rng(13)
    x = np.stack([rng.uniform(0, 1, rows) for _ in names], axis=1)  # one per agent, file order
    eps, mu = np.full((rows, 3), 0.5), np.full((rows, 3), 0.5)
    peers = np.ones((3, 3), dtype=bool)
    for _ in range(ticks):
        u = rng.random((rows, 2, 3))  # one encounter started by each agent per tick
        x = deffuant_individuals(x, eps, mu, peers, (0, 1, 2), u)
    got = np.stack([block.world.opinion(k) for k in names], axis=1)
    np.testing.assert_array_equal(got, x)
    np.testing.assert_array_equal(block.output().final_pos, (x >= 0.45 - TOL).astype(int))


def test_hk_individuals_hear_only_their_peers() -> None:
    def member(x0: float, peers: Any) -> dict[str, Any]:
        rule = {
            "kind": "bounded_confidence",
            "model": "hegselmann_krause",
            "to": "yes",
            "opinion": x0,
            "confidence": 0.5,
        }
        if peers is not None:
            rule["peers"] = peers
        return {"kind": "individual", "positions": ["no", "yes"], "initial": "no", "rules": [rule]}

    agents = {"a": member(0.2, ["b"]), "b": member(0.4, None), "c": member(0.6, "pair")}
    agents["pair"] = {"kind": "group", "members": ["a", "c"]}
    block = _run(_scenario(agents, 1), 0, 1)
    # a hears b: (0.2 + 0.4) / 2; b hears all; c hears a and itself
    assert block.world.opinion("a")[0] == pytest.approx(0.3)
    assert block.world.opinion("b")[0] == pytest.approx(0.4)
    assert block.world.opinion("c")[0] == pytest.approx(0.4)


def test_a_signal_reads_a_bounded_confidence_population_and_opinion_terms_work() -> None:
    agents = {
        "crowd": _population("hegselmann_krause", 50, 1.0, cutoff=0.0),
        "x": {
            "kind": "individual",
            "positions": ["no", "yes"],
            "initial": "no",
            "rules": [
                {
                    "kind": "bounded_confidence",
                    "model": "hegselmann_krause",
                    "to": "yes",
                    "opinion": 0.7,
                    "confidence": 0.1,
                }
            ],
        },
    }
    signals = {
        "yes": [{"fraction": "crowd", "position": "yes"}],
        "mind": [{"opinion": "x"}],
    }
    block = _run(_scenario(agents, 2, signals=signals), 1, 2)
    np.testing.assert_array_equal(block.world.signal("yes"), [1.0, 1.0])
    np.testing.assert_array_equal(block.world.signal("mind"), [0.7, 0.7])


# ------------------------------------------------------ published behaviour
def test_deffuant_reaches_consensus_at_the_mean_above_half_a_unit_of_confidence() -> None:
    """Deffuant et al. (2000): eps = 0.6 on uniform opinions gives one cluster at about 0.5.

    With equal convergence both sides of every encounter move by the same
    amount, so the mean is kept exactly; the cluster sits at the initial mean,
    within 4 standard errors sqrt(1 / (12 N)) of 0.5.
    """
    n, rows = 200, 10
    data = _scenario({"crowd": _population("deffuant", n, 0.6)}, 120)
    block = _run(data, 21, rows)
    x = block.world.opinions("crowd")
    x0 = np.random.default_rng(21).uniform(0, 1, (rows, n))
    assert (R.clusters(x, gap=1e-3) == 1).all()
    np.testing.assert_allclose(x.mean(axis=1), x0.mean(axis=1), atol=1e-9)
    assert np.all(np.abs(x.mean(axis=1) - 0.5) < 4 * np.sqrt(1 / (12 * n)))


def test_deffuant_splits_into_about_one_over_two_eps_clusters_below() -> None:
    """Deffuant et al. (2000): eps = 0.2 leaves 2 or 3 major clusters (1 / (2 eps) = 2.5)."""
    n, rows = 200, 10
    data = _scenario({"crowd": _population("deffuant", n, 0.2)}, 300)
    x = _run(data, 22, rows).world.opinions("crowd")
    major = _major(x)
    assert set(major) <= {2, 3}
    assert 2.0 <= major.mean() <= 3.0


def test_hk_consensus_above_the_threshold_and_clusters_below() -> None:
    """Hegselmann & Krause (2002), Fortunato (2005): uniform opinions on [0, 1] reach
    consensus for eps above about 0.2 (N large); below it they freeze in several
    clusters, at most 1 / (2 eps) of any size, each more than eps from the next
    (else they would still hear each other: the fixed point of the dynamics)."""
    n, rows = 1000, 6
    for eps in (0.25, 0.3):
        one = _run(_scenario({"c": _population("hegselmann_krause", n, eps)}, 40), 31, rows)
        assert (R.clusters(one.world.opinions("c")) == 1).all()
    for eps in (0.1, 0.15):
        x = _run(_scenario({"c": _population("hegselmann_krause", n, eps)}, 300), 32, rows)
        x = x.world.opinions("c")
        count = R.clusters(x)
        assert (count >= 2).all() and (count <= 1 / (2 * eps)).all()
        for row in x:
            centres = np.unique(np.round(row, 6))
            assert (np.diff(centres) > eps).all()
