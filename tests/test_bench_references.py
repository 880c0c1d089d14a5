"""The benchmark's references for bench-770 against each other, the literal one and closed forms.

``benchmarks/reference_numpy.py`` (hand-vectorised: pre-drawn geometric
spontaneous ticks, sorted thresholds) and ``benchmarks/handwritten_simpy.py``
(one Environment per replicate) must simulate the model of bench-770.md
exactly, so their outcome distributions must agree with each other and with
``tests/reference_bench770.py`` (one uniform per employee per tick) within
their confidence intervals, and match what can be computed by hand in limit
cases. Seeds are fixed; tolerances are Z standard errors of the difference.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from conftest import ROOT
from reference_bench770 import bench770 as literal

Z = 3.29  # two-sided 99.9%


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


vectorised = _load("reference_numpy")
handwritten = _load("handwritten_simpy")

Result = dict[str, np.ndarray]


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


def _agree(a: np.ndarray, b: np.ndarray) -> None:
    (ma, sa), (mb, sb) = _mean_se(a), _mean_se(b)
    assert abs(ma - mb) < Z * math.hypot(sa, sb), (ma, mb, sa, sb)


def _near(x: np.ndarray, exact: float) -> None:
    m, s = _mean_se(x)
    assert abs(m - exact) < Z * s, (m, exact, s)


@pytest.fixture(scope="module")
def vectorised_runs() -> Result:
    return vectorised.bench770(12_000, seed=11)


@pytest.fixture(scope="module")
def simpy_runs() -> Result:
    return handwritten.bench770(1_200, seed=12)


@pytest.fixture(scope="module")
def literal_runs() -> Result:
    return literal(2_500, seed=13)


Runs = Callable[[str], Result]


@pytest.fixture
def runs(request: pytest.FixtureRequest) -> Runs:
    """The base model's run of an implementation, by name (each computed once per module)."""
    return lambda name: request.getfixturevalue(f"{name}_runs")


PAIRS = list(itertools.combinations(["vectorised", "simpy", "literal"], 2))


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_return_probability_agrees(runs: Runs, a: str, b: str) -> None:
    _agree((runs(a)["outcome"] == 0).astype(float), (runs(b)["outcome"] == 0).astype(float))


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_outcome_times_agree(runs: Runs, a: str, b: str) -> None:
    for code in (0, 1):
        ra, rb = runs(a), runs(b)
        _agree(ra["time"][ra["outcome"] == code], rb["time"][rb["outcome"] == code])


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_member_flips_and_signing_cascade_agree(runs: Runs, a: str, b: str) -> None:
    ra, rb = runs(a), runs(b)
    for member in (1, 2, 3):
        _agree(
            np.isfinite(ra["flip_time"][:, member]).astype(float),
            np.isfinite(rb["flip_time"][:, member]).astype(float),
        )
    _agree(ra["half"], rb["half"])


@pytest.mark.parametrize("name", ["vectorised", "simpy"])
def test_every_replicate_ends_with_everyone_signed(runs: Runs, name: str) -> None:
    r = runs(name)
    assert set(np.unique(r["outcome"])) == {0, 1}
    assert np.all(r["final_f"] == 1.0)
    assert np.all(np.isfinite(r["half"]))
    # Sutskever flips at the first hour >= t_s ~ U(55, 70), if before the outcome
    sut = r["flip_time"][:, 0]
    assert np.all((sut[np.isfinite(sut)] >= 56) & (sut[np.isfinite(sut)] <= 70))
    # members flip at the outcome's hour at the latest
    assert not np.any(r["flip_time"][:, 1:] > r["time"][:, None])


class FixedDraws:
    """Stands in for the generator: every threshold 0.1, t_s and D given, every uniform 0.

    A uniform of 0 makes a member flip as soon as its probability is positive;
    with ``p0 = 0`` nobody signs before the offer and everyone at the offer.
    """

    def __init__(self, t_s: float, patience: float) -> None:
        self.t_s, self.patience = t_s, patience

    def normal(self, loc: float, scale: float, size: Any) -> np.ndarray:
        return np.full(size, 0.1)

    def uniform(self, low: float, high: float, size: Any = None) -> Any:
        value = self.t_s if low == 55 else self.patience
        return value if size is None else np.full(size, value)

    def random(self, size: Any = None) -> Any:
        return 0.0 if size is None else np.zeros(size)


