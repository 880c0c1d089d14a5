"""Scaling of stancesim on bench-770: population size and worker processes.

    python benchmarks/bench_scaling.py [--quick]

Prints, for 770 / 7,700 / 77,000 employees, the cost per replicate and the
peak memory of a child process running the same number of replicates (so
that memory is its own), then `--jobs 2` against `--jobs 1` on a large run.
Figures are medians of three runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # measure this checkout, not whatever is installed
BENCH = ROOT / "scenarios" / "bench_770.yaml"


def child(n: int, employees: int, jobs: int) -> None:
    import sim

    sc = sim.load_scenario(BENCH, [f"agents.employees.size={employees}"])
    t0 = time.perf_counter()
    res = sim.run(sc, n, seed=1, jobs=jobs)
    elapsed = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "p_return": float((res.outcome == 0).mean()),
                "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "children_maxrss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            }
        )
    )


def measure(n: int, employees: int, jobs: int, repeats: int) -> dict:
    runs = []
    for _ in range(repeats):
        cmd = [sys.executable, __file__, "--child", str(n), str(employees), str(jobs)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout))
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "maxrss_mb": max(max(r["maxrss_mb"], r["children_maxrss_mb"]) for r in runs),
        "p_return": runs[0]["p_return"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--child", nargs=3, type=int)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    n = 1024 if args.quick else 2048
    print(f"population size ({n} replicates, one process, median of {args.repeats})")
    print(
        f"{'employees':>10}{'s/replicate':>14}{'per employee':>14}{'peak RSS':>11}{'P(return)':>11}"
    )
    base = None
    for employees in (770, 7_700, 77_000):
        r = measure(n, employees, 1, args.repeats)
        per = r["seconds"] / n
        base = base or per / 770
        print(
            f"{employees:>10,}{per * 1e3:>11.3f} ms{per / employees / base:>13.2f}x"
            f"{r['maxrss_mb']:>8.0f} MB{r['p_return']:>11.3f}"
        )
    big = 8 * 1024 if args.quick else 40 * 1024
    one = measure(big, 770, 1, args.repeats)
    two = measure(big, 770, 2, args.repeats)
    print(f"\njobs ({big} replicates of bench-770, median of {args.repeats})")
    print(
        f"  --jobs 1: {one['seconds']:.2f} s   --jobs 2: {two['seconds']:.2f} s   "
        f"speed-up {one['seconds'] / two['seconds']:.2f}x   "
        f"same P(return): {one['p_return'] == two['p_return']}"
    )


if __name__ == "__main__":
    main()
