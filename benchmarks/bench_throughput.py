"""Throughput and start-up of stancesim on bench-770 against two hand-written references, one run.

Usage::

    python benchmarks/bench_throughput.py                  # everything below (a few minutes)
    python benchmarks/bench_throughput.py --quick          # an eighth of the replicates, 3 rounds
    python benchmarks/bench_throughput.py --employees 770  # population sizes to measure
    python benchmarks/bench_throughput.py --rounds 5 --scaling-rounds 3 --startup-repeats 7
    python benchmarks/bench_throughput.py --no-startup --literal
    python benchmarks/bench_throughput.py --employees 770 --replicates 102400 --no-startup

Throughput
    Each implementation of bench-770 (``shared/domain/bench-770.md``) runs as a
    whole process on one core (BLAS and OpenMP threads set to 1):

    * ``stancesim``: ``stancesim run scenarios/bench_770.yaml -n R --seed S
      --jobs 1 --json`` (``--set agents.employees.size=N`` for other sizes);
    * ``numpy``: ``benchmarks/reference_numpy.py``, the exact hand-vectorised
      implementation (pre-drawn geometric spontaneous ticks, sorted thresholds);
    * ``simpy``: ``benchmarks/handwritten_simpy.py``, one Environment per
      replicate, written as a SimPy user would write it well;
    * ``literal`` (with ``--literal``): ``tests/reference_bench770.py``, numpy
      with one uniform per employee per tick.

    A round runs each implementation once, with the same seed, in an order
    rotated from round to round (interleaved, so that a change of the machine's
    load hits all of them). The figure is replicates per CPU-second of the
    whole child process (user + system time from ``wait4``, so interpreter
    start-up and imports count, as they do for a user), with wall seconds and
    peak RSS beside it; medians over rounds. Ratios are medians of the
    per-round ratios, with their range. P(return) with its 95% Wilson interval
    is printed for each implementation: they must agree.

    ``--rounds`` rounds are run at 770 employees and ``--scaling-rounds`` at
    each other size of ``--employees`` (default 770, 7,700 and 77,000).
    ``--replicates`` sets the length of the stancesim and numpy runs at 770
    (20,480 by default): each process pays its start-up once, so the ratio of
    whole processes depends on how long they run.

Start-up
    Wall (and CPU) seconds of ``python -c 'import numpy, pydantic'``,
    ``stancesim validate scenarios/bench_770.yaml`` and ``stancesim run
    scenarios/bench_770.yaml -n 1``, interleaved, ``--startup-repeats`` times;
    printed as medians and as the median excess over the first command, in
    wall time (issue 14's targets: 0.25 s and 0.45 s) and in CPU time (the
    steadier figure on a loaded machine).

Every child imports this checkout (``PYTHONPATH`` is set to it). The machine's
load average is printed before and after: on a shared, loaded machine wall
times inflate far more than CPU times, and CPU times still somewhat.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BENCH = ROOT / "scenarios" / "bench_770.yaml"

IMPLS = ("stancesim", "numpy", "simpy")
LABELS = {
    "stancesim": "stancesim run --jobs 1",
    "numpy": "numpy, hand-vectorised (exact)",
    "simpy": "SimPy, hand-written",
    "literal": "numpy, literal (1 draw/employee/tick)",
}
#: Replicates per run at each size: a few CPU-seconds each. stancesim always
#: simulates whole blocks of 512, so its counts (and numpy's, for pairing) are
#: rounded up to multiples of 512.
COUNTS = {
    770: {"stancesim": 20_480, "numpy": 20_480, "simpy": 1_500, "literal": 3_000},
    7_700: {"stancesim": 2_048, "numpy": 2_048, "simpy": 300, "literal": 300},
    77_000: {"stancesim": 512, "numpy": 512, "simpy": 40, "literal": 30},
}
STARTUP_TARGETS = {"validate": 0.25, "run -n 1": 0.45}


#: Where the children keep compiled modules (PYTHONPYCACHEPREFIX); None: as the environment says.
BYTECODE_CACHE: str | None = None


def child_env() -> dict[str, str]:
    """Environment of every child: this checkout first, one thread for BLAS/OpenMP.

    With :data:`BYTECODE_CACHE` set, compiled modules are read from (and
    written to) it whatever ``PYTHONDONTWRITEBYTECODE`` says, as a user's
    installed package has its ``.pyc`` files: otherwise, in sandboxes that set
    that variable, every stancesim process would compile all of ``sim`` again
    (about 0.45 s here) and the single-file references almost nothing.
    """
    env = dict(os.environ)
    if BYTECODE_CACHE is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = BYTECODE_CACHE
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    return env


def stancesim_cmd() -> list[str]:
    """The console script next to this interpreter (not a shell shim), else ``python -m sim``."""
    script = Path(sys.executable).parent / "stancesim"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "sim"]


def replicates(impl: str, n_emp: int, quick: bool, length: int | None = None) -> int:
    """Replicates per run of ``impl`` at ``n_emp`` employees.

    ``length`` replaces the count of stancesim and numpy at 770 employees (the
    SimPy script keeps its own, so that a round stays short).
    """
    if length is not None and n_emp == 770 and impl in ("stancesim", "numpy"):
        n = length
    elif n_emp in COUNTS:
        n = COUNTS[n_emp][impl]
    else:  # roughly constant CPU per run: cost grows about linearly with N
        n = max(8, int(COUNTS[770][impl] * 770 / n_emp))
    if quick:
        n = max(8, n // 8)
    return -(-n // 512) * 512 if impl in ("stancesim", "numpy") else n


def command(impl: str, n: int, seed: int, n_emp: int) -> list[str]:
    """The whole-process command of one run."""
    if impl == "stancesim":
        sets = [] if n_emp == 770 else ["--set", f"agents.employees.size={n_emp}"]
        return [
            *stancesim_cmd(),
            "run",
            str(BENCH),
            "-n",
            str(n),
            "--seed",
            str(seed),
            "--jobs",
            "1",
            "--json",
            *sets,
        ]
    script = {"numpy": HERE / "reference_numpy.py", "simpy": HERE / "handwritten_simpy.py"}
    if impl in script:
        args = ["-n", str(n), "--seed", str(seed), "--employees", str(n_emp)]
        return [sys.executable, str(script[impl]), *args]
    return [sys.executable, __file__, "--child-literal", str(n), str(seed), str(n_emp)]


def child_literal(n: int, seed: int, n_emp: int) -> None:
    """Run the literal reference (tests/reference_bench770.py) in chunks of 1,000."""
    sys.path.insert(0, str(ROOT / "tests"))
    import numpy as np
    from reference_bench770 import bench770

    parts = [bench770(min(1000, n - i), seed + i, n_emp) for i in range(0, n, 1000)]
    outcome = np.concatenate([p["outcome"] for p in parts])
    print(json.dumps({"n": n, "returns": int((outcome == 0).sum())}))


def timed(cmd: Sequence[str]) -> dict[str, Any]:
    """Run ``cmd``; its wall seconds, CPU seconds (user + system), peak RSS and stdout."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=child_env())
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{err.read().decode()}")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "stdout": out.decode(),
    }


