"""Observations of the constructs of issue 12 and of the article's outside actors.

Segment shares, network shares, group counts and the positions of Microsoft and
the investors, each observed through the nowcast and checked against a closed
form: the evidence of one observation at tick 1 is E[likelihood] over the
prior, with the per-tick switch count binomial, so it is a finite sum. The
Monte Carlo tolerance is 3.29 standard errors of the mean likelihood, whose
variance is also a closed form.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from conftest import observations as obs
from scipy import stats

import sim
from sim.errors import InputError
from sim.nowcast import nowcast
from sim.observations import check_against, load_observations

Z = 3.29
ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ROOT / "scenarios" / "openai_2023_11.yaml"


def checked(tmp_path: Path, sc: sim.Scenario, *items: dict[str, Any]) -> None:
    """Write ``items`` as an observations file and check it against ``sc``."""
    path = tmp_path / "obs.yaml"
    path.write_text(yaml.safe_dump({"kind": "observations", "observations": list(items)}))
    o, located = load_observations(path)
    check_against(o, located, sc)


def _agents(staff: dict[str, Any]) -> dict[str, Any]:
    return {
        "staff": staff,
        "m": {
            "kind": "individual",
            "positions": ["no", "yes"],
            "initial": "no",
            "rules": [{"kind": "scheduled", "to": "yes", "at": {"uniform": [0, 10]}}],
        },
        "k": {
            "kind": "individual",
            "positions": ["no", "yes"],
            "initial": "no",
            "rules": [{"kind": "scheduled", "to": "yes", "at": {"uniform": [0, 10]}}],
        },
        "g": {"kind": "group", "members": ["m", "k"]},
    }


def segmented(h: float = 0.3) -> sim.Scenario:
    """Segment a (50, silent) signs with probability ``h`` per tick; b (150) is all signed."""
    staff = {
        "kind": "population",
        "positions": ["silent", "signed"],
        "initial": "silent",
        "rule": {"kind": "hazard", "to": "signed", "pressure": "one", "resistance": 0, "rate": h},
        "segments": {"a": {"size": 50}, "b": {"size": 150, "initial": "signed"}},
    }
    return sim.scenario_from_dict(
        {
            "kind": "scenario",
            "name": "segments",
            "clock": {"tick": 1, "horizon": 10},
            "agents": _agents(staff),
            "signals": {"one": [{"constant": 1.0}]},
            "outcomes": {"late": {"trigger": {"kind": "deadline", "at": 10}}},
        }
    )


def networked(n: int = 60, p: float = 0.2) -> sim.Scenario:
    """A population on a ring whose people switch spontaneously (``p`` per tick) and only so.

    Their thresholds (1) are out of reach at tick 1, when no neighbour has signed.
    """
    staff = {
        "kind": "population",
        "size": n,
        "positions": ["silent", "signed"],
        "initial": "silent",
        "network": {"generator": "watts_strogatz", "params": {"k": 4, "p": 0}, "graph_seed": 1},
        "rule": {
            "kind": "threshold",
            "to": "signed",
            "support": "heard",
            "threshold": 1.0,
            "spontaneous": p,
        },
    }
    return sim.scenario_from_dict(
        {
            "kind": "scenario",
            "name": "network",
            "clock": {"tick": 1, "horizon": 10},
            "agents": _agents(staff),
            "signals": {"heard": [{"fraction": "staff", "position": "signed"}]},
            "outcomes": {"late": {"trigger": {"kind": "deadline", "at": 10}}},
        }
    )


def gaussian(share: Any, value: float, sd: float) -> Any:
    """A fraction observation's likelihood (the normal density up to its constant)."""
    return np.exp(-0.5 * ((np.asarray(share, dtype=float) - value) / sd) ** 2)


def binomial_evidence(n: int, p: float, lik: Any) -> tuple[float, float]:
    """E and SD of ``lik(k / n)`` for k ~ Binomial(n, p): the closed form of the evidence."""
    k = np.arange(n + 1)
    pmf = stats.binom.pmf(k, n, p)
    values = lik(k / n)
    mean = float(np.sum(pmf * values))
    return mean, math.sqrt(max(float(np.sum(pmf * values**2)) - mean**2, 0.0))


