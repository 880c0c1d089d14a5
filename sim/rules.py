"""Stance rules as pure functions on arrays (one row per replicate).

Each function takes the current observables and parameters and returns what
changes; none of them holds state or draws random numbers unless it is given
a generator, so each can be tested against its closed form.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]

#: The one tolerance of every comparison of the model: two values within 1e-9
#: of each other are equal. Conditions (``at_least``, ``at_most``, ``above``,
#: ``below``), thresholds (``support >= threshold``) and averaging cut-offs
#: (``x >= cutoff``) all use it, so that sums of decimal weights that are equal
#: on paper (ten terms of 0.1 and 1.0) compare equal. Quorums count members
#: and compare exact rationals, so they need none.
TOLERANCE = 1e-9
#: The former name of :data:`TOLERANCE`.
THRESHOLD_TOLERANCE = TOLERANCE


def at_least(x: Array | float, value: Array | float) -> Array:
    """``x >= value``, within :data:`TOLERANCE`."""
    return np.asarray(x >= value - TOLERANCE)


def at_most(x: Array | float, value: Array | float) -> Array:
    """``x <= value``, within :data:`TOLERANCE`."""
    return np.asarray(x <= value + TOLERANCE)


def above(x: Array | float, value: Array | float) -> Array:
    """``x > value`` by more than :data:`TOLERANCE` (equal values are not above)."""
    return np.asarray(x > value + TOLERANCE)


def below(x: Array | float, value: Array | float) -> Array:
    """``x < value`` by more than :data:`TOLERANCE` (equal values are not below)."""
    return np.asarray(x < value - TOLERANCE)


#: The comparisons of conditions, by their key in a scenario.
COMPARISONS = {"at_least": at_least, "at_most": at_most, "above": above, "below": below}


def per_tick(p_per_hour: Array | float, tick: float) -> Array:
    """Convert a per-hour probability to a per-tick one: ``1 - (1 - p) ** tick``."""
    p = np.asarray(p_per_hour, dtype=float)
    if tick == 1.0:
        return p
    return 1.0 - (1.0 - p) ** tick


def hazard_probability(pressure: Array, resistance: Array, rate: Array) -> Array:
    """Per-hour switch probability ``min(1, rate * max(0, pressure - resistance))``."""
    return np.minimum(1.0, rate * np.maximum(0.0, pressure - resistance))


def hazard_back_probability(pressure: Array, resistance: Array, rate: Array) -> Array:
    """Per-hour probability of switching back: ``min(1, rate * max(0, resistance - pressure))``."""
    return np.minimum(1.0, rate * np.maximum(0.0, resistance - pressure))


def logistic_probability(pressure: Array, resistance: Array, rate: Array, slope: Array) -> Array:
    """Per-hour probability ``rate / (1 + exp(-slope * (pressure - resistance)))``."""
    z = np.clip(-slope * (pressure - resistance), -700.0, 700.0)
    return rate / (1.0 + np.exp(z))


def logistic_back_probability(
    pressure: Array, resistance: Array, rate: Array, slope: Array
) -> Array:
    """Per-hour probability of switching back: the logistic of the negated excess."""
    return logistic_probability(-pressure, -resistance, rate, slope)


def threshold_reached(support: Array, threshold: Array) -> Array:
    """Granovetter's rule: ``support >= threshold`` within :data:`TOLERANCE`."""
    return at_least(support, threshold)


def averaging_step(x0: Array, stubbornness: Array, inputs: Array, weights: Array) -> Array:
    """One Friedkin-Johnsen step for several agents at once.

    Parameters
    ----------
    x0, stubbornness : array, shape (R, A)
        Initial opinions and stubbornness of A averaging agents.
    inputs : array, shape (R, J)
        Current value of every quantity the agents listen to.
    weights : array, shape (A, J)
        Row-stochastic weights.

    Returns
    -------
    array, shape (R, A)
        ``s * x0 + (1 - s) * inputs @ weights.T``.
    """
    return stubbornness * x0 + (1.0 - stubbornness) * (inputs @ weights.T)


