"""The scenario language's continuous distributions as scipy laws (density, CDF, quantiles).

Rejuvenation (:mod:`sim.rejuvenate`, :mod:`sim.refresh`) needs what the
engine's own draws do not: log densities, CDFs and quantile functions of a
parameter's prior. scipy's frozen distributions give them, well tested,
for every kind the language has; a ``truncate``d normal is scipy's
``truncnorm``, and a ``truncate``d log-normal the exponential of one
(:class:`TruncatedLogNormal`, which older scipy versions do not offer).
``clip`` is not part of the law: a clipped value has atoms at the bounds,
which each user handles itself (a latent unclipped value).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from sim import truncation as T
from sim.distributions import Beta, LogNormal, Normal, Triangular, Uniform

Array = np.ndarray[Any, Any]


class TruncatedLogNormal:
    """``exp(Y)`` with ``Y`` a normal truncated to ``[log lo, log hi]``: a frozen-law subset."""

    def __init__(self, mu: float, sigma: float, lo: float | None, hi: float | None) -> None:
        log_lo = math.log(lo) if lo is not None and lo > 0 else None
        log_hi = math.log(hi) if hi is not None else None
        a, b = T.std_bounds(log_lo, log_hi, mu, sigma)
        self.mu, self.sigma, self.a, self.b = mu, sigma, a, b
        self.log = stats.truncnorm(a, b, loc=mu, scale=sigma)

    def logpdf(self, x: Array) -> Array:
        """Log density (change of variables: ``log f_Y(log x) - log x``)."""
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.log(np.where(x > 0, x, np.nan))
            out = self.log.logpdf(y) - y
        return np.where(x > 0, out, -np.inf)

    def cdf(self, x: Array) -> Array:
        """``P(X <= x)``."""
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore"):
            return np.where(x > 0, self.log.cdf(np.log(np.maximum(x, 0.0))), 0.0)

    def ppf(self, u: Array) -> Array:
        """Quantiles."""
        return np.exp(self.log.ppf(u))

    def std(self) -> float:
        """Standard deviation, from the truncated normal's moment generating function."""
        m1, m2 = self._moment(1), self._moment(2)
        return math.sqrt(max(0.0, m2 - m1 * m1))

    def _moment(self, k: int) -> float:
        # E[exp(kY)] = exp(k mu + k^2 sigma^2 / 2) P(a - k sigma < Z < b - k sigma) / P(a < Z < b)
        s = k * self.sigma
        log_ratio = T.log_mass(self.a - s, self.b - s) - T.log_mass(self.a, self.b)
        return math.exp(k * self.mu + s * s / 2 + log_ratio)


def law_of(dist: Any) -> Any | None:
    """The scipy law of a distribution (without its ``clip``), None for constants and choices.

    Degenerate laws (a zero-width uniform, a zero standard deviation) are None too:
    nothing about them can be moved or refreshed.
    """
    if isinstance(dist, Uniform):
        lo, hi = dist.uniform
        return stats.uniform(lo, hi - lo) if hi > lo else None
    if isinstance(dist, Normal):
        mu, sigma = dist.normal
        if sigma <= 0 or (dist.clip is not None and dist.clip[0] >= dist.clip[1]):
            return None
        if dist.truncate is not None:
            a, b = T.std_bounds(*dist.truncate, mu, sigma)
            return stats.truncnorm(a, b, loc=mu, scale=sigma)
        return stats.norm(mu, sigma)
    if isinstance(dist, Beta):
        return stats.beta(*dist.beta)
    if isinstance(dist, Triangular):
        lo, mode, hi = dist.triangular
        if hi <= lo:
            return None
        return stats.triang((mode - lo) / (hi - lo), loc=lo, scale=hi - lo)
    if isinstance(dist, LogNormal):
        mu, sigma = dist.lognormal
        if sigma <= 0:
            return None
        if dist.truncate is not None:
            return TruncatedLogNormal(mu, sigma, *dist.truncate)
        return stats.lognorm(sigma, scale=math.exp(mu))
    return None