def evidence(sc: sim.Scenario, item: dict[str, Any], particles: int, seed: int) -> float:
    nc = nowcast(sc, obs(item), at=item["at"], particles=particles, seed=seed)
    return math.exp(nc.log_evidence)


# ------------------------------------------------------------- checking names
def test_a_segment_and_a_network_population_are_observable_names(tmp_path: Path) -> None:
    share = {"kind": "fraction", "position": "signed", "value": 0.3, "sd": 0.1, "at": 1}
    checked(tmp_path, segmented(), {**share, "population": "staff.a"})
    checked(tmp_path, segmented(), {**share, "population": "staff"})
    checked(tmp_path, networked(), {**share, "population": "staff"})


@pytest.mark.parametrize(
    ("item", "message", "field"),
    [
        (
            {"population": "staff.c", "position": "signed"},
            "unknown segment 'c' of 'staff' (known: a, b)",
            "observations.0.population",
        ),
        (
            {"population": "staff.a", "position": "left"},
            "unknown position 'left' (known: silent, signed)",
            "observations.0.position",
        ),
        (
            {"population": "m.a", "position": "yes"},
            "unknown population, segment or group 'm.a'",
            "observations.0.population",
        ),
        (
            {"population": "nobody", "position": "yes"},
            "unknown population, segment or group 'nobody'",
            "observations.0.population",
        ),
    ],
)
def test_a_bad_segment_is_a_located_error(tmp_path: Path, item, message, field) -> None:
    with pytest.raises(InputError) as e:
        checked(tmp_path, segmented(), {"kind": "fraction", "between": [0, 1], "at": 1, **item})
    text = str(e.value)
    assert message in text and field in text and "obs.yaml:" in text, text


# ------------------------------------------------------------ segment shares
def test_a_segment_share_weighs_particles_by_the_normal_density() -> None:
    n_a, h, value, sd, particles = 50, 0.3, 0.4, 0.05, 4096
    item = {"kind": "fraction", "population": "staff.a", "position": "signed", "at": 1}
    exact, spread = binomial_evidence(n_a, h, lambda f: gaussian(f, value, sd))
    got = evidence(segmented(h), {**item, "value": value, "sd": sd}, particles, seed=3)
    assert abs(got - exact) < Z * spread / math.sqrt(particles), (got, exact)


def test_a_segment_share_on_a_known_state_is_the_density_at_that_share() -> None:
    # segment b starts all signed and nothing moves it: its share is 1 in every particle
    item = {"kind": "fraction", "population": "staff.b", "position": "signed", "at": 1}
    got = evidence(segmented(), {**item, "value": 0.8, "sd": 0.1}, 64, seed=1)
    assert got == pytest.approx(math.exp(-0.5 * 2.0**2), rel=1e-12)
    # the whole is (X + 150) / 200 with X ~ Binomial(50, h): a between reads it exactly
    whole = {"kind": "fraction", "population": "staff", "position": "signed", "at": 1}
    lo, hi = (150 + 10) / 200, (150 + 20) / 200
    exact = stats.binom.cdf(20, 50, 0.3) - stats.binom.cdf(9, 50, 0.3)
    got = evidence(segmented(), {**whole, "between": [lo, hi]}, 4096, seed=2)
    assert abs(got - exact) < Z * math.sqrt(exact * (1 - exact) / 4096)


def test_a_report_reads_a_segment_through_a_signal() -> None:
    # a report's condition reads a segment through the scenario's signal, as conditions do
    sc = segmented().canonical()
    sc["signals"]["a_signed"] = [{"fraction": "staff.a", "position": "signed"}]
    report = {
        "kind": "report",
        "condition": {"signal": "a_signed", "at_least": 0.4},
        "true_positive": 0.9,
        "false_positive": 0.2,
        "at": 1,
    }
    p = stats.binom.sf(19, 50, 0.3)  # P(X >= 20)
    exact = 0.9 * p + 0.2 * (1 - p)
    got = evidence(sim.scenario_from_dict(sc), report, 4096, seed=4)
    spread = 0.7 * math.sqrt(p * (1 - p))
    assert abs(got - exact) < Z * spread / math.sqrt(4096)


