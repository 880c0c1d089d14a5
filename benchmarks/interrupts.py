"""kill -9 and Ctrl-C at random moments of ``run --out``, ``sweep`` and ``calibrate``.

    python benchmarks/interrupts.py [--cases 20] [--seed 1] [--parallel 5]
                                    [--commands run,sweep,calibrate]

For each command, one uninterrupted run gives the reference result, its
duration and how long it spent writing its folder. Then each case starts the
command into a fresh folder (half of the ``run`` and ``calibrate`` cases
replace an existing result with ``--overwrite``) and sends SIGKILL or SIGINT
at a random moment (seeded): half the cases after a delay between 0 and 1.2
times the reference's duration, so that many land during start-up, the other
half after a delay between 0 and 1.2 times its writing time, counted from the
first sign of writing (a folder beside the target, a sweep's manifest). It
sorts what is left into one end state:

absent
    no folder (or an empty one), and nothing left beside it;
complete
    every reader accepts it and its data equal the reference's;
refused
    the readers refuse it, and so does the next command without --overwrite;
resumed
    a sweep the readers refused, which ``sweep --resume`` then finished to the
    reference's table, cell by cell;
BAD
    anything else: above all a partial result that reads as complete.

The states are judged after what the next command does first (delete a dead
writer's temporaries, put back a folder it had moved aside). The program prints
the counts per command, signal and end state, with ``landed`` (signalled
before the command ended), ``writing`` (signalled once it had started writing
its folder) and ``traceback`` (a Python traceback on stderr), and exits with
status 1 when any case is BAD. ``tests/test_interrupts.py`` uses the same machinery with
conditions (a file appears) in place of random delays.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TINY = ROOT / "benchmarks" / "tiny.yaml"
COMMANDS = ("run", "sweep", "calibrate")
SIGNALS = ("SIGKILL", "SIGINT")
#: Sweeps write a Parquet part every two points, so kills land among part writes.
ENV = {**os.environ, "STANCESIM_PART_ROWS": "2"}
SWEEP_PARAMS = {
    "agents.a.rules.0.resistance": "0.1:0.9:8",
    "agents.b.rules.0.resistance": "0.1:0.9:6",
}
SWEEP_REPLICATES, SWEEP_SEED = 512, 7
OBSERVATIONS = """\
kind: observations
observations:
  - {kind: stance, agent: a, position: yes, at: [1, 3], error: 0.1}
  - {kind: outcome, outcome: passed, at: [2, 6], error: 0.1}
