"""Resource estimates and limits: refusals before any work, and honest estimates."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import pytest
from conftest import ROOT
from typer.testing import CliRunner

from sim import budget
from sim.cli import app
from sim.engine import simulate_block
from sim.errors import InputError
from sim.plan import compile_plan
from sim.runner import BLOCK_SIZE, block_rng
from sim.scenario import load_scenario

runner = CliRunner()
ARTICLE = str(ROOT / "scenarios" / "openai_2023_11.yaml")
OBS = str(ROOT / "scenarios" / "openai_2023_11.observations.yaml")

#: A population whose members each carry a resistance (the per-person path),
#: and an outcome that cannot happen, so that every replicate runs to the horizon.
CROWD = """\
kind: scenario
name: crowd
clock: {tick: 1, horizon: 200}
agents:
  people:
    kind: population
    size: 2000
    positions: [a, b]
    initial: a
    rule:
      {kind: logistic, to: b, pressure: p, resistance: {normal: [0.5, 0.15]}, rate: 0.05, slope: 8}
  boss:
    kind: individual
    positions: ["no", "yes"]
    initial: "no"
    rules:
      - {kind: hazard, to: "yes", pressure: p, resistance: 0.5, rate: 0.02}
signals:
  p:
    - {constant: 0.3}
    - {fraction: people, position: b, weight: 0.5}
outcomes:
  never:
    trigger: {kind: condition, condition: {signal: p, at_least: 2}}
"""


@pytest.fixture
def crowd(tmp_path: Path) -> Path:
    path = tmp_path / "crowd.yaml"
    path.write_text(CROWD)
    return path


def refused(result: object, flag: str) -> str:
    out = result.output  # type: ignore[attr-defined]
    assert result.exit_code == 2, out  # type: ignore[attr-defined]
    assert "Traceback" not in out and flag in out, out
    return str(out)


# ------------------------------------------------------------------ parsing
@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512MiB", 512 * 2**20),
        ("4GiB", 4 * 2**30),
        ("4G", 4 * 2**30),
        ("2GB", 2 * 10**9),
        ("1.5TiB", int(1.5 * 2**40)),
        ("1000000", 10**6),
    ],
)
def test_sizes_take_units(text: str, size: int) -> None:
    assert budget.parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "-1GiB", "0", "4 GiBs", "nan", ""])
def test_bad_sizes_are_refused(text: str) -> None:
    with pytest.raises(InputError, match="--max-memory"):
        budget.parse_size(text)


def test_work_limit_takes_scientific_notation() -> None:
    assert budget.parse_count("1e10") == 10**10
    assert budget.parse_count("2_000") == 2000
    with pytest.raises(InputError, match="--max-work"):
        budget.parse_count("inf")


def test_bad_limit_on_the_command_line_is_a_clean_error() -> None:
    result = runner.invoke(app, ["run", ARTICLE, "-n", "10", "--max-memory", "lots"])
    refused(result, "--max-memory")


# ----------------------------------------------------------------- refusals
def test_huge_replicate_count_is_refused_with_the_estimate() -> None:
    out = refused(runner.invoke(app, ["run", ARTICLE, "-n", str(10**12)]), "--max-memory")
    assert "TiB" in out and "4.0 GiB" in out


def test_work_limit_refuses_what_fits_in_memory_but_never_ends() -> None:
    result = runner.invoke(app, ["run", ARTICLE, "-n", str(10**8), "--max-memory", "1TiB"])
    out = refused(result, "--max-work")
    assert "replicate-ticks" in out and "168 ticks" in out


def test_trajectories_count_in_the_estimate_and_do_not_grow_with_replicates() -> None:
    sc = load_scenario(ARTICLE)
    est = budget.estimate_run(sc, 200_000, 1, record=True)
    assert any("trajectories" in p for p in est.memory_parts)

    def extra(n: int) -> int:  # streamed to Parquet: a batch or so at a time
        return budget.estimate_run(sc, n, 1, True).memory - budget.estimate_run(sc, n, 1).memory

    assert extra(200_000) == extra(20_000) > 0


def test_per_person_population_is_refused_per_worker(crowd: Path) -> None:
    # 100,000 people with their own resistance: 1.9 GiB per block; three workers exceed 4 GiB
    args = ["run", str(crowd), "--set", "agents.people.size=100000", "-n", "2000", "--jobs", "3"]
    out = refused(runner.invoke(app, args), "--max-memory")
    assert "100,000 members of people" in out and "3 workers" in out


def test_limits_are_fixed_not_taken_from_the_machine() -> None:
    args = ["run", ARTICLE, "-n", "1000", "--seed", "1", "--json"]
    refused(runner.invoke(app, [*args, "--max-memory", "1MiB"]), "--max-memory")
    refused(runner.invoke(app, [*args, "--max-work", "1000"]), "--max-work")
    assert runner.invoke(app, args).exit_code == 0


def test_trace_is_checked(crowd: Path) -> None:
    args = ["trace", str(crowd), "--set", "agents.people.size=100000", "--seed", "1"]
    out = refused(runner.invoke(app, [*args, "--max-memory", "1GiB"]), "--max-memory 2GiB")
    assert "1.9 GiB" in out


def test_huge_grid_is_refused_before_the_folder_is_made(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    args = [
        "sweep",
        ARTICLE,
        "--param",
        "agents.toner.rules.reinstate.resistance=0:1:1000000000000",
    ]
    text = refused(runner.invoke(app, [*args, "--out", str(out)]), "--max-memory")
    assert "points" in text
    assert not out.exists()


def test_endless_adaptive_sweep_is_refused(tmp_path: Path) -> None:
    args = ["sweep", ARTICLE, "--param", "agents.toner.rules.reinstate.resistance=0.6,0.7"]
    args += ["--until-ci", "1e-6", "--max-replicates", str(10**8), "--out", str(tmp_path / "s")]
    refused(runner.invoke(app, args), "--max-")
    assert not (tmp_path / "s").exists()


def test_particles_are_checked_in_nowcast_backtest_and_calibrate(tmp_path: Path) -> None:
    big = ["--particles", str(10**8)]
    refused(runner.invoke(app, ["nowcast", ARTICLE, "--observations", OBS, *big]), "--max-memory")
    bt = ["backtest", ARTICLE, "--observations", OBS, *big, "--out", str(tmp_path / "b")]
    refused(runner.invoke(app, bt), "--max-memory")
    cal = [
        "calibrate",
        ARTICLE,
        "--observations",
        OBS,
        "--param",
        "agents.toner.rules.reinstate.rate=0:1",
    ]
    cal += ["--points", str(10**7), "--out", str(tmp_path / "c")]
    refused(runner.invoke(app, cal), "--max-work")
    assert not (tmp_path / "c").exists()


# ---------------------------------------------------------------- honesty
def test_block_estimate_matches_traced_peak(crowd: Path) -> None:
    sc = load_scenario(crowd, ["clock.horizon=8"])
    estimate = budget.batch_bytes(sc, BLOCK_SIZE)
    tracemalloc.start()
    try:
        simulate_block(compile_plan(sc), block_rng(1, 0), BLOCK_SIZE)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak / 1.5 <= estimate <= 1.5 * peak, (estimate, peak)


MEASURE = textwrap.dedent(
    """
    import json, sys
    import pyarrow.parquet
    from typer.testing import CliRunner
    from sim.cli import app

    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1])  # KiB

    # reset the peak to the current size, so that what imports took comes off
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = status("VmRSS")
    result = CliRunner().invoke(app, sys.argv[1:])
    assert result.exit_code == 0, result.output
    print(json.dumps({"grown_kib": status("VmHWM") - base}))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