def friedkin_johnsen_equilibrium(weights: Array, stubbornness: Array, x0: Array) -> Array:
    """Closed-form limit ``(I - (1 - S) W)^-1 S x(0)`` (for tests and documentation)."""
    s = np.diag(stubbornness)
    n = len(x0)
    return np.asarray(np.linalg.solve(np.eye(n) - (np.eye(n) - s) @ weights, s @ x0))


def quorum_passes(
    in_motion: Array, present: Array, at_least: int | None, fraction: Fraction | None
) -> Array:
    """Whether a vote passes; ``fraction`` is compared exactly as a rational.

    Unanimity is ``fraction == 1``.
    """
    if at_least is not None:
        return np.asarray(in_motion >= at_least)
    assert fraction is not None
    # count / present >= p / q  <=>  count * q >= p * present, in integers
    return np.asarray(
        (present > 0) & (in_motion * fraction.denominator >= fraction.numerator * present)
    )


Spans = Iterable[tuple[np.random.Generator, slice]]


def threshold_population_step(
    rng: np.random.Generator | Spans,
    n: int,
    crossed: Array,
    spontaneous: Array,
    new_crossed: Array,
    p_spontaneous: Array,
) -> tuple[Array, Array]:
    """One synchronous tick of an irreversible threshold population, in counts.

    Individuals are exchangeable and their thresholds independent of their
    spontaneous switching, so instead of one coin per individual per tick the
    step works on counts, exactly in distribution:

    - ``crossed`` individuals (the lowest thresholds) have switched because the
      running maximum of the support reached them; ``spontaneous`` more, above
      those, switched by chance.
    - When the support reaches ``new_crossed - crossed`` more thresholds, the
      ones among them that had already switched by chance form a
      hypergeometric draw from the individuals above the old count.
    - Those still out then switch spontaneously: a binomial draw.

    ``rng`` is a generator, or ``(generator, rows)`` pairs when blocks of rows
    draw from streams of their own (a batch, :mod:`sim.engine.streams`): each
    block then draws exactly as it would alone. A binomial draw with no one
    out (or a probability of 0) takes nothing from the stream, so a block
    whose rows are all saturated makes no binomial call.

    Returns
    -------
    crossed, spontaneous : arrays of int
        The new counts; the number in the target position is their sum.
    """
    spans = [(rng, slice(0, len(crossed)))] if isinstance(rng, np.random.Generator) else list(rng)
    delta = new_crossed - crossed
    spontaneous = spontaneous.copy()
    # the rows of all blocks are gathered at once; each block then draws for its own
    hit = np.flatnonzero((delta > 0) & (spontaneous > 0))
    if hit.size:
        good = spontaneous[hit]
        bad = n - crossed[hit] - good
        sample = delta[hit]
        edges = np.searchsorted(hit, [rows.start for _, rows in spans] + [len(crossed)])
        for (g, _), a, b in zip(spans, edges[:-1], edges[1:], strict=True):
            if b > a:
                good[a:b] -= g.hypergeometric(good[a:b], bad[a:b], sample[a:b])
        spontaneous[hit] = good
    out = n - new_crossed - spontaneous
    p = np.broadcast_to(p_spontaneous, out.shape)
    draws = (out > 0) & ~(p <= 0)  # NaN draws, so that numpy refuses it as before
    for g, rows in spans:
        if draws[rows].any():
            spontaneous[rows] += g.binomial(out[rows], p[rows])
    return new_crossed, spontaneous


def changed_values(old: Array, how: str, amount: float) -> Array:
    """Per-person values after an event's change: ``set`` to, ``add`` to or ``scale`` by ``amount``.

    A new array every time (the drawn one may be a read-only view of a given list).
    """
    if how == "set":
        return np.full(np.shape(old), amount, dtype=float)
    if how == "add":
        return old + amount
    if how == "scale":
        return old * amount
    raise ValueError(f"unknown change {how!r}: expected set, add or scale")


