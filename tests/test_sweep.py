"""Sweeps: definitions, samplers, determinism across executors, crash safety, adaptivity."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import ROOT, interruptible
from typer.testing import CliRunner

from sim import sample, sweep
from sim.cli import app
from sim.errors import InputError
from sim.scenario import load_scenario
from sim.store import SweepStore
from sim.sweeps import build_definition, parse_spec

sw = importlib.import_module("sim.sweeps")  # the module; ``sim.sweep`` is the function
runner = CliRunner()
BENCH = ROOT / "scenarios" / "bench_770.yaml"
# a quick variant: fewer employees and a short patience keep each point fast
QUICK_SETS = ["agents.employees.size=60", "agents.altman.patience={uniform: [60, 80]}"]
PARAMS = {
    "agents.toner.rules.reinstate.resistance": "0.3:0.9:4",
    "agents.dangelo.rules.reinstate.rate": [0.05, 0.5],
}


def quick_base():
    return load_scenario(BENCH, QUICK_SETS)


def rows(table) -> list[dict]:
    return table.to_pylist()


# ------------------------------------------------------------------ definition
def test_parse_spec_forms() -> None:
    assert parse_spec("0.5,0.7,0.9").values == [0.5, 0.7, 0.9]
    assert parse_spec("0.5:0.9:3").grid_values() == pytest.approx([0.5, 0.7, 0.9])
    assert parse_spec("1:5:5").grid_values() == [1, 2, 3, 4, 5]
    assert parse_spec("0.2:0.4").bounds() == (0.2, 0.4)
    assert parse_spec("[{uniform: [1, 2]}, 3]").values == [{"uniform": [1, 2]}, 3]
    with pytest.raises(ValueError, match="low:high"):
        parse_spec("1:2:3:4")
    with pytest.raises(ValueError, match="above high"):
        parse_spec("0.9:0.1")


def test_grid_order_and_size() -> None:
    d = build_definition({"parameters": {"a": "1,2", "b": "0:1:3"}}, "t")
    assert d.n_points() == 6
    assert d.point_values() == [(1, 0), (1, 0.5), (1, 1), (2, 0), (2, 0.5), (2, 1)]


def test_samplers_are_seeded_and_stay_in_bounds() -> None:
    d = build_definition(
        {"parameters": {"a": "0:10", "b": "-1:1"}, "sampler": "lhs", "points": 20, "seed": 3}, "t"
    )
    pts = np.array(d.point_values())
    assert pts.shape == (20, 2) and pts[:, 0].min() >= 0 and pts[:, 0].max() <= 10
    assert (
        d.point_values()
        == build_definition(
            {"parameters": {"a": "0:10", "b": "-1:1"}, "sampler": "lhs", "points": 20, "seed": 3},
            "t",
        ).point_values()
    )
    # Latin hypercube: each of the 20 strata of each dimension holds exactly one point
    for j, (lo, hi) in enumerate([(0, 10), (-1, 1)]):
        strata = np.floor((pts[:, j] - lo) / (hi - lo) * 20).astype(int)
        assert sorted(strata) == list(range(20))
    sob = sample.unit_points("sobol", 3, 16, np.random.default_rng(0))
    # a scrambled Sobol' base-2 sequence of 16 points is balanced: 8 in each half of each axis
    assert all(((sob[:, j] < 0.5).sum() == 8) for j in range(3))


def test_point_seeds_depend_only_on_seed_and_index() -> None:
    d1 = build_definition({"parameters": {"a": "1,2,3"}, "seed": 5}, "t")
    d2 = build_definition({"parameters": {"a": "7,8"}, "seed": 5, "replicates": 10}, "t")
    assert d1.point_seed(1) == d2.point_seed(1) != d1.point_seed(0)


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("agents.tonr.rules.0.rate=0.1,0.2", "no such key 'tonr'"),
        ("agents.toner.rules.reinstate.rate=-1,0.1", "rate"),
        (
            "agents.employees.rule.spontaneous=0.1:1.5:3",
            "a probability must lie in [0, 1], got 1.5",
        ),
        ("agents.toner.rules.reinstate.rate=0.1:0.2", "a grid needs values or low:high:count"),
    ],
)
def test_bad_sweep_is_rejected_before_any_work(tmp_path: Path, param: str, message: str) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["sweep", str(BENCH), "--param", param, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not out.exists() or not any(out.iterdir())


def test_out_must_be_empty_and_resume_must_match(tmp_path: Path) -> None:
    out = tmp_path / "s"
    sweep(quick_base(), {"agents.toner.rules.reinstate.resistance": "0.5,0.9"}, out=out, seed=1)
    again = runner.invoke(
        app,
        [
            "sweep",
            str(BENCH),
            "--param",
            "agents.toner.rules.reinstate.rate=0.1",
            "--out",
            str(out),
        ],
    )
    assert again.exit_code == 2 and "not empty" in again.stderr
    other = runner.invoke(
        app,
        [
            "sweep",
            str(BENCH),
            "--param",
            "agents.toner.rules.reinstate.rate=0.1",
            "--resume",
            str(out),
        ],
    )
    assert other.exit_code == 2 and "does not match" in other.stderr


# ----------------------------------------------------------------- execution
def test_table_layout_manifest_and_export(tmp_path: Path) -> None:
    out = tmp_path / "s"
    table = sweep(quick_base(), PARAMS, out=out, seed=2, replicates=600, save_replicates=True)
    assert table.num_rows == 8
    assert table.column("point").to_pylist() == list(range(8))
    for name in (
        "p_return",
        "ci95_lo_return",
        "ci95_hi_return",
        "p_microsoft",
        "p_switch_toner",
        "time_median_return",
    ):
        assert name in table.column_names
    r = rows(table)[0]
    assert r["replicates"] == 600 and r["status"] == "ok"
    assert r["p_return"] + r["p_microsoft"] + r["p_unresolved"] == pytest.approx(1.0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["n_points"] == 8
    assert manifest["definition"]["seed"] == 2 and manifest["stancesim_version"]
    assert manifest["base_scenario_sha256"] == quick_base().sha256()
    assert rows(pq.read_table(out / "points").sort_by("point")) == rows(table)
    reps = pq.read_table(out / "replicates")
    assert reps.num_rows == 8 * 600
    assert not (out / ".journal").exists()
    result = runner.invoke(app, ["export", str(out), "--csv"])
    assert result.exit_code == 0
    lines = (out / "points.csv").read_text().splitlines()
    assert len(lines) == 9 and lines[0].startswith('"point","status"')


def test_sweep_does_not_change_the_base_scenario(tmp_path: Path) -> None:
    base = quick_base()
    before = base.sha256()
    sweep(base, PARAMS, out=tmp_path / "s", seed=1)
    assert base.sha256() == before


def test_identical_results_for_jobs_and_dask(tmp_path: Path) -> None:
    base = quick_base()
    one = rows(sweep(base, PARAMS, out=tmp_path / "a", seed=7, jobs=1))
    two = rows(sweep(base, PARAMS, out=tmp_path / "b", seed=7, jobs=2))
    assert one == two
    pytest.importorskip("distributed")
    dask = rows(sweep(base, PARAMS, out=tmp_path / "c", seed=7, dask="local", jobs=2))
    assert one == dask


def test_failed_point_is_recorded_and_the_sweep_goes_on(tmp_path: Path, monkeypatch) -> None:
    real = sw.run

    def flaky(sc, replicates, seed, jobs):
        if sc.agents["toner"].rules[0].resistance == 0.5:
            raise FloatingPointError("overflow in the model")
        return real(sc, replicates, seed=seed, jobs=jobs)

    monkeypatch.setattr(sw, "run", flaky)
    table = sweep(
        quick_base(),
        {"agents.toner.rules.reinstate.resistance": "0.3,0.5,0.7"},
        out=tmp_path / "s",
        seed=1,
    )
    status = table.column("status").to_pylist()
    assert status == ["ok", "failed", "ok"]
    assert table.column("error").to_pylist()[1] == "FloatingPointError: overflow in the model"
    assert json.loads((tmp_path / "s" / "manifest.json").read_text())["failures"] == 1


def test_adaptive_replicates_reach_the_target(tmp_path: Path) -> None:
    table = sweep(
        quick_base(),
        {"agents.toner.rules.reinstate.resistance": "0.3,0.95"},
        out=tmp_path / "s",
        seed=3,
        until_ci=0.025,
        max_replicates=8192,
    )
    for r in rows(table):
        halves = [
            (r[f"ci95_hi_{o}"] - r[f"ci95_lo_{o}"]) / 2
            for o in ("return", "microsoft", "unresolved")
        ]
        assert max(halves) <= 0.025
        assert r["replicates"] % 512 == 0
        # the previous block count would not have been enough (it stopped as soon as it could)
        p = max(r["p_return"], r["p_microsoft"])
        if r["replicates"] > 512:
            n_before = r["replicates"] - 512
            assert 1.96 * np.sqrt(p * (1 - p) / n_before) > 0.02
    assert any(r["replicates"] > 512 for r in rows(table))


# ------------------------------------------------------------------- crashes
# The interrupted sweeps below wait for finished points (a condition, not a
# delay) before signalling. 32 points of about 0.1 s each leave seconds of work
# after the last point waited for, so the run cannot finish first; if it ever
# did, the test fails (make the sweep bigger) rather than skip.
def _sweep_cmd(out: Path, *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "sim", "sweep", str(BENCH)]
    for s in QUICK_SETS:
        cmd += ["--set", s]
    cmd += ["--param", "agents.toner.rules.reinstate.resistance=0.3:0.9:8"]
    cmd += ["--param", "agents.mccauley.rules.reinstate.rate=0.05:0.5:4"]
    return [*cmd, "--seed", "11", "--out", str(out), *extra]


N_POINTS = 32


def _finished_points(out: Path) -> int:
    """Points the folder lists as finished (in a part or the journal), 0 while it is not ready."""
    if not (out / "manifest.json").exists():
        return 0
    try:
        return len(SweepStore(out, [], {}).done_points())
    except (OSError, pa.ArrowException):
        return 0  # a journal segment folded or a part compacted while it was read: look again


def _wait_for_points(proc: subprocess.Popen, out: Path, n: int, timeout: float = 60) -> None:
    """Return once ``out`` lists at least ``n`` finished points (polling, never a fixed delay)."""
    deadline = time.monotonic() + timeout
    while _finished_points(out) < n:
        if proc.poll() is not None:
            raise AssertionError(f"the sweep ended (status {proc.returncode}) before {n} points")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {n} finished points in {out} after {timeout} s")
        time.sleep(0.02)


def _wait_for_manifest(proc: subprocess.Popen, out: Path, timeout: float = 60) -> None:
    """Return once the sweep's folder has its manifest (polling, never a fixed delay)."""
    deadline = time.monotonic() + timeout
    while not (out / "manifest.json").exists():
        if proc.poll() is not None:
            raise AssertionError(f"the sweep ended (status {proc.returncode}) before it started")
        if time.monotonic() > deadline:
            raise AssertionError(f"no manifest in {out} after {timeout} s")
        time.sleep(0.02)