def test_run_estimate_is_within_a_factor_two_of_the_measured_peak(
    crowd: Path, tmp_path: Path
) -> None:
    """The whole command, trajectories and Parquet files included, in a process of its own."""
    sets = ["--set", "agents.people.rule.resistance=0.5"]  # counts only: the run stays quick
    args = ["run", str(crowd), *sets, "-n", "8192", "--seed", "1", "--json"]
    args += ["--record", "trajectories", "--out", str(tmp_path / "out")]
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    grown = json.loads(proc.stdout.strip().splitlines()[-1])["grown_kib"] * 1024
    sc = load_scenario(crowd, ["agents.people.rule.resistance=0.5"])
    estimate = budget.estimate_run(sc, 8192, 1, record=True).memory
    assert grown / 2 <= estimate <= 2 * grown, (estimate, grown)


def test_a_nowcast_estimate_counts_the_rejuvenation_record() -> None:
    """The recorders keep per particle and tick what the moves need: as many bytes as estimated."""
    import numpy as np

    from sim.engine import Block
    from sim.rejuvenate import PathRecorder, targets
    from sim.scenario import load_scenario
    from sim.seeds import nowcast_particles_rng

    sc = load_scenario(ROOT / "scenarios" / "openai_2023_11.yaml")
    particles = 256
    plain = budget.estimate_nowcast(sc, particles, 5, 1, rejuvenate=False)
    moved = budget.estimate_nowcast(sc, particles, 5, 1, rejuvenate=True)
    plan = compile_plan(sc)
    block = Block(plan, nowcast_particles_rng(1), particles)
    rec = PathRecorder(block, targets(plan), until=plan.n_ticks)
    while block.k < plan.n_ticks:  # every tick, as if the last observation were at the horizon
        block.step()
    kept = sum(
        a.nbytes
        for h in rec.history.values()
        for name in ("pressure", "direction", "c1", "ik", "c2")
        for a in getattr(h, name)
    )
    # the estimate is the most: every rule recorded at every tick
    assert kept <= moved.memory - plain.memory
    assert moved.memory - plain.memory == pytest.approx(
        particles * plan.n_ticks * 33 * len({t.rule for t in targets(plan)})
    )
    assert kept > 0.5 * (moved.memory - plain.memory)
    assert "rejuvenation" in " ".join(moved.memory_parts)
    np.testing.assert_equal(plain.work, moved.work)