# ------------------------------------------------------- bounded confidence
def deffuant_encounter(
    x: Array, a: Array, b: Array, eps: tuple[Array, Array], mu: tuple[Array, Array]
) -> None:
    """One Deffuant encounter in every row, in place: ``a`` and ``b`` meet.

    Each moves ``mu`` of the way towards the other when their opinions differ
    by less than its own confidence ``eps`` (:func:`below`, with
    :data:`TOLERANCE`); with the same ``eps`` and ``mu`` on both sides this is
    Deffuant et al. (2000).

    Parameters
    ----------
    x : array, shape (R * N,)
        Opinions, row after row (a flat view of an (R, N) array).
    a, b : arrays of int, shape (R,)
        Flat indices of the two who meet in each row (``a != b``).
    eps, mu : pairs of arrays, shape (R,)
        Confidence and convergence of ``a`` and of ``b``.
    """
    xa, xb = x[a], x[b]
    d = xb - xa
    gap = np.abs(d)
    x[a] = np.where(below(gap, eps[0]), xa + mu[0] * d, xa)
    x[b] = np.where(below(gap, eps[1]), xb - mu[1] * d, xb)


def hegselmann_krause_dense(x: Array, eps: Array, peers: Array) -> Array:
    """One synchronous Hegselmann-Krause step of a few agents, in every row.

    Parameters
    ----------
    x, eps : arrays, shape (R, A)
        Opinions and confidence of each agent.
    peers : array of bool, shape (A, A)
        ``peers[i, j]``: agent ``i`` hears ``j`` (the diagonal is True).

    Returns
    -------
    array, shape (R, A)
        Each agent's mean of the opinions it hears within ``eps``
        (``|x_j - x_i| <= eps_i``, :func:`at_most`), its own included.
    """
    within = at_most(np.abs(x[:, None, :] - x[:, :, None]), eps[:, :, None]) & peers
    return np.asarray((within * x[:, None, :]).sum(axis=2) / within.sum(axis=2))


def hegselmann_krause_sorted(x: Array, eps: Array) -> Array:
    """One synchronous Hegselmann-Krause step of a whole population, in every row.

    Everyone moves to the mean of the opinions within ``eps`` of their own
    (``|x_j - x_i| <= eps``, :func:`at_most`), their own included. Sorting
    each row makes those opinions a contiguous run, found by binary search,
    and prefix sums give each run's total: O(N log N) per row, not O(N^2).
    Rows are searched together, laid end to end with offsets, unless the
    offsets' rounding could reach a tenth of :data:`TOLERANCE` (as
    :class:`sim.thresholds.SortedThresholds` for large populations).

    Parameters
    ----------
    x : array, shape (R, N)
    eps : array, shape (R,)

    Returns
    -------
    array, shape (R, N)
        The new opinions, each in its person's column.
    """
    rows, n = x.shape
    order = np.argsort(x, axis=1, kind="stable")
    xs = np.take_along_axis(x, order, axis=1)
    sums = np.zeros((rows, n + 1))
    np.cumsum(xs, axis=1, out=sums[:, 1:])
    reach = (eps + TOLERANCE)[:, None]
    low, high = xs - reach, xs + reach
    span = float(high.max() - low.min()) + 1.0
    if rows * span * 2.3e-16 > TOLERANCE / 10 or rows == 1:
        lo = np.array([np.searchsorted(r, q, "left") for r, q in zip(xs, low, strict=True)])
        hi = np.array([np.searchsorted(r, q, "right") for r, q in zip(xs, high, strict=True)])
    else:
        shift = (np.arange(rows) * span)[:, None]
        keys = (xs + shift).ravel()
        base = (np.arange(rows) * n)[:, None]
        lo = np.searchsorted(keys, low + shift, "left") - base
        hi = np.searchsorted(keys, high + shift, "right") - base
    lo, hi = lo.reshape(rows, n), hi.reshape(rows, n)
    means = (np.take_along_axis(sums, hi, axis=1) - np.take_along_axis(sums, lo, axis=1)) / (
        hi - lo
    )
    # a run of equal opinions (a settled cluster, someone who hears no one) stays
    # exactly where it is, not a rounding of its prefix sums away
    first = np.take_along_axis(xs, lo, axis=1)
    alike = first == np.take_along_axis(xs, hi - 1, axis=1)
    means = np.where(alike, first, means)
    out = np.empty_like(x)
    np.put_along_axis(out, order, means, axis=1)
    return out


def clusters(x: Array, gap: float = 1e-3) -> Array:
    """Number of clusters in each row: runs of sorted opinions with steps below ``gap``."""
    xs = np.sort(x, axis=1)
    return np.asarray(1 + (np.diff(xs, axis=1) > gap).sum(axis=1))
