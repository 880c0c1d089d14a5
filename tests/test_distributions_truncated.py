"""Truncated normal and lognormal (issue 15, item 1): mass renormalised inside the bounds."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError
from scipy import integrate, stats
from typer.testing import CliRunner

from sim.cli import app
from sim.distributions import Param, Probability, draw, draw_into, mean

adapter = TypeAdapter(Param)
probability = TypeAdapter(Probability)
N = 20_000
#: KS at level 1e-4: a correct sampler fails it once in 10,000 seeds
ALPHA = 1e-4


def _param(data: object) -> object:
    return adapter.validate_python(data)


def _ks_bound(n: int) -> float:
    """The KS statistic's critical value for ``n`` draws at level ``ALPHA`` (exact)."""
    return float(stats.kstwo.ppf(1 - ALPHA, n))


# (YAML mapping, the exact distribution as scipy writes it)
TRUNCATED = [
    ({"normal": [0.5, 0.3], "truncate": [0, 1]}, stats.truncnorm(-5 / 3, 5 / 3, 0.5, 0.3)),
    ({"normal": [0.9, 0.3], "truncate": [0, 1]}, stats.truncnorm(-3, 1 / 3, 0.9, 0.3)),
    ({"normal": [2, 1], "truncate": [0, None]}, stats.truncnorm(-2, np.inf, 2, 1)),
    ({"normal": [0, 1], "truncate": [None, -1.5]}, stats.truncnorm(-np.inf, -1.5, 0, 1)),
    ({"normal": [0, 1], "truncate": [3, 4]}, stats.truncnorm(3, 4, 0, 1)),  # a far tail
]


def _lognormal_cdf(mu: float, s: float, lo: float | None, hi: float | None):
    """CDF of exp(N(mu, s)) truncated to [lo, hi]: the truncated normal's, at log x."""
    a = -np.inf if not lo else (math.log(lo) - mu) / s
    b = np.inf if hi is None else (math.log(hi) - mu) / s
    tn = stats.truncnorm(a, b, mu, s)
    return lambda x: tn.cdf(np.log(np.maximum(x, 1e-300)))


TRUNCATED_LOGNORMAL = [
    ({"lognormal": [4.6, 0.3], "truncate": [80, 120]}, (4.6, 0.3, 80, 120)),
    ({"lognormal": [0, 1], "truncate": [0, 2]}, (0, 1, 0, 2)),
    ({"lognormal": [0, 1], "truncate": [3, None]}, (0, 1, 3, None)),
]


@pytest.mark.parametrize(("data", "exact"), TRUNCATED, ids=lambda v: str(v))
def test_truncated_normal_draws_follow_the_truncated_cdf(data: dict, exact) -> None:
    x = _param(data).draw(np.random.default_rng(11), N)  # type: ignore[attr-defined]
    lo, hi = data["truncate"]
    assert lo is None or x.min() >= lo
    assert hi is None or x.max() <= hi
    assert stats.kstest(x, exact.cdf).statistic < _ks_bound(N)


@pytest.mark.parametrize(("data", "args"), TRUNCATED_LOGNORMAL, ids=lambda v: str(v))
def test_truncated_lognormal_draws_follow_the_truncated_cdf(data: dict, args: tuple) -> None:
    x = _param(data).draw(np.random.default_rng(12), N)  # type: ignore[attr-defined]
    assert stats.kstest(x, _lognormal_cdf(*args)).statistic < _ks_bound(N)


def test_truncation_renormalises_and_clip_piles_mass_on_the_bound() -> None:
    # the same normal, clipped and truncated: only the clipped one sits on the bounds
    rng = np.random.default_rng(3)
    clipped = _param({"normal": [0.9, 0.3], "clip": [0, 1]}).draw(rng, N)  # type: ignore[attr-defined]
    truncated = _param({"normal": [0.9, 0.3], "truncate": [0, 1]}).draw(rng, N)  # type: ignore[attr-defined]
    on_bound = np.mean(clipped == 1.0)
    p_above = stats.norm.sf(1, 0.9, 0.3)  # 0.37: what clip puts on 1
    assert abs(on_bound - p_above) < 4 * math.sqrt(p_above * (1 - p_above) / N)
    assert np.mean(truncated == 1.0) == 0


