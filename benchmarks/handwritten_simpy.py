"""bench-770 written by hand in SimPy, the way a SimPy user would write it well.

One ``simpy.Environment`` per replicate; the employees are one numpy array
(the thresholds of those still unsigned, which shrinks as they sign);
Sutskever, the Microsoft offer, the employees, the board (one process stepping
its three remaining members), the vote and Altman's patience (the deadline)
are processes that wait on ``env.timeout``, and the replicate ends on one
``done`` event. Exact to ``bench-770.md``
(shared/domain); shares no code with the engine.

The order of the steps within an hour (the model's steps 1-5) is made explicit
rather than left to SimPy's tie-breaking: hour ``t`` occupies the simulation
times ``STEP * t + phase``, with phase 0 for Sutskever and the offer,
1 employees, 2 board, 3 vote and 4 deadline. Processes stop as soon as they
can change nothing (the employees when everyone has signed, the board when
all its members have flipped), and a member draws nothing while its
probability is 0.

Command line (used by ``bench_throughput.py`` as a whole process)::

    python benchmarks/handwritten_simpy.py -n 1000 --seed 1 [--employees 770]

prints one JSON line: replicates, P(return), mean outcome time and the CPU
seconds of the simulation itself.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

Array = np.ndarray[Any, Any]
Proc = Generator[simpy.Event, Any, None]

H = 168  # horizon (hours)
N = 770  # employees
PI, T_MS, P0, BETA = 0.2, 60, 0.005, 0.05
RESISTANCE = (0.55, 0.70, 0.80)  # D'Angelo, McCauley, Toner
TOL = 1e-9  # support >= theta - 1e-9, as the engine and the other references
STEP = 5  # simulation time units per hour: one per phase
SUTSKEVER, EMPLOYEES, BOARD, VOTE, DEADLINE = range(STEP)
RETURN, MICROSOFT, NONE = 0, 1, -1


class Replicate:
    """One replicate of bench-770: its state, its processes and its result.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of every draw of the replicate.
    n_emp, pi, t_ms, p0, beta
        Employees, the offer's weight and hour, the spontaneous probability per
        hour and the board's rate (bench-770's values by default).
    """

    def __init__(
        self,
        rng: np.random.Generator,
        n_emp: int = N,
        pi: float = PI,
        t_ms: float = T_MS,
        p0: float = P0,
        beta: float = BETA,
    ) -> None:
        self.rng, self.n_emp, self.pi, self.p0, self.beta = rng, n_emp, pi, p0, beta
        self.unsigned = np.clip(rng.normal(0.5, 0.2, n_emp), 0.0, 1.0) - TOL
        t_s = rng.uniform(55, 70)
        patience = rng.uniform(90, 130)
        self.env = simpy.Environment()
        self.done = self.env.event()
        self.signed = 0
        self.sutskever = False
        self.offer = False
        self.flipped = [False, False, False]
        self.outcome, self.time = NONE, math.nan
        self.final_f, self.half = math.nan, math.nan
        self.flip_time = [math.nan] * 4
        env = self.env
        env.process(self.sutskever_flips(_first_hour(t_s)))
        env.process(self.microsoft_offer(_first_hour(t_ms)))
        env.process(self.employees())
        env.process(self.board())
        env.process(self.vote())
        env.process(self.deadline(_first_hour(patience)))

    def run(self) -> Replicate:
        """Run until the outcome (or past the horizon) and return self."""
        self.env.run(until=self.done)
        return self

    def at(self, hour: int, phase: int) -> simpy.Timeout:
        """Wait until ``phase`` of ``hour``."""
        return self.env.timeout(STEP * hour + phase - self.env.now)

    def hour(self) -> int:
        return int(self.env.now) // STEP

    def finish(self, outcome: int) -> None:
        if not self.done.triggered:  # the vote (phase 3) comes before the deadline (4)
            self.outcome = outcome
            if outcome != NONE:
                self.time, self.final_f = float(self.hour()), self.signed / self.n_emp
            self.done.succeed()

    def sutskever_flips(self, hour: int) -> Proc:
        if hour <= H:
            yield self.at(hour, SUTSKEVER)
            self.sutskever = True
            self.flip_time[0] = hour

    def microsoft_offer(self, hour: int) -> Proc:
        if hour <= H:
            yield self.at(hour, SUTSKEVER)
            self.offer = True

    def employees(self) -> Proc:
        yield self.at(1, EMPLOYEES)
        while self.unsigned.size:
            support = self.signed / self.n_emp + (self.pi if self.offer else 0.0)
            signing = self.unsigned <= support
            if self.p0 > 0:
                signing |= self.rng.random(self.unsigned.size) < self.p0
            self.signed += int(np.count_nonzero(signing))
            self.unsigned = self.unsigned[~signing]
            if math.isnan(self.half) and 2 * self.signed >= self.n_emp:
                self.half = self.hour()
            yield self.env.timeout(STEP)

    def board(self) -> Proc:
        """The three remaining members, each flipping on its own draw, until all have flipped."""
        yield self.at(1, BOARD)
        waiting = list(enumerate(RESISTANCE))
        while waiting:
            t = self.hour()
            pressure = (
                0.5 * self.signed / self.n_emp
                + 0.3 * min(1.0, t / 72)
                + (0.2 if self.sutskever else 0.0)
            )
            for j, resistance in list(waiting):
                p = min(1.0, self.beta * max(0.0, pressure - resistance))
                if p > 0 and self.rng.random() < p:
                    self.flipped[j] = True
                    self.flip_time[j + 1] = t
                    waiting.remove((j, resistance))
            yield self.env.timeout(STEP)

    def vote(self) -> Proc:
        yield self.at(24, VOTE)
        while self.hour() <= H:
            if self.sutskever + sum(self.flipped) >= 3:
                self.finish(RETURN)
                return
            yield self.env.timeout(6 * STEP)
        self.finish(NONE)  # past the horizon with neither outcome

    def deadline(self, hour: int) -> Proc:
        if hour <= H:
            yield self.at(hour, DEADLINE)
            self.finish(MICROSOFT)


def _first_hour(x: float) -> int:
    """First hour ``t >= x`` (hours start at 1)."""
    return max(1, math.ceil(x))


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
    """Simulate ``n_rep`` replicates, one Environment each, from one generator.

    Returns the same arrays as ``reference_numpy.bench770``: ``outcome``
    (0 RETURN, 1 MICROSOFT, -1 NONE), ``time``, ``final_f``, ``flip_time``
    (n_rep, 4) and ``half``.
    """
    rng = np.random.default_rng(seed)
    reps = [Replicate(rng, n_emp, pi, t_ms, p0, beta).run() for _ in range(n_rep)]
    return {
        "outcome": np.array([r.outcome for r in reps], dtype=np.int8),
        "time": np.array([r.time for r in reps]),
        "final_f": np.array([r.final_f for r in reps]),
        "flip_time": np.array([r.flip_time for r in reps]).reshape(n_rep, 4),
        "half": np.array([r.half for r in reps]),
    }


def run(n_rep: int, seed: int, n_emp: int = N) -> Array:
    """Outcomes of ``n_rep`` replicates (0 RETURN, 1 MICROSOFT, -1 NONE)."""
    return bench770(n_rep, seed, n_emp)["outcome"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=1000, help="replicates")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--employees", type=int, default=N)
    args = ap.parse_args()
    cpu = time.process_time()
    res = bench770(args.n, args.seed, args.employees)
    cpu = time.process_time() - cpu
    print(
        json.dumps(
            {
                "n": args.n,
                "returns": int((res["outcome"] == RETURN).sum()),
                "mean_time": float(np.nanmean(res["time"])),
                "sim_cpu_s": cpu,
            }
        )
    )


if __name__ == "__main__":
    main()
