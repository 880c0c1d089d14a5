"""How many seed blocks to advance as one batch: bench-770 at several batch sizes, one process.

Usage::

    python benchmarks/bench_batches.py                        # 770 employees, 20,480 replicates
    python benchmarks/bench_batches.py --employees 7700 -n 2048 --sizes 1 2 4
    python benchmarks/bench_batches.py --rounds 3             # interleaved rounds, medians

Prints replicates per CPU-second of the simulation only (the process is
warmed up first, so start-up is left out) for each number of blocks per
batch (``sim.run(..., batch_blocks=B)``), rounds interleaved so that a change
of the machine's load hits every size. Results never depend on the batch;
the figures chose :data:`sim.runner.BATCH_BLOCKS` (see its module docstring).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    """Measure and print."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--employees", type=int, default=770)
    ap.add_argument("-n", "--replicates", type=int, default=20_480)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()

    import sim

    sets = [] if args.employees == 770 else [f"agents.employees.size={args.employees}"]
    scenario = sim.load_scenario(ROOT / "scenarios" / "bench_770.yaml", sets)
    sim.run(scenario, 512, seed=1, batch_blocks=1)  # warm up: imports, caches
    figures: dict[int, list[float]] = {b: [] for b in args.sizes}
    for r in range(args.rounds):
        order = args.sizes if r % 2 == 0 else args.sizes[::-1]
        for b in order:
            t0 = time.process_time()
            sim.run(scenario, args.replicates, seed=1000 + r, batch_blocks=b)
            figures[b].append(args.replicates / (time.process_time() - t0))
    print(f"bench-770, {args.employees:,} employees, {args.replicates:,} replicates, one process")
    print("  blocks/batch   rep/CPU-s (median)   rounds")
    for b, v in figures.items():
        print(f"  {b:12d}   {statistics.median(v):18,.0f}   {', '.join(f'{x:,.0f}' for x in v)}")


if __name__ == "__main__":
    main()
