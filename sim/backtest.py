"""Backtests: a forecaster's record on a case whose ending is known.

At fixed hour marks (default: every 4 hours from the first observation's
publication up to, not including, the publication of the realised outcome)
the nowcast uses exactly what was public by then, and is scored against the
realised outcome beside three baselines at the same marks:

- **model**: the nowcast (:func:`sim.nowcast.nowcast`);
- **prior**: the same particles with no observation: P(realised | not ended
  by T) by default, the plain P(realised) with ``allow_ended``;
- **naive 0.5**: a coin;
- any **reference** forecaster read from a CSV file (``t, p``: its P(realised)
  at hour t; at a mark, its latest value at or before the mark).

Scores (lower is better): the Brier score of the realised binary event,
``(1 - p)^2``, and the log score ``-ln p`` (p floored at 1e-12). The model's
and the prior's multi-outcome Brier score, ``sum_k (p_k - y_k)^2`` over every
outcome and ``unresolved``, is reported under that name.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.engine import Block
from sim.errors import InputError
from sim.nowcast import Nowcast, nowcast
from sim.observations import ObservationsFile, OutcomeObs, last_tick_by
from sim.plan import compile_plan
from sim.scenario import UNRESOLVED, Scenario
from sim.seeds import nowcast_particles_rng

#: Hours between marks by default.
EVERY = 4.0
#: Smallest probability the log score takes (a forecast of 0 scores -ln 1e-12 = 27.6).
LOG_FLOOR = 1e-12
NAIVE = "naive 0.5"


def brier(p: float) -> float:
    """Brier score of the realised binary event given P(realised) = p."""
    return (1.0 - p) ** 2


def log_score(p: float) -> float:
    """``-ln p`` with p floored at :data:`LOG_FLOOR` (0.0, never -0.0, for certainty)."""
    return max(0.0, -math.log(max(p, LOG_FLOOR)))


def brier_all(probabilities: dict[str, float], realised: str) -> float:
    """Multi-outcome Brier score: ``sum_k (p_k - y_k)^2`` over every outcome."""
    return sum((p - (1.0 if k == realised else 0.0)) ** 2 for k, p in probabilities.items())


def realised_outcome(observations: ObservationsFile) -> tuple[str, float] | None:
    """The last ``outcome`` observation's outcome and when it became public, if any."""
    seen = [o for o in observations.observations if isinstance(o, OutcomeObs)]
    return (seen[-1].outcome, seen[-1].known_at) if seen else None


def default_marks(
    observations: ObservationsFile, realised_at: float, every: float = EVERY
) -> list[float]:
    """Every ``every`` hours from the first publication, before ``realised_at``."""
    first = min(o.known_at for o in observations.observations)
    out, j = [], 0
    while first + j * every < realised_at - 1e-9:
        out.append(round(first + j * every, 9))
        j += 1
    return out


def parse_marks(text: str) -> list[float]:
    """``"0,4,8.5"`` or ``"FROM:TO:EVERY"`` (TO included when it falls on a mark)."""
    try:
        if ":" in text:
            lo, hi, step = (float(x) for x in text.split(":"))
            if not step > 0 or hi < lo:
                raise ValueError
            n = math.floor((hi - lo) / step + 1e-9)
            marks = [round(lo + j * step, 9) for j in range(n + 1)]
        else:
            marks = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(
            f"--marks {text}: expected hours separated by commas (0,4,8) or FROM:TO:EVERY "
            "with FROM <= TO and EVERY > 0"
        ) from None
    if not marks or not all(math.isfinite(m) and m >= 0 for m in marks):
        raise InputError(f"--marks {text}: expected at least one finite time >= 0")
    return sorted(set(marks))


def read_reference(path: Path) -> list[tuple[float, float]]:
    """A reference forecaster's ``(t, p)`` rows, sorted by t (located errors)."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--reference {path}: cannot read it ({exc})") from None
    if not rows:
        raise InputError(f"{path}: empty; expected a header t,p and one row per forecast")
    header = [h.strip().lower() for h in rows[0]]
    if "t" not in header or "p" not in header:
        raise InputError(f"{path}:1: expected columns t and p, got {', '.join(rows[0])}")
    it, ip = header.index("t"), header.index("p")
    out = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        try:
            t, p = float(row[it]), float(row[ip])
        except (ValueError, IndexError):
            raise InputError(f"{path}:{line}: expected numbers t and p, got {row}") from None
        if not (math.isfinite(t) and t >= 0):
            raise InputError(f"{path}:{line}: column t: expected hours >= 0, got {row[it]}")
        if not 0 <= p <= 1:
            raise InputError(
                f"{path}:{line}: column p: expected a probability in [0, 1], got {row[ip]}"
            )
        out.append((t, p))
    if not out:
        raise InputError(f"{path}: no rows; expected one row t,p per forecast")
    return sorted(out)


def reference_at(rows: list[tuple[float, float]], marks: list[float]) -> list[float | None]:
    """The reference's latest forecast at or before each mark (None before its first)."""
    ts = np.array([t for t, _ in rows])
    out: list[float | None] = []
    for m in marks:
        j = int(np.searchsorted(ts, m + 1e-9, side="right")) - 1
        out.append(rows[j][1] if j >= 0 else None)
    return out


