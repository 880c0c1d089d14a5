"""The two layouts of ``sim.thresholds.SortedThresholds`` on bench-770, at several population sizes.

A threshold population counts, every tick, the thresholds its support
reaches: with a bucket index (a table per block, exact, built in a pass over
the thresholds) or with one ``np.searchsorted`` over all rows laid end to end
(nothing to build beyond the sort). This script runs the whole simulation
with each layout forced, in one process, interleaved round by round, and
prints the fastest CPU seconds of each and their ratio (with the median and
range of the per-round ratios) at each size: the sizes where the index pays
give ``sim.thresholds.INDEX_MAX_N``::

    python benchmarks/bench_thresholds.py                      # 770 to 7,700
    python benchmarks/bench_thresholds.py --employees 770 --rounds 21

Both layouts give the same results here (the run's outcome counts are
compared); the goldens guard the layout chosen by default.
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

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import sim  # noqa: E402
from sim import thresholds  # noqa: E402

BENCH = ROOT / "scenarios" / "bench_770.yaml"


def one_size(n_emp: int, rounds: int, seed: int) -> None:
    """Time both layouts at ``n_emp`` employees and print one line."""
    scenario = sim.load_scenario(BENCH, [f"agents.employees.size={n_emp}"])
    # short runs, many rounds: on a shared machine the fastest of many short runs
    # is a steadier figure than the median of a few long ones
    reps = max(512, -(-4_096 * 770 // n_emp // 512) * 512)
    layouts = {"index": 10**9, "search": 0}  # INDEX_MAX_N that forces each
    times: dict[str, list[float]] = {name: [] for name in layouts}
    counts: dict[str, tuple[bytes, ...]] = {}
    for r in range(rounds + 1):  # round 0 warms up (caches, lazy imports)
        for name in list(layouts) if r % 2 else list(layouts)[::-1]:
            thresholds.INDEX_MAX_N = layouts[name]
            start = time.process_time()
            res = sim.run(scenario, reps, seed=seed + r, jobs=1)
            if r:
                times[name].append(time.process_time() - start)
            counts[name] = (res.outcome.tobytes(), res.time.tobytes(), res.half_time.tobytes())
    same = "same results" if counts["index"] == counts["search"] else "RESULTS DIFFER"
    best = {name: min(t) for name, t in times.items()}
    ratios = [s / i for s, i in zip(times["search"], times["index"], strict=True)]
    print(
        f"  N = {n_emp:>6,}  {reps:>5,} replicates  fastest: index {best['index']:.3f} s, "
        f"search {best['search']:.3f} s, index speed-up {best['search'] / best['index']:.2f}x; "
        f"per round {statistics.median(ratios):.2f}x "
        f"[{min(ratios):.2f}, {max(ratios):.2f}]  ({same})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--employees", type=int, nargs="+", default=[770, 1540, 3080, 7700])
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    default = thresholds.INDEX_MAX_N
    print("bench-770, simulation only, CPU seconds (one process, interleaved; new seed each round)")
    print(f"machine load average: {os.getloadavg()[0]:.2f}; {args.rounds} rounds")
    try:
        for n_emp in args.employees:
            one_size(n_emp, args.rounds, args.seed)
    finally:
        thresholds.INDEX_MAX_N = default
    print(f"  INDEX_MAX_N = {default:,}: the index is used up to this N")


if __name__ == "__main__":
    main()
