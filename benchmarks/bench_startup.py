"""Start-up cost of the command line, above ``python -c 'import numpy, pydantic'``.

Runs each command in a fresh process, several times, interleaved (so a load
change on the machine hits all of them alike), and prints the median wall time
and CPU time (user + system) of each, and of each command minus the baseline
(on a loaded machine the fastest round, ``+best``, is the steadier figure)::

    python benchmarks/bench_startup.py            # 7 rounds
    python benchmarks/bench_startup.py --rounds 15

Budget (issue 14, item 4): ``validate`` within 0.25 s of wall time above the
baseline, ``run -n 1`` within 0.45 s. To see where the time goes::

    python -X importtime -m sim validate scenarios/bench_770.yaml 2>&1 | sort -t'|' -k2 -n

Bytecode: Python caches the compiled modules of a package (``__pycache__``, or
the ``.pyc`` files ``pip install`` writes), so a user's second run does not
compile the package again. Where ``PYTHONDONTWRITEBYTECODE`` is set (some
sandboxes and CI images), every run would compile all of ``sim`` from source,
about 0.1 s that no user pays. The commands therefore run with a cache of
their own (``PYTHONPYCACHEPREFIX``, a temporary folder, filled by the warm-up
round), whatever the environment says; ``--no-bytecode-cache`` measures the
other case, each run compiling the package anew. The table names the ``sim``
package that ran (``PYTHONPATH`` picks a worktree's).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = str(ROOT / "scenarios" / "bench_770.yaml")
COMMANDS: dict[str, list[str]] = {
    "baseline (import numpy, pydantic)": [sys.executable, "-c", "import numpy, pydantic"],
    "validate bench_770": [sys.executable, "-m", "sim", "validate", BENCH],
    "run -n 1 bench_770": [sys.executable, "-m", "sim", "run", BENCH, "-n", "1"],
}
BUDGET = {"validate bench_770": 0.25, "run -n 1 bench_770": 0.45}


def environment(cache: str | None) -> dict[str, str]:
    """The commands' environment: with ``cache``, compiled modules are kept there."""
    env = os.environ.copy()
    if cache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache
    return env


def once(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``cmd`` (its output is discarded)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="keep the environment's PYTHONDONTWRITEBYTECODE: every run compiles sim anew",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stancesim-pyc-") as cache:
        env = environment(None if args.no_bytecode_cache else cache)
        measure(args.rounds, env, "off" if args.no_bytecode_cache else "on")


def measure(rounds: int, env: dict[str, str], cache: str) -> None:
    """Run the commands ``rounds`` times, interleaved, and print the table."""
    where = subprocess.run(
        [sys.executable, "-c", "import sim; print(sim.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    ).stdout.strip()
    walls: dict[str, list[float]] = {name: [] for name in COMMANDS}
    cpus: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for cmd in COMMANDS.values():  # warm the file and bytecode caches; not counted
        once(cmd, env)
    for _ in range(rounds):
        for name, cmd in COMMANDS.items():
            wall, cpu = once(cmd, env)
            walls[name].append(wall)
            cpus[name].append(cpu)
    base = "baseline (import numpy, pydantic)"
    base_wall = statistics.median(walls[base])
    base_cpu = statistics.median(cpus[base])
    print(f"sim from {where}; bytecode cache {cache}; load average {os.getloadavg()[0]:.1f}")
    best_wall = min(walls[base])
    print(f"median of {rounds} interleaved rounds, seconds (+best: fastest against fastest)")
    print(
        f"{'command':36} {'wall':>7} {'cpu':>7} {'+wall':>7} {'+cpu':>7} {'+best':>7} {'budget':>7}"
    )
    for name in COMMANDS:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        budget = f"{BUDGET[name]:.2f}" if name in BUDGET else ""
        print(
            f"{name:36} {wall:7.3f} {cpu:7.3f} {wall - base_wall:+7.3f} "
            f"{cpu - base_cpu:+7.3f} {min(walls[name]) - best_wall:+7.3f} {budget:>7}"
        )


if __name__ == "__main__":
    main()