def throughput_run(impl: str, n: int, seed: int, n_emp: int) -> dict[str, Any]:
    """One whole-process run: its figures and its count of RETURN outcomes."""
    res = timed(command(impl, n, seed, n_emp))
    data = json.loads(res.pop("stdout"))
    if impl == "stancesim":
        returns, done = data["outcomes"]["return"]["count"], data["replicates"]
    else:
        returns, done = data["returns"], data["n"]
    return {**res, "n": done, "returns": returns, "rate": done / res["cpu"]}


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval of a proportion ``k / n``."""
    p = k / n
    mid = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return mid - half, mid + half


def measure_size(
    impls: Sequence[str], n_emp: int, rounds: int, quick: bool, length: int | None = None
) -> dict[str, list]:
    """Interleaved rounds at one population size: every run of every implementation."""
    runs: dict[str, list] = {impl: [] for impl in impls}
    for r in range(rounds):
        order = list(impls[r % len(impls) :]) + list(impls[: r % len(impls)])
        for impl in order:
            n = replicates(impl, n_emp, quick, length)
            runs[impl].append(throughput_run(impl, n, 1000 + r, n_emp))
    return runs


def report_size(n_emp: int, runs: dict[str, list]) -> dict[str, float]:
    """Print the table of one size; return median rates and paired ratios (``"a/b"``)."""
    rounds = len(next(iter(runs.values())))
    print(f"\nN = {n_emp:,} employees: {rounds} rounds, implementations interleaved")
    print(
        f"  {'implementation':<38}{'replicates':>11}{'rep/CPU-s':>11}{'CPU s':>8}"
        f"{'wall s':>8}{'peak RSS':>10}  P(return) [95% CI]"
    )
    rates = {}
    for impl, rs in runs.items():
        rates[impl] = statistics.median(r["rate"] for r in rs)
        k, n = sum(r["returns"] for r in rs), sum(r["n"] for r in rs)
        lo, hi = wilson(k, n)
        print(
            f"  {LABELS[impl]:<38}{rs[0]['n']:>11,}{rates[impl]:>11,.0f}"
            f"{statistics.median(r['cpu'] for r in rs):>8.2f}"
            f"{statistics.median(r['wall'] for r in rs):>8.2f}"
            f"{max(r['rss_mb'] for r in rs):>7.0f} MB  {k / n:.3f} [{lo:.3f}, {hi:.3f}]"
        )
    print("  ratios of rep/CPU-s (median of per-round ratios [min, max]; fastest against fastest):")
    names = list(runs)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            per_round = [ra["rate"] / rb["rate"] for ra, rb in zip(runs[a], runs[b], strict=True)]
            rates[f"{a}/{b}"] = statistics.median(per_round)
            # the fastest run of each is the one least slowed by other work on the machine
            fastest = max(r["rate"] for r in runs[a]) / max(r["rate"] for r in runs[b])
            print(
                f"    {a} / {b}:".ljust(30)
                + f"{statistics.median(per_round):>7.2f}x  "
                + f"[{min(per_round):.2f}, {max(per_round):.2f}]; {fastest:.2f}x"
            )
    return rates


def startup(repeats: int) -> None:
    """Wall time of validate and run -n 1 above importing numpy and pydantic, interleaved."""
    cmds = {
        "import numpy, pydantic": [sys.executable, "-c", "import numpy, pydantic"],
        "validate": [*stancesim_cmd(), "validate", str(BENCH)],
        "run -n 1": [*stancesim_cmd(), "run", str(BENCH), "-n", "1", "--seed", "1"],
    }
    res: dict[str, list[dict[str, Any]]] = {name: [] for name in cmds}
    for _ in range(repeats):
        for name, cmd in cmds.items():
            res[name].append(timed(cmd))
    base = res["import numpy, pydantic"]
    print(f"\nstart-up on scenarios/bench_770.yaml: medians of {repeats}, interleaved")
    print(
        f"  {'command':<34}{'wall s':>8}{'CPU s':>8}"
        f"{'wall above the first':>22}{'target':>8}{'CPU above':>11}"
    )
    for name, rs in res.items():
        wall = statistics.median(r["wall"] for r in rs)
        cpu = statistics.median(r["cpu"] for r in rs)
        label = "python -c 'import numpy, pydantic'" if rs is base else f"stancesim {name}"
        if rs is base:
            print(f"  {label:<34}{wall:>8.3f}{cpu:>8.3f}")
            continue
        pairs = list(zip(rs, base, strict=True))
        above = statistics.median(r["wall"] - b["wall"] for r, b in pairs)
        cpu_above = statistics.median(r["cpu"] - b["cpu"] for r, b in pairs)
        target = STARTUP_TARGETS[name]
        print(
            f"  {label:<34}{wall:>8.3f}{cpu:>8.3f}{above:>+22.3f}{target:>+8.2f}{cpu_above:>+11.3f}"
        )


def machine() -> str:
    """One line on the machine and its load."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs, load average {load} (1, 5, 15 min)"