def prior_curve(
    scenario: Scenario, marks: list[float], particles: int, seed: int, allow_ended: bool
) -> list[dict[str, float]]:
    """The nowcast with no observation at each mark, from one run of the same particles."""
    plan = compile_plan(scenario)
    result = Block(plan, nowcast_particles_rng(seed), particles).run()
    names = [*scenario.outcomes, UNRESOLVED]
    codes = [*range(len(scenario.outcomes)), -1]
    out = []
    for m in marks:
        keep = np.ones(particles, dtype=bool)
        if not allow_ended:
            by = last_tick_by(m, plan.tick) * plan.tick
            keep = ~(result.end_time <= by + 1e-9)  # NaN (unresolved) is kept
        n = keep.sum()
        out.append(
            {
                k: float((keep & (result.outcome == c)).sum() / n) if n else math.nan
                for k, c in zip(names, codes, strict=True)
            }
        )
    return out


@dataclass
class Backtest:
    """Forecasts of the realised outcome at each mark, by forecaster, and their scores."""

    scenario: str
    realised: str
    realised_at: float
    marks: list[float]
    model: list[Nowcast]
    prior: list[dict[str, float]]
    references: dict[str, list[float | None]] = field(default_factory=dict)
    #: whether the model's resampled particles were rejuvenated (:mod:`sim.rejuvenate`)
    rejuvenate: bool = True

    def forecasts(self) -> dict[str, list[float | None]]:
        """P(realised) at each mark, by forecaster (model, prior, naive 0.5, references)."""
        r = self.realised
        return {
            "model": [n.probabilities[r] for n in self.model],
            "prior": [None if math.isnan(p[r]) else p[r] for p in self.prior],
            NAIVE: [0.5] * len(self.marks),
            **self.references,
        }

    def scores(self) -> dict[str, dict[str, Any]]:
        """Per forecaster: per-mark and mean Brier and log scores (marks it forecast)."""
        out = {}
        for name, ps in self.forecasts().items():
            b = [None if p is None else brier(p) for p in ps]
            lg = [None if p is None else log_score(p) for p in ps]
            got = [x for x in b if x is not None]
            out[name] = {
                "p": ps,
                "brier": b,
                "log_score": lg,
                "marks_scored": len(got),
                "mean_brier": sum(got) / len(got) if got else None,
                "mean_log_score": (sum(x for x in lg if x is not None) / len(got) if got else None),
            }
        return out

    def pairs(self) -> list[tuple[float, int]]:
        """The model's (P(outcome), happened) for every outcome at every mark (reliability)."""
        return [
            (p, int(k == self.realised)) for n in self.model for k, p in n.probabilities.items()
        ]

    def as_dict(self) -> dict[str, Any]:
        """Plain data (``backtest.json``); ``scores`` are the model's, as before."""
        s = self.scores()
        model = s["model"]
        return {
            "scenario": self.scenario,
            "realised": self.realised,
            "realised_at": self.realised_at,
            "t": self.marks,
            "scores": {
                "t": self.marks,
                "brier": model["brier"],
                "log_score": model["log_score"],
                "brier_all_outcomes": [
                    brier_all(n.probabilities, self.realised) for n in self.model
                ],
            },
            "forecasters": s,
            "prior_brier_all_outcomes": [
                None if any(math.isnan(v) for v in p.values()) else brier_all(p, self.realised)
                for p in self.prior
            ],
            "outcomes": {
                k: [n.probabilities[k] for n in self.model] for k in self.model[0].probabilities
            },
            "ess_min": [n.ess_min for n in self.model],
            "ess_observations": [n.ess_observations for n in self.model],
            "rejuvenate": self.rejuvenate,
            "observations_used": [n.used for n in self.model],
            "pairs": self.pairs(),
            self.realised: model["p"],
        }


def backtest(
    scenario: Scenario,
    observations: ObservationsFile,
    realised: str,
    realised_at: float,
    marks: list[float],
    particles: int = 4096,
    seed: int = 0,
    allow_ended: bool = False,
    references: dict[str, list[tuple[float, float]]] | None = None,
    progress: Any = None,
    rejuvenate: bool = True,
) -> Backtest:
    """Score the nowcast, the prior, a coin and any references at ``marks``.

    ``progress`` (optional) is called with 1 after each mark's nowcast;
    ``rejuvenate`` is the nowcast's (:func:`sim.nowcast.nowcast`).
    """
    model = []
    for m in marks:
        model.append(
            nowcast(
                scenario,
                observations,
                m,
                particles,
                seed,
                allow_ended=allow_ended,
                rejuvenate=rejuvenate,
            )
        )
        if progress is not None:
            progress(1)
    prior = prior_curve(scenario, marks, particles, seed, allow_ended)
    refs = {f"reference {k}": reference_at(v, marks) for k, v in (references or {}).items()}
    return Backtest(
        scenario.name, realised, realised_at, marks, model, prior, refs, rejuvenate=rejuvenate
    )


def reliability(pairs: list[tuple[float, int]], bins: int = 10) -> list[dict[str, float]]:
    """Pooled (forecast, happened) pairs in equal-width bins: mean forecast, frequency, count."""
    p = np.array([a for a, _ in pairs], dtype=float)
    y = np.array([b for _, b in pairs], dtype=float)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        m = idx == b
        if m.any():
            out.append(
                {
                    "low": b / bins,
                    "high": (b + 1) / bins,
                    "forecast": float(p[m].mean()),
                    "observed": float(y[m].mean()),
                    "count": int(m.sum()),
                }
            )
    return out
