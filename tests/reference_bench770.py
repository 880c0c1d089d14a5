"""An independent, literal implementation of bench-770.md (numpy across replicates).

It follows the specification line by line (one uniform draw per employee per
tick), shares no code with the engine, and serves the cross-check tests and
the benchmark.
"""

from __future__ import annotations

import numpy as np


def bench770(n_rep: int, seed: int, n_emp: int = 770) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    H, pi, t_ms, p0, beta = 168, 0.2, 60, 0.005, 0.05
    r = np.array([0.55, 0.70, 0.80])
    theta = np.clip(rng.normal(0.5, 0.2, (n_rep, n_emp)), 0.0, 1.0)
    t_s = rng.uniform(55, 70, n_rep)
    D = rng.uniform(90, 130, n_rep)
    signed = np.zeros((n_rep, n_emp), dtype=bool)
    flipped = np.zeros((n_rep, 3), dtype=bool)
    flip_time = np.full((n_rep, 4), np.nan)
    outcome = np.full(n_rep, -1)  # 0 return, 1 microsoft
    time = np.full(n_rep, np.nan)
    final_f = np.full(n_rep, np.nan)
    alive = np.ones(n_rep, dtype=bool)
    half = np.full(n_rep, np.nan)  # first tick with at least half signed
    for t in range(1, H + 1):
        sut = t >= t_s
        flip_time[sut & np.isnan(flip_time[:, 0]), 0] = t
        f_prev = signed.mean(axis=1)
        support = f_prev + pi * (t >= t_ms)
        by_threshold = support[:, None] >= theta - 1e-9
        spont = rng.random((n_rep, n_emp)) < p0
        signed |= by_threshold | spont
        f = signed.mean(axis=1)
        half[np.isnan(half) & alive & (f >= 0.5)] = t
        inv = min(1.0, t / 72)
        P = 0.5 * f + 0.3 * inv + 0.2 * sut
        prob = np.minimum(1.0, beta * np.maximum(0.0, P[:, None] - r))
        flips = ~flipped & (rng.random((n_rep, 3)) < prob)
        new = flips & alive[:, None]
        for j in range(3):
            flip_time[new[:, j] & np.isnan(flip_time[:, j + 1]), j + 1] = t
        flipped |= flips
        votes = sut.astype(int) + flipped.sum(axis=1)
        ret = alive & (t >= 24) & (t % 6 == 0) & (votes >= 3)
        outcome[ret], time[ret], final_f[ret] = 0, t, f[ret]
        alive &= ~ret
        ms = alive & (t >= D)
        outcome[ms], time[ms], final_f[ms] = 1, t, f[ms]
        alive &= ~ms
        if not alive.any():
            break
    return {
        "outcome": outcome,
        "time": time,
        "final_f": final_f,
        "flip_time": flip_time,
        "half": half,
    }