def version_line() -> str:
    """Versions of Python, numpy and simpy, and the commit measured."""
    import numpy
    import simpy

    commit = "?"
    if shutil.which("git"):
        out = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
        )
        commit = out.stdout.strip() or "?"
    return (
        f"Python {platform.python_version()}, numpy {numpy.__version__}, "
        f"simpy {simpy.__version__}, stancesim at {commit}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=5, help="rounds at 770 employees")
    ap.add_argument("--scaling-rounds", type=int, default=3, help="rounds at other sizes")
    ap.add_argument("--employees", type=int, nargs="+", default=[770, 7_700, 77_000])
    ap.add_argument(
        "--replicates",
        type=int,
        metavar="R",
        help="replicates of stancesim and numpy at 770 employees (default 20,480): start-up"
        " weighs less in a longer run",
    )
    ap.add_argument("--startup-repeats", type=int, default=7)
    ap.add_argument("--no-startup", action="store_true", help="skip the start-up measurement")
    ap.add_argument("--literal", action="store_true", help="also the literal numpy reference")
    ap.add_argument("--quick", action="store_true", help="1/8 of the replicates, 3 rounds")
    ap.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="keep the environment's PYTHONDONTWRITEBYTECODE (each run compiles sim anew)",
    )
    ap.add_argument("--child-literal", nargs=3, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.replicates is not None and args.replicates < 1:
        ap.error(f"--replicates needs at least 1, got {args.replicates}")
    if args.child_literal:
        child_literal(*args.child_literal)
        return
    with tempfile.TemporaryDirectory(prefix="stancesim-pyc-") as cache:
        if not args.no_bytecode_cache:
            global BYTECODE_CACHE
            BYTECODE_CACHE = cache
            # compiled once, as pip does on install; the timed runs only read it
            subprocess.run(
                [sys.executable, "-m", "compileall", "-q", str(ROOT / "sim"), str(HERE)],
                env=child_env(),
                check=True,
            )
        run_all(args)


def run_all(args: argparse.Namespace) -> None:
    """Every measurement the arguments ask for, printed as it goes."""
    if args.quick:
        args.rounds = min(args.rounds, 3)
        args.scaling_rounds = min(args.scaling_rounds, 3)
        args.startup_repeats = min(args.startup_repeats, 3)
    impls = [*IMPLS, "literal"] if args.literal else list(IMPLS)
    print("bench-770, each implementation a whole process on one core; figures per CPU-second")
    print(version_line())
    cache = "a bytecode cache of their own" if BYTECODE_CACHE else "the environment's bytecode"
    print(f"children run with {cache}")
    print(f"machine at start: {machine()}")
    rates = {}
    for n_emp in args.employees:
        rounds = args.rounds if n_emp == 770 else args.scaling_rounds
        runs = measure_size(impls, n_emp, rounds, args.quick, args.replicates)
        rates[n_emp] = report_size(n_emp, runs)
    if len(rates) > 1:
        print("\nscaling: replicates per CPU-second (median) and ratios (median per round)")
        ratios = ["stancesim/numpy", "stancesim/simpy"]
        print(
            f"  {'employees':>10}"
            + "".join(f"{x:>12}" for x in impls)
            + "".join(f"{x:>17}" for x in ratios)
        )
        for n_emp, r in rates.items():
            row = "".join(f"{r[i]:>12,.0f}" for i in impls)
            print(f"  {n_emp:>10,}{row}" + "".join(f"{r[x]:>16.2f}x" for x in ratios))
    if not args.no_startup:
        startup(args.startup_repeats)
    print(f"\nmachine at end: {machine()}")


if __name__ == "__main__":
    main()