# ------------------------------------------------------------ network shares
def test_a_network_share_weighs_particles_by_the_normal_density() -> None:
    n, p, value, sd, particles = 60, 0.2, 0.25, 0.05, 4096
    item = {"kind": "fraction", "population": "staff", "position": "signed", "at": 1}
    exact, spread = binomial_evidence(n, p, lambda f: gaussian(f, value, sd))
    got = evidence(networked(n, p), {**item, "value": value, "sd": sd}, particles, seed=5)
    assert abs(got - exact) < Z * spread / math.sqrt(particles), (got, exact)


# ------------------------------------------------------------- group counts
@pytest.mark.parametrize(("value", "p_count"), [(0, 0.25), (1, 0.5), (2, 0.25)])
def test_a_group_count_is_binomial_over_its_members(value: int, p_count: float) -> None:
    # each member switches at U(0, 10): by t = 5 with probability 1/2, independently
    error, particles = 0.1, 4096
    item = {"kind": "count", "group": "g", "position": "yes", "value": value, "at": 5}
    exact = (1 - error) * p_count + error * (1 - p_count)
    got = evidence(segmented(), {**item, "error": error}, particles, seed=6)
    spread = (1 - 2 * error) * math.sqrt(p_count * (1 - p_count))
    assert abs(got - exact) < Z * spread / math.sqrt(particles)


# ------------------------------------------- Microsoft and the investors
def test_the_investors_press_from_a_uniform_time() -> None:
    # the investors press at U(12, 36) and cannot litigate before the market opens:
    # at 24 h they press with probability 1/2
    article = sim.load_scenario(ARTICLE)
    item = {"kind": "stance", "agent": "investors", "position": "press", "at": 24}
    got = evidence(article, item, 4096, seed=7)
    assert abs(got - 0.5) < Z * 0.5 / math.sqrt(4096)


def test_microsofts_fixed_stance_is_certain_and_a_wrong_report_only_its_error() -> None:
    article = sim.load_scenario(ARTICLE)
    partner = {"kind": "stance", "agent": "microsoft", "position": "partner", "at": 30}
    same = nowcast(article, obs(partner), at=30, particles=512, seed=2)
    none = nowcast(article, [], at=30, particles=512, seed=2)
    assert same.log_evidence == pytest.approx(0.0, abs=1e-12)
    assert same.probabilities == none.probabilities
    # before the hire at 59.9 h, a report that Microsoft hosts Altman is wrong in every particle
    hosting = {**partner, "position": "host_altman", "error": 0.05}
    wrong = nowcast(article, obs(hosting), at=30, particles=512, seed=2)
    assert math.exp(wrong.log_evidence) == pytest.approx(0.05, rel=1e-9)
    assert wrong.probabilities == none.probabilities


def test_article_actors_are_checked_by_name(tmp_path: Path) -> None:
    article = sim.load_scenario(ARTICLE)
    checked(
        tmp_path,
        article,
        {"kind": "stance", "agent": "microsoft", "position": "absorb_staff", "at": 90},
        {"kind": "stance", "agent": "investors", "position": "litigate", "at": 90},
        {"kind": "count", "group": "board", "position": "reinstate", "between": [1, 3], "at": 90},
    )
    with pytest.raises(InputError, match="unknown position 'sue'"):
        checked(
            tmp_path, article, {"kind": "stance", "agent": "investors", "position": "sue", "at": 9}
        )


def test_a_population_without_segments_says_so(tmp_path: Path) -> None:
    item = {"kind": "fraction", "population": "staff.a", "position": "signed", "between": [0, 1]}
    with pytest.raises(InputError, match="population 'staff' has no segments"):
        checked(tmp_path, networked(), {**item, "at": 1})