def _fixed(name: str, t_s: float, patience: float, t_ms: float) -> tuple[int, float, list[float]]:
    draws: Any = FixedDraws(t_s, patience)
    if name == "vectorised":
        r = vectorised._chunk(draws, 4, 770, 0.2, t_ms, 0.0, 0.05)
        assert len(set(r["outcome"])) == 1 and len(set(r["time"])) == 1
        return int(r["outcome"][0]), float(r["time"][0]), list(r["flip_time"][0])
    rep = handwritten.Replicate(draws, t_ms=t_ms, p0=0.0).run()
    return rep.outcome, rep.time, rep.flip_time


NAN = math.nan


@pytest.mark.parametrize("name", ["vectorised", "simpy"])
@pytest.mark.parametrize(
    ("t_s", "patience", "t_ms", "expected"),
    [
        # t < 60: P <= 0.3 * 59 / 72 + 0.2 < 0.55; t = 60: f = 1, P = 0.95, all flip, vote passes
        (50.5, 96, 60, (0, 60.0, [51, 60, 60, 60])),
        (50.5, 59.5, 60, (0, 60.0, [51, 60, 60, 60])),  # the vote wins the deadline's hour
        (50.5, 55, 60, (1, 55.0, [51, NAN, NAN, NAN])),
        (50.5, 96, 60.2, (0, 66.0, [51, 61, 61, 61])),  # offer from 61, next vote at 66
        (50.5, 62.5, 60.2, (1, 63.0, [51, 61, 61, 61])),
        (50.5, 96, 97, (1, 96.0, [51, NAN, NAN, NAN])),  # P = 0.3 + 0.2 < 0.55 until 96
        # Toner needs P > 0.8: only with Sutskever (66), when the vote passes with 3 anyway
        (65.2, 96, 60, (0, 66.0, [66, 60, 60, 66])),
    ],
)
def test_hand_derived_cases(
    name: str, t_s: float, patience: float, t_ms: float, expected: tuple[int, float, list[float]]
) -> None:
    outcome, time, flips = _fixed(name, t_s, patience, t_ms)
    assert (outcome, time) == expected[:2]
    np.testing.assert_array_equal(flips, expected[2])


def test_small_population_agrees() -> None:
    # N = 77: coarse fractions, where an off-by-one in a count would show
    vec = vectorised.bench770(12_000, seed=21, n_emp=77)
    simpy = handwritten.bench770(1_000, seed=22, n_emp=77)
    lit = literal(3_000, seed=23, n_emp=77)
    for a, b in ((vec, simpy), (vec, lit)):
        _agree((a["outcome"] == 0).astype(float), (b["outcome"] == 0).astype(float))
        _agree(a["time"], b["time"])
        _agree(a["half"], b["half"])


def test_reach_table_is_the_literal_comparison() -> None:
    rng = np.random.default_rng(5)
    n_emp = 770
    theta = np.sort(np.clip(rng.normal(0.5, 0.2, (40, n_emp)), 0.0, 1.0), axis=1)
    theta[:, :3] = 0.0  # the atoms of the clipped distribution
    theta[:, -3:] = 1.0
    counts = np.arange(n_emp + 1)
    for add in (0.0, 0.2, 0.37):
        table = vectorised._reach_table(theta, add, n_emp).reshape(40, n_emp + 1)
        support = counts / n_emp + add
        brute = (support[None, :, None] >= theta[:, None, :] - 1e-9).sum(axis=2)
        assert np.array_equal(table, brute), add


