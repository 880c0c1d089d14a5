"""Calibration: the parameter values consistent with what was observed.

Method (simulation-based, approximate Bayesian computation in the likelihood
form): a Latin hypercube design covers the uniform prior box; at each design
point the sequential Monte Carlo of :mod:`sim.nowcast` estimates the
likelihood of all observations (its normalising constant is an unbiased
estimate); the design points, weighted by these estimates, are an importance
sample of the posterior. Observations here come with explicit likelihoods
(counts with an sd, windows, error probabilities), so this needs no distance
function or tolerance, which rejection ABC would (and it would discard most
runs); with the one to three parameters users calibrate, a space-filling
design of a few hundred points suffices.

A calibration whose scenario feeds a forecast must not learn from the
ending: with ``drop_outcomes`` the ``outcome`` observations (which state how
and when the crisis ended) are left out. ``no_outcome`` observations stay:
"not ended by t" was known at t, and a forecast at T uses it only through
what was published by T. ``stancesim calibrate`` drops them by default, since
the scenario it writes (``calibrated.yaml``) is meant for forecasting;
``stancesim backtest`` does not calibrate, so a backtest of a calibrated
scenario never sees the ending through it either.

The nowcasts behind the likelihood estimates do not rejuvenate their
particles (:mod:`sim.rejuvenate`), so a seed's calibration is as before.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.executors import make_executor
from sim.nowcast import DegenerateWeights, nowcast
from sim.observations import ObservationsFile, OutcomeObs
from sim.points import point_scenario
from sim.sample import scale, unit_points
from sim.scenario import Scenario
from sim.seeds import calibration_point_seed, design_rng, posterior_sample_rng
from sim.yamlio import set_path, split_path


@dataclass
class Calibration:
    """Design points, their log-likelihood estimates and posterior weights."""

    paths: list[str]
    bounds: list[tuple[float, float]]
    values: np.ndarray[Any, Any]  # (points, params)
    log_likelihood: np.ndarray[Any, Any]  # (points,)
    weights: np.ndarray[Any, Any]  # (points,), sum 1
    particles: int
    seed: int
    ess_particles: np.ndarray[Any, Any]  # (points,) smallest ESS of each likelihood estimate
    #: observations left out because they state the ending (1-based, in the file's order)
    dropped: list[int] = field(default_factory=list)

    @property
    def ess(self) -> float:
        """Effective number of design points behind the posterior."""
        return float(1.0 / np.sum(self.weights**2))

    def posterior_mean(self) -> dict[str, float]:
        """Weighted mean of each parameter."""
        return {p: float(self.weights @ self.values[:, j]) for j, p in enumerate(self.paths)}

    def sample(self, n: int, seed: int = 0) -> np.ndarray[Any, Any]:
        """``n`` draws from the weighted design (for plots and summaries)."""
        rng = posterior_sample_rng(seed)
        return self.values[rng.choice(len(self.weights), size=n, p=self.weights)]

    def calibrated_scenario(self, base: Scenario) -> dict[str, Any]:
        """The base scenario with each parameter's posterior as a ``choice`` distribution.

        Each parameter gets its own marginal (design values with weight above
        1e-6 of the largest): correlations between parameters are not kept.
        Paths are resolved as ``--set`` resolves them (:func:`sim.yamlio.set_path`).
        """
        data = copy.deepcopy(base.canonical())
        keep = self.weights > self.weights.max() * 1e-6
        w = self.weights[keep] / self.weights[keep].sum()
        for j, path in enumerate(self.paths):
            values = [float(v) for v in self.values[keep, j]]
            dist = {"choice": values, "p": [float(x) for x in w]}
            # as --set resolves it (a rule by index or by id), as every design point did
            flag = f"--param {path}"
            set_path(data, split_path(path, flag), dist, flag)
        data["name"] = f"{base.name} (calibrated)"
        return data


def _evaluate(task: dict[str, Any]) -> tuple[float, float]:
    """Log-likelihood estimate at one design point, and the smallest ESS behind it."""
    sc = point_scenario(task["base"], task["paths"], tuple(task["values"]))
    obs = ObservationsFile.model_validate(task["observations"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateWeights)  # summarised over all points instead
        try:
            # the file's observations only: the likelihood of what it says, nothing added
            n = nowcast(
                sc,
                obs,
                task["at"],
                task["particles"],
                task["seed"],
                allow_ended=True,
                rejuvenate=False,
            )
        except ValueError:
            return -math.inf, 0.0  # no particle reproduced the observations
    return n.log_evidence, n.ess_min


def calibrate(
    scenario: Scenario,
    observations: ObservationsFile,
    bounds: dict[str, tuple[float, float]],
    points: int = 128,
    particles: int = 512,
    seed: int = 0,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
    drop_outcomes: bool = False,
) -> Calibration:
    """Posterior over ``bounds`` (uniform priors) given the observations.

    Parameters
    ----------
    scenario : Scenario
        The base scenario.
    observations : ObservationsFile
    bounds : dict
        ``path -> (low, high)`` for each calibrated parameter.
    points : int
        Design points (Latin hypercube over the box).
    particles : int
        Particles of each likelihood estimate.
    seed : int
        Seeds the design and every estimate.
    jobs : int
        Worker processes.
    progress : callable, optional
        Called with 1 as each design point finishes (for a progress bar).
    drop_outcomes : bool
        Leave out the ``outcome`` observations (they state the ending), so that
        the calibration can feed a forecast (see the module docstring).

    Raises
    ------
    InputError
        A path does not resolve (as for ``--set``) or a bound is invalid there;
        raised before any design point is evaluated.
    ValueError
        When no observation is left, or no design point reproduces them.
    """
    observations, dropped = without_outcomes(observations) if drop_outcomes else (observations, [])
    if not observations.observations:
        raise ValueError(
            "every observation states the ending (kind outcome), and they are dropped so "
            "that the calibration can feed a forecast: nothing is left to calibrate on; "
            "add observations of the crisis before its end, or keep them with --keep-outcomes"
        )
    paths = list(bounds)
    lows, highs = zip(*(bounds[p] for p in paths), strict=True)
    base = scenario.canonical()
    for corner in (lows, highs):
        point_scenario(base, paths, corner)  # a bad path or bound: before any work
    rng = design_rng(seed)
    unit = unit_points("lhs", len(paths), points, rng)
    values = scale(unit, lows, highs)
    # every observation counts, however late it was published
    at = max(max(o.at[1], o.known_at) for o in observations.observations)
    tasks = [
        {
            "index": i,
            "base": base,
            "paths": paths,
            "values": [float(v) for v in row],
            "observations": observations.model_dump(mode="json"),
            "at": at,
            "particles": particles,
            "seed": calibration_point_seed(seed, i),
        }
        for i, row in enumerate(values)
    ]
    results = []
    with make_executor(jobs) as ex:
        for result in ex.map_unordered(_indexed, tasks):
            results.append(result)
            if progress is not None:
                progress(1)
    ordered = [r for _, r in sorted(results)]
    loglik = np.array([ll for ll, _ in ordered])
    ess_particles = np.array([e for _, e in ordered])
    if not np.isfinite(loglik).any():
        raise ValueError(
            "no design point reproduces the observations; widen the bounds or the windows"
        )
    w = np.exp(loglik - loglik[np.isfinite(loglik)].max())
    w = np.where(np.isfinite(w), w, 0.0)
    w /= w.sum()
    return Calibration(
        paths,
        [bounds[p] for p in paths],
        values,
        loglik,
        w,
        particles,
        seed,
        ess_particles,
        dropped,
    )


def without_outcomes(observations: ObservationsFile) -> tuple[ObservationsFile, list[int]]:
    """The observations without those that state the ending, and their numbers (1-based)."""
    items = observations.observations
    dropped = [i + 1 for i, o in enumerate(items) if isinstance(o, OutcomeObs)]
    kept = [o for o in items if not isinstance(o, OutcomeObs)]
    return observations.model_copy(update={"observations": kept}), dropped


def _indexed(task: dict[str, Any]) -> tuple[int, tuple[float, float]]:
    return task["index"], _evaluate(task)
