"""Sensitivity analysis: exact indices of a closed-form model, seeds, crash safety, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import ROOT, board_scenario
from typer.testing import CliRunner

import sim
from sim import seeds
from sim.cli import app
from sim.scenario import load_scenario
from sim.sensitivity import Design, Input, inverse_cdf, outputs, run_design, scenario_inputs
from sim.sensitivity_analysis import analyze, analyze_output, jsonable
from sim.store import SweepStore

pytest.importorskip("SALib")
runner = CliRunner()
ARTICLE = ROOT / "scenarios" / "openai_2023_11.yaml"
BENCH = ROOT / "scenarios" / "bench_770.yaml"
QUICK_SETS = ["agents.employees.size=60", "agents.altman.patience={uniform: [60, 80]}"]


# ------------------------------------------------------------- exact indices
# A 2-of-3 vote of members with constant hazards: each member i has switched by
# the deadline T with probability p_i = 1 - (1 - rate (1 - r_i))^T, and the
# outcome's probability is the Poisson-binomial tail (tests/test_closed_form.py
# checks the engine against it). The resistances r_i are the inputs.
RATE, T, N_REP = 0.15, 5, 16
BOUNDS = [(0.0, 1.0), (0.3, 0.9), (0.6, 1.0)]


def p_exact(r: np.ndarray) -> np.ndarray:
    ps = 1 - (1 - RATE * (1 - r)) ** T
    a, b, c = ps[..., 0], ps[..., 1], ps[..., 2]
    return a * b + a * c + b * c - 2 * a * b * c


def exact_noisy_indices() -> tuple[np.ndarray, np.ndarray, float]:
    """S1 and ST of p_hat = p(x) + binomial noise over N_REP replicates, by quadrature.

    The noise is an input of its own, independent at every point: it adds
    E[p(1-p)]/n to the variance, to nothing's first-order part and to every
    total one: S1_i = V_i / (V + E), ST_i = (V_Ti + E) / (V + E).
    """
    nodes, w = np.polynomial.legendre.leggauss(40)
    u, w = (nodes + 1) / 2, w / 2
    grids = [lo + u * (hi - lo) for lo, hi in BOUNDS]
    x = np.stack(np.meshgrid(*grids, indexing="ij"), axis=-1)
    weight = w[:, None, None] * w[None, :, None] * w[None, None, :]
    p = p_exact(x)
    mean = (weight * p).sum()
    v = (weight * (p - mean) ** 2).sum()
    e = (weight * p * (1 - p)).sum() / N_REP
    s1, st = [], []
    for i in range(3):
        others = tuple(j for j in range(3) if j != i)
        given_i = (weight * p).sum(axis=others) / w
        v_i = (w * (given_i - mean) ** 2).sum()
        w_not = weight.sum(axis=i)
        given_not_i = (weight * p).sum(axis=i) / w_not
        v_not_i = (w_not * (given_not_i - mean) ** 2).sum()
        s1.append(v_i / (v + e))
        st.append((v - v_not_i + e) / (v + e))
    return np.array(s1), np.array(st), float(e / (v + e))


def test_sobol_indices_equal_the_exact_indices_of_the_noisy_output(tmp_path: Path) -> None:
    sc = sim.scenario_from_dict(board_scenario([0.5] * 3, RATE, {"at_least": 2}, T, horizon=10))
    inputs = [
        Input(path=f"agents.m{i}.rules.0.resistance", low=lo, high=hi)
        for i, (lo, hi) in enumerate(BOUNDS)
    ]
    design = Design(method="sobol", inputs=inputs, base_samples=256, replicates=N_REP, seed=1)
    table = run_design(sc, design, tmp_path / "s")
    res = analyze(table, design, ["p_passed"])["outputs"]["p_passed"]
    s1, st, share = exact_noisy_indices()
    # SALib's intervals are 95% bootstrap half-widths (1.96 sd); 1.5 of them is
    # about 3 sd, so a correct estimator fails this about once in 400 seeds
    for name, exact in (("S1", s1), ("ST", st)):
        got = res["indices"][name]
        value, half = np.array(got["value"]), np.array(got["hi"]) - np.array(got["value"])
        assert np.all(np.abs(value - exact) <= 1.5 * half), (name, value, exact, half)
    # the noise share: 1280 points estimate Var(p_hat) to about 5% (relative sd
    # of a sample variance, sqrt(2 / 1279) with the output's kurtosis); 15% is 3 sd
    assert res["noise_share"] == pytest.approx(share, rel=0.15)
    # the noiseless total index of the first member is outside the tolerance
    noiseless = (st[0] - share) / (1 - share)
    assert abs(res["indices"]["ST"]["value"][0] - noiseless) > 0.15


def test_left_out_points_take_their_whole_design_block() -> None:
    inputs = [Input(path=f"x{i}", low=0, high=1) for i in range(2)]
    design = Design(method="morris", inputs=inputs, base_samples=6, replicates=4, seed=3)
    unit = design.unit_points()
    y = unit[:, 0] + 0.5 * unit[:, 1]
    y[4] = np.nan  # in the second trajectory (rows 3-5)
    res = analyze_output(design, unit, y, 4, probability=False)
    assert res["points_missing"] == 1
    assert res["points_left_out"] == 3
    assert res["points_used"] == unit.shape[0] - 3
    # an exactly linear output: mu* is the coefficient (per unit of the cube)
    assert res["indices"]["mu_star"]["value"] == pytest.approx([1.0, 0.5])


@pytest.mark.parametrize("method", ["sobol", "morris", "delta"])
def test_every_method_ranks_a_known_linear_output(method: str) -> None:
    inputs = [Input(path=f"x{i}", low=0, high=1) for i in range(3)]
    # delta's estimator is biased upwards at small samples (about 0.13 at 64 points)
    n = 256 if method == "delta" else 64
    design = Design(method=method, inputs=inputs, base_samples=n, replicates=4, seed=2)
    unit = design.unit_points()
    y = 3 * unit[:, 0] + 2 * unit[:, 1]  # x2 does nothing
    res = analyze_output(design, unit, y, 4, probability=False, resamples=20)
    main = {"sobol": "ST", "morris": "mu_star", "delta": "delta"}[method]
    value = res["indices"][main]["value"]
    assert value[0] > value[1] > value[2]


# -------------------------------------------------------------------- inputs
def test_seed_keys_of_the_new_streams() -> None:
    def draws(rng: np.random.Generator) -> list[float]:
        return rng.random(3).tolist()

    def old(seed: int, *key: int) -> list[float]:
        return draws(np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key)))

    assert draws(seeds.sensitivity_design_rng(5)) == old(5, 2)
    assert draws(seeds.sensitivity_bootstrap_rng(5)) == old(5, 3)


def test_inverse_cdfs() -> None:
    u = np.array([0.0, 0.25, 0.5, 1.0])
    assert inverse_cdf({"uniform": [2, 6]}, u) == pytest.approx([2, 3, 4, 6])
    assert inverse_cdf({"triangular": [0, 0, 1]}, np.array([0.75]))[0] == pytest.approx(0.5)
    assert inverse_cdf({"choice": [1, 2], "p": [0.3, 0.7]}, u).tolist() == [1, 1, 2, 2]
    clipped = inverse_cdf({"normal": [0.5, 1.0], "clip": [0, 1]}, u)
    assert clipped.tolist() == [0, 0.5 - 0.6744897501960817, 0.5, 1][:1] + clipped.tolist()[1:]
    assert np.isfinite(inverse_cdf({"normal": [0, 1]}, u)).all()  # cut at the tails
    assert inverse_cdf({"lognormal": [0, 1]}, np.array([0.5]))[0] == pytest.approx(1.0)


def test_from_scenario_takes_the_per_replicate_distributions() -> None:
    sc = load_scenario(ARTICLE)
    paths = [i.path for i in scenario_inputs(sc, str(ARTICLE))]
    assert paths == [
        "agents.sutskever.rules.letter.threshold",
        "agents.dangelo.rules.reinstate.resistance",
        "agents.mccauley.rules.reinstate.resistance",
        "agents.toner.rules.reinstate.resistance",
        "agents.altman.patience",
        "agents.brockman.patience",
        "agents.investors.rules.press.at",
        "events.interim_ceo.trigger.time",
    ]
    design = Design(
        method="delta", inputs=scenario_inputs(sc, "x"), base_samples=20, replicates=2, seed=0
    )
    values = np.array(design.points())
    assert values[:, 4].min() >= 84 and values[:, 4].max() <= 132  # altman: U(84, 132)


# ------------------------------------------------------------ store, executors
def quick_design(seed: int = 4, trajectories: int = 6) -> tuple[sim.Scenario, Design]:
    base = load_scenario(BENCH, QUICK_SETS)
    inputs = [
        Input(path="agents.toner.rules.reinstate.resistance", low=0.3, high=0.9),
        Input(path="agents.dangelo.rules.reinstate.rate", low=0.05, high=0.5),
    ]
    return base, Design(
        method="morris", inputs=inputs, base_samples=trajectories, replicates=32, seed=seed
    )


def test_jobs_1_and_2_give_identical_tables_and_indices(tmp_path: Path) -> None:
    base, design = quick_design()
    one = run_design(base, design, tmp_path / "a", jobs=1)
    two = run_design(base, design, tmp_path / "b", jobs=2)
    assert one.to_pylist() == two.to_pylist()
    outputs = ["p_return", "time_median_return"]
    assert jsonable(analyze(one, design, outputs)) == jsonable(analyze(two, design, outputs))


def _cmd(out: Path, *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "sim", "sensitivity", str(BENCH)]
    for s in QUICK_SETS:
        cmd += ["--set", s]
    cmd += ["--param", "agents.toner.rules.reinstate.resistance=0.3:0.9"]
    cmd += ["--param", "agents.dangelo.rules.reinstate.rate=0.05:0.5"]
    return [*cmd, "--method", "morris", "-N", "8", "-n", "32", "--seed", "9", "--out", str(out)]


def _finished(out: Path) -> int:
    if not (out / "manifest.json").exists():
        return 0
    try:
        return len(SweepStore(out, [], {}).done_points())
    except Exception:
        return 0  # a segment folded or a part compacted while it was read: look again


def test_kill_9_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    base, design = quick_design(seed=9, trajectories=8)  # what _cmd asks for, in this process
    full = run_design(base, design, tmp_path / "full").to_pylist()
    out = tmp_path / "s"
    env = {**os.environ, "STANCESIM_PART_ROWS": "3"}
    proc = subprocess.Popen(
        [*_cmd(out), "--jobs", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while _finished(out) < 4:  # wait for a condition, never a fixed delay
            assert proc.poll() is None, "finished before the kill: make it bigger"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert SweepStore.read_manifest(out)["status"] != "complete"
    assert not (out / "sensitivity.json").exists()
    resumed = subprocess.run(
        [sys.executable, "-m", "sim", "sensitivity", "--resume", str(out)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    table = pq.read_table(out / "points").sort_by("point").to_pylist()
    assert table == full
    got = json.loads((out / "sensitivity.json").read_text())
    want = jsonable(analyze(pq.read_table(out / "points"), design, outputs(base)))
    assert got["outputs"] == want["outputs"]
    assert got["scenario"] == base.name and got["seed"] == 9  # for the figure's footnote
    assert (out / "figures" / "indices.png").is_file()


# ----------------------------------------------------------------- CLI errors
def _fails(args: list[str], *needles: str) -> str:
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    for needle in needles:
        assert needle in res.output, res.output
    return res.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--param", "agents.toner.rules.reinstate.resistance=0.6:0.9:4"], "expected bounds LO:HI"),
        (
            ["--param", "agents.toner.rules.reinstate.resistance=0.9:0.6"],
            "low 0.9 is above high 0.6",
        ),
        (["--param", "agents.toner.rules.reinstate.resistance"], "expected PATH=LO:HI"),
        (["--method", "fast"], "--method fast: expected one of sobol, morris, delta"),
        (["--method", "sobol", "-N", "100"], "power of two; try -N 128"),
        (["--second-order"], "--second-order is for --method sobol"),
        (["--param", "agents.nobody.patience=1:2"], "agents.nobody"),
    ],
)
def test_bad_flags_exit_2_with_one_line(tmp_path: Path, extra: list[str], message: str) -> None:
    args = ["sensitivity", str(ARTICLE), "--seed", "1", "--out", str(tmp_path / "o")]
    if not any(a.startswith("--param") for a in extra):
        args += ["--param", "agents.toner.rules.reinstate.resistance=0.6:0.9"]
        args += ["--param", "agents.mccauley.rules.reinstate.resistance=0.6:0.9"]
    _fails([*args, *extra], message)
    assert not (tmp_path / "o" / "points").exists()


def test_per_person_distribution_is_refused_with_its_line(tmp_path: Path) -> None:
    out = _fails(
        ["sensitivity", str(BENCH), "--from-scenario", "--seed", "1", "--out", str(tmp_path / "o")],
        f"{BENCH}:23",
        "agents.employees.rule.threshold",
        "drawn per person",
    )
    assert len(out.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_missing_salib_is_one_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "SALib", None)  # import fails as if not installed
    out = _fails(
        ["sensitivity", str(ARTICLE), "--from-scenario", "--out", str(tmp_path / "o")],
        'pip install -e ".[analysis]"',
    )
    assert len(out.strip().splitlines()) == 1


def test_nothing_to_vary_and_no_out(tmp_path: Path) -> None:
    _fails(["sensitivity", str(ARTICLE), "--out", str(tmp_path / "o")], "--from-scenario")
    _fails(["sensitivity", str(ARTICLE), "--from-scenario"], "--out DIR is required")


def test_out_must_be_empty_and_sweep_resume_refuses_a_sensitivity_folder(tmp_path: Path) -> None:
    base, design = quick_design()
    out = tmp_path / "s"
    run_design(base, design, out)
    _fails(
        [
            *["sensitivity", str(BENCH), "--from-scenario", "--seed", "1"],
            *["--set", QUICK_SETS[0], "--set", "agents.employees.rule.threshold=0.5"],
            *["--out", str(out)],
        ],
        "folder is not empty",
    )
    _fails(["sweep", "--resume", str(out)], "does not match")


def test_an_unfinished_sensitivity_folder_names_its_own_resume_command(tmp_path: Path) -> None:
    import json

    from sim.errors import InputError
    from sim.sweep_results import read_results

    base, design = quick_design()
    out = tmp_path / "s"
    run_design(base, design, out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["status"] = "running"
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match=r"stancesim sensitivity --resume"):
        read_results(out)


def test_the_indices_figure_keeps_long_parameter_names_inside() -> None:
    # two panels of long names (uk_2022_07's segments) were cut at the right edge
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.sensitivity_analysis import figure_indices

    params = [
        "agents.payroll.segments.envoys_vice_chairs.resistance",
        "agents.payroll.segments.cabinet_ministers_and_whips.rules.0.rate",
        "events.interim_ceo.trigger.time",
    ]
    k = len(params)
    index = {"value": [0.3, 0.2, 0.1], "lo": [0.2, 0.1, 0.0], "hi": [0.4, 0.3, 0.2]}
    result = {
        "method": "morris",
        "main_index": "mu_star",
        "parameters": params,
        "outputs": {
            f"p_{o}": {"indices": {"mu_star": index}, "noise_share": 0.003}
            for o in ("pm_survives", "pm_resigns")
        },
    }
    fig, data = figure_indices(result, ["pm_survives", "pm_resigns"])
    assert len(data["panels"]) == 2 and all(len(p["labels"]) == k for p in data["panels"].values())
    fig.canvas.draw()
    page = fig.bbox
    for ax in fig.axes:
        box = ax.get_tightbbox(fig.canvas.get_renderer())
        assert box.x0 >= page.x0 - 1 and box.x1 <= page.x1 + 1, (box, page)
    plt.close(fig)


def test_the_indices_figure_has_a_title_and_says_what_was_run() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.sensitivity_analysis import figure_indices

    index = {"value": [0.3, 0.1], "lo": [0.2, 0.0], "hi": [0.4, 0.2]}
    result = {
        "method": "morris",
        "main_index": "mu_star",
        "parameters": ["a", "b"],
        "scenario": "bench-770",
        "points": 24,
        "replicates": 32,
        "seed": 9,
        "resamples": 100,
        "outputs": {"p_return": {"indices": {"mu_star": index}, "noise_share": 0.01}},
    }
    fig, _ = figure_indices(result, ["return"])
    title = fig.get_suptitle()
    notes = [t.get_text() for t in fig.texts if t.get_text() != title]  # the suptitle is one
    panel = fig.axes[0].get_title()
    plt.close(fig)
    assert "Morris mu*" in title and "probability" in title, title
    assert panel.startswith("P(return)"), panel
    assert notes == [
        "morris sensitivity of bench-770 · 24 points × 32 replicates · seed 9 · "
        f"100 bootstrap resamples · stancesim {sim.__version__}"
    ]
    # a result written before the scenario and seed were recorded: what is known
    del result["scenario"], result["seed"]
    fig, _ = figure_indices(result, ["return"])
    notes = [t.get_text() for t in fig.texts if t.get_text() != fig.get_suptitle()]
    plt.close(fig)
    assert notes[0].startswith("morris sensitivity · 24 points × 32 replicates · 100 "), notes


def test_a_reversed_range_is_a_plain_message(tmp_path: Path) -> None:
    r = CliRunner().invoke(
        app,
        [
            *("sensitivity", str(ARTICLE), "--param", "agents.employees.rule.resistance=0.55:0.35"),
            *("--method", "morris", "-N", "2", "-n", "16", "--out", str(tmp_path / "o")),
        ],
    )
    assert r.exit_code == 2, r.output
    assert "--param agents.employees.rule.resistance=0.55:0.35" in r.output
    assert "validation error" not in r.output and "pydantic" not in r.output, r.output
    assert not (tmp_path / "o").exists()
