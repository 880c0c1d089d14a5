"""``stancesim run -n 1`` loads only what a run needs (issue 14, item 4).

The time itself is measured by ``benchmarks/bench_startup.py`` (tests never race
the clock); here the modules that a small run does not need must stay out of it:
plotting, sampling, data frames, dask, Parquet (no ``--out``), and numpy's masked
arrays (which ``np.quantile`` loads).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

from sim.stats import quantiles

NOT_FOR_A_RUN = (
    "matplotlib",
    "scipy",
    "pandas",
    "dask",
    "pyarrow",
    "numpy.ma",
    "sim.sweeps",
    "sim.plotting",
)


#: what a run on one core without a progress bar does not need either: worker
#: processes' machinery, and rich's bars (stderr is not a terminal here)
NOT_WITHOUT_WORKERS_OR_BAR = ("multiprocessing", "concurrent.futures.process", "rich.progress")


def _modules_after(
    argv: list[str], unwanted: tuple[str, ...] = NOT_FOR_A_RUN
) -> tuple[list[str], str]:
    code = (
        "import sys\n"
        f"sys.argv = ['stancesim', *{argv!r}]\n"
        "from sim._entry import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        f"print(sorted(m for m in {unwanted!r} if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return done.stderr.strip().splitlines()[-1:], done.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "scenarios/bench_770.yaml", "-n", "1", "--seed", "3"],
        ["run", "scenarios/bench_770.yaml", "-n", "1", "--seed", "3", "--json"],
    ],
    ids=["table", "json"],
)
def test_run_n_1_leaves_unneeded_modules_unloaded(argv: list[str]) -> None:
    loaded, out = _modules_after(argv, NOT_FOR_A_RUN + NOT_WITHOUT_WORKERS_OR_BAR)
    assert "bench-770" in out  # the run did happen and reported
    assert loaded == ["[]"]


def test_run_json_does_not_load_rich() -> None:
    # rich draws the tables and the bars; --json prints neither
    argv = ["run", "scenarios/bench_770.yaml", "-n", "1", "--seed", "3", "--json"]
    loaded, out = _modules_after(argv, ("rich",))
    assert '"scenario": "bench-770"' in out
    assert loaded == ["[]"]
    # the tables still come from rich, and still show the run
    loaded, out = _modules_after(argv[:-1], ("rich.table",))
    assert "Outcomes" in out
    assert loaded == ["['rich.table']"]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 10, 11, 100, 513, 1000])
def test_quantiles_are_numpys_to_the_last_bit(n: int) -> None:
    # the summary's medians and 10-90% ranges may not move by an ulp (goldens, JSON)
    rng = np.random.default_rng(n)
    qs = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1 / 3, 0.999)
    for values in (
        rng.normal(100, 30, n),
        rng.integers(0, 5, n).astype(float),  # ties
        np.round(rng.exponential(50, n), 1),
        rng.uniform(-1e12, 1e12, n),
    ):
        with_gaps = values.copy()
        with_gaps[::3] = np.nan  # never-switched replicates: skipped
        for v in (values, with_gaps):
            expected = (
                [float(x) for x in np.quantile(v[np.isfinite(v)], qs)]
                if np.isfinite(v).any()
                else [None] * len(qs)
            )
            got = quantiles(v, qs)
            assert got == expected
            assert all(isinstance(x, float) for x in got if x is not None)


def test_quantiles_of_nothing_finite_are_none() -> None:
    assert quantiles(np.array([np.nan, np.inf]), (0.1, 0.5)) == [None, None]
    assert quantiles(np.array([]), (0.5,)) == [None]