def test_clip_draws_exactly_as_before() -> None:
    # the clipped normal keeps its stream use: numpy's normal, then clipped
    got = _param({"normal": [0.5, 0.2], "clip": [0, 1]}).draw(np.random.default_rng(5), 100)  # type: ignore[attr-defined]
    want = np.clip(np.random.default_rng(5).normal(0.5, 0.2, 100), 0, 1)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "data",
    [
        {"normal": [0.5, 0.2], "clip": [0, 1]},
        {"normal": [-3.0, 0.0]},
        {"normal": [0, 1], "truncate": [-0.5, 2.0]},
        {"uniform": [2, 3]},
        {"lognormal": [0.1, 0.5]},
        0.25,
    ],
    ids=str,
)
def test_a_draw_into_rows_of_a_batch_is_the_draw_itself(data: object) -> None:
    # a batch's per-person values are drawn straight into its rows: the same numbers,
    # and the stream left where the draw leaves it, as numpy's own normal would
    value = _param(data)
    want_rng = np.random.default_rng(11)
    want = draw(value, want_rng, (3, 7))
    batch = np.full((9, 7), np.nan)
    got_rng = np.random.default_rng(11)
    draw_into(value, got_rng, batch[3:6])
    np.testing.assert_array_equal(batch[3:6], want)
    assert np.isnan(batch[:3]).all() and np.isnan(batch[6:]).all()
    assert got_rng.random() == want_rng.random()
    if isinstance(data, dict) and set(data) == {"normal"}:
        mu, sd = data["normal"]
        np.testing.assert_array_equal(want, np.random.default_rng(11).normal(mu, sd, (3, 7)))


@pytest.mark.parametrize(
    "data",
    [TRUNCATED[0][0], TRUNCATED[3][0], TRUNCATED_LOGNORMAL[0][0], TRUNCATED_LOGNORMAL[2][0]],
    ids=str,
)
def test_a_truncated_draw_takes_one_uniform_per_value(data: dict) -> None:
    # the stream advances by exactly `size` doubles, whatever the bounds
    rng, twin = np.random.default_rng(9), np.random.default_rng(9)
    _param(data).draw(rng, (7, 3))  # type: ignore[attr-defined]
    twin.random((7, 3))
    assert rng.random() == twin.random()


def _integral_mean(pdf, lo: float, hi: float) -> float:
    mass = integrate.quad(pdf, lo, hi)[0]
    return integrate.quad(lambda x: x * pdf(x), lo, hi)[0] / mass


@pytest.mark.parametrize(
    ("mu", "sd", "lo", "hi"),
    [(0.5, 0.3, 0, 1), (0.9, 0.3, 0, 1), (-1, 2, -0.5, 4), (10, 1, 0, 1), (0, 1, 2, 2.5)],
)
def test_truncated_normal_mean_is_the_renormalised_integral(
    mu: float, sd: float, lo: float, hi: float
) -> None:
    # independent: integrate x against the normal density inside, divide by the mass
    expected = _integral_mean(stats.norm(mu, sd).pdf, lo, hi)
    got = mean(_param({"normal": [mu, sd], "truncate": [lo, hi]}))  # type: ignore[arg-type]
    assert got == pytest.approx(expected, rel=1e-8, abs=1e-10)


@pytest.mark.parametrize(("a", "b"), [(8, 9), (30, 31), (-40, -38), (-1, 1e9)])
def test_truncated_normal_mean_stays_exact_far_in_a_tail(a: float, b: float) -> None:
    # independent: scipy's truncnorm (its other moments may warn that far out)
    with np.errstate(all="ignore"):
        expected = float(stats.truncnorm.mean(a, b))
    got = mean(_param({"normal": [0, 1], "truncate": [a, b]}))  # type: ignore[arg-type]
    assert got == pytest.approx(expected, rel=1e-9)
    if min(abs(a), abs(b)) > 20:  # limit: the near bound plus 1/bound (Mills' ratio)
        near = a if a > 0 else b
        assert got == pytest.approx(near + 1 / near, abs=2 / abs(near) ** 3)


def test_half_open_truncated_normal_mean_is_the_inverse_mills_ratio() -> None:
    # closed form of the half-bounded normal: mu + sd * phi(a) / (1 - Phi(a))
    got = mean(_param({"normal": [2, 1.5], "truncate": [1, None]}))  # type: ignore[arg-type]
    a = (1 - 2) / 1.5
    assert got == pytest.approx(2 + 1.5 * stats.norm.pdf(a) / stats.norm.sf(a), rel=1e-12)


