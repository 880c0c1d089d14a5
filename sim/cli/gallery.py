"""``stancesim gallery``: the figures of a scenario (runs, sweeps, comparison, evidence).

What to sweep and which variants to compare are read from the scenario
(:func:`choices`): the holdout (the individual hardest to move: the highest
mean resistance or threshold), the first population with such a knob, the
events with the most effects, and the first individual with a patience. A
scenario with no population or no such individual gets the figures it can.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import typer

from sim.cli.common import user_errors
from sim.cli.plot import save
from sim.cli.progress import Advance, progress_bar

ARTICLE = Path(__file__).resolve().parents[2] / "scenarios" / "openai_2023_11.yaml"
#: the grid step of the sweeps' bounds
STEP = 0.05
#: the resistance an immovable holdout gets (above any pressure a signal gives)
IMMOVABLE = 2.0


@dataclass(frozen=True)
class Knob:
    """A parameter of one agent's rule that the gallery sweeps: its path and scenario mean."""

    agent: str
    path: str
    mean: float
    high: float  # largest value it may take (1 for a threshold)
    number: bool = True  # a plain number in the file (not a distribution)

    def span(self, below: float, above: float) -> tuple[float, float]:
        """Bounds around the mean, on the :data:`STEP` grid, within what the rule accepts."""
        lo = math.floor(round((self.mean - below) / STEP, 9)) * STEP
        hi = math.ceil(round((self.mean + above) / STEP, 9)) * STEP
        return round(max(lo, 0.0), 10), round(min(hi, self.high), 10)


@dataclass
class Choices:
    """What the gallery draws for one scenario."""

    holdout: Knob | None
    crowd: Knob | None  # a population's knob, else a second individual's
    holdout_rules: list[str] = field(default_factory=list)  # paths made immovable
    events: list[str] = field(default_factory=list)  # switched off one at a time
    impatient: tuple[str, float] | None = None  # individual, its patience made shorter


def _knob(agent: str, prefix: str, rule: Any) -> Knob | None:
    from sim.distributions import mean

    for name, high in (("resistance", math.inf), ("threshold", 1.0)):
        value = getattr(rule, name, None)
        if value is None or isinstance(value, str):
            continue
        m = mean(value)
        if math.isfinite(m):
            return Knob(agent, f"{prefix}.{name}", m, high, isinstance(value, int | float))
    return None


def choices(scenario: Any) -> Choices:
    """What to sweep, compare and calibrate in ``scenario`` (see the module's docstring)."""
    from sim.distributions import mean
    from sim.scenario import Individual, Population

    individuals: list[tuple[Knob, list[str]]] = []
    crowd = None
    impatient = None
    for aid, agent in scenario.agents.items():
        if isinstance(agent, Population) and crowd is None:
            crowd = _knob(aid, f"agents.{aid}.rule", agent.rule)
        elif isinstance(agent, Individual):
            knobs = [
                _knob(aid, f"agents.{aid}.rules.{r.id if r.id is not None else i}", r)
                for i, r in enumerate(agent.rules)
            ]
            found = [k for k in knobs if k is not None]
            if found:
                individuals.append((found[0], [k.path for k in found]))
            patience = getattr(agent, "patience", None)
            if impatient is None and patience is not None and patience != "never":
                impatient = (aid, mean(patience))
    individuals.sort(key=lambda kp: -kp[0].mean)  # stable: file order among equals
    holdout, rules = individuals[0] if individuals else (None, [])
    if crowd is None and len(individuals) > 1:
        crowd = individuals[1][0]
    with_effects = [(len(e.effects or []), eid) for eid, e in scenario.events.items()]
    events = [eid for n, eid in sorted(with_effects, key=lambda ne: -ne[0]) if n > 0][:2]
    return Choices(holdout, crowd, rules, events, impatient)


def _variants(c: Choices) -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = [("as in the scenario", [])]
    if c.holdout is not None:
        sets = []
        for path in c.holdout_rules:
            value = IMMOVABLE if path.endswith("resistance") else 1.0
            sets.append(f"{path}={value}")
        out.append((f"{c.holdout.agent} immovable", sets))
    for eid in c.events:
        out.append((f"without {eid.replace('_', ' ')}", [f"events.{eid}.effects=[]"]))
    if c.impatient is not None:
        aid, patience = c.impatient
        out.append((f"impatient {aid}", [f"agents.{aid}.patience={0.7 * patience:.4g}"]))
    return out


def default_gallery_out(scenario: Path) -> Path:
    """Where a gallery goes without ``--out``.

    The article's to ``plots/`` (the repository's figures), any other
    scenario's to ``stancesim-plots/<its name>``, so that it never overwrites
    or mixes with the article's.
    """
    if scenario.resolve() == ARTICLE.resolve():
        return Path("plots")
    return Path("stancesim-plots") / scenario.stem


