"""The standard normal's pieces that truncated and correlated draws need.

Used by :mod:`sim.distributions`.

scipy is imported inside the functions: a scenario without truncated or
correlated parameters never loads it (``stancesim run -n 1`` and ``validate``
stay light, see ``tests/test_startup_*.py``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

FloatArray = np.ndarray[Any, np.dtype[np.float64]]

#: The open unit interval's ends: a uniform of exactly 0 or 1 would give an
#: infinite quantile on an unbounded side.
_U_LOW = float(np.finfo(float).tiny)
_U_HIGH = float(np.nextafter(1.0, 0.0))


#: ``truncate: [low, high]``; ``null`` for a side left unbounded
Truncate = tuple[float | None, float | None]
TRUNCATE_HELP = (
    "[low, high]: values only inside, the probability renormalised there (not put on the "
    "bounds as clip does); null leaves that side unbounded"
)


def check_truncate(bounds: Truncate | None, centre: float, spread: float, what: str) -> None:
    """A truncation has a bound, is ordered and, for a point distribution, holds the point."""
    if bounds is None:
        return
    lo, hi = bounds
    if lo is None and hi is None:
        raise ValueError("truncate needs at least one bound, got [null, null]")
    if lo is not None and hi is not None and not lo < hi:
        raise ValueError(f"truncate needs low < high, got {[lo, hi]}")
    outside = (lo is not None and centre < lo) or (hi is not None and centre > hi)
    if spread == 0 and outside:
        raise ValueError(f"{what} is the point {centre:g}, outside truncate {[lo, hi]}")


def std_bounds(lo: float | None, hi: float | None, mu: float, sigma: float) -> tuple[float, float]:
    """Bounds in standard units, ``(lo - mu) / sigma``; a missing bound is infinite (sigma > 0)."""
    a = -math.inf if lo is None else (lo - mu) / sigma
    b = math.inf if hi is None else (hi - mu) / sigma
    return a, b


def log_mass(a: float, b: float) -> float:
    """``log(Φ(b) - Φ(a))`` for ``a < b``, accurate in both tails.

    An interval above 0 is mirrored below it (same mass), where
    ``scipy.special.log_ndtr`` keeps full precision; the difference is then
    taken in log space so that a far-tail interval keeps its (tiny) mass.
    """
    from scipy.special import log_ndtr

    if a > 0:
        a, b = -b, -a
    lb, la = float(log_ndtr(b)), float(log_ndtr(a))
    if la == -math.inf:
        return lb
    return lb + math.log1p(-math.exp(la - lb))


def std_truncated_mean(a: float, b: float) -> float:
    """Mean of the standard normal truncated to ``[a, b]``: ``(φ(a) - φ(b)) / (Φ(b) - Φ(a))``.

    Computed with ``log_mass`` (an interval above 0 through its mirror image),
    so that it stays exact when the interval lies far in a tail.
    """
    if a > 0:
        return -std_truncated_mean(-b, -a)
    log_z = log_mass(a, b)
    half_log_2pi = 0.5 * math.log(2 * math.pi)

    def density_over_mass(x: float) -> float:
        return 0.0 if math.isinf(x) else math.exp(-x * x / 2 - half_log_2pi - log_z)

    return density_over_mass(a) - density_over_mass(b)


def open_unit(u: FloatArray) -> FloatArray:
    """Uniforms moved into the open interval (0, 1), so that every quantile is finite."""
    return np.clip(u, _U_LOW, _U_HIGH)


def truncated_std_ppf(u: FloatArray, a: float, b: float) -> FloatArray:
    """Quantiles of the standard normal truncated to ``[a, b]`` (``scipy.stats.truncnorm``)."""
    from scipy.stats import truncnorm

    return np.asarray(truncnorm.ppf(open_unit(u), a, b), dtype=float)


def std_normal_ppf(u: FloatArray) -> FloatArray:
    """Quantiles of the standard normal (``scipy.special.ndtri``), finite for every ``u``."""
    from scipy.special import ndtri

    return np.asarray(ndtri(open_unit(u)), dtype=float)


def std_normal_cdf(z: FloatArray) -> FloatArray:
    """Φ of an array (``scipy.special.ndtr``)."""
    from scipy.special import ndtr

    return np.asarray(ndtr(z), dtype=float)