def _exact_offer_forces_everyone() -> tuple[float, float, float]:
    """P(return), mean return time and mean Microsoft time when pi = 1 and p0 = 0.

    Before the offer at 60 only the employees with thresholds clipped to 0 and
    their tiny cascade sign (f < 0.05, so the board's pressure stays below
    0.5 * 0.05 + 0.3 * 59 / 72 + 0.2 < 0.55: nobody flips); at 60 everyone
    signs (f + 1 >= theta). From then on the members flip independently with
    known per-hour probabilities given Sutskever's hour k = ceil(t_s), uniform
    on 56..70, and the deadline hour d = ceil(D) is uniform on 91..130.
    """
    votes = [v for v in range(60, 131) if v % 6 == 0]
    p_ret = t_ret = t_ms = 0.0
    for k in range(56, 71):
        flipped_by = np.zeros((3, 131))
        survive = np.ones(3)
        for t in range(60, 131):
            pressure = 0.5 + 0.3 * min(1.0, t / 72) + 0.2 * (t >= k)
            q = np.minimum(1.0, 0.05 * np.maximum(0.0, pressure - np.array([0.55, 0.70, 0.80])))
            survive *= 1 - q
            flipped_by[:, t] = 1 - survive
        passed = {}
        for v in votes:
            # P(at least 3 votes): Sutskever's plus those of the three members
            dist = np.array([1.0])
            for j in range(3):
                dist = np.convolve(dist, [1 - flipped_by[j, v], flipped_by[j, v]])
            need = 3 - int(v >= k)
            passed[v] = float(dist[need:].sum())
        for d in range(91, 131):
            w = 1 / 15 / 40
            prev = 0.0
            for v in (v for v in votes if v <= d):
                p_ret += w * (passed[v] - prev)
                t_ret += w * v * (passed[v] - prev)
                prev = passed[v]
            t_ms += w * d * (1 - prev)
    return p_ret, t_ret / p_ret, t_ms / (1 - p_ret)


@pytest.mark.parametrize(("name", "n"), [("vectorised", 12_000), ("simpy", 1_500)])
def test_large_offer_without_spontaneous_signing_matches_the_closed_form(name: str, n: int) -> None:
    impl: Any = vectorised if name == "vectorised" else handwritten
    r = impl.bench770(n, seed=31, pi=1.0, p0=0.0)
    assert np.all(r["half"] == 60.0)  # nobody near half before 60, everyone at 60
    assert np.all(r["final_f"] == 1.0)
    members = r["flip_time"][:, 1:]
    assert np.all(members[np.isfinite(members)] >= 60)
    p_ret, t_ret, t_ms = _exact_offer_forces_everyone()
    ret = r["outcome"] == 0
    _near(ret.astype(float), p_ret)
    _near(r["time"][ret], t_ret)
    _near(r["time"][~ret], t_ms)


@pytest.fixture(scope="module")
def no_offer() -> dict[str, Result]:
    # only thresholds clipped to 0 and their short cascade sign
    return {
        "vectorised": vectorised.bench770(12_000, seed=41, t_ms=1000, p0=0.0),
        "simpy": handwritten.bench770(700, seed=42, t_ms=1000, p0=0.0),
    }


@pytest.mark.parametrize("name", ["vectorised", "simpy"])
def test_no_offer_and_no_spontaneous_signing_leaves_the_deadline(
    no_offer: dict[str, Result], name: str
) -> None:
    r = no_offer[name]
    # the board never reaches a resistance: every replicate ends at ceil(D), uniform on 91..130
    assert np.all(r["outcome"] == 1)
    assert np.all(np.isnan(r["flip_time"][:, 1:]))
    assert np.all(np.isnan(r["half"]))
    assert 0 < r["final_f"].mean() and r["final_f"].max() < 0.05
    assert set(np.unique(r["time"])) == set(range(91, 131))
    _near(r["time"], 110.5)


def test_clipped_cascade_agrees_without_offer_or_spontaneous_signing(
    no_offer: dict[str, Result],
) -> None:
    _agree(no_offer["vectorised"]["final_f"], no_offer["simpy"]["final_f"])
