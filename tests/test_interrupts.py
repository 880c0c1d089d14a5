"""kill -9 and Ctrl-C of ``sweep`` and ``calibrate``, and interrupted figure writes.

Each interrupt test starts five commands at once and signals each at its own
moment, chosen by a condition (the process has used some CPU time, a file
appears), never by a delay. What is left must be absent, complete (every
reader accepts it and it equals an uninterrupted run's result), or refused by
the readers; a refused sweep is then finished by ``--resume`` to the
uninterrupted table, cell by cell. ``run --out`` has the same test in
``test_folders.py``; ``benchmarks/interrupts.py`` (whose machinery this file
uses) runs the full campaign at random moments.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from typer.testing import CliRunner

import sim
from sim import folders, sweep
from sim.cli import app

sys.path.insert(0, str(ROOT / "benchmarks"))
import interrupts as kit

runner = CliRunner()
N_POINTS = 48  # 8 x 6, see interrupts.SWEEP_PARAMS
#: Folds of the journal into two-point parts before the last one (see interrupts.ENV).
LAST_FOLDS = N_POINTS // 2 - 2


def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ----------------------------------------------------------------- moments
def starting(proc: subprocess.Popen[str], elapsed: float) -> bool:
    """Inside start-up: the interpreter is importing the package."""
    return kit.cpu_seconds(proc.pid) >= 0.3


def sweep_moment(kind: str, out: Path):
    points = out / "points"

    def parts() -> int:
        return len(list(points.glob("part-*.parquet")))

    def when(proc: subprocess.Popen[str], elapsed: float) -> bool:
        if kind == "start":
            return True
        if kind == "starting":
            return starting(proc, elapsed)
        if kind == "manifest":
            return (out / "manifest.json").exists()
        if kind == "part":
            return parts() >= 1
        # near the end: the last points are running, or the parts are compacted
        return parts() >= LAST_FOLDS or any(points.glob("points-*.parquet"))

    return when


def folder_moment(kind: str, out: Path):
    """Moments of a folder built beside ``out`` and swapped in (as in test_folders)."""

    def when(proc: subprocess.Popen[str], elapsed: float) -> bool:
        parent, tmp = out.parent, f"{out.name}.tmp-*"
        if kind == "start":
            return True
        if kind == "starting":
            return starting(proc, elapsed)
        if kind == "temporary":
            return any(parent.glob(tmp))
        if kind == "writing":
            return any(parent.glob(f"{tmp}/posterior.png"))
        # swapping: the old folder moved aside, or the new one sealed
        return any(parent.glob(f"{out.name}.old-*")) or any(parent.glob(f"{tmp}/run.json"))

    return when


# ------------------------------------------------------------------ sweeps
SWEEP_MOMENTS = ["start", "starting", "manifest", "part", "end"]


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGINT"])
def test_kill_or_ctrl_c_of_a_sweep_leaves_nothing_that_reads_as_complete(
    tmp_path: Path, sig: str
) -> None:
    ref = sweep(
        sim.load_scenario(kit.TINY),
        kit.SWEEP_PARAMS,
        out=tmp_path / "reference",
        replicates=kit.SWEEP_REPLICATES,
        seed=kit.SWEEP_SEED,
    ).to_pylist()
    assert len(ref) == N_POINTS
    cases = []
    for kind in SWEEP_MOMENTS:
        out = tmp_path / kind / "sw"
        out.parent.mkdir()
        cases.append(kit.Case(kit.command("sweep", out, tmp_path), out, sweep_moment(kind, out)))
    kit.signal_when(cases, sig)
    states = {}
    for kind, case in zip(SWEEP_MOMENTS, cases, strict=True):
        states[kind] = kit.end_state("sweep", case.out, ref)  # raises when a reader is fooled
        if not case.sent or lost_ctrl_c(sig, case):
            assert case.returncode == 0, case.stderr
            assert states[kind] == "complete"
        elif sig == "SIGINT" and states[kind] == "resumed":
            assert case.returncode == 130, case.stderr
            assert f"--resume {case.out}" in case.stderr and "Traceback" not in case.stderr
    assert all(c.sent for k, c in zip(SWEEP_MOMENTS, cases, strict=True) if k != "end"), states
    assert states["start"] == "absent"
    # stopped with the manifest written and points to go: refused, then resumed
    for kind in ("manifest", "part"):
        case = cases[SWEEP_MOMENTS.index(kind)]
        assert states[kind] == "resumed" or lost_ctrl_c(sig, case), (kind, states, case.stderr)
    assert states["end"] in ("complete", "resumed"), states


def lost_ctrl_c(sig: str, case: kit.Case) -> bool:
    """A Ctrl-C that the command never saw: it ran to the end as if not interrupted.

    Python delivers SIGINT as a KeyboardInterrupt raised wherever the program
    happens to be, and some code there eats it: the init of a Cython module
    being imported (numpy.random, pyarrow), a callable discriminator run by
    pydantic-core's serializer (it becomes a warning). Not a folder problem
    (the folder is complete and checked as such), so tolerated here.
    """
    return sig == "SIGINT" and case.sent and case.returncode == 0


def test_a_sweep_folder_with_only_a_dead_writers_temporary_is_taken_as_empty(
    tmp_path: Path,
) -> None:
    # killed between creating the folder and renaming its first manifest into place
    out = tmp_path / "sw"
    out.mkdir()
    stale = out / f".stancesim-{dead_pid()}-manifest.json.tmp"
    stale.write_text('{"half')
    args = ["sweep", str(kit.TINY), "--param", "agents.a.rules.0.resistance=0.1:0.9:3"]
    r = runner.invoke(app, [*args, "-n", "32", "--seed", "1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert not stale.exists()
    assert kit.end_state("sweep", out, kit.sweep_reference(out)) == "complete"
    # a live writer's temporary is its own: the folder is then in use, not empty
    mine = tmp_path / "busy"
    mine.mkdir()
    (mine / f".stancesim-{os.getpid()}-manifest.json.tmp").write_text("{")
    r = runner.invoke(app, [*args, "-n", "32", "--seed", "1", "--out", str(mine)])
    assert r.exit_code == 2 and "not empty" in r.stderr


# --------------------------------------------------------------- calibrate
CALIBRATE_MOMENTS = ["start", "starting", "temporary", "writing", "swapping"]


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGINT"])
def test_kill_or_ctrl_c_of_calibrate_leaves_nothing_that_reads_as_complete(
    tmp_path: Path, sig: str
) -> None:
    reference = tmp_path / "reference" / "cal"
    argv = kit.command("calibrate", reference, tmp_path)
    r = runner.invoke(app, argv[3:])  # the same command, in this process
    assert r.exit_code == 0, r.output
    cases = []
    for kind in CALIBRATE_MOMENTS:
        out = tmp_path / kind / "cal"
        out.parent.mkdir()
        if kind == "swapping":  # an existing calibration being replaced
            kit.old_folder(reference, out)
        argv = kit.command("calibrate", out, tmp_path)
        cases.append(kit.Case(argv, out, folder_moment(kind, out)))
    kit.signal_when(cases, sig)
    states = {}
    for kind, case in zip(CALIBRATE_MOMENTS, cases, strict=True):
        # absent or complete once the next command has cleaned up, never refused:
        # the folder is only ever renamed into place whole
        states[kind] = kit.end_state("calibrate", case.out, reference)
        if not case.sent or lost_ctrl_c(sig, case):
            assert case.returncode == 0, case.stderr
        assert states[kind] in ("absent", "complete"), states
        if sig == "SIGINT" and kind in ("temporary", "writing") and not lost_ctrl_c(sig, case):
            assert case.returncode == 130, case.stderr
            said = f"nothing was written; {case.out} is as it was"
            assert case.stderr.strip() == f"interrupted: {said}" and states[kind] == "absent"
    assert all(c.sent for k, c in zip(CALIBRATE_MOMENTS, cases, strict=True) if k != "swapping")
    assert states["start"] == "absent", states
    assert states["starting"] == "absent" or lost_ctrl_c(sig, cases[1]), states
    assert states["swapping"] == "complete", "the old calibration was lost"


# ------------------------------------------------------------------ figures
@pytest.fixture()
def interrupted_savefig(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Make the first figure write stop half-way, as a Ctrl-C would."""
    from matplotlib.figure import Figure

    calls: list[Path] = []

    def savefig(self: Figure, path: Path, **kw: object) -> None:
        calls.append(Path(path))
        Path(path).write_bytes(b"half a figure")
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", savefig)
    return calls


