"""The simulation alone: the engine against the hand-vectorised numpy reference, one process.

``bench_throughput.py`` times whole processes, as a user meets them: there
stancesim also pays for its start-up (the scenario language, its validation,
the command line), which the single-file reference does not have. This script
splits that figure: both simulations run in this one process, after a warm-up
run of each, interleaved round by round, and are timed in CPU seconds
(``time.process_time``) from the moment the scenario is loaded and validated
to the moment the results are in memory::

    python benchmarks/bench_simulation.py                 # 5 rounds of 20,480 replicates
    python benchmarks/bench_simulation.py --rounds 9 -n 40960

Whole-process rate = replicates / (start-up + replicates / simulation rate),
so with the start-up of ``bench_startup.py`` the two scripts account for the
whole-process ratio of ``bench_throughput.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # measure this checkout, not whatever is installed
sys.path.insert(0, str(ROOT / "benchmarks"))

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import reference_numpy  # noqa: E402

import sim  # noqa: E402

BENCH = ROOT / "scenarios" / "bench_770.yaml"


def cpu_seconds(fn: object, *args: object) -> float:
    """CPU seconds of one call of ``fn(*args)``."""
    start = time.process_time()
    fn(*args)  # type: ignore[operator]
    return time.process_time() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("-n", type=int, default=20_480, help="replicates per run (multiple of 512)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    scenario = sim.load_scenario(BENCH)
    engine = lambda: sim.run(scenario, args.n, seed=args.seed, jobs=1)  # noqa: E731
    numpy_ref = lambda: reference_numpy.bench770(args.n, args.seed)  # noqa: E731
    engine(), numpy_ref()  # warm-up: caches, lazy imports, the compiled plan
    times: dict[str, list[float]] = {"stancesim": [], "numpy": []}
    for r in range(args.rounds):
        order = [("stancesim", engine), ("numpy", numpy_ref)]
        for name, fn in order if r % 2 == 0 else order[::-1]:
            times[name].append(cpu_seconds(fn))
    print(f"bench-770, {args.n:,} replicates, simulation only (one process, CPU seconds)")
    print(f"machine load average: {os.getloadavg()[0]:.2f}; {args.rounds} rounds, interleaved")
    for name, label in (("stancesim", "stancesim engine (sim.run)"), ("numpy", "numpy reference")):
        med, best = statistics.median(times[name]), min(times[name])
        print(f"  {label:28s} {med:6.3f} s  {args.n / med:8,.0f} rep/CPU-s  (min {best:.3f})")
    ratios = [n / s for s, n in zip(times["stancesim"], times["numpy"], strict=True)]
    # the fastest run of each is the one least slowed by other work on the machine
    fastest = min(times["numpy"]) / min(times["stancesim"])
    print(
        f"  stancesim / numpy (rep/CPU-s): {statistics.median(ratios):.2f}x "
        f"[{min(ratios):.2f}, {max(ratios):.2f}] per round; {fastest:.2f}x fastest against fastest"
    )


if __name__ == "__main__":
    main()
