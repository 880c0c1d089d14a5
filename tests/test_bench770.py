"""bench_770.yaml against bench-770.md: hand-derived cases and an independent implementation."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT
from reference_bench770 import bench770

import sim

BENCH = ROOT / "scenarios" / "bench_770.yaml"
# Deterministic settings: no spontaneous signing, all thresholds 0.1 (so every
# employee signs in the first tick with the Microsoft offer active, and none
# before), Sutskever at 50.5 (flips at 51), and rates so large that a member
# flips as soon as P exceeds the resistance.
DETERMINISTIC = [
    "agents.employees.rule.spontaneous=0",
    "agents.employees.rule.threshold=0.1",
    "agents.sutskever.rules.reinstate.at=50.5",
    "agents.dangelo.rules.reinstate.rate=1000",
    "agents.mccauley.rules.reinstate.rate=1000",
    "agents.toner.rules.reinstate.rate=1000",
]


def run_bench(*sets: str) -> sim.RunResult:
    return sim.run(sim.load_scenario(BENCH, [*DETERMINISTIC, *sets]), replicates=20, seed=1)


def test_offer_at_60_makes_everyone_flip_and_the_vote_at_60_pass() -> None:
    # t < 60: P <= 0.3*59/72 + 0.2 = 0.446 < 0.55, nobody flips.
    # t = 60: f = 1, P = 0.5 + 0.25 + 0.2 = 0.95: all flip; 60 % 6 == 0: RETURN at 60.
    out = run_bench("agents.altman.patience=96")
    assert out.outcome_labels() == ["return"] * 20
    assert np.all(out.time == 60.0)
    assert np.all(out.switch_time[:, :4] == [51.0, 60.0, 60.0, 60.0])
    assert np.allclose(out.final_fraction[:, 0], 1.0)


def test_vote_wins_over_deadline_in_the_same_tick() -> None:
    out = run_bench("agents.altman.patience=59.5")  # deadline at tick 60 as well
    assert out.outcome_labels() == ["return"] * 20
    assert np.all(out.time == 60.0)


def test_deadline_before_the_offer_gives_microsoft() -> None:
    out = run_bench("agents.altman.patience=55")
    assert out.outcome_labels() == ["microsoft"] * 20
    assert np.all(out.time == 55.0)
    assert np.all(out.switch_time[:, 0] == 51.0)
    assert np.all(np.isnan(out.switch_time[:, 1:4]))


def test_late_offer_flips_at_61_and_waits_for_the_vote_at_66() -> None:
    out = run_bench("events.microsoft_offer.trigger.time=60.2", "agents.altman.patience=96")
    assert np.all(out.time == 66.0)
    assert np.all(out.switch_time[:, 1:4] == 61.0)
    short = run_bench("events.microsoft_offer.trigger.time=60.2", "agents.altman.patience=62.5")
    assert short.outcome_labels() == ["microsoft"] * 20
    assert np.all(short.time == 63.0)


def test_no_offer_before_96_gives_microsoft_at_96() -> None:
    # at t = 96 without employees: P = 0.3 + 0.2 = 0.5 < 0.55
    out = run_bench("events.microsoft_offer.trigger.time=97", "agents.altman.patience=96")
    assert out.outcome_labels() == ["microsoft"] * 20
    assert np.all(out.time == 96.0)


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size))


@pytest.fixture(scope="module")
def both() -> tuple[sim.RunResult, dict[str, np.ndarray]]:
    engine = sim.run(sim.load_scenario(BENCH), replicates=8000, seed=2023)
    reference = bench770(4000, seed=1117)
    return engine, reference


def _agree(a: np.ndarray, b: np.ndarray) -> None:
    (ma, sa), (mb, sb) = _mean_se(a), _mean_se(b)
    assert abs(ma - mb) < 2.576 * np.hypot(sa, sb), (ma, mb)


def test_return_probability_agrees_with_independent_implementation(both) -> None:
    engine, ref = both
    _agree((engine.outcome == 0).astype(float), (ref["outcome"] == 0).astype(float))


def test_outcome_times_agree_with_independent_implementation(both) -> None:
    engine, ref = both
    _agree(engine.time[engine.outcome == 0], ref["time"][ref["outcome"] == 0])
    _agree(engine.time[engine.outcome == 1], ref["time"][ref["outcome"] == 1])


@pytest.mark.parametrize("member", [1, 2, 3])
def test_member_switch_probabilities_agree(both, member: int) -> None:
    engine, ref = both
    _agree(
        np.isfinite(engine.switch_time[:, member]).astype(float),
        np.isfinite(ref["flip_time"][:, member]).astype(float),
    )


def test_signing_cascade_agrees(both) -> None:
    engine, ref = both
    _agree(engine.half_time[:, 0], ref["half"])
    assert np.all(np.isfinite(engine.half_time[:, 0]))
    # the cascade always completes before an outcome: every final fraction is 1 in both
    assert engine.final_fraction[:, 0].min() == ref["final_f"].min() == 1.0
