"""Results folders: never mixed, never half-written, and told complete from their own files."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import ROOT, interruptible
from typer.testing import CliRunner

import sim
from sim import folders, sweep
from sim.cli import app
from sim.errors import InputError
from sim.output import write_run
from sim.results import RunResult
from sim.store import SweepStore

runner = CliRunner()
TINY = ROOT / "benchmarks" / "tiny.yaml"
ARTICLE = ROOT / "scenarios" / "openai_2023_11.yaml"
OBSERVED = ROOT / "scenarios" / "openai_2023_11.observations.yaml"
PARAMS = {"agents.a.rules.0.resistance": "0.1:0.9:6"}


def run_cli(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def run_to(out: Path, *extra: str, seed: str = "3"):
    return run_cli("run", TINY, "-n", "40", "--seed", seed, "--out", out, *extra)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_complete(folder: Path) -> dict:
    """run.json says complete and lists exactly the folder's files, with their hashes."""
    record = json.loads((folder / "run.json").read_text())
    assert record["status"] == "complete"
    on_disk = {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != "run.json" and "plots" not in p.parts
    }
    assert set(record["files"]) == on_disk
    for name, info in record["files"].items():
        assert sha(folder / name) == info["sha256"], name
    return record


def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def no_traceback(result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# ------------------------------------------------------------- run --out
def test_run_out_refuses_a_non_empty_folder_unless_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "r"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    r = run_to(out)
    assert r.exit_code == 2
    assert "not empty" in r.stderr and "--overwrite" in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    r = run_to(out, "--overwrite")
    assert r.exit_code == 0, r.output
    assert not (out / "notes.txt").exists()
    assert_complete(out)


def test_overwrite_never_mixes_two_runs(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert run_to(out, "--record", "trajectories").exit_code == 0
    assert (out / "trajectories.parquet").exists()
    r = run_to(out, "--overwrite", seed="4")
    assert r.exit_code == 0, r.output
    # the old run's trajectories must not survive under the new run's summary
    assert not (out / "trajectories.parquet").exists()
    assert json.loads((out / "summary.json").read_text())["seed"] == 4
    assert_complete(out)
    assert not list(tmp_path.glob("r.*")), "temporary or old folders left beside the target"


def test_run_json_lists_files_and_hashes_and_summary_stays_the_json_object(
    tmp_path: Path,
) -> None:
    out = tmp_path / "r"
    r = run_cli("run", TINY, "-n", "40", "--seed", "3", "--out", out, "--json")
    assert r.exit_code == 0, r.output
    record = assert_complete(out)
    assert record["kind"] == "run"
    assert sorted(record["files"]) == [
        "replicates.parquet",
        "scenario.resolved.yaml",
        "scenario.source.yaml",
        "summary.json",
    ]
    assert json.loads((out / "summary.json").read_text()) == json.loads(r.stdout)


@pytest.mark.parametrize("damage", ["no run.json", "running", "changed file", "missing file"])
def test_readers_refuse_an_incomplete_run_folder(tmp_path: Path, damage: str) -> None:
    out = tmp_path / "r"
    assert run_to(out, "--record", "trajectories").exit_code == 0
    marker = out / "run.json"
    if damage == "no run.json":
        marker.unlink()
    elif damage == "running":
        marker.write_text(json.dumps({**json.loads(marker.read_text()), "status": "running"}))
    elif damage == "changed file":
        (out / "summary.json").write_text((out / "summary.json").read_text() + " ")
    else:
        (out / "trajectories.parquet").unlink()
    for cmd in ("outcomes", "trajectories"):
        r = run_cli("plot", cmd, out, "--out", tmp_path / "p")
        assert r.exit_code == 2, (cmd, r.output)
        assert "incomplete" in r.stderr or "does not match" in r.stderr
        no_traceback(r)
    r = run_cli("plot", "compare", out, "--out", tmp_path / "p")
    assert r.exit_code == 2
    with pytest.raises(InputError):
        RunResult.read(out)
    assert not (tmp_path / "p").exists()


def test_interrupt_between_the_renames_puts_the_old_folder_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "r"
    assert run_to(out).exit_code == 0
    before = {p.name: sha(p) for p in out.iterdir()}
    real_rename = os.rename
    calls = []

    def rename(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # old moved aside; the interrupt lands before the new moves in
            raise KeyboardInterrupt
        real_rename(src, dst)

    monkeypatch.setattr(folders.os, "rename", rename)
    result = sim.run(sim.load_scenario(TINY), 40, seed=9)
    with pytest.raises(KeyboardInterrupt):
        write_run(result, out, overwrite=True)
    monkeypatch.undo()
    assert {p.name: sha(p) for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_a_killed_writers_leftovers_are_cleaned_and_an_old_folder_restored(
    tmp_path: Path,
) -> None:
    out = tmp_path / "r"
    assert run_to(out).exit_code == 0
    dead = dead_pid()
    # killed between "move the old folder aside" and "move the new one in"
    old = tmp_path / f"r.old-{dead}-abcd"
    out.rename(old)
    (tmp_path / f"r.tmp-{dead}-efgh").mkdir()
    (tmp_path / f"r.tmp-{dead}-efgh" / "replicates.parquet").write_text("half")
    live = tmp_path / f"r.tmp-{os.getpid()}-live"
    live.mkdir()
    r = run_to(out)
    assert r.exit_code == 2 and "not empty" in r.stderr  # the old run is back, so refused
    assert_complete(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r", live.name]


def test_a_killed_writers_hidden_temporaries_are_cleaned(tmp_path: Path) -> None:
    out = tmp_path / "sw"
    sweep(sim.load_scenario(TINY), PARAMS, out=out, replicates=32, seed=1)
    dead = dead_pid()
    stale = out / f".stancesim-{dead}-points-1.parquet.tmp"
    stale.write_text("half")
    mine = out / f".stancesim-{os.getpid()}-x.tmp"
    mine.write_text("in use")
    r = run_cli("sweep", "--resume", out)
    assert r.exit_code == 0, r.output
    assert not stale.exists() and mine.exists()


# ------------------------------------------------------------ bad --out
def test_out_pointing_at_a_file_is_a_clean_error(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("keep me")
    r = run_to(target)
    assert r.exit_code == 2
    assert "is a file" in r.stderr
    no_traceback(r)
    assert target.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_out_cannot_be_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    for target in (".", ".."):
        r = run_to(Path(target), "--overwrite")
        assert r.exit_code == 2 and "current folder" in r.stderr
    assert here.exists() and list(here.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["here"]


def test_out_in_a_read_only_place_is_a_clean_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)

    def refuse(out: Path) -> Path:  # what a read-only folder does (root ignores the mode)
        raise PermissionError(errno.EACCES, "Permission denied", str(out.parent))

    monkeypatch.setattr(folders, "_make_temp", refuse)
    try:
        r = run_to(ro / "r")
    finally:
        ro.chmod(0o755)
    assert r.exit_code == 2, r.output
    assert "read-only" in r.stderr
    no_traceback(r)
    assert list(ro.iterdir()) == []


def test_a_full_disk_is_a_clean_error_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "r"
    assert run_to(out).exit_code == 0
    before = {p.name: sha(p) for p in out.iterdir()}
    import pyarrow.parquet as pq

    def full(table, where, **kw):
        Path(where).write_bytes(b"PAR1 half")
        raise OSError(errno.ENOSPC, "No space left on device", str(where))

    monkeypatch.setattr(pq, "write_table", full)
    for target, extra in ((tmp_path / "new", ()), (out, ("--overwrite",))):
        r = run_to(target, *extra)
        assert r.exit_code == 2, r.output
        assert "no space left" in r.stderr and "nothing was written" in r.stderr
        no_traceback(r)
    assert not (tmp_path / "new").exists()
    assert {p.name: sha(p) for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


# ------------------------------------------------------------- figures
def test_figures_go_beside_their_source_never_into_the_gallery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "r"
    assert run_to(out).exit_code == 0
    assert run_cli("plot", "outcomes", out).exit_code == 0
    assert (out / "plots" / "time_to_outcome.png").exists()
    assert_complete(out)  # the figures do not make the run folder look damaged
    assert run_cli("plot", "outcomes", TINY, "-n", "20").exit_code == 0
    assert (tmp_path / "stancesim-plots" / "time_to_outcome.png").exists()
    sweep(sim.load_scenario(TINY), PARAMS, out=tmp_path / "sw", replicates=32, seed=1)
    assert run_cli("plot", "sweep", tmp_path / "sw").exit_code == 0
    assert (tmp_path / "sw" / "plots" / "sweep.png").exists()
    assert not (tmp_path / "plots").exists()
    explicit = run_cli("plot", "outcomes", out, "--out", tmp_path / "mine")
    assert explicit.exit_code == 0 and (tmp_path / "mine" / "time_to_outcome.svg").exists()


def test_backtest_writes_to_stancesim_plots_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    r = run_cli("backtest", ARTICLE, "--observations", OBSERVED, "--particles", "64")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "stancesim-plots" / "backtest.json").exists()
    assert not (tmp_path / "plots").exists()


def test_gallery_alone_defaults_to_plots() -> None:
    import typer.main

    defaults = {}
    for cmd in typer.main.get_command(app).commands["plot"].commands.values():
        defaults[cmd.name] = next(p.default for p in cmd.params if p.name == "out")
    assert set(defaults.values()) == {None}  # chosen from the source
    gallery = typer.main.get_command(app).commands["gallery"]
    assert next(p.default for p in gallery.params if p.name == "out") is None  # by scenario
    from sim.cli.gallery import ARTICLE, default_gallery_out

    # the article's figures are the repository's; another scenario's never mix with them
    assert default_gallery_out(ARTICLE) == Path("plots")
    other = ROOT / "scenarios" / "union_strike.yaml"
    assert default_gallery_out(other) == Path("stancesim-plots") / "union_strike"


@pytest.mark.parametrize("name", ["../x", "a/b", "..", "", "x/../../y", "a\\b"])
def test_plot_name_cannot_leave_out(tmp_path: Path, name: str) -> None:
    out = tmp_path / "r"
    assert run_to(out).exit_code == 0
    r = run_cli("plot", "outcomes", out, "--out", tmp_path / "o" / "p", "--name", name)
    assert r.exit_code == 2, r.output
    assert "--name" in r.stderr
    no_traceback(r)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


# --------------------------------------------------------------- sweeps
@pytest.fixture()
def swept(tmp_path: Path) -> tuple[Path, list[dict]]:
    out = tmp_path / "sw"
    table = sweep(sim.load_scenario(TINY), PARAMS, out=out, replicates=32, seed=1)
    return out, table.to_pylist()


def _split_into_parts(out: Path) -> list[Path]:
    """Turn a finished sweep back into a running one with two parts (as if killed)."""
    [part] = list((out / "points").glob("*.parquet"))
    table = pq.read_table(part)
    parts = [out / "points" / "part-1.parquet", out / "points" / "part-2.parquet"]
    pq.write_table(table.slice(0, 3), parts[0])
    pq.write_table(table.slice(3), parts[1])
    part.unlink()
    SweepStore(out, [], {}).update_manifest(status="running", files=None)
    return parts


def test_a_running_sweep_is_refused_unless_partial(swept, tmp_path: Path) -> None:
    out, _ = swept
    _split_into_parts(out)
    (out / "points" / "part-2.parquet").unlink()  # three of six points finished
    for args in (("export", out, "--csv"), ("plot", "sweep", out, "--out", tmp_path / "p")):
        r = run_cli(*args)
        assert r.exit_code == 2, r.output
        assert "partial" in r.stderr and "3 of 6" in r.stderr and "--resume" in r.stderr
    assert not (out / "points.csv").exists() and not (tmp_path / "p").exists()
    r = run_cli("export", out, "--partial")
    assert r.exit_code == 0, r.output
    assert "partial" in r.stdout
    assert not (out / "points.csv").exists()
    assert len((out / "points.partial.csv").read_text().splitlines()) == 1 + 3
    r = run_cli("plot", "sweep", out, "--partial", "--out", tmp_path / "p")
    assert r.exit_code == 0, r.output
    assert "partial" in json.loads((tmp_path / "p" / "sweep.json").read_text())


def test_a_complete_sweep_lists_its_parts_with_hashes(swept) -> None:
    out, _ = swept
    manifest = SweepStore.read_manifest(out)
    assert manifest["status"] == "complete"
    assert manifest["files"]
    for name, info in manifest["files"].items():
        assert sha(out / name) == info["sha256"]
    part = out / next(iter(manifest["files"]))
    part.write_bytes(part.read_bytes()[:-20] + b"x" * 20)
    r = run_cli("export", out)
    assert r.exit_code == 2 and "damaged" in r.stderr and "--resume" in r.stderr


def test_a_corrupt_part_is_dropped_and_recomputed_on_resume(swept) -> None:
    out, full = swept
    parts = _split_into_parts(out)
    parts[1].write_bytes(b"PAR1 this is not a parquet file PAR1")
    with pytest.warns(UserWarning, match="dropped"):
        again = sweep(sim.load_scenario(TINY), PARAMS, out=out, replicates=32, seed=1, resume=True)
    assert again.to_pylist() == full
    assert SweepStore.read_manifest(out)["status"] == "complete"


def test_a_deleted_manifest_is_rebuilt_by_resume(swept) -> None:
    out, full = swept
    (out / "manifest.json").unlink()
    r = run_cli("export", out)
    assert r.exit_code == 2
    assert "manifest.json is missing" in r.stderr and f"--resume {out}" in r.stderr
    r = run_cli("sweep", "--resume", out)
    assert r.exit_code == 0, r.output
    assert SweepStore.read_manifest(out)["status"] == "complete"
    assert pq.read_table(out / "points").sort_by("point").to_pylist() == full


def test_a_deleted_manifest_is_rebuilt_from_the_journal_alone(tmp_path: Path) -> None:
    out = tmp_path / "sw"
    store = SweepStore(out, ["point", "status"], {})
    store.create({"definition": {"seed": 1}, "definition_sha256": "h", "status": "running"})
    store.open()
    store.append({"row": {"point": 0, "status": "ok"}})
    store.close()
    (out / "manifest.json").unlink()
    with pytest.raises(InputError, match="--resume"):
        SweepStore.read_manifest(out)
    rebuilt = SweepStore.read_manifest(out, rebuild=True)
    assert rebuilt["definition_sha256"] == "h" and rebuilt["status"] == "running"
    assert store.done_points() == {0}


def test_a_manifest_that_cannot_be_rebuilt_says_what_to_do(tmp_path: Path) -> None:
    out = tmp_path / "sw"
    (out / "points").mkdir(parents=True)
    pq.write_table(pa.table({"point": [0]}), out / "points" / "part-0.parquet")
    r = run_cli("sweep", "--resume", out)
    assert r.exit_code == 2
    assert "run the sweep again" in r.stderr
    no_traceback(r)


def test_export_without_csv_writes_csv(swept) -> None:
    out, full = swept
    r = run_cli("export", out)
    assert r.exit_code == 0, r.output
    assert len((out / "points.csv").read_text().splitlines()) == 1 + len(full)
    assert run_cli("export", out, "--csv").exit_code == 0


# ------------------------------------------------------------ calibrate
def test_calibrate_folder_is_sealed_and_refused_when_not_empty(tmp_path: Path) -> None:
    out = tmp_path / "cal"
    args = ["--observations", OBSERVED, "--param", "agents.employees.rule.resistance=0.3:0.6"]
    args += ["--points", "3", "--particles", "16", "--out", out]
    r = run_cli("calibrate", ARTICLE, *args)
    assert r.exit_code == 0, r.output
    assert assert_complete(out)["kind"] == "calibration"
    assert {"posterior.json", "calibrated.yaml", "posterior.png"} <= {p.name for p in out.iterdir()}
    r = run_cli("calibrate", ARTICLE, *args)
    assert r.exit_code == 2 and "not empty" in r.stderr
    folders.check_complete(out, "calibration")
    with pytest.raises(InputError, match="not a run folder"):
        folders.check_complete(out, "run")


# --------------------------------------------------------- trajectories
def test_trajectory_positions_are_named(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert run_to(out, "--record", "trajectories").exit_code == 0
    table = pq.read_table(out / "trajectories.parquet")
    for agent in ("a", "b"):
        column = table.column(f"{agent}.position")
        assert pa.types.is_dictionary(column.type)
        assert set(column.to_pylist()) <= {"no", "yes"}
        assert "yes" in column.to_pylist()
    fresh = sim.run(sim.load_scenario(TINY), 40, seed=3, record=True)
    view = RunResult.read(out)
    assert view.trajectories is not None and fresh.trajectories is not None
    for key, values in fresh.trajectories.items():
        assert view.trajectories[key].tolist() == values.tolist(), key


# ------------------------------------------------- kill -9 and Ctrl-C
N_KILL = "5000"  # enough rows that writing the folder takes a visible moment


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _moment(kind: str, out: Path, pid: int) -> bool:
    """Whether the writer of ``out`` has reached the moment to signal it."""
    parent = out.parent
    if kind == "start":
        return True
    if kind == "working":  # half-way through start-up, by its own CPU time
        return _cpu_seconds(pid) >= 0.5
    if kind == "temporary":
        return any(parent.glob("r.tmp-*"))
    if kind == "writing":
        return any(parent.glob("r.tmp-*/replicates.parquet"))
    return any(parent.glob("r.old-*")) or any(parent.glob("r.tmp-*/run.json"))  # "swapping"


def _state(out: Path) -> str:
    """absent, complete (checked in full) or refused; never partial but complete-looking."""
    if not out.exists():
        return "absent"
    try:
        folders.check_complete(out, "run")
    except InputError:
        return "refused"
    assert_complete(out)
    summary = json.loads((out / "summary.json").read_text())
    assert pq.read_table(out / "replicates.parquet").num_rows == summary["replicates"]
    assert pq.read_table(out / "trajectories.parquet").num_rows > 0
    return "complete"


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGINT"])
def test_kill_or_ctrl_c_at_any_moment_leaves_no_partial_run(tmp_path: Path, sig: str) -> None:
    import shutil
    import signal as signals
    import time

    template = tmp_path / "template"
    write_run(sim.run(sim.load_scenario(TINY), 30, seed=2, record=True), template)
    (template / "plots").mkdir()  # many figures: deleting the old folder takes a moment
    for k in range(800):
        (template / "plots" / f"f{k}.svg").write_text("<svg/>")
    moments = ["start", "working", "temporary", "writing", "swapping"]
    outs = [tmp_path / f"case{i}" / "r" for i in range(len(moments))]
    for kind, out in zip(moments, outs, strict=True):
        out.parent.mkdir()
        if kind == "swapping":  # an existing run being replaced
            shutil.copytree(template, out)
    procs = []
    for kind, out in zip(moments, outs, strict=True):
        cmd = [sys.executable, "-m", "sim", "run", str(TINY), "-n", N_KILL, "--seed", "5"]
        cmd += ["--record", "trajectories", "--out", str(out), "--overwrite"]
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            text=True,
            preexec_fn=interruptible,
        )
        if kind == "start":
            proc.send_signal(getattr(signals, sig))
        procs.append([kind, out, proc, kind == "start"])
    deadline = time.monotonic() + 60  # a guard against a hang, not a synchronisation
    while any(p.poll() is None and not sent for _, _, p, sent in procs):
        assert time.monotonic() < deadline, "a run neither finished nor reached its moment"
        for case in procs:
            kind, out, proc, sent = case
            if not sent and proc.poll() is None and _moment(kind, out, proc.pid):
                proc.send_signal(getattr(signals, sig))
                case[3] = True
        time.sleep(0.001)  # polling interval of the condition above
    states = []
    for kind, out, proc, sent in procs:
        _, err = proc.communicate(timeout=60)
        state = _state(out)
        states.append((kind, sent, state))
        if kind == "swapping":
            assert state in ("complete", "absent"), (kind, state)
        else:
            assert state in ("absent", "complete", "refused"), (kind, state)
        if not sent:
            assert proc.returncode == 0, err
            assert state == "complete"
        # the next start removes what the dead writer left, and nothing else remains
        folders.clean_stale(out)
        left = sorted(p.name for p in out.parent.iterdir())
        assert left in ([], ["r"]), (kind, left)
        if kind == "swapping":
            assert left == ["r"], "the old run was lost"
            assert _state(out) == "complete"
    assert states[0][1], "the signal sent at once must land"


SWEEP_PARAM = ("--param", "agents.a.rules.0.rate=0.1:0.5:2")


@pytest.mark.parametrize(
    "args",
    [
        ("sweep", TINY, *SWEEP_PARAM, "-n", "16", "--out", "{f}"),
        ("sweep", "--resume", "{f}"),
        ("sensitivity", "--resume", "{f}"),
        ("export", "{f}"),
        ("discover", "{f}", "--outcome", "x", "--where", "p >= 0.5"),
    ],
    ids=["sweep-out", "sweep-resume", "sensitivity-resume", "export", "discover"],
)
def test_a_file_where_a_sweep_folder_is_expected_is_a_clean_error(
    tmp_path: Path, args: tuple
) -> None:
    f = tmp_path / "afile"
    f.write_text("mine")
    r = run_cli(*(str(a).replace("{f}", str(f)) for a in args))
    assert r.exit_code == 2, r.output
    no_traceback(r)
    assert "is a file" in r.output, r.output
    assert f.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_a_sweep_into_a_run_folder_does_not_suggest_resuming_it(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert run_to(out).exit_code == 0
    r = run_cli("sweep", TINY, *SWEEP_PARAM, "-n", "16", "--out", out)
    assert r.exit_code == 2, r.output
    no_traceback(r)
    assert "--resume" not in r.output and "run folder" in r.output, r.output


@pytest.mark.parametrize(
    "args",
    [
        ("plot", "outcomes", "{src}", "--out", "{run}"),
        (
            "nowcast",
            ARTICLE,
            "--observations",
            OBSERVED,
            "--particles",
            "16",
            "--at",
            "84",
            "--plot",
            "{run}",
        ),
        (
            "backtest",
            ARTICLE,
            "--observations",
            OBSERVED,
            "--particles",
            "16",
            "--marks",
            "60,80",
            "--out",
            "{run}",
        ),
    ],
    ids=["plot", "nowcast", "backtest"],
)
def test_figures_never_go_into_another_commands_results_folder(tmp_path: Path, args) -> None:
    run, src = tmp_path / "run", tmp_path / "src"
    assert run_to(run).exit_code == 0 and run_to(src).exit_code == 0
    before = sorted(p.name for p in run.iterdir())
    r = run_cli(*(str(a).replace("{run}", str(run)).replace("{src}", str(src)) for a in args))
    assert r.exit_code == 2, r.output
    no_traceback(r)
    assert "results folder" in r.output, r.output
    assert sorted(p.name for p in run.iterdir()) == before
    assert_complete(run)


def test_a_nowcast_plot_that_is_a_file_is_refused_before_the_work(tmp_path: Path) -> None:
    f = tmp_path / "afile"
    f.write_text("mine")
    args = ("nowcast", ARTICLE, "--observations", OBSERVED, "--particles", "16")
    r = run_cli(*args, "--at", "84", "--plot", f)
    assert r.exit_code == 2 and "--plot" in r.output and "is a file" in r.output, r.output
    assert "P(" not in r.output  # refused before any nowcast was printed


def test_a_sweep_folder_where_a_run_folder_belongs_is_named_and_not_to_be_overwritten(
    tmp_path: Path,
) -> None:
    sw = tmp_path / "sw"
    r = run_cli("sweep", TINY, *SWEEP_PARAM, "-n", "16", "--seed", "1", "--out", sw)
    assert r.exit_code == 0, r.output
    r = run_cli("plot", "outcomes", sw)
    assert r.exit_code == 2, r.output
    assert "is a sweep (or sensitivity) folder" in r.output and "--overwrite" not in r.output


def test_a_sweep_parameter_given_twice_is_refused(tmp_path: Path) -> None:
    p = "agents.a.rules.0.rate"
    out = tmp_path / "sw"
    r = run_cli("sweep", TINY, "--param", f"{p}=0.1,0.2", "--param", f"{p}=0.3", "--out", out)
    assert r.exit_code == 2 and "given twice" in r.output, r.output
    assert not out.exists()


def test_overwrite_never_deletes_the_input(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    scenario = sub / "tiny.yaml"
    scenario.write_bytes(TINY.read_bytes())
    (sub / "important.txt").write_text("keep")
    r = run_cli("run", scenario, "-n", "8", "--out", sub, "--overwrite")
    assert r.exit_code == 2, r.output
    no_traceback(r)
    assert "holds the input" in r.output, r.output
    assert scenario.read_bytes() == TINY.read_bytes() and (sub / "important.txt").exists()