@pytest.mark.parametrize(
    ("mu", "s", "lo", "hi"), [(4.6, 0.3, 80, 120), (0, 1, 0, 2), (0, 1, 3, None), (1, 0.5, 1, 10)]
)
def test_truncated_lognormal_mean_is_the_renormalised_integral(
    mu: float, s: float, lo: float, hi: float | None
) -> None:
    pdf = stats.lognorm(s, scale=math.exp(mu)).pdf
    expected = _integral_mean(pdf, lo, math.inf if hi is None else hi)
    got = mean(_param({"lognormal": [mu, s], "truncate": [lo, hi]}))  # type: ignore[arg-type]
    assert got == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("data", [TRUNCATED[1][0], TRUNCATED_LOGNORMAL[0][0]], ids=str)
def test_truncated_mean_agrees_with_draws_within_their_interval(data: dict) -> None:
    dist = _param(data)
    x = dist.draw(np.random.default_rng(7), 200_000)  # type: ignore[attr-defined]
    half_width = 4 * x.std() / math.sqrt(len(x))
    assert abs(x.mean() - mean(dist)) < half_width  # type: ignore[arg-type]


def test_a_point_normal_inside_its_truncation_is_that_point() -> None:
    dist = _param({"normal": [0.4, 0], "truncate": [0, 1]})
    assert mean(dist) == 0.4  # type: ignore[arg-type]
    np.testing.assert_array_equal(dist.draw(np.random.default_rng(1), 3), [0.4] * 3)  # type: ignore[attr-defined]


def test_a_truncated_normal_is_a_probability_when_its_bounds_are() -> None:
    probability.validate_python({"normal": [0.5, 0.4], "truncate": [0, 1]})
    with pytest.raises(ValidationError, match=r"a probability must lie in \[0, 1\]"):
        probability.validate_python({"normal": [0.5, 0.4], "truncate": [0, None]})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"normal": [0.5, 0.2], "truncate": [1, 0]}, "truncate needs low < high"),
        ({"normal": [0.5, 0.2], "truncate": [None, None]}, "at least one bound"),
        ({"normal": [0.5, 0.2], "truncate": [0, 1], "clip": [0, 1]}, "clip or truncate, not both"),
        ({"normal": [2, 0], "truncate": [0, 1]}, "outside truncate"),
        ({"lognormal": [0, 1], "truncate": [-1, 2]}, "low >= 0 and high > 0"),
        ({"lognormal": [0, 1], "truncate": [None, 0]}, "low >= 0 and high > 0"),
        ({"normal": [0.5, 0.2], "truncate": [0, 1, 2]}, "at most 2 items"),
    ],
)
def test_bad_truncation_is_refused(data: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _param(data)


def test_a_bad_truncation_in_a_file_is_located(tmp_path: Path) -> None:
    text = (Path(__file__).parent / "bad" / "probability.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "threshold: {normal: [0.5, 0.2], clip: [0, 1]}, spontaneous: 1.2",
        "threshold: {normal: [0.5, 0.2], truncate: [1, 0]}",
    )
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"{path}:22:" in result.stderr
    assert "agents.crowd.rule.threshold" in result.stderr
    assert "truncate needs low < high" in result.stderr


def test_an_unset_truncate_is_not_written_so_older_files_keep_their_hash() -> None:
    # the canonical form (what the scenario's sha256 covers) of a file written
    # before `truncate` existed must not change
    dumped = _param({"normal": [0.5, 0.2], "clip": [0, 1]}).model_dump(mode="json")  # type: ignore[attr-defined]
    assert dumped == {"normal": [0.5, 0.2], "clip": [0.0, 1.0]}
    assert _param({"lognormal": [1, 0.5]}).model_dump(mode="json") == {"lognormal": [1.0, 0.5]}  # type: ignore[attr-defined]
    kept = _param({"lognormal": [1, 0.5], "truncate": [0, 5]}).model_dump(mode="json")  # type: ignore[attr-defined]
    assert kept["truncate"] == [0.0, 5.0]


def test_a_sensitivity_input_from_a_truncated_normal_keeps_its_truncation() -> None:
    # --from-scenario maps the design's unit coordinates through the scenario's inverse CDF
    from sim.sensitivity import inverse_cdf

    u = np.array([0.0, 0.1, 0.5, 0.9, 1.0])
    got = inverse_cdf({"normal": [0.9, 0.3], "truncate": [0, 1]}, u)
    from sim.sensitivity import TAIL

    want = stats.truncnorm(-3, 1 / 3, 0.9, 0.3).ppf(np.clip(u, TAIL, 1 - TAIL))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert 0 <= got.min() and got.max() <= 1