def _only_the_old_figure(folder: Path, name: str) -> None:
    assert sorted(p.name for p in folder.iterdir()) == [f"{name}.png"]
    assert (folder / f"{name}.png").read_bytes() == b"old figure"


def test_interrupted_nowcast_plot_leaves_no_half_written_figure(
    tmp_path: Path, interrupted_savefig: list[Path]
) -> None:
    plot = tmp_path / "figs"
    plot.mkdir()
    (plot / "nowcast.png").write_bytes(b"old figure")
    obs = kit.observations_file(tmp_path)
    args = ["nowcast", str(kit.TINY), "--observations", str(obs), "--at", "3"]
    r = runner.invoke(app, [*args, "--particles", "32", "--plot", str(plot)])
    assert r.exit_code != 0 and interrupted_savefig
    assert interrupted_savefig[0].parent != plot  # written beside, then moved
    _only_the_old_figure(plot, "nowcast")


def test_interrupted_gallery_leaves_no_half_written_figure(
    tmp_path: Path, interrupted_savefig: list[Path]
) -> None:
    out = tmp_path / "plots"
    out.mkdir()
    (out / "trajectories.png").write_bytes(b"old figure")
    args = ["gallery", "--out", str(out), "--quick", "-n", "20", "--jobs", "1"]
    r = runner.invoke(app, args)
    assert r.exit_code != 0 and interrupted_savefig
    assert interrupted_savefig[0].parent != out
    _only_the_old_figure(out, "trajectories")


def test_nowcast_plot_still_writes_its_figure_whole(tmp_path: Path) -> None:
    plot = tmp_path / "figs"
    obs = kit.observations_file(tmp_path)
    args = ["nowcast", str(kit.TINY), "--observations", str(obs), "--at", "3"]
    r = runner.invoke(app, [*args, "--particles", "32", "--plot", str(plot)])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in plot.iterdir()) == [
        f"nowcast.{e}" for e in ("json", "png", "svg")
    ]
    assert (plot / "nowcast.png").read_bytes().startswith(b"\x89PNG")
    shutil.rmtree(plot)
    assert not folders.clean_hidden(tmp_path)
