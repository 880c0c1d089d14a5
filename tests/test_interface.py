"""First-hour interface: ``--version``, ``sim.run(path)``, sweep seeds, forking safely."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import ROOT
from typer.testing import CliRunner

import sim
from sim.cli import app, common, progress

TINY = ROOT / "benchmarks" / "tiny.yaml"


def test_the_installed_version_is_the_package_version() -> None:
    # one place: pyproject reads it from sim/_version.py (pip once said 0.1.0 for 0.4.0)
    import importlib.metadata
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    attr = project["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "sim._version.__version__"
    assert importlib.metadata.version("stancesim") == sim.__version__


def test_version_flag() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"stancesim {sim.__version__}\n"
    done = subprocess.run(
        [sys.executable, "-m", "sim", "--version"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0 and done.stdout == f"stancesim {sim.__version__}\n"


@pytest.mark.parametrize("kind", [str, Path])
def test_run_accepts_a_path(kind: type) -> None:
    by_path = sim.run(kind(TINY), 20, seed=3)
    loaded = sim.run(sim.load_scenario(TINY), 20, seed=3)
    assert by_path.scenario_sha256 == loaded.scenario_sha256
    assert by_path.outcome.tolist() == loaded.outcome.tolist()


def test_run_with_a_missing_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(sim.InputError):
        sim.run(tmp_path / "nope.yaml", 10, seed=1)


def _manifest_seed(out: Path) -> int:
    return int(json.loads((out / "manifest.json").read_text())["definition"]["seed"])


def test_sweep_without_seed_draws_prints_and_records_a_fresh_one(tmp_path: Path) -> None:
    args = ["sweep", str(TINY), "--param", "agents.a.rules.0.rate=0.1,0.2", "-n", "8"]
    seeds = []
    for name in ("a", "b"):
        result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        seed = _manifest_seed(tmp_path / name)
        assert f"seed {seed} (fresh; give --seed {seed} to repeat)" in result.stderr
        seeds.append(seed)
    assert seeds[0] != seeds[1]
    # resuming with the file and no --seed goes on with the recorded seed, not a new one
    again = CliRunner().invoke(app, [*args, "--resume", str(tmp_path / "a")])
    assert again.exit_code == 0, again.output
    assert _manifest_seed(tmp_path / "a") == seeds[0] and "fresh" not in again.stderr
    # an explicit seed is used as given
    fixed = CliRunner().invoke(app, [*args, "--seed", "5", "--out", str(tmp_path / "c")])
    assert fixed.exit_code == 0 and _manifest_seed(tmp_path / "c") == 5
    assert "fresh" not in fixed.stderr


def test_progress_bar_runs_no_thread_while_workers_are_forked(monkeypatch) -> None:
    """Forking while another thread holds a lock can leave the child stuck on it."""
    before = set(threading.enumerate())
    extra_at_fork: list[list[str]] = []
    real_fork = os.fork

    def watched_fork() -> int:
        extra_at_fork.append([t.name for t in threading.enumerate() if t not in before])
        return real_fork()

    monkeypatch.setattr(os, "fork", watched_fork)
    monkeypatch.setattr(common, "show_progress", lambda: True)
    scenario = sim.load_scenario(TINY)
    result = progress.run_with_progress(scenario, 2048, 4, jobs=2, record=False, processes=[])
    assert len(extra_at_fork) == 2, "expected two forked workers"
    assert extra_at_fork == [[], []]
    assert result.outcome.tolist() == sim.run(scenario, 2048, seed=4).outcome.tolist()


def test_an_interrupted_import_is_reported_as_an_interrupt() -> None:
    from sim.errors import caused_by_interrupt

    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as ki:
            raise ImportError("initialization failed") from ki
    except ImportError as exc:
        assert caused_by_interrupt(exc)
    assert not caused_by_interrupt(ImportError("no module named x"))
    assert caused_by_interrupt(KeyboardInterrupt())


# ------------------------------------------------------ sim.sweep and sim.sweeps
def _fresh_python(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return out.stdout.strip()


def test_sim_sweep_is_the_function_and_sim_sweeps_the_module() -> None:
    # importing the module, before or after the function, leaves both where documented
    code = (
        "import types, sim, sim.sweeps; from sim import sweep; import sim.sweeps as m; "
        "print(callable(sim.sweep), type(sim.sweep).__name__, sim.sweep is m.sweep, "
        "isinstance(sim.sweeps, types.ModuleType), type(sim).__name__)"
    )
    assert _fresh_python(code) == "True function True True module"
    code = "import sim.sweeps, sim; print(sim.sweep.__module__, sim.sweeps.__name__)"
    assert _fresh_python(code) == "sim.sweeps sim.sweeps"


def test_the_package_has_no_module_named_sweep() -> None:
    # the name belongs to the function: no module hides behind it, and none is faked.
    # Searched on the package's own path: an editable install of another checkout
    # may add a finder of its own that would answer for its files.
    from importlib.machinery import PathFinder

    assert PathFinder.find_spec("sim.sweep", sim.__path__) is None
    assert PathFinder.find_spec("sim.sweeps", sim.__path__) is not None


def test_the_public_sweep_function_runs_a_sweep(tmp_path: Path) -> None:
    seen: list[int] = []
    table = sim.sweep(
        TINY,
        {"agents.a.rules.0.resistance": "0.2,0.6"},
        out=tmp_path / "s",
        replicates=16,
        seed=1,
        progress=lambda result: seen.append(result["row"]["point"]),
    )
    assert table.num_rows == 2 and sorted(seen) == [0, 1]