def gallery(
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Folder for the figures (default: plots/ for the article's scenario, the "
        "repository's figures; stancesim-plots/NAME for any other).",
        show_default=False,
    ),
    scenario: Path = typer.Option(
        ARTICLE,
        help="Scenario to draw (default: the article's, scenarios/openai_2023_11.yaml).",
        show_default=False,
    ),
    replicates: int = typer.Option(
        4000, "-n", "--replicates", help="Replicates per run and point block."
    ),
    seed: int = typer.Option(
        20231117, "--seed", min=0, help="Seed of every run, sweep and filter."
    ),
    quick: bool = typer.Option(False, "--quick", help="Few replicates and points (a smoke run)."),
    jobs: int = typer.Option(2, "--jobs", "-j", min=1, help="Worker processes."),
) -> None:
    """Regenerate the figures of a scenario (runs, sweeps, comparison, evidence)."""
    from sim import figures
    from sim.runner import run
    from sim.scenario import load_scenario

    out = default_gallery_out(scenario) if out is None else out
    with user_errors():
        if quick:
            replicates = min(replicates, 512)
        base = load_scenario(scenario)
        pick = choices(base)
        n1, n2 = (4, 3) if quick else (15, 8)
        sweeps = _sweeps(pick, n1, n2)
        variants = _variants(pick)
        observed = scenario.with_name(scenario.stem + ".observations.yaml")
        evidence = observed.exists() and pick.holdout is not None and pick.crowd is not None
        steps = 1 + sum(math.prod(int(s.rsplit(":", 1)[1]) for s in p.values()) for _, p in sweeps)
        steps += len(variants) + (_evidence_steps(observed, quick) if evidence else 0)
        ranked = _analysis_installed() and len(_premises_inputs(base, scenario, pick)) >= 2
        if ranked:
            steps += len(_premises_design(base, scenario, pick, seed, quick).points())
        with progress_bar(f"gallery of {base.name}", steps, "steps") as advance:
            advance(0, "run with trajectories")
            result = run(base, replicates, seed=seed, jobs=jobs, record=True)
            advance(1)
            written = save(*figures.figure_trajectories(result), out, "trajectories")
            written += save(*figures.figure_time_to_outcome(result), out, "time_to_outcome")
            for name, params in sweeps:
                written += _sweep(base, name, params, out, seed, jobs, replicates, quick, advance)
            results = []
            for label, sets in variants:
                advance(0, f"variant: {label}")
                res = run(load_scenario(scenario, sets), replicates, seed=seed, jobs=jobs)
                results.append((label, res))
                advance(1)
            written += save(*figures.figure_compare(results), out, "compare")
            if evidence:
                written += _evidence_figures(base, pick, observed, out, seed, jobs, quick, advance)
            if ranked:
                written += _premises(base, scenario, pick, out, seed, jobs, quick, advance)
        if not ranked:
            typer.echo(
                "sensitivity and discovery figures skipped: SALib and the EMA Workbench are "
                'not installed (python -m pip install -e ".[analysis]")',
                err=True,
            )
        for p in written:
            typer.echo(str(p))


def _sweeps(c: Choices, n1: int, n2: int) -> list[tuple[str, dict[str, str]]]:
    """The one-parameter curve (the holdout) and the heatmap (the holdout and the crowd)."""
    out: list[tuple[str, dict[str, str]]] = []
    if c.holdout is not None:
        # a holdout flips the ending as its resistance falls: reach further below its value
        lo, hi = c.holdout.span(0.3, 0.15)
        if lo < hi:
            out.append((f"sweep_{c.holdout.agent}", {c.holdout.path: f"{lo:g}:{hi:g}:{n1}"}))
    if c.holdout is not None and c.crowd is not None:
        (a, b), (p, q) = _calibration_box(c)
        if a < b and p < q:
            params = {c.holdout.path: f"{a:g}:{b:g}:{n2}", c.crowd.path: f"{p:g}:{q:g}:{n2}"}
            out.append(("sweep_heatmap", params))
    return out


def _calibration_box(c: Choices) -> tuple[tuple[float, float], tuple[float, float]]:
    assert c.holdout is not None and c.crowd is not None
    return c.holdout.span(0.2, 0.15), c.crowd.span(0.15, 0.15)


