"""The UK government crisis of July 2022 (scenarios/uk_2022_07.yaml).

The file validates and runs with the expected structure, and the payroll's
resignation count at 40 h matches an independent re-implementation of its
segments in plain numpy. That check uses a limit case: the prime minister
never concedes (his rule's rate set to 0), so every replicate runs past 40 h;
the payroll does not read the prime minister, so its law is the same as in
the scenario itself. Tolerance: a 99.9% normal interval (z = 3.29) on the
difference of two independent means, fixed seeds.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from typer.testing import CliRunner

import sim
from sim.cli import app

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "scenarios" / "uk_2022_07.yaml"
SEGMENTS = ["ministers", "whips_lords", "ppss", "envoys_vice_chairs"]
Z = 3.29


def case_dict() -> dict[str, Any]:
    """The scenario file as plain data."""
    return dict(yaml.safe_load(CASE.read_text()))


def test_the_file_validates() -> None:
    result = CliRunner().invoke(app, ["validate", str(CASE)])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output


def test_a_run_has_the_outcomes_and_the_segment_columns() -> None:
    res = sim.run(CASE, replicates=64, seed=7, record=True)
    outcomes = res.summary()["outcomes"]
    assert set(outcomes) == {"pm_resigns", "pm_survives", "unresolved"}
    assert sum(o["count"] for o in outcomes.values()) == 64
    assert outcomes["unresolved"]["count"] == 0  # the deadline at the horizon ends every replicate
    assert res.trajectories is not None
    for seg in SEGMENTS:
        assert f"payroll.{seg}.resigned" in res.trajectories
    # the payroll's share is the size-weighted mean of its segments' shares
    sizes = {"ministers": 65, "whips_lords": 30, "ppss": 45, "envoys_vice_chairs": 17}
    weighted = sum(sizes[s] * res.trajectories[f"payroll.{s}.resigned"] for s in SEGMENTS) / 157
    np.testing.assert_allclose(res.trajectories["payroll.resigned"], weighted, atol=1e-12)


def independent_counts(d: dict[str, Any], replicates: int, at: int, seed: int) -> np.ndarray:
    """The payroll's resigned count at tick ``at``, simulated directly from the file's numbers.

    Phase order as the README states: time-triggered events and scheduled
    switches first (Gove sacked at 27; Hart, Lewis and Donelan resigned at the
    first tick at or after 28.5, 36.8, 38.6), then the population reads the
    state at the start of its phase, synchronously.
    """
    rng = np.random.default_rng(seed)
    pop = d["agents"]["payroll"]
    segs = pop["segments"]
    names = list(segs)
    sizes = np.array([segs[s]["size"] for s in names])
    hears = np.array([[pop["hears"][a].get(b, 0.0) for b in names] for a in names])
    rate = pop["rule"]["rate"]
    resist = [
        rng.beta(*segs[s].get("resistance", pop["rule"]["resistance"])["beta"], (replicates, n))
        for s, n in zip(names, sizes, strict=True)
    ]
    gone = [np.zeros((replicates, n), dtype=bool) for n in sizes]
    points = np.array(d["agents"]["night"]["curve"]["points"], dtype=float)
    for t in range(1, at + 1):
        # Sunak and Javid from the start; Hart, Lewis, Donelan at their ticks
        cabinet_resigned = 2 + (t >= 29) + (t >= 37) + (t >= 39)
        sacked = int(t >= 27)  # Gove
        night = float(np.interp(t, points[:, 0], points[:, 1]))
        share = np.stack([g.mean(axis=1) for g in gone], axis=1)  # replicates x segments
        heard = share @ hears.T
        base = 0.06 * 2 + 0.04 * cabinet_resigned + 0.04 * sacked + 0.1 + night
        for i in range(len(names)):
            pressure = 0.5 * heard[:, i : i + 1] + base
            p = np.minimum(1.0, rate * np.maximum(0.0, pressure - resist[i]))
            gone[i] |= rng.random(gone[i].shape) < p
    return np.asarray(sum(g.sum(axis=1) for g in gone))


def test_the_count_at_40h_matches_an_independent_computation() -> None:
    d = case_dict()
    signal = d["signals"]["payroll_pressure"]
    # the re-implementation hard-codes these; fail loudly if the file moves away from them
    assert [term.get("weight", 1) for term in signal[:5]] == [0.5, 0.06, 0.06, 0.04, 0.04]
    assert signal[5] == {"constant": 0.1} and signal[6] == {"curve": "night"}
    never = copy.deepcopy(d)
    never["agents"]["pm"]["rules"][0]["rate"] = 0  # the limit case: he never concedes
    n = 2000
    res = sim.run(sim.scenario_from_dict(never), replicates=n, seed=2022, record=True)
    assert res.trajectories is not None
    at40 = res.trajectories["t"] == 40
    ours = res.trajectories["payroll.resigned"][at40] * 157
    assert ours.size == n
    theirs = independent_counts(d, n, 40, seed=5)
    se = np.sqrt(ours.var(ddof=1) / n + theirs.var(ddof=1) / n)
    assert abs(ours.mean() - theirs.mean()) < Z * se, (ours.mean(), theirs.mean(), se)
    # and the wave is of the size the scenario's comments describe: tens, not a handful or all
    assert 20 < ours.mean() < 120
