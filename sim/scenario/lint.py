"""Warnings about a valid scenario that probably does not say what its author meant.

:func:`uncertain_past_horizon`: an uncertain event or switch (``probability:
P``) whose time can fall after the horizon comes within a run with
probability P·F(horizon), F the CDF of its time, lower than the P written.
(Times that can only fall after the horizon: :func:`sim.scenario.load.late_times`.)
"""

from __future__ import annotations

import math
from typing import Any

from sim.distributions import (
    NEVER,
    Beta,
    Choice,
    LogNormal,
    Normal,
    Triangular,
    Uniform,
    support,
)
from sim.scenario.schema import Individual, Scenario
from sim.scenario.schema_events import AtTrigger
from sim.scenario.schema_rules import ScheduledRule

Loc = tuple[str | int, ...]

#: Effective probabilities this close to the stated one are not worth a warning.
TOLERANCE = 1e-9


def by_horizon(time: Any, horizon: float) -> float:
    """P(time <= horizon): the share of draws of ``time`` that come within a run, in closed form.

    An event at a drawn time happens at the first tick at or after it, so it
    happens in a run exactly when the time is at most the horizon (a whole
    number of ticks).
    """
    if time == NEVER:
        return 0.0
    if isinstance(time, int | float):
        return float(time <= horizon)
    lo, hi = support(time)
    if horizon < lo:
        return 0.0
    if horizon >= hi:
        return 1.0
    from scipy import stats  # only for a random time that straddles the horizon

    if isinstance(time, Uniform):
        return float(stats.uniform(lo, hi - lo).cdf(horizon))
    if isinstance(time, Triangular):
        left, mode, right = time.triangular
        c = (mode - left) / (right - left)
        return float(stats.triang(c, loc=left, scale=right - left).cdf(horizon))
    if isinstance(time, Beta):
        return float(stats.beta(*time.beta).cdf(horizon))
    if isinstance(time, LogNormal):
        mu, sigma = time.lognormal
        if sigma == 0:
            return float(math.exp(mu) <= horizon)
        return float(stats.lognorm(s=sigma, scale=math.exp(mu)).cdf(horizon))
    if isinstance(time, Normal):
        # clipped: the mass beyond a bound sits on it; horizon lies strictly inside the clip
        mu, sigma = time.normal
        return float(mu <= horizon) if sigma == 0 else float(stats.norm(mu, sigma).cdf(horizon))
    if isinstance(time, Choice):
        p = time.p or [1 / len(time.choice)] * len(time.choice)
        return math.fsum(q for v, q in zip(time.choice, p, strict=True) if v <= horizon)
    raise TypeError(f"no CDF for {type(time).__name__}")


def uncertain_past_horizon(sc: Scenario) -> list[tuple[Loc, str]]:
    """Uncertain events and switches whose time can fall past the horizon (at ``probability``).

    Each message gives the stated probability P and the effective one
    P·F(horizon). A time that can only fall after the horizon is left to
    :func:`~sim.scenario.load.late_times` (it never comes at all).
    """
    horizon = sc.clock.horizon
    out: list[tuple[Loc, str]] = []

    def check(loc: Loc, what: str, time: Any, p: float | None) -> None:
        if p is None or p == 0 or time == NEVER or support(time)[0] > horizon:
            return
        f = by_horizon(time, horizon)
        if f >= 1 - TOLERANCE:
            return
        out.append(
            (
                (*loc, "probability"),
                f"{what} has probability {p:g}, but its time can fall after the horizon "
                f"{horizon:g} h (P(time <= {horizon:g} h) = {f:.3g}), so it comes within a "
                f"run with probability {p:g} × {f:.3g} = {p * f:.3g}, not {p:g}; state the "
                "probability of the time falling within the horizon, or lengthen the horizon",
            )
        )

    for aid, a in sc.agents.items():
        if isinstance(a, Individual):
            for i, rule in enumerate(a.rules):
                if isinstance(rule, ScheduledRule):
                    what = f"the switch of {aid} to {rule.to}"
                    check(("agents", aid, "rules", i), what, rule.at, rule.probability)
    for eid, e in sc.events.items():
        if isinstance(e.trigger, AtTrigger):
            t = e.trigger
            check(("events", eid, "trigger"), f"event {eid}", t.time, t.probability)
    return out