def _sweep(
    base: Any,
    name: str,
    params: dict[str, str],
    out: Path,
    seed: int,
    jobs: int,
    replicates: int,
    quick: bool,
    advance: Advance,
) -> list[Path]:
    from sim import figures
    from sim import sweep as run_sweep
    from sim.sweep_results import read_results

    tmp = Path(tempfile.mkdtemp(prefix="stancesim-gallery-"))
    try:
        advance(0, f"sweep: {name}")
        per_point = (replicates if len(params) == 1 else min(replicates, 512)) if quick else 1024
        run_sweep(
            base,
            params,
            out=tmp / name,
            seed=seed,
            jobs=jobs,
            replicates=per_point,
            progress=lambda _: advance(1),
        )
        table, manifest, _ = read_results(tmp / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    outcome = None if len(params) == 1 else next(iter(manifest["base_scenario"]["outcomes"]))
    return save(*figures.figure_sweep(table, manifest, outcome), out, name)


def _evidence_steps(observed: Path, quick: bool) -> int:
    from sim.nowcast import default_times
    from sim.observations import load_observations

    obs, _ = load_observations(observed)
    return len(default_times(obs)) + (8 if quick else 160)


def _evidence_figures(
    base: Any,
    pick: Choices,
    observed: Path,
    out: Path,
    seed: int,
    jobs: int,
    quick: bool,
    advance: Advance,
) -> list[Path]:
    """The nowcast curve against the facts, and the calibrated holdout and crowd."""
    from sim import figures
    from sim.calibrate import calibrate
    from sim.observations import OutcomeObs, check_against, load_observations

    obs, located = load_observations(observed)
    check_against(obs, located, base)
    realised = next(
        (o.outcome for o in reversed(obs.observations) if isinstance(o, OutcomeObs)), None
    )
    advance(0, "nowcast")
    say = partial(typer.echo, err=True)
    curve = _nowcast_curve(base, obs, 256 if quick else 4096, seed, say, advance)
    written = []
    if curve:
        written += save(*figures.figure_nowcast(base, curve, obs, realised), out, "nowcast")
    assert pick.holdout is not None and pick.crowd is not None
    holdout, crowd = _calibration_box(pick)
    advance(0, "calibration")
    cal = calibrate(
        base,
        obs,
        {pick.crowd.path: crowd, pick.holdout.path: holdout},
        points=8 if quick else 160,
        particles=64 if quick else 512,
        seed=seed,
        jobs=jobs,
        progress=advance,
    )
    written += save(*figures.figure_posterior(cal), out, "posterior")
    return written


def _nowcast_curve(
    base: Any, obs: Any, particles: int, seed: int, say: Callable[[str], Any], advance: Advance
) -> list[Any]:
    """Nowcasts at the observations' times, until one is left with no consistent particle.

    A small filter (``--quick``) can lose every particle at a sharp late
    observation; the curve then ends at the time before, and ``say`` tells why.
    """
    from sim import nowcast as N

    curve = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", N.DegenerateWeights)  # the figure reports the smallest ESS
        for t in N.default_times(obs):
            try:
                curve.append(N.nowcast(base, obs, t, particles, seed))
            except N.NoConsistentParticle as exc:
                say(f"nowcast curve ends before {t:g} h ({particles} particles): {exc}")
                break
            advance(1)
    return curve


#: Morris trajectories and replicates per point of the gallery's ranking (the
#: README's "Which premises decide it?" quotes the same design)
MORRIS_TRAJECTORIES, MORRIS_REPLICATES = 100, 512


def _analysis_installed() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("SALib", "ema_workbench"))


def _premises_inputs(base: Any, scenario: Path, pick: Choices) -> list[Any]:
    """The scenario's own per-replicate distributions, and the crowd's knob when it is a number."""
    from sim.sensitivity import Input, scenario_inputs
    from sim.yamlio import load_file

    inputs = scenario_inputs(base, str(scenario), load_file(scenario), per_person="skip")
    taken = {i.path for i in inputs}
    if pick.crowd is not None and pick.crowd.number and pick.crowd.path not in taken:
        lo, hi = pick.crowd.span(0.1, 0.1)
        if lo < hi:
            inputs.append(Input(path=pick.crowd.path, low=lo, high=hi))
    return inputs


def _premises_design(base: Any, scenario: Path, pick: Choices, seed: int, quick: bool) -> Any:
    """Morris over :func:`_premises_inputs`."""
    from sim.sensitivity import Design

    return Design(
        method="morris",
        inputs=_premises_inputs(base, scenario, pick),
        base_samples=4 if quick else MORRIS_TRAJECTORIES,
        replicates=32 if quick else MORRIS_REPLICATES,
        seed=seed,
    )


def _premises(
    base: Any,
    scenario: Path,
    pick: Choices,
    out: Path,
    seed: int,
    jobs: int,
    quick: bool,
    advance: Advance,
) -> list[Path]:
    """Which premises decide it: the Morris ranking and the PRIM box of the first outcome."""
    from sim.discover import cases, figures, find_box
    from sim.sensitivity import outputs, run_design
    from sim.sensitivity_analysis import analyze, figure_indices

    design = _premises_design(base, scenario, pick, seed, quick)
    tmp = Path(tempfile.mkdtemp(prefix="stancesim-gallery-"))
    try:
        advance(0, "sensitivity (Morris)")
        table = run_design(base, design, tmp / "sens", jobs=jobs, progress=lambda _: advance(1))
        result = analyze(table, design, outputs(base), scenario=base.name)
        written = save(*figure_indices(result, list(base.outcomes)), out, "sensitivity")
        outcome = next(iter(base.outcomes))
        data = cases(tmp / "sens", outcome, "p >= 0.5")
        if 0 < int(data["y"].sum()) < len(data["y"]):  # PRIM needs both kinds of point
            box = find_box(data["x"], data["y"])
            drawn = figures(box, data["x"], data["y"], data["condition"], data["footnote"])
            for name, fig, numbers in drawn:
                written += save(fig, numbers, out, f"discovery_{name}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return written