"""
#: Figures are drawn anew each time (an SVG differs in its metadata), so only
#: the data files are compared with the reference's.
FIGURES = (".png", ".svg")


class Broken(AssertionError):
    """A folder that reads as complete but is not, or one nothing can use or finish."""


def observations_file(work: Path) -> Path:
    """The observations ``calibrate`` weighs ``tiny.yaml`` against (written once)."""
    path = work / "tiny.observations.yaml"
    if not path.exists():
        path.write_text(OBSERVATIONS)
    return path


def command(name: str, out: Path, work: Path) -> list[str]:
    """The command line of ``name`` writing into ``out``."""
    cmd = [sys.executable, "-m", "sim", name, str(TINY)]
    if name == "run":
        cmd += ["-n", "5000", "--seed", "5", "--record", "trajectories", "--overwrite"]
    elif name == "sweep":
        for path, spec in SWEEP_PARAMS.items():
            cmd += ["--param", f"{path}={spec}"]
        cmd += ["-n", str(SWEEP_REPLICATES), "--seed", str(SWEEP_SEED)]
    elif name == "calibrate":
        cmd += ["--observations", str(observations_file(work)), "--overwrite"]
        cmd += ["--param", "agents.a.rules.0.resistance=0.1:0.9"]
        cmd += ["--points", "8", "--particles", "64", "--seed", "3"]
    else:
        raise ValueError(f"unknown command {name!r}")
    return [*cmd, "--out", str(out)]


# ------------------------------------------------------------------ signalling
@dataclass
class Case:
    """One interrupted command: where it writes, and when to signal it."""

    argv: list[str]
    out: Path
    #: Called with the process and the seconds since it started; True: signal now.
    when: Callable[[subprocess.Popen[str], float], bool]
    sent: bool = False
    #: Whether the command had started writing when signalled (see :func:`writing`).
    writing: bool = False
    pid: int = 0
    returncode: int | None = None
    stderr: str = ""


def signal_when(cases: list[Case], sig: str, timeout: float = 120.0) -> list[Case]:
    """Start every case at once, send ``sig`` to each when its ``when`` says so.

    A case whose process ends before its moment is not signalled (``sent``
    stays False). Returns the cases, with exit status and stderr filled in.
    """
    signum = getattr(signal, sig)
    procs = []
    for case in cases:
        proc = subprocess.Popen(
            case.argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env=ENV,
            text=True,
        )
        case.pid = proc.pid
        procs.append((case, proc, time.monotonic()))
        if case.when(proc, 0.0):
            case.writing = writing(case.out)
            proc.send_signal(signum)
            case.sent = True
    deadline = time.monotonic() + timeout  # a guard against a hang, not a synchronisation
    while any(p.poll() is None and not c.sent for c, p, _ in procs):
        if time.monotonic() > deadline:
            for _, p, _ in procs:
                p.kill()
            raise TimeoutError("a command neither finished nor reached its moment")
        for case, proc, t0 in procs:
            if not case.sent and proc.poll() is None and case.when(proc, time.monotonic() - t0):
                case.writing = writing(case.out)
                proc.send_signal(signum)
                case.sent = True
        time.sleep(0.001)  # polling interval of the conditions above
    for case, proc, _ in procs:
        _, case.stderr = proc.communicate(timeout=timeout)
        case.returncode = proc.returncode
    return cases


def writing(out: Path) -> bool:
    """Whether a command has started writing ``out``.

    That is, a folder being built beside it (or the old one moved aside), or a
    sweep's manifest.
    """
    beside = [*out.parent.glob(f"{out.name}.tmp-*"), *out.parent.glob(f"{out.name}.old-*")]
    return bool(beside) or (out / "manifest.json").exists()


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by process ``pid`` (0 when it cannot be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def old_folder(reference: Path, out: Path, figures: int = 800) -> None:
    """Put a complete result at ``out`` for a case that replaces it (``--overwrite``).

    Many figure files make deleting it take a moment, so that signals land
    while the old folder is moved aside and removed.
    """
    shutil.copytree(reference, out)
    (out / "plots").mkdir(exist_ok=True)
    for k in range(figures):
        (out / "plots" / f"f{k}.svg").write_text("<svg/>")


# ------------------------------------------------------------------ end states
def end_state(name: str, out: Path, reference: Any) -> str:
    """What the interrupted ``name`` left at ``out``: absent, complete, refused or resumed.

    ``reference`` is the uninterrupted result: its folder for ``run`` and
    ``calibrate``, its points table (rows) for ``sweep``.

    Raises
    ------
    Broken
        The folder reads as complete but differs from the reference, or cannot
        be told apart, finished or cleaned by the next command.
    """
    if name == "sweep":
        return _sweep_state(out, reference)
    from sim import folders
    from sim.errors import InputError

    kind = "run" if name == "run" else "calibration"
    _folder_state(out, kind, reference)  # as the writer left it
    folders.clean_stale(out)  # what the next command does first
    state = _folder_state(out, kind, reference)
    left = sorted(p.name for p in out.parent.iterdir() if p != out)
    if left:
        raise Broken(f"{out}: left beside it after cleaning: {left}")
    if state == "refused":
        try:
            folders.check_target(out, overwrite=False)
        except InputError:
            pass  # the next command refuses it, as it must
        else:
            raise Broken(f"{out}: readers refuse it but the next {name} --out would write into it")
    return state


def _folder_state(out: Path, kind: str, reference: Path) -> str:
    from sim import folders
    from sim.errors import InputError

    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return "absent"
    try:
        record = folders.check_complete(out, kind)
    except InputError:
        return "refused"
    listed = set(record["files"])
    on_disk = {
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and p.name != folders.MARKER and "plots" not in p.relative_to(out).parts
    }
    if on_disk != listed:
        raise Broken(f"{out}: run.json lists {sorted(listed)}, the folder holds {sorted(on_disk)}")
    expected = json.loads((reference / folders.MARKER).read_text())["files"]
    if listed != set(expected):
        raise Broken(f"{out}: complete with {sorted(listed)}, expected {sorted(expected)}")
    for file in listed:
        if (
            not file.endswith(FIGURES)
            and record["files"][file]["sha256"] != expected[file]["sha256"]
        ):
            raise Broken(f"{out / file}: complete but differs from an uninterrupted run's")
    if kind == "run":
        import pyarrow.parquet as pq

        summary = json.loads((out / "summary.json").read_text())
        if pq.read_table(out / "replicates.parquet").num_rows != summary["replicates"]:
            raise Broken(f"{out}: replicates.parquet does not hold every replicate")
    return "complete"


def _sweep_state(out: Path, reference: list[dict[str, Any]]) -> str:
    from typer.testing import CliRunner

    from sim.cli import app
    from sim.errors import InputError
    from sim.folders import HIDDEN
    from sim.sweep_results import read_results

    # a folder holding nothing (or only a dead writer's temporaries) is taken
    # by the next sweep --out as an empty one
    if not out.exists() or all(p.name.startswith(HIDDEN) for p in out.iterdir()):
        return "absent"
    try:
        table, _, _ = read_results(out)
    except InputError:
        pass
    else:
        same_rows(table.to_pylist(), reference, out)
        return "complete"
    export = CliRunner().invoke(app, ["export", str(out)])
    if export.exit_code != 2 or (out / "points.csv").exists():
        raise Broken(f"{out}: read_results refuses it but export gives {export.exit_code}")
    resumed = CliRunner().invoke(app, ["sweep", "--resume", str(out)])
    if resumed.exit_code != 0:
        raise Broken(f"{out}: refused, and --resume fails: {resumed.output.strip()}")
    table, _, _ = read_results(out)
    same_rows(table.to_pylist(), reference, out)
    hidden = [p.name for p in out.rglob(f"{HIDDEN}*")]
    if hidden:
        raise Broken(f"{out}: temporaries left after --resume: {hidden}")
    return "resumed"


def same_rows(got: list[dict[str, Any]], expected: list[dict[str, Any]], where: Path) -> None:
    """Raise :class:`Broken` unless two points tables agree cell by cell (NaN equals NaN)."""

    def cell(v: Any) -> Any:
        return "NaN" if isinstance(v, float) and math.isnan(v) else v

    if len(got) != len(expected):
        raise Broken(f"{where}: {len(got)} points read as complete, expected {len(expected)}")
    for a, b in zip(got, expected, strict=True):
        if {k: cell(v) for k, v in a.items()} != {k: cell(v) for k, v in b.items()}:
            raise Broken(f"{where}: point {a.get('point')} differs from an uninterrupted run's")


def sweep_reference(out: Path) -> list[dict[str, Any]]:
    """Rows of a finished sweep folder (the reference)."""
    from sim.sweep_results import read_results

    return list(read_results(out)[0].to_pylist())


# -------------------------------------------------------------------- campaign
def reference_run(name: str, work: Path) -> tuple[Any, float, float]:
    """Run ``name`` uninterrupted: its reference result, wall time, and writing time.

    The writing time runs from the first sign of writing (:func:`writing`) to the end.
    """
    out = work / f"reference-{name}" / "r"
    out.parent.mkdir(parents=True)
    argv = command(name, out, work)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, env=ENV
    )
    started = None
    while proc.poll() is None:
        if started is None and writing(out):
            started = time.monotonic()
        time.sleep(0.001)
    end = time.monotonic()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {proc.stderr.read() if proc.stderr else ''}")
    reference = sweep_reference(out) if name == "sweep" else out
    return reference, end - t0, end - (started or t0)


def campaign(names: list[str], cases: int, seed: int, parallel: int, work: Path) -> int:
    """Run the campaign; print the counts; return the number of BAD cases."""
    rng = random.Random(seed)
    states = ("absent", "complete", "refused", "resumed", "BAD")
    head = f"{'command':<10}{'signal':<9}{'cases':>6}{'landed':>7}{'writing':>8}"
    head += "".join(f"{s:>9}" for s in states) + f"{'traceback':>10}"
    failures, bad = [], 0
    print(head, flush=True)
    for name in names:
        reference, duration, writing_time = reference_run(name, work)
        for sig in SIGNALS:
            plan = []
            for i in range(cases):
                out = work / f"{name}-{sig}-{i}" / "r"
                out.parent.mkdir(parents=True)
                if name != "sweep" and i % 2:
                    old_folder(reference, out)
                if i % 4 < 2:  # any moment, start-up included
                    when = _after(rng.uniform(0, 1.2 * duration))
                else:  # a moment while it writes its folder
                    when = _after_writing(out, rng.uniform(0, 1.2 * writing_time))
                plan.append(Case(command(name, out, work), out, when))
            done: list[Case] = []
            for k in range(0, len(plan), parallel):
                done += signal_when(plan[k : k + parallel], sig)
            count: Counter[str] = Counter()
            for case in done:
                try:
                    count[end_state(name, case.out, reference)] += 1
                except Broken as exc:
                    count["BAD"] += 1
                    failures.append(f"{name} {sig}: {exc}")
            bad += count["BAD"]
            landed = sum(c.sent for c in done)
            tracebacks = sum("Traceback" in c.stderr for c in done)
            failures += [
                f"{name} {sig}: traceback\n" + "\n".join(c.stderr.splitlines()[-8:])
                for c in done
                if "Traceback" in c.stderr
            ]
            during = sum(c.writing for c in done)
            row = f"{name:<10}{sig:<9}{len(done):>6}{landed:>7}{during:>8}"
            row += "".join(f"{count[s]:>9}" for s in states) + f"{tracebacks:>10}"
            print(row, flush=True)
    for f in failures:
        print("BAD:" if "traceback" not in f.split("\n")[0] else "TRACEBACK:", f)
    return bad


def _after(delay: float) -> Callable[[subprocess.Popen[str], float], bool]:
    return lambda proc, elapsed: elapsed >= delay


def _after_writing(out: Path, delay: float) -> Callable[[subprocess.Popen[str], float], bool]:
    began: list[float] = []

    def when(proc: subprocess.Popen[str], elapsed: float) -> bool:
        if not began and writing(out):
            began.append(elapsed)
        return bool(began) and elapsed - began[0] >= delay

    return when


def main() -> None:
    """Command-line entry."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=20, help="Cases per command and signal.")
    ap.add_argument("--seed", type=int, default=1, help="Seed of the random moments.")
    ap.add_argument("--parallel", type=int, default=5, help="Cases running at once.")
    ap.add_argument("--commands", default=",".join(COMMANDS))
    args = ap.parse_args()
    names = [c for c in args.commands.split(",") if c]
    with tempfile.TemporaryDirectory(prefix="stancesim-interrupts-") as tmp:
        bad = campaign(names, args.cases, args.seed, args.parallel, Path(tmp))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
