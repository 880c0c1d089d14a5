"""Closed-form means of the distributions, against independent computations (scipy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import TypeAdapter
from scipy import integrate, stats

from sim.distributions import NEVER, Param, mean

adapter = TypeAdapter(Param)


def _param(data: object) -> object:
    return adapter.validate_python(data)


@pytest.mark.parametrize(
    "data,expected",
    [
        ({"uniform": [55, 70]}, stats.uniform(55, 15).mean()),
        ({"normal": [0.5, 0.2]}, 0.5),
        ({"beta": [2, 5]}, stats.beta(2, 5).mean()),
        ({"triangular": [1, 2, 6]}, stats.triang(0.2, loc=1, scale=5).mean()),
        ({"lognormal": [1.0, 0.5]}, stats.lognorm(0.5, scale=math.e).mean()),
        ({"choice": [1, 2, 7]}, 10 / 3),
        ({"choice": [1, 2, 7], "p": [0.5, 0.25, 0.25]}, 0.5 + 0.5 + 1.75),
        ({"normal": [3, 0], "clip": [0, 1]}, 1.0),
        (0.25, 0.25),
    ],
)
def test_mean_matches_the_known_formula(data: object, expected: float) -> None:
    assert mean(_param(data)) == pytest.approx(expected, rel=1e-12)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "mu,sigma,lo,hi",
    [(0.5, 0.2, 0.0, 1.0), (0.9, 0.3, 0.0, 1.0), (-1.0, 2.0, -0.5, 4.0), (10.0, 1.0, 0.0, 1.0)],
)
def test_clipped_normal_mean_is_the_integral_of_the_clipped_value(
    mu: float, sigma: float, lo: float, hi: float
) -> None:
    # independent: integrate clip(x) against the normal density, numerically
    pdf = stats.norm(mu, sigma).pdf
    inside = integrate.quad(lambda x: x * pdf(x), lo, hi)[0]
    expected = inside + lo * stats.norm.cdf(lo, mu, sigma) + hi * stats.norm.sf(hi, mu, sigma)
    got = mean(_param({"normal": [mu, sigma], "clip": [lo, hi]}))  # type: ignore[arg-type]
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_clipped_normal_mean_agrees_with_draws_within_their_interval() -> None:
    # the draws are what a replicate gets: the closed form must be their expectation
    dist = _param({"normal": [0.8, 0.3], "clip": [0, 1]})
    x = dist.draw(np.random.default_rng(7), 200_000)  # type: ignore[union-attr]
    half_width = 4 * x.std() / math.sqrt(len(x))
    assert abs(x.mean() - mean(dist)) < half_width  # type: ignore[arg-type]


def test_never_has_no_finite_mean_and_a_huge_lognormal_is_infinite() -> None:
    assert mean(NEVER) == math.inf
    assert mean(_param({"lognormal": [700, 10]})) == math.inf  # type: ignore[arg-type]
