"""Each stance rule as a pure function, against its formula."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from sim import rules as R
from sim.thresholds import SortedThresholds


def test_hazard_probability_is_min_one_rate_times_excess() -> None:
    p = R.hazard_probability(np.array([0.5, 0.9, 0.2, 50.0]), np.array([0.55, 0.7, 0.2, 0.0]), 0.05)
    np.testing.assert_allclose(p, [0.0, 0.01, 0.0, 1.0])


def test_hazard_back_probability_mirrors_forward() -> None:
    p = R.hazard_back_probability(np.array([0.5, 0.9]), np.array([0.7, 0.7]), np.array([0.5, 0.5]))
    np.testing.assert_allclose(p, [0.1, 0.0])


def test_logistic_probability_formula_and_midpoint() -> None:
    p = R.logistic_probability(np.array([0.6, 0.6, 10.0]), np.array([0.6, 0.5, 0.0]), 0.2, 10.0)
    np.testing.assert_allclose(p, [0.1, 0.2 / (1 + np.exp(-1.0)), 0.2])
    back = R.logistic_back_probability(np.array([0.6]), np.array([0.5]), 0.2, 10.0)
    np.testing.assert_allclose(back, [0.2 / (1 + np.exp(1.0))])


def test_per_tick_compounds_hourly_probability() -> None:
    np.testing.assert_allclose(R.per_tick(0.1, 2.0), 1 - 0.9**2)
    np.testing.assert_allclose(R.per_tick(np.array([0.0, 1.0]), 0.5), [0.0, 1.0])
    assert R.per_tick(0.3, 1.0) == pytest.approx(0.3)


def test_threshold_uses_tolerance_of_1e9() -> None:
    assert R.threshold_reached(np.array([0.2]), np.array([0.2 + 5e-10]))[0]
    assert not R.threshold_reached(np.array([0.2]), np.array([0.2 + 2e-9]))[0]
    # 0.1 + 0.2 != 0.3 in floating point, the tolerance makes it reach
    assert R.threshold_reached(np.array([0.1 + 0.2]), np.array([0.3]))[0]


def test_fraction_quorum_is_exact_rational() -> None:
    two_thirds = Fraction(2, 3)
    count = np.array([2, 4, 3, 0])
    present = np.array([3, 6, 5, 0])
    assert R.quorum_passes(count, present, None, two_thirds).tolist() == [True, True, False, False]
    # a float 0.6667 would wrongly pass 2 of 3 only if rounded; the rational compares exactly
    assert not R.quorum_passes(np.array([6666]), np.array([10000]), None, two_thirds)[0]
    assert R.quorum_passes(np.array([3]), np.array([4]), 3, None)[0]


def test_averaging_step_and_equilibrium_agree() -> None:
    w = np.array([[0.5, 0.3, 0.2], [0.2, 0.6, 0.2], [0.1, 0.1, 0.8]])
    s = np.array([0.3, 0.1, 0.5])
    x0 = np.array([0.9, 0.2, 0.4])
    x = x0[None, :].copy()
    for _ in range(500):
        x = R.averaging_step(x0[None, :], s[None, :], x, w)
    np.testing.assert_allclose(x[0], R.friedkin_johnsen_equilibrium(w, s, x0), atol=1e-12)


def test_threshold_population_counts_match_individual_coins() -> None:
    """The count-based step equals the literal per-individual rule in distribution."""
    n, reps, ticks, p = 40, 4000, 12, 0.05
    rng = np.random.default_rng(7)
    th = np.sort(rng.uniform(0.2, 1.6, n))  # some unreachable: the end state stays random
    st = SortedThresholds(np.broadcast_to(th, (reps, n)))
    crossed = np.zeros(reps, dtype=np.int64)
    spont = np.zeros(reps, dtype=np.int64)
    running = np.full(reps, -np.inf)
    literal = np.zeros((reps, n), dtype=bool)
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(2)
    for _ in range(ticks):
        support = (crossed + spont) / n
        running = np.maximum(running, support)
        crossed, spont = R.threshold_population_step(
            rng_a,
            n,
            crossed,
            spont,
            np.maximum(crossed, st.count_reached(running)),
            np.full(reps, p),
        )
        f = literal.mean(axis=1)
        reached = f[:, None] >= th - 1e-9
        literal |= reached | (~reached & (rng_b.random((reps, n)) < p))
    a, b = (crossed + spont) / n, literal.mean(axis=1)
    se = np.sqrt(a.var() / reps + b.var() / reps)
    assert abs(a.mean() - b.mean()) < 4 * se
    assert 0.05 < b.mean() < 0.95
    assert abs(a.std() - b.std()) < 0.1 * b.std()


def test_wilson_interval_matches_known_values_and_limits() -> None:
    from sim.stats import wilson_interval

    # Agresti & Coull (1998) style check: 0 of 10 -> [0, 0.2775]; 10 of 10 -> [0.7225, 1]
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.27753, abs=1e-5)
    lo, hi = wilson_interval(10, 10)
    assert hi == 1.0 and lo == pytest.approx(0.72247, abs=1e-5)
    lo, hi = wilson_interval(50, 100)
    assert (lo, hi) == pytest.approx((0.40383, 0.59617), abs=1e-5)


def test_changed_values_set_add_scale_and_refuse_the_rest() -> None:
    import numpy as np
    import pytest

    from sim.rules import changed_values

    old = np.array([[0.2, 0.4]])
    assert changed_values(old, "set", 0.5).tolist() == [[0.5, 0.5]]
    assert changed_values(old, "add", 0.1)[0].tolist() == pytest.approx([0.3, 0.5])
    assert changed_values(old, "scale", 2.0).tolist() == [[0.4, 0.8]]
    with pytest.raises(ValueError, match="unknown change 'double'"):
        changed_values(old, "double", 2.0)
