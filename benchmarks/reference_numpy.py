"""bench-770 hand-vectorised in numpy: exact in distribution, no random draw per employee per tick.

The model is ``bench-770.md`` (shared/domain) and nothing else; this module
shares no code with the engine. It is the reference a strong numpy programmer
would write, used by ``bench_throughput.py`` as the bar the engine must reach
and by ``tests/test_bench_references.py`` as a cross-check.

Why it is exact
---------------
Signing cannot be undone and the support ``f_prev + pi * [t >= t_ms]`` never
decreases, so employee ``i`` is signed at the end of tick ``t`` exactly when

* ``theta_i <= support(t) + 1e-9`` (reached by its threshold at or before
  ``t``), or
* ``m_i <= t``, where ``m_i`` is the first tick whose spontaneous Bernoulli
  draw (probability ``p0``) succeeds: a geometric variable. The draws of ticks
  at which ``i`` was already signed decide nothing, so drawing the first
  success once replaces one draw per tick with the same distribution.

With the thresholds of a replicate sorted, the ones reached form a prefix of
ranks ``[0, k(t))``, and ``k(t)`` depends on the signed count only, so it is
read from a table built once per replicate (no search per tick). The signed
count then moves by

* the ranks that join the prefix this tick, ``[k(t-1), k(t))``, minus those
  among them that had already signed spontaneously (``m_i < t``); the ranges
  of all ticks together cover each rank at most once;
* the spontaneous successes of this tick above the prefix: ``m_i == t`` and
  rank ``>= k(t)``, counted with one binary search in the replicate's
  successes sorted by (tick, rank).

Ticks that follow a fully signed population skip this step. The board keeps
its per-tick Bernoulli draws (three per live replicate), as the model says.

Command line (used by ``bench_throughput.py`` as a whole process)::

    python benchmarks/reference_numpy.py -n 20000 --seed 1 [--employees 770]

prints one JSON line: replicates, P(return), mean outcome time and the CPU
seconds of the simulation itself.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]

H = 168  # horizon (ticks)
N = 770  # employees
PI, T_MS, P0, BETA = 0.2, 60, 0.005, 0.05
R_BOARD = np.array([0.55, 0.70, 0.80])  # D'Angelo, McCauley, Toner
TOL = 1e-9  # support >= theta - 1e-9, as the engine and the literal reference
#: About this many employee entries per chunk of replicates (memory bound).
CHUNK_ENTRIES = 1_500_000


def _reach_table(theta: Array, add: float, n_emp: int) -> Array:
    """``K[r * (N + 1) + n]``: employees of replicate ``r`` reached by threshold when ``n`` signed.

    Employee ``i`` is reached when ``n / N + add >= theta_i - TOL``, that is from
    ``n = ceil((theta_i - TOL - add) * N)`` on. Rounding can only disagree with
    the literal comparison within about 1e-13 of a boundary; the atoms of the
    clipped thresholds (0 and 1) stay 1e-9 (``TOL``) away from one.
    """
    rows = theta.shape[0]
    need = theta * n_emp
    need -= (TOL + add) * n_emp
    np.ceil(need, out=need)
    np.clip(need, 0, n_emp + 1, out=need)
    need += ((n_emp + 2) * np.arange(rows))[:, None]
    counts = np.bincount(need.astype(np.int64).ravel(), minlength=rows * (n_emp + 2))
    counts = counts.reshape(rows, n_emp + 2)[:, : n_emp + 1]
    return np.cumsum(counts, axis=1).ravel()


def _ragged(starts: Array, lengths: Array) -> tuple[Array, Array]:
    """Flat positions ``starts[j] + 0 .. lengths[j] - 1`` for all ``j``, and their ``j``."""
    owner = np.repeat(np.arange(lengths.size), lengths)
    shift = starts - (np.cumsum(lengths) - lengths)
    return np.arange(owner.size) + shift[owner], owner


def _chunk(
    rng: np.random.Generator,
    rows: int,
    n_emp: int,
    pi: float,
    t_ms: float,
    p0: float,
    beta: float,
) -> dict[str, Array]:
    """Simulate ``rows`` replicates at once."""
    theta = np.sort(rng.normal(0.5, 0.2, (rows, n_emp)), axis=1)
    np.clip(theta, 0.0, 1.0, out=theta)
    # first spontaneous success, geometric(p0) as ceil(E / -log(1 - p0)) with E ~ Exp(1)
    if p0 > 0:
        m = rng.standard_exponential((rows, n_emp))
        m *= -1.0 / np.log1p(-p0)
        np.minimum(m, H + 1, out=m)  # never within the horizon: H + 1
        np.ceil(m, out=m)
        m = m.astype(np.int16)
    else:
        m = np.full((rows, n_emp), H + 1, dtype=np.int16)
    t_s = rng.uniform(55, 70, rows)
    patience = rng.uniform(90, 130, rows)
    sut_tick = np.maximum(1, np.ceil(t_s)).astype(np.int64)  # first tick >= t_s
    dead_tick = np.maximum(1, np.ceil(patience)).astype(np.int64)

    reach_plain = _reach_table(theta, 0.0, n_emp)
    reach_offer = _reach_table(theta, pi, n_emp)
    del theta
    # ranks of each row grouped by success tick (a stable sort of small ints is a radix sort);
    # those of tick s in row r sit at r * N + before[r * (H + 2) + s] onwards
    by_tick = np.argsort(m, axis=1, kind="stable").ravel()
    per_tick = np.zeros((rows, H + 2), dtype=np.int64)
    per_tick[:, 1:] = np.cumsum(
        np.bincount(
            (m + ((H + 2) * np.arange(rows))[:, None]).ravel(), minlength=rows * (H + 2)
        ).reshape(rows, H + 2)[:, :-1],
        axis=1,
    )
    before = per_tick.ravel()
    m_flat = m.ravel()

    outcome = np.full(rows, -1, dtype=np.int8)  # 0 RETURN, 1 MICROSOFT, -1 NONE
    out_time = np.full(rows, np.nan)
    final_f = np.full(rows, np.nan)
    flip_time = np.full((rows, 4), np.nan)
    flip_time[:, 0] = np.where(sut_tick <= H, sut_tick, np.nan)
    half = np.full(rows, np.nan)

    # state of the live rows only; `live` maps them to rows of the chunk
    live = np.arange(rows)
    signed = np.zeros(rows, dtype=np.int64)
    reached = np.zeros(rows, dtype=np.int64)
    flipped = np.zeros((rows, 3), dtype=bool)
    saturated = False
    for t in range(1, H + 1):
        if not saturated:
            table = reach_offer if t >= t_ms else reach_plain
            k = table[live * (n_emp + 1) + signed]
            # ranks joining the prefix, less those that signed spontaneously before t
            pos, owner = _ragged(live * n_emp + reached, k - reached)
            if pos.size:
                fresh = m_flat[pos] >= t
                signed += np.bincount(owner, weights=fresh, minlength=live.size).astype(np.int64)
            # spontaneous successes of tick t at ranks >= k
            cell = live * (H + 2) + t
            pos, owner = _ragged(live * n_emp + before[cell], before[cell + 1] - before[cell])
            if pos.size:
                above = by_tick[pos] >= k[owner]
                signed += np.bincount(owner, weights=above, minlength=live.size).astype(np.int64)
            reached = k
            saturated = bool((signed == n_emp).all())
        f = signed / n_emp
        half[live[np.isnan(half[live]) & (f >= 0.5)]] = t

        sut = t >= sut_tick[live]
        pressure = 0.5 * f + 0.3 * min(1.0, t / 72) + 0.2 * sut
        prob = np.minimum(1.0, beta * np.maximum(0.0, pressure[:, None] - R_BOARD))
        if prob.any():  # no draw can flip anyone while every probability is 0
            flips = ~flipped & (rng.random((live.size, 3)) < prob)
            flipped |= flips
            r_idx, j_idx = np.nonzero(flips)
            flip_time[live[r_idx], j_idx + 1] = t

        ret = np.zeros(live.size, dtype=bool)
        if t >= 24 and t % 6 == 0:
            ret = sut + flipped.sum(axis=1) >= 3
        dead = ~ret & (t >= dead_tick[live])
        ended = ret | dead
        if ended.any():
            ids = live[ended]
            outcome[ids] = np.where(ret[ended], 0, 1)
            out_time[ids] = t
            final_f[ids] = f[ended]
            keep = ~ended
            live, signed, reached, flipped = live[keep], signed[keep], reached[keep], flipped[keep]
            if not live.size:
                break
    # Sutskever's flip after the outcome is not part of the replicate
    flip_time[flip_time[:, 0] > out_time, 0] = np.nan
    return {
        "outcome": outcome,
        "time": out_time,
        "final_f": final_f,
        "flip_time": flip_time,
        "half": half,
    }


def bench770(
    n_rep: int,
    seed: int,
    n_emp: int = N,
    *,
    pi: float = PI,
    t_ms: float = T_MS,
    p0: float = P0,
    beta: float = BETA,
) -> dict[str, Array]:
    """Simulate ``n_rep`` replicates of bench-770.

    Parameters
    ----------
    n_rep : int
        Number of replicates.
    seed : int
        Seed of the one generator all replicates draw from (in chunks).
    n_emp : int
        Employees ``N``.
    pi, t_ms, p0, beta : float
        The offer's weight and tick, the spontaneous probability and the board's
        rate; bench-770's values by default (others serve limit checks).

    Returns
    -------
    dict of arrays
        ``outcome`` (0 RETURN, 1 MICROSOFT, -1 NONE), ``time``, ``final_f``
        (fraction signed at the outcome), ``flip_time`` (n_rep, 4: Sutskever,
        D'Angelo, McCauley, Toner; NaN if no flip before the outcome) and
        ``half`` (first tick with at least half signed, NaN if none).
    """
    rng = np.random.default_rng(seed)
    size = max(1, CHUNK_ENTRIES // n_emp)
    parts = [
        _chunk(rng, min(size, n_rep - i), n_emp, pi, t_ms, p0, beta) for i in range(0, n_rep, size)
    ]
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=10_000, help="replicates")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--employees", type=int, default=N)
    args = ap.parse_args()
    cpu = time.process_time()
    res = bench770(args.n, args.seed, args.employees)
    cpu = time.process_time() - cpu
    ret = res["outcome"] == 0
    print(
        json.dumps(
            {
                "n": args.n,
                "returns": int(ret.sum()),
                "mean_time": float(np.nanmean(res["time"])),
                "sim_cpu_s": cpu,
            }
        )
    )


if __name__ == "__main__":
    main()