def _orphans(out: Path) -> list[int]:
    """Processes still running this sweep (forked workers share the parent's command line)."""
    deadline = time.time() + 5
    while True:
        found = []
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    cmdline = (d / "cmdline").read_bytes()
                except OSError:
                    continue
                if str(out).encode() in cmdline:
                    found.append(int(d.name))
        if not found or time.time() > deadline:
            return found
        time.sleep(0.1)


def _table(out: Path) -> list[dict]:
    return rows(pq.read_table(out / "points").sort_by("point"))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("full") / "s"
    subprocess.run(_sweep_cmd(out), check=True, capture_output=True)
    table = _table(out)
    assert len(table) == N_POINTS
    return table


@pytest.mark.parametrize("after", [1, 3, 7])
def test_kill_9_then_resume_equals_an_uninterrupted_run(
    tmp_path: Path, uninterrupted, after: int
) -> None:
    out = tmp_path / "s"
    env = {**os.environ, "STANCESIM_PART_ROWS": "3"}  # write parts often, so kills land among them
    proc = subprocess.Popen(
        _sweep_cmd(out, "--jobs", "2"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        _wait_for_points(proc, out, after)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert _orphans(out) == [], "worker processes outlived their killed parent"
    assert SweepStore.read_manifest(out)["status"] != "complete", "finished first: make it bigger"
    assert after <= _finished_points(out) < N_POINTS
    for part in (out / "points").glob("*.parquet"):
        pq.read_table(part)  # every visible part is whole
    resumed = subprocess.run(
        [sys.executable, "-m", "sim", "sweep", "--resume", str(out)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert _table(out) == uninterrupted


def test_ctrl_c_stops_cleanly_and_resumes(tmp_path: Path, uninterrupted) -> None:
    out = tmp_path / "s"
    proc = subprocess.Popen(
        _sweep_cmd(out),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )
    try:
        # the sweep has started once its folder has a manifest; its points become
        # visible in parts, possibly all at the end, so waiting for a finished
        # point could let a fast machine finish the sweep before the interrupt
        _wait_for_manifest(proc, out)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert SweepStore.read_manifest(out)["status"] != "complete", "finished first: make it bigger"
    resumed = subprocess.run(
        [*_sweep_cmd(out)[:-2], "--resume", str(out)], capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    assert _table(out) == uninterrupted


def test_resume_of_a_complete_sweep_is_a_no_op(tmp_path: Path) -> None:
    out = tmp_path / "s"
    first = rows(sweep(quick_base(), PARAMS, out=out, seed=4))
    again = rows(sweep(quick_base(), PARAMS, out=out, seed=4, resume=True))
    assert first == again
    store = SweepStore(out, [], {})
    assert store.read_manifest(out)["status"] == "complete"


def test_sweep_file_validates_and_names_its_scenario() -> None:
    result = runner.invoke(app, ["validate", str(ROOT / "scenarios" / "openai_2023_11.sweep.yaml")])
    assert result.exit_code == 0, result.output
    assert "448 points" in result.stdout


def test_input_error_for_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a sweep folder"):
        SweepStore.read_manifest(tmp_path)


def test_a_finished_sweep_drops_its_partial_views(tmp_path: Path) -> None:
    # export --partial and plot --partial views of the unfinished sweep are stale once it
    # is complete: --resume removes them and keeps the rest
    out = tmp_path / "sw"
    tiny = ROOT / "benchmarks" / "tiny.yaml"
    sweep(tiny, {"agents.a.rules.0.rate": "0.1,0.5"}, out=out, replicates=16, seed=1)
    (out / "points.partial.csv").write_text("stale\n")
    plots = out / "plots"
    plots.mkdir()
    for name, data in (("sweep", {"partial": "2 of 4 points"}), ("mine", {"x": [1]})):
        (plots / f"{name}.json").write_text(json.dumps(data))
        (plots / f"{name}.png").write_bytes(b"png")
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({**manifest, "status": "running"}))
    r = runner.invoke(app, ["sweep", "--resume", str(out)])
    assert r.exit_code == 0, r.output
    assert not (out / "points.partial.csv").exists()
    assert sorted(p.name for p in plots.iterdir()) == ["mine.json", "mine.png"]
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
