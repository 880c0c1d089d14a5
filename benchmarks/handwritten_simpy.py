"""bench-770 written by hand in SimPy: one Environment per replicate, employees as one array.

The straightforward way to write the model with SimPy, used as the baseline
of the throughput benchmark. Follows bench-770.md line by line.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

H, N, PI, T_MS, P0, BETA = 168, 770, 0.2, 60, 0.005, 0.05
R = np.array([0.55, 0.70, 0.80])


def replicate(rng: np.random.Generator, n_emp: int = N) -> tuple[int, int]:
    """One replicate; returns (outcome, time) with outcome 0 = RETURN, 1 = MICROSOFT, -1 = NONE."""
    theta = np.clip(rng.normal(0.5, 0.2, n_emp), 0.0, 1.0)
    t_s = rng.uniform(55, 70)
    patience = rng.uniform(90, 130)
    signed = np.zeros(n_emp, dtype=bool)
    flipped = np.zeros(3, dtype=bool)
    result = [-1, H]
    env = simpy.Environment()

    def clock(env: simpy.Environment) -> Generator[simpy.Event, Any, None]:
        for t in range(1, H + 1):
            yield env.timeout(1)
            sut = t >= t_s
            f_prev = signed.mean()
            support = f_prev + PI * (t >= T_MS)
            reach = support >= theta - 1e-9
            signed[:] |= reach | (rng.random(n_emp) < P0)
            f = signed.mean()
            p = 0.5 * f + 0.3 * min(1.0, t / 72) + 0.2 * sut
            flipped[:] |= rng.random(3) < np.minimum(1.0, BETA * np.maximum(0.0, p - R))
            if t >= 24 and t % 6 == 0 and sut + flipped.sum() >= 3:
                result[:] = [0, t]
                return
            if t >= patience:
                result[:] = [1, t]
                return

    env.process(clock(env))
    env.run()
    return result[0], result[1]


def run(n_rep: int, seed: int, n_emp: int = N) -> np.ndarray:
    """Outcomes of ``n_rep`` replicates."""
    rng = np.random.default_rng(seed)
    return np.array([replicate(rng, n_emp)[0] for _ in range(n_rep)])
