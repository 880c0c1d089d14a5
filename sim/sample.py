"""Parameter samplers: each a pure function returning points in the unit cube or a grid.

``grid`` takes the values of each parameter; the others take bounds and a
number of points, and draw from ``rng`` (a :class:`numpy.random.Generator`),
the only source of their randomness. LHS and Sobol come from
:mod:`scipy.stats.qmc` (well tested, scrambled Sobol with its balance
properties), not written here.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]
SAMPLERS = ("grid", "random", "lhs", "sobol")


def grid(values: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """Every combination of the values, the first parameter varying slowest."""
    return list(itertools.product(*values))


def unit_points(sampler: str, dims: int, points: int, rng: np.random.Generator) -> Array:
    """``points`` points in ``[0, 1)^dims`` by ``random``, ``lhs`` or ``sobol``."""
    if points < 1:
        raise ValueError(f"points must be >= 1, got {points}")
    if sampler == "random":
        return rng.random((points, dims))
    from scipy.stats import qmc

    if sampler == "lhs":
        return np.asarray(qmc.LatinHypercube(d=dims, rng=rng).random(points))
    if sampler == "sobol":
        engine = qmc.Sobol(d=dims, scramble=True, rng=rng)
        m = int(np.ceil(np.log2(points)))
        # draw the whole power-of-two sequence (balanced), keep the first ``points``
        return np.asarray(engine.random_base2(m))[:points]
    raise ValueError(f"unknown sampler {sampler!r}; expected one of {', '.join(SAMPLERS)}")


def scale(unit: Array, lows: Sequence[float], highs: Sequence[float]) -> Array:
    """Map unit-cube points to the boxes ``[low, high]``."""
    lo, hi = np.asarray(lows, dtype=float), np.asarray(highs, dtype=float)
    return lo + unit * (hi - lo)
