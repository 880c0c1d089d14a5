"""Statistics behind the figures, and figures drawing exactly those numbers."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest
from conftest import ROOT
from typer.testing import CliRunner

import sim
from sim import figures, stats
from sim import plotting as P
from sim.cli import app

runner = CliRunner()
ARTICLE = ROOT / "scenarios" / "openai_2023_11.yaml"


def test_cumulative_incidence_small_case() -> None:
    outcome = np.array([0, 1, 0, -1, 1])
    time = np.array([2.0, 3.0, 5.0, np.nan, 3.0])
    f = stats.cumulative_incidence(outcome, time, 2, np.array([1.0, 2.0, 3.0, 5.0, 9.0]))
    np.testing.assert_allclose(f[0], [0, 0.2, 0.2, 0.4, 0.4])
    np.testing.assert_allclose(f[1], [0, 0, 0.4, 0.4, 0.4])
    # competing outcomes add up to the share ended (one replicate never ends)
    assert f.sum(axis=0)[-1] == pytest.approx(0.8)


def test_carry_forward_and_bands() -> None:
    m = np.array([[0.1, 0.5, np.nan, np.nan], [0.2, 0.3, 0.4, 0.9]])
    np.testing.assert_allclose(stats.carry_forward(m), [[0.1, 0.5, 0.5, 0.5], [0.2, 0.3, 0.4, 0.9]])
    rng = np.random.default_rng(0)
    x = rng.random((200, 5))
    np.testing.assert_allclose(
        stats.quantile_bands(x, (0.25, 0.5)), np.quantile(x, (0.25, 0.5), axis=0)
    )


def test_crossing_and_ecdf_and_pivot() -> None:
    assert stats.crossing(np.array([0, 1, 2]), np.array([0.8, 0.6, 0.2])) == pytest.approx(1.25)
    assert stats.crossing(np.array([0, 1]), np.array([0.8, 0.6])) is None
    np.testing.assert_allclose(
        stats.ecdf(np.array([1.0, np.nan, 3.0, 3.0]), 4, np.array([0, 1, 2, 3])),
        [0, 0.25, 0.25, 0.75],
    )
    ux, uy, z = stats.pivot_grid(
        np.array([1, 2, 1, 2, 1]), np.array([5, 5, 6, 6, 5]), np.array([0.1, 0.2, 0.3, 0.4, 0.3])
    )
    assert ux.tolist() == [1, 2] and uy.tolist() == [5, 6]
    np.testing.assert_allclose(z, [[0.2, 0.2], [0.3, 0.4]])


def test_plot_functions_return_axes_and_draw_the_given_numbers() -> None:
    x = np.array([0.5, 0.6, 0.7])
    p = np.array([0.7, 0.5, 0.2])
    ax = P.outcome_curve(
        x,
        {"return": (p, p - 0.05, p + 0.05)},
        "toner: resistance",
        base=0.6,
        crossings={"return": 0.6},
    )
    np.testing.assert_allclose(ax.lines[0].get_ydata(), p)
    ax = P.heatmap(
        np.array([1.0, 2.0]),
        np.array([3.0, 4.0]),
        np.array([[0.2, 0.6], [0.4, 0.9]]),
        "a",
        "b",
        "P",
    )
    np.testing.assert_allclose(
        ax.collections[0].get_array().reshape(2, 2), [[0.2, 0.6], [0.4, 0.9]]
    )
    ax = P.compare(
        ["a", "b"], {"return": (np.array([0.3, 0.6]), np.array([0.2, 0.5]), np.array([0.4, 0.7]))}
    )
    assert [bar.get_width() for bar in ax.patches] == pytest.approx([0.3, 0.6])


def test_figures_match_the_run() -> None:
    result = sim.run(sim.load_scenario(ARTICLE), replicates=600, seed=3, record=True)
    fig, data = figures.figure_time_to_outcome(result)
    s = result.summary()["outcomes"]
    assert data["return"][-1] == pytest.approx(s["return"]["p"])
    assert data["microsoft"][-1] == pytest.approx(s["microsoft"]["p"])
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), data["return"])
    fig, data = figures.figure_trajectories(result)
    # the switch curve ends at each individual's switch probability
    agents = result.summary()["agents"]
    for name in ("sutskever", "dangelo", "toner"):
        assert data["switch"][name][-1] == pytest.approx(agents[name]["p_switch"])
    # the median band is the median over replicates of the carried-forward share signed
    assert 0 <= min(data["bands"][2]) and max(data["bands"][2]) <= 1


def test_plot_commands_from_run_folder_and_sweep_folder(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    r = runner.invoke(
        app,
        [
            "run",
            str(ARTICLE),
            "-n",
            "512",
            "--seed",
            "2",
            "--out",
            str(run_dir),
            "--record",
            "trajectories",
        ],
    )
    assert r.exit_code == 0
    for cmd in ("trajectories", "outcomes"):
        r = runner.invoke(app, ["plot", cmd, str(run_dir), "--out", str(tmp_path / "plots")])
        assert r.exit_code == 0, r.output
    names = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert (
        "trajectories.png" in names
        and "trajectories.svg" in names
        and "time_to_outcome.svg" in names
    )
    summary = json.loads((run_dir / "summary.json").read_text())
    data = json.loads((tmp_path / "plots" / "time_to_outcome.json").read_text())
    assert data["return"][-1] == pytest.approx(summary["outcomes"]["return"]["p"])
    sim.sweep(
        ARTICLE,
        {"agents.toner.rules.reinstate.resistance": "0.5,0.9", "agents.altman.patience": "90,120"},
        out=tmp_path / "sw",
    )
    r = runner.invoke(
        app, ["plot", "sweep", str(tmp_path / "sw"), "--out", str(tmp_path / "plots")]
    )
    assert r.exit_code == 0, r.output
    z = json.loads((tmp_path / "plots" / "sweep.json").read_text())["z"]
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "sw" / "points").sort_by("point").to_pylist()
    assert z[0][0] == pytest.approx(table[0]["p_return"])  # toner 0.5, patience 90
    assert z[1][1] == pytest.approx(table[3]["p_return"])  # toner 0.9, patience 120


def test_plot_of_a_run_without_trajectories_is_a_clean_error(tmp_path: Path) -> None:
    runner.invoke(
        app, ["run", str(ARTICLE), "-n", "10", "--seed", "2", "--out", str(tmp_path / "r")]
    )
    r = runner.invoke(
        app, ["plot", "trajectories", str(tmp_path / "r"), "--out", str(tmp_path / "p")]
    )
    assert r.exit_code == 2 and "--record trajectories" in r.stderr


def test_gallery_quick_writes_every_figure_with_its_data(tmp_path: Path) -> None:
    r = runner.invoke(app, ["gallery", "--quick", "--out", str(tmp_path), "--jobs", "1"])
    assert r.exit_code == 0, r.output
    names = (
        "trajectories",
        "time_to_outcome",
        "sweep_toner",
        "sweep_heatmap",
        "compare",
        "nowcast",
        "posterior",
        "sensitivity",
        "discovery_tradeoff",
        "discovery_box",
    )
    for name in names:
        for ext in ("png", "svg", "json"):
            assert (tmp_path / f"{name}.{ext}").stat().st_size > 0
    ranking = json.loads((tmp_path / "sensitivity.json").read_text())
    assert "employees: resistance" in json.dumps(ranking)  # the crowd's knob is ranked
    compare = json.loads((tmp_path / "compare.json").read_text())
    assert compare["labels"] == [
        "as in the scenario",
        "toner immovable",
        "without exodus",
        "without negotiation round",
        "impatient altman",
    ]
    # the same seed for every variant: an immovable Toner can only lower P(return)
    assert compare["return"][1] < compare["return"][0]
    nowcast = json.loads((tmp_path / "nowcast.json").read_text())
    assert nowcast["return"][-1] == pytest.approx(1.0)  # the return is among the observations
    heat = json.loads((tmp_path / "sweep_heatmap.json").read_text())
    assert len(heat["x"]) == 3 and len(heat["y"]) == 3


def test_plot_compare_and_a_scenario_file_run_first(tmp_path: Path) -> None:
    bench = ROOT / "scenarios" / "bench_770.yaml"
    r = runner.invoke(
        app,
        [
            "plot",
            "compare",
            str(bench),
            "--variant",
            "patient:agents.altman.patience=160",
            "-n",
            "512",
            "--seed",
            "4",
            "--out",
            str(tmp_path),
        ],
    )
    assert r.exit_code == 0, r.output
    data = json.loads((tmp_path / "compare.json").read_text())
    assert data["labels"] == ["bench_770", "patient"]
    base = sim.run(sim.load_scenario(bench), replicates=512, seed=4).summary()["outcomes"]
    assert data["return"][0] == pytest.approx(base["return"]["p"])
    assert data["return"][1] > data["return"][0]  # more patience, more returns
    r = runner.invoke(
        app, ["plot", "trajectories", str(bench), "-n", "512", "--out", str(tmp_path)]
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "trajectories.svg").exists()
    r = runner.invoke(
        app, ["plot", "compare", str(bench), "--variant", "no-colon", "--out", str(tmp_path)]
    )
    assert r.exit_code == 2 and "LABEL:PATH=VALUE" in r.stderr


# ------------------------------------------------------------- gallery's choices
SHIPPED = sorted(
    p for p in (ROOT / "scenarios").glob("*.yaml") if "kind: scenario" in p.read_text()
)


def test_gallery_choices_for_the_article_are_its_holdout_and_its_employees() -> None:
    from sim.cli.gallery import _calibration_box, _sweeps, choices

    pick = choices(sim.load_scenario(ARTICLE))
    assert pick.holdout is not None and pick.crowd is not None
    assert pick.holdout.path == "agents.toner.rules.reinstate.resistance"
    assert pick.holdout.mean == pytest.approx(0.825)  # U(0.75, 0.90)
    assert pick.crowd.path == "agents.employees.rule.resistance"
    # the README's calibration priors
    assert _calibration_box(pick) == ((0.6, 1.0), (0.3, 0.6))
    assert dict(_sweeps(pick, 15, 8))["sweep_toner"] == {
        "agents.toner.rules.reinstate.resistance": "0.5:1:15"
    }


@pytest.mark.parametrize("scenario", [p for p in SHIPPED if p != ARTICLE], ids=lambda p: p.stem)
def test_gallery_draws_every_shipped_scenario(tmp_path: Path, scenario: Path) -> None:
    from sim.cli.gallery import choices

    # few replicates: five_member_board runs slowly in today's engine (22 s for 512)
    args = ["gallery", "--scenario", str(scenario), "--quick", "-n", "8", "--jobs", "1"]
    r = runner.invoke(app, [*args, "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    pick = choices(sim.load_scenario(scenario))
    assert pick.holdout is not None  # every shipped scenario has a holdout to sweep
    names = ["trajectories", "time_to_outcome", "compare", f"sweep_{pick.holdout.agent}"]
    names += ["sweep_heatmap"] if pick.crowd is not None else []
    for name in names:
        assert (tmp_path / f"{name}.svg").stat().st_size > 0, name
    compare = json.loads((tmp_path / "compare.json").read_text())
    assert compare["labels"][:2] == ["as in the scenario", f"{pick.holdout.agent} immovable"]
    assert "toner" not in r.stdout or "toner" in pick.holdout.path  # its own agents


def test_the_shipped_scenarios_are_all_covered() -> None:
    stems = {p.stem for p in SHIPPED}
    assert {"openai_2023_11", "five_member_board", "union_strike", "bench_770"} <= stems


# ------------------------------------------------------ sampled sweeps and means
def _sampled_sweep(sampler: str, p: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple:
    import pyarrow as pa

    n = len(p)
    table = pa.table(
        {
            "point": np.arange(n),
            "status": ["ok"] * n,
            "a.x": x,
            "b.y": y,
            "p_yes": p,
            "ci95_lo_yes": p,
            "ci95_hi_yes": p,
            "p_no": 1 - p,
            "ci95_lo_no": 1 - p,
            "ci95_hi_no": 1 - p,
        }
    )
    manifest = {
        "definition": {"parameters": {"a.x": {}, "b.y": {}}, "sampler": sampler, "seed": 1},
        "base_scenario": {"name": "synthetic", "outcomes": {"yes": {}, "no": {}}},
        "stancesim_version": "test",
    }
    return table, manifest


@pytest.mark.parametrize("sampler", ["lhs", "random", "sobol"])
def test_a_sampled_sweep_is_drawn_as_points_with_the_half_contour(sampler: str) -> None:
    # P linear in x: linear interpolation over any triangulation is exact, so the
    # 0.5 contour is the line x = 0.5, wherever the points fall
    rng = np.random.default_rng(3)
    x, y = rng.random(40), rng.random(40)
    table, manifest = _sampled_sweep(sampler, x, x, y)
    fig, data = figures.figure_sweep(table, manifest)
    assert data["p"] == pytest.approx(x.tolist())
    vertices = np.concatenate([np.asarray(seg) for seg in data["contour"]])
    assert len(vertices) >= 2
    np.testing.assert_allclose(vertices[:, 0], 0.5, atol=1e-9)
    ax = fig.axes[0]
    scatter = [c for c in ax.collections if c.get_offsets().shape[0] == 40]
    assert scatter, "every point is drawn"
    np.testing.assert_allclose(np.asarray(scatter[0].get_array()), x)
    assert "0.5" in ax.get_title()


def test_a_sampled_sweep_without_a_crossing_or_an_area_draws_its_points() -> None:
    table, manifest = _sampled_sweep(
        "lhs", np.array([0.1, 0.2, 0.3]), np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 2.0])
    )
    _, data = figures.figure_sweep(table, manifest)
    assert data["contour"] == [] and data["x"] == [0.0, 1.0, 2.0]


def test_plot_sweep_of_an_lhs_sweep_from_the_command_line(tmp_path: Path) -> None:
    tiny = ROOT / "benchmarks" / "tiny.yaml"
    args = ["sweep", str(tiny), "--sampler", "lhs", "--points", "24", "-n", "64", "--seed", "2"]
    args += ["--param", "agents.a.rules.0.rate=0.02:1", "--param", "agents.b.rules.0.rate=0.02:1"]
    r = runner.invoke(app, [*args, "--out", str(tmp_path / "sw")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["plot", "sweep", str(tmp_path / "sw"), "--out", str(tmp_path / "p")])
    assert r.exit_code == 0, r.output
    data = json.loads((tmp_path / "p" / "sweep.json").read_text())
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "sw" / "points").sort_by("point").to_pylist()
    assert data["p"] == pytest.approx([row["p_passed"] for row in table])
    assert data["contour"], "P(passed) crosses 0.5 in this box: the contour is drawn"


def test_the_base_value_mark_is_the_closed_form_mean() -> None:
    base = sim.load_scenario(ARTICLE).canonical()
    # U(0.75, 0.90): exactly its midpoint, not an estimate from random draws
    assert figures._base_value(base, "agents.toner.rules.reinstate.resistance") == 0.825
    assert figures._base_value(base, "agents.employees.rule.resistance") == 0.45
    assert figures._base_value(base, "agents.nobody.patience") is None


def test_saving_a_figure_twice_gives_the_same_svg(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    from sim.figures import save

    for folder in ("a", "b"):
        fig, ax = plt.subplots()
        ax.plot([0, 1], [1, 0])
        save(fig, {}, tmp_path / folder, "line")
    first, second = ((tmp_path / f / "line.svg").read_bytes() for f in ("a", "b"))
    assert first == second and b"<dc:date>" not in first


def test_gallery_nowcast_curve_stops_where_no_particle_is_left(tmp_path: Path, monkeypatch) -> None:
    """A small filter left with no consistent particle ends the curve there, and says so."""
    import sim.nowcast as N
    from sim.cli.gallery import _nowcast_curve
    from sim.observations import load_observations

    sc = sim.load_scenario(ARTICLE)
    obs, _ = load_observations(ROOT / "scenarios" / "openai_2023_11.observations.yaml")
    times = N.default_times(obs)
    real = N.nowcast

    def fails_late(base, o, t, particles, seed):
        if t >= times[2]:
            raise N.NoConsistentParticle(f"no particle is consistent up to t = {t:g} h")
        return real(base, o, t, particles, seed)

    monkeypatch.setattr(N, "nowcast", fails_late)
    said: list[str] = []
    curve = _nowcast_curve(sc, obs, 64, 1, said.append, lambda *a: None)
    assert [c.at for c in curve] == times[:2]
    assert len(said) == 1 and f"{times[2]:g} h" in said[0] and "64 particles" in said[0]


@pytest.mark.parametrize(
    ("hours", "unit"),
    [(96, "day"), (150, "day"), (30, "hour"), (6, "hour")],
)
def test_a_date_axis_labels_days_or_hours_and_warns_of_nothing(hours: int, unit: str) -> None:
    # a 96-hour clock (uk_2022_07) once got ticks every 12 hours labelled by day
    # only, each day twice, and matplotlib's warning that no interval fitted
    import warnings
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    tz = ZoneInfo("Europe/London")
    start = datetime(2022, 7, 5, 18, 2, tzinfo=tz)
    times = [start + timedelta(hours=h) for h in range(hours + 1)]
    fig, ax = plt.subplots()
    try:
        ax.plot(times, range(hours + 1))
        P.date_axis(ax, tz)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fig.canvas.draw()
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        assert len(ticks) >= 3 and len(labels) == len(ticks)
        local = [mdates.num2date(t, tz=tz) for t in ticks]
        corner = ax.xaxis.get_major_formatter().get_offset()
        if unit == "day":  # ticks at local midnights, each named by its own day
            assert all((d.hour, d.minute) == (0, 0) for d in local), local
            assert labels == [d.strftime("%a\n%d %b") for d in local]
            assert corner == local[-1].strftime("%b %Y")
        else:  # a tick at midnight names its day, the others their hour
            want = [d.strftime("%a\n%d %b" if d.hour == 0 else "%H:%M") for d in local]
            assert labels == want
            assert corner == local[-1].strftime("%a %d %b %Y")
    finally:
        plt.close(fig)


@pytest.mark.parametrize(
    ("population", "said"),
    [("nobody", "no agent 'nobody'"), ("toner", "'toner' is an individual")],
)
def test_plot_trajectories_of_a_population_that_is_not_one_is_a_clean_error(
    tmp_path: Path, population: str, said: str
) -> None:
    r = runner.invoke(
        app,
        [
            *("plot", "trajectories", str(ARTICLE), "-n", "16", "--seed", "1"),
            *("--population", population, "--out", str(tmp_path / "plots")),
        ],
    )
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and isinstance(r.exception, SystemExit)
    assert said in r.output and "employees" in r.output  # names the populations there are
    assert not (tmp_path / "plots").exists()


def test_the_comparison_footnote_gives_each_runs_replicates_when_they_differ() -> None:
    import matplotlib.pyplot as plt

    bench = ROOT / "scenarios" / "bench_770.yaml"
    a = sim.run(ARTICLE, 64, seed=3)
    b = sim.run(bench, 32, seed=3)
    fig, _ = figures.figure_compare([("article", a), ("bench", b)])
    notes = [t.get_text() for t in fig.texts]
    plt.close(fig)
    assert any("replicates: article 64, bench 32" in n and "seed 3" in n for n in notes), notes
    fig, _ = figures.figure_compare([("article", a), ("again", a)])
    notes = [t.get_text() for t in fig.texts]
    plt.close(fig)
    assert any("64 replicates each · seed 3" in n for n in notes), notes


def test_the_nowcast_marks_each_observation_when_it_became_known() -> None:
    # the curve moves when an observation is published, so its mark stands there,
    # not at the end of the window in which the thing happened
    from types import SimpleNamespace

    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    from sim.observations import load_observations

    forecast = ROOT / "scenarios" / "openai_2023_11.forecast.yaml"
    sc = sim.load_scenario(forecast)
    obs, _ = load_observations(ROOT / "scenarios" / "openai_2023_11.forecast.observations.yaml")
    late = [o for o in obs.observations if o.published is not None and o.published > o.at[1]]
    assert late  # the file has observations published after their window
    curve = [
        SimpleNamespace(at=t, probabilities={"return": 0.5}, particles=8, ess_min=8.0)
        for t in (0.0, 50.0)
    ]
    fig, _ = figures.figure_nowcast(sc, curve, obs)
    ax = fig.axes[0]
    marked = sorted(
        mdates.date2num(line.get_xdata()[0])
        for line in ax.get_lines()
        if line.get_linestyle() == "--" and line.get_color() == P.GREY
    )
    plt.close(fig)
    known = np.array([o.known_at for o in obs.observations])
    want = sorted(mdates.date2num(d) for d in figures._times(sc, known))
    assert marked == pytest.approx(want, rel=0, abs=1e-6)  # days: well under a second


@pytest.mark.parametrize("sampler", ["grid", "lhs"])
def test_a_sweep_figure_mentions_the_half_line_only_when_it_is_drawn(sampler: str) -> None:
    import matplotlib.pyplot as plt

    g = np.array([0.1, 0.4, 0.7])
    x, y = (np.repeat(g, 3), np.tile(g, 3)) if sampler == "grid" else (g, g[::-1])
    for p, crosses in ((0.2 + 0.6 * x, True), (0.6 + 0.3 * x, False)):
        if sampler == "lhs" and crosses:
            continue  # three points span an area: covered by the test above
        table, manifest = _sampled_sweep(sampler, p, x, y)
        fig, _ = figures.figure_sweep(table, manifest)
        title = fig.axes[0].get_title()
        plt.close(fig)
        assert ("white line" in title) == crosses, title
        if not crosses:  # says what the range was instead
            assert f"{p.min():.2f} to {p.max():.2f}" in title and "0.5" in title, title


def test_a_grid_sweep_heatmap_ticks_the_swept_values() -> None:
    import matplotlib.pyplot as plt

    g = np.array([0.55, 0.8, 1.0])
    x, y = np.repeat(g, 3), np.tile(g, 3)
    table, manifest = _sampled_sweep("grid", 0.2 + 0.6 * x, x, y)
    fig, _ = figures.figure_sweep(table, manifest)
    ax = fig.axes[0]
    fig.canvas.draw()
    assert list(ax.get_xticks()) == pytest.approx(g.tolist())
    assert list(ax.get_yticks()) == pytest.approx(g.tolist())
    plt.close(fig)


def test_the_reliability_diagram_keeps_its_labels_apart_and_inside() -> None:
    import matplotlib.pyplot as plt

    from sim.backtest_plots import figure_reliability

    table = [
        {"forecast": 0.05, "observed": 0.0, "count": 40},
        {"forecast": 0.5, "observed": 0.5, "count": 8},
        {"forecast": 0.93, "observed": 1.0, "count": 12},
        {"forecast": 0.97, "observed": 1.0, "count": 14},
    ]
    fig, data = figure_reliability(table, ["openai", "uk"])
    assert data["bins"] == table
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    page = fig.bbox
    title = ax.title.get_window_extent(renderer)
    counts = [t for t in ax.texts if t.get_text() in {"40", "8", "12", "14"}]
    assert len(counts) == 4
    for t in counts:  # no count over the title
        assert not t.get_window_extent(renderer).overlaps(title), t.get_text()
    for t in fig.texts:  # the footnote is whole
        box = t.get_window_extent(renderer)
        assert page.x0 - 1 <= box.x0 and box.x1 <= page.x1 + 1, t.get_text()
    # points on the frame (0 and 1) are drawn whole
    lo, hi = ax.get_ylim()
    assert lo < 0 and hi > 1
    plt.close(fig)


def test_crossings_at_the_same_value_are_named_together_once() -> None:
    import matplotlib.pyplot as plt

    x = np.array([0.5, 0.6, 0.7])
    p = np.array([0.6, 0.5, 0.4])
    curves = {"return": (p, p - 0.05, p + 0.05), "microsoft": (1 - p, 0.95 - p, 1.05 - p)}
    ax = P.outcome_curve(x, curves, "toner", crossings={"return": 0.6, "microsoft": 0.6})
    said = [t.get_text() for t in ax.texts if "= 0.5" in t.get_text()]
    dotted = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    plt.close(ax.figure)
    assert said == ["return and microsoft = 0.5 at 0.6"] and len(dotted) == 1
    ax = P.outcome_curve(x, curves, "toner", crossings={"return": 0.55, "microsoft": 0.65})
    said = sorted(t.get_text() for t in ax.texts if "= 0.5" in t.get_text())
    plt.close(ax.figure)
    assert said == ["microsoft = 0.5 at 0.65", "return = 0.5 at 0.55"]


def test_the_prim_tradeoff_counts_parameters_in_whole_numbers_on_share_axes() -> None:
    import matplotlib.pyplot as plt

    from sim.sensitivity_plots import tradeoff

    coverage = np.array([1.0, 1.0, 1.0])  # every box keeps every case of interest
    density = np.array([0.4, 0.55, 0.7])
    ax = tradeoff(coverage, density, np.array([0, 1, 2]), chosen=2)
    fig = ax.figure
    fig.canvas.draw()
    bar = fig.axes[-1]
    ticks = [t for t in bar.get_yticks() if bar.get_ylim()[0] <= t <= bar.get_ylim()[1]]
    assert ticks == [0, 1, 2]
    lo, hi = ax.get_xlim()
    assert lo == 0 and 1 <= hi <= 1.05  # shares: no 1.02, 1.04 around a lone 1
    lo, hi = ax.get_ylim()
    assert lo == 0 and 1 <= hi <= 1.05
    plt.close(fig)


def test_a_gallery_of_another_scenario_without_out_leaves_plots_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bench = ROOT / "scenarios" / "bench_770.yaml"
    r = runner.invoke(app, ["gallery", "--scenario", str(bench), "--quick", "-n", "8", "-j", "1"])
    assert r.exit_code == 0, r.output
    assert not (tmp_path / "plots").exists()
    assert (tmp_path / "stancesim-plots" / "bench_770" / "compare.svg").is_file()


def test_probabilities_of_exactly_0_and_1_are_drawn_inside_the_frame() -> None:
    # a curve at 1.0 (an outcome certain at some sweep points) or at 0.0 lay on
    # the frame's edge, hidden under the axis line: each probability axis keeps
    # a margin beyond 0 and 1 and its ticks at 0 .. 1
    import matplotlib.pyplot as plt

    x = np.array([0.5, 0.6, 0.7])
    one, zero = np.ones(3), np.zeros(3)
    t = np.array([0.0, 1.0, 2.0])
    axes = {
        "outcome_curve": (
            P.outcome_curve(x, {"a": (one, one, one), "b": (zero, zero, zero)}, "x"),
            "y",
        ),
        "fan": (P.fan(t, np.vstack([zero, zero, one, one, one]), "share"), "y"),
        "step_curves": (P.step_curves(t, {"a": one, "b": zero}, "probability"), "y"),
        "compare": (P.compare(["s", "t"], {"a": (one[:2], one[:2], one[:2])}), "x"),
    }
    for name, (ax, which) in axes.items():
        axis = ax.yaxis if which == "y" else ax.xaxis
        lo, hi = ax.get_ylim() if which == "y" else ax.get_xlim()
        assert lo < 0 and hi > 1, (name, lo, hi)
        assert -0.05 <= lo and hi <= 1.05, (name, lo, hi)  # a margin, not a wider scale
        ticks = list(axis.get_majorticklocs())
        assert ticks[0] == 0 and ticks[-1] == pytest.approx(1), (name, ticks)
        plt.close(ax.figure)


def test_a_sweep_figure_says_what_was_run_with_its_replicates_when_known() -> None:
    import matplotlib.pyplot as plt

    g = np.array([0.1, 0.4, 0.7])
    table, manifest = _sampled_sweep("lhs", 0.2 + 0.6 * g, g, g[::-1])
    fig, _ = figures.figure_sweep(table, manifest)
    notes = [t.get_text() for t in fig.texts]
    plt.close(fig)
    assert notes == ["sweep of synthetic · 3 points · seed 1 · stancesim test"]
    manifest["definition"]["replicates"] = 64
    fig, _ = figures.figure_sweep(table, manifest, partial="3 of 9 points")
    notes = [t.get_text() for t in fig.texts]
    plt.close(fig)
    assert notes == [
        "PARTIAL (3 of 9 points) · sweep of synthetic · 3 points × 64 replicates · seed 1 · "
        "stancesim test"
    ]
