"""stancesim report: one self-contained HTML page, checked as text and in a headless browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import ROOT
from typer.testing import CliRunner

from sim import folders, report
from sim.cli import app
from sim.errors import InputError
from sim.report_html import CSP
from sim.report_premises import read_premises, split_comment
from sim.yamlio import load_text

runner = CliRunner()
ARTICLE = ROOT / "scenarios" / "openai_2023_11.yaml"
OBSERVED = ROOT / "scenarios" / "openai_2023_11.observations.yaml"

#: tiny.yaml with the comments a scenario author writes
MARKED = """\
# A two-member board, for testing reports.
# Premise P1 is that both must agree.
kind: scenario
name: marked
description: two members who must both say yes
clock: {horizon: 10}   # assumption: ten hours is enough
agents:
  a:                    # P1: the first member
    kind: individual
    positions: [no, yes]
    initial: no
    # assumption: a gives way easily
    # (resistance well under the pressure)
    rules: [{kind: hazard, to: yes, pressure: push, resistance: 0.2, rate: 0.1}]
  b:
    kind: individual
    positions: [no, yes]
    initial: no
    rules: [{kind: hazard, to: yes, pressure: push, resistance: 0.5, rate: 0.1}]  # fact: as minuted
  board: {kind: group, members: [a, b]}
signals:
  push: [{constant: 1.0}]
decisions:
  vote: {group: board, motion: yes, schedule: {start: 2, every: 2}, quorum: {at_least: 2}}
outcomes:
  passed: {trigger: {kind: decision, decision: vote}}
  lapsed: {trigger: {kind: deadline, at: 10}}
"""


def cli(*args: object):
    return runner.invoke(app, [str(a) for a in args])


# ------------------------------------------------------------------ folders
@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A scenario file; a run, a sweep, a sensitivity (with a discovery) and a backtest folder."""
    d = tmp_path_factory.mktemp("report")
    scen = d / "marked.yaml"
    scen.write_text(MARKED)
    r = cli("run", scen, "-n", "300", "--seed", "7", "--out", d / "run", "--record", "trajectories")
    assert r.exit_code == 0, r.output
    r = cli(
        "sweep",
        scen,
        "--out",
        d / "sweep",
        "--param",
        "agents.a.rules.0.resistance=0.1:0.9:3",
        "--param",
        "agents.b.rules.0.resistance=0.1:0.9:3",
        "-n",
        "64",
        "--seed",
        "2",
    )
    assert r.exit_code == 0, r.output
    r = cli(
        "sensitivity",
        scen,
        "--param",
        "agents.a.rules.0.resistance=0.1:0.9",
        "--param",
        "agents.b.rules.0.resistance=0.1:0.9",
        "--method",
        "morris",
        "-N",
        "8",
        "-n",
        "64",
        "--seed",
        "1",
        "--resamples",
        "20",
        "--out",
        d / "sens",
    )
    assert r.exit_code == 0, r.output
    r = cli(
        "discover",
        d / "sens",
        "--outcome",
        "passed",
        "--where",
        "p >= 0.2",  # a box of both parameters (P(lapsed) >= 0.7 holds nearly everywhere)
        "--out",
        d / "sens" / "box",
    )
    assert r.exit_code == 0, r.output
    market = d / "market.csv"  # a reference forecaster, with no forecast before 20 h
    market.write_text("t,p\n20,0.3\n60,0.55\n", encoding="utf-8")
    r = cli(
        "backtest",
        ARTICLE,
        "--observations",
        OBSERVED,
        "--particles",
        "64",
        "--reference",
        market,
        "--out",
        d / "backtest",
    )
    assert r.exit_code == 0, r.output
    return {"dir": d, "scenario": scen, **{k: d / k for k in ("run", "sweep", "sens", "backtest")}}


def page_of(source: Path, out: Path, *extra: object) -> str:
    r = cli("report", source, "-o", out, *extra)
    assert r.exit_code == 0, r.output
    return out.read_text(encoding="utf-8")


class _Links(HTMLParser):
    """Every attribute that loads or links something, and every svg and figure."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.ids: list[str] = []
        self.svgs = 0
        self.figures = 0
        self.csp: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.svgs += tag == "svg"
        self.figures += tag == "figure"
        for k, v in attrs:
            if k in ("src", "href", "xlink:href", "srcset", "action", "data", "poster"):
                self.urls.append(v or "")
            if k == "id" and v:
                self.ids.append(v)
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy":
            self.csp.append(a.get("content") or "")


def parse(page: str) -> _Links:
    p = _Links()
    p.feed(page)
    return p


def assert_self_contained(page: str, figures: int) -> None:
    p = parse(page)
    assert p.figures == figures and p.svgs == figures  # every figure is an inline <svg>
    assert p.csp == [CSP]
    for url in p.urls:  # only links inside the page or data: images
        assert url.startswith(("#", "data:")), url
    css_urls = re.findall(r"url\(\s*['\"]?([^)'\"]+)", page)
    assert all(u.startswith(("#", "data:")) for u in css_urls), css_urls
    assert "@import" not in page and "<link" not in page and "<script" not in page
    assert len(p.ids) == len(set(p.ids))  # two figures' clip paths never collide


# ------------------------------------------------------------ page content
def test_run_report_has_premises_outcomes_figures_and_provenance(made, tmp_path: Path) -> None:
    page = page_of(made["run"], tmp_path / "r.html")
    assert_self_contained(page, figures=2)  # time to outcome, trajectories
    summary = json.loads((made["run"] / "summary.json").read_text())
    record = json.loads((made["run"] / "run.json").read_text())
    for text in (
        summary["version"],
        str(summary["seed"]),
        summary["scenario_sha256"],
        record["created"],
        "A two-member board, for testing reports.",  # the preamble
        "assumption: a gives way easily (resistance well under the pressure)",  # a block comment
        "agents.a.rules",
        "fact: as minuted",
        "agents.b.rules",
        "The scenario file, verbatim",
        "95% CI",
    ):
        assert text in page, text
    p = summary["outcomes"]["passed"]
    assert f"[{p['ci95'][0]:.3f}, {p['ci95'][1]:.3f}]" in page
    assert "<dt>command line</dt>" in page and "<dt>date</dt>" in page
    assert "does not keep its scenario file" not in page


def test_run_folder_keeps_the_scenario_file_verbatim_and_sealed(made) -> None:
    record = folders.check_complete(made["run"], "run")
    kept = made["run"] / report.SOURCE_NAME
    assert kept.read_bytes() == made["scenario"].read_bytes()
    assert record["files"][report.SOURCE_NAME]["sha256"] == folders.sha256_file(kept)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["created"])


def test_run_json_records_the_command_line_of_the_stancesim_program(tmp_path: Path) -> None:
    out = tmp_path / "r"
    args = ["run", str(ROOT / "benchmarks" / "tiny.yaml"), "-n", "20", "--seed", "1", "--out"]
    subprocess.run(
        [sys.executable, "-m", "sim", *args, str(out)],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    record = json.loads((out / "run.json").read_text())
    assert record["command"] == f"stancesim {' '.join(args)} {out}"


def test_an_older_run_folder_without_the_source_gets_a_note(made, tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(made["run"], old)
    (old / report.SOURCE_NAME).unlink()
    record = json.loads((old / "run.json").read_text())
    for key in ("created", "command"):
        record.pop(key)
    (old / "run.json").unlink()
    folders.seal(old, "run")  # as an older stancesim sealed it
    page = page_of(old, tmp_path / "old.html")
    assert "does not keep its scenario file" in page
    assert "The resolved scenario" in page and "not recorded by this folder" in page
    assert_self_contained(page, figures=2)


def test_a_run_with_set_says_the_values_differ(made, tmp_path: Path) -> None:
    out = tmp_path / "set"
    r = cli(
        "run",
        made["scenario"],
        "-n",
        "50",
        "--out",
        out,
        "--set",
        "agents.a.rules.0.resistance=0.4",
    )
    assert r.exit_code == 0, r.output
    assert "values with --set" in page_of(out, tmp_path / "s.html")


def test_sweep_report_has_one_map_per_outcome_and_the_points(made, tmp_path: Path) -> None:
    page = page_of(made["sweep"], tmp_path / "s.html")
    manifest = json.loads((made["sweep"] / "manifest.json").read_text())
    assert_self_contained(page, figures=2)  # passed, lapsed
    for text in (
        manifest["base_scenario_sha256"],
        manifest["created"],
        "agents.b.rules.0.resistance",
        "Read from",
        "assumption: ten hours is enough",
        "P(passed) [95% CI]",
    ):
        assert text in page, text


def test_sensitivity_report_ranks_parameters_and_shows_the_box(made, tmp_path: Path) -> None:
    page = page_of(made["sens"], tmp_path / "sens.html")
    result = json.loads((made["sens"] / "sensitivity.json").read_text())
    box = json.loads((made["sens"] / "box" / "discovery.json").read_text())
    # the bars, the trade-off, the box (two parameters) and a map of each outcome's P
    assert_self_contained(page, figures=5)
    mu = result["outputs"]["p_passed"]["indices"]["mu_star"]["value"]
    first = result["parameters"][max(range(len(mu)), key=lambda i: mu[i])]
    ranking = page[page.index("<h3>P(passed)</h3>") :]
    assert ranking.index(first) < ranking.index(
        next(p for p in result["parameters"] if p != first)
    )  # the larger mu* is ranked first
    assert "Discovery: where p &gt;= 0.2 for passed" in page
    assert f"{box['trajectory'][box['chosen']]['coverage']:.2f}" in page


def test_backtest_report_has_the_scores_and_the_figure(made, tmp_path: Path) -> None:
    page = page_of(made["backtest"], tmp_path / "b.html")
    data = json.loads((made["backtest"] / "backtest.json").read_text())
    assert_self_contained(page, figures=1)
    assert f"It ended: {data['realised']}" in page
    assert f"{data['scores']['brier'][0]:.3f}" in page


def test_backtest_report_has_every_forecasters_column(made, tmp_path: Path) -> None:
    page = page_of(made["backtest"], tmp_path / "b.html")
    data = json.loads((made["backtest"] / "backtest.json").read_text())
    forecasters = data["forecasters"]
    assert list(forecasters) == ["model", "prior", "naive 0.5", "reference market"]
    tables = re.findall(r"<table.*?</table>", page, re.S)
    per_mark = next(t for t in tables if "<th>T (hours)</th><th>P(" in t)
    scores = next(t for t in tables if "<th>Brier model</th>" in t)
    summary = next(t for t in tables if "<th>forecaster</th>" in t)
    last = re.findall(r"<tr>(.*?)</tr>", scores)[-1]  # the last mark's scores
    last_cells = re.findall(r"<td[^>]*>(.*?)</td>", last)
    for name, s in forecasters.items():
        assert f"<th>P({data['realised']}) {name}</th>" in per_mark, per_mark[:400]
        assert f"<th>log score {name}</th>" in scores
        assert f"{s['brier'][-1]:.3f}" in last_cells and f"{s['log_score'][-1]:.3f}" in last_cells
        row = re.search(rf"<tr><td>{re.escape(name)}</td>(.*?)</tr>", summary)
        assert row is not None, (name, summary)
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
        assert cells == [
            f"{s['mean_brier']:.3f}",
            f"{s['mean_log_score']:.3f}",
            str(s["marks_scored"]),
        ], (name, cells)
    # each mark's row holds every forecaster's P, blank where one had no forecast yet
    first = re.search(r"<tbody><tr>(.*?)</tr>", per_mark, re.S)
    assert first is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", first.group(1))
    expected = [forecasters[k]["p"][0] for k in forecasters]
    shown = ["—" if p is None else f"{p:.3f}" for p in expected]
    assert cells[1 : 1 + len(shown)] == shown, cells


def test_a_scenario_file_is_run_first(made, tmp_path: Path) -> None:
    page = page_of(made["scenario"], tmp_path / "f.html", "-n", "40", "--seed", "5")
    assert_self_contained(page, figures=2)
    assert "<dt>seed</dt><dd>5</dd>" in page and "assumption: a gives way easily" in page


# ------------------------------------------------------------------ errors
def _damage_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    (dst / "run.json").unlink()
    return dst


def _running_sweep(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    m = json.loads((dst / "manifest.json").read_text())
    (dst / "manifest.json").write_text(json.dumps({**m, "status": "running"}))
    return dst


def _no_indices(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    (dst / "sensitivity.json").unlink()
    return dst


def _no_svg(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    (dst / "backtest.svg").unlink()
    return dst


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("empty", lambda made, d: d, "not a run, sweep, sensitivity or backtest folder"),
        ("missing", lambda made, d: d / "nothing", "no such file or folder"),
        ("run", lambda made, d: _damage_run(made["run"], d / "r"), "incomplete run folder"),
        ("sweep", lambda made, d: _running_sweep(made["sweep"], d / "s"), "the sweep is partial"),
        ("sens", lambda made, d: _no_indices(made["sens"], d / "x"), "no sensitivity.json"),
        ("backtest", lambda made, d: _no_svg(made["backtest"], d / "b"), "backtest.svg is missing"),
    ],
)
def test_refuses_what_is_not_a_complete_folder(made, tmp_path, name, make, message) -> None:
    src = tmp_path / "in"
    src.mkdir()
    source = make(made, src)
    out = tmp_path / "out.html"
    r = cli("report", source, "-o", out)
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob(".stancesim-*"))


def test_a_partial_sweep_is_reported_with_partial_and_marked(made, tmp_path: Path) -> None:
    src = _running_sweep(made["sweep"], tmp_path / "s")
    assert "PARTIAL" in page_of(src, tmp_path / "p.html", "--partial")


def test_output_that_is_a_folder_is_refused(made, tmp_path: Path) -> None:
    r = cli("report", made["run"], "-o", tmp_path)
    assert r.exit_code == 2 and "is a folder" in r.output


def test_the_file_is_replaced_whole_or_not_at_all(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "r.html"
    out.write_text("old")
    report.write_atomic("new", out)
    assert out.read_text() == "new"

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report.os, "replace", full)
    with pytest.raises(InputError, match="no space left"):
        report.write_atomic("newer", out)
    assert out.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]  # no temporary file left


# ---------------------------------------------------------------- premises
def test_comments_are_told_from_hashes_in_values() -> None:
    assert split_comment("a: 'x # y'  # real") == ("a: 'x # y'", "real")
    assert split_comment('a: "x \\" # y"') == ('a: "x \\" # y"', None)
    assert split_comment("a: Altman's view # it's his") == ("a: Altman's view", "it's his")
    assert split_comment("a: x#y") == ("a: x#y", None)


def test_each_comment_goes_to_its_field_and_block_text_is_no_comment() -> None:
    text = (
        "# head\nkind: scenario\ndescription: >\n  # not a comment\n  text\n"
        "b:  # on b\n  # above c\n  c: 1\n"
    )
    p = read_premises(text, load_text(text, "t").data)
    assert p.preamble == ["head"]
    assert [(n.path, n.text) for n in p.notes] == [("b", "on b"), ("b.c", "above c")]


# ----------------------------------------------------------------- browser
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
#: where the test's probe goes: the listener first, the measuring at load
PROBE_HEAD = (
    "<script>document.addEventListener('securitypolicyviolation', e => "
    "document.documentElement.setAttribute('data-blocked', "
    "(document.documentElement.getAttribute('data-blocked') || '') + ' ' + e.blockedURI));</script>"
)
PROBE_BODY = (
    "<script>window.addEventListener('load', () => { for (const s of "
    "document.querySelectorAll('figure > svg')) { const r = s.getBoundingClientRect(); "
    "s.setAttribute('data-size', r.width + 'x' + r.height); } "
    "const res = performance.getEntriesByType('resource').map(e => e.name).join(' '); "
    "document.body.setAttribute('data-resources', res); "
    "document.body.setAttribute('data-done', '1'); });</script>"
)


def browse(page: str, tmp: Path, *flags: str) -> tuple[str, list[str]]:
    """Load ``page`` in headless chromium; return the DOM after load and the URLs it requested."""
    if not BROWSER:
        # CI (and .ci/run, which installs chromium first) must run the browser
        # check; on a developer's fresh machine the rest of the suite still runs
        message = "chromium is not installed: apt-get install chromium (.ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    tmp.mkdir(parents=True, exist_ok=True)
    html = tmp / "probe.html"
    html.write_text(page, encoding="utf-8")
    net = tmp / "net.json"
    done = subprocess.run(
        [
            BROWSER,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            f"--user-data-dir={tmp / 'profile'}",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--log-net-log={net}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            *flags,
            html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    events = json.loads(net.read_text())["events"]
    # the page's own requests carry its file:// network isolation key (the browser's
    # housekeeping requests, to update servers, carry none)
    left = [
        e["params"]["url"]
        for e in events
        if str(e.get("params", {}).get("network_isolation_key", "")).startswith("file://")
        and "url" in e["params"]
        and not e["params"]["url"].startswith(("file:", "data:"))
    ]
    return done.stdout, left


def probed(page: str) -> str:
    """The page with the test's probe: scripts allowed (only for the test), nothing else."""
    meta = f'content="{CSP}"'
    assert page.count(meta) == 1
    page = page.replace(meta, f"content=\"{CSP}; script-src 'unsafe-inline'\"")
    head_end = page.index(">", page.index(meta[:20])) + 1
    page = page[:head_end] + PROBE_HEAD + page[head_end:]
    return page.replace("</body>", PROBE_BODY + "</body>")


FIGURES = {"run": 2, "sweep": 2, "sens": 5, "backtest": 1}


@pytest.mark.parametrize("kind", list(FIGURES))
def test_every_figure_renders_in_a_browser_and_nothing_leaves_the_file(
    made, tmp_path: Path, kind: str
) -> None:
    page = page_of(made[kind], tmp_path / f"{kind}.html")
    shot = tmp_path / f"{kind}.png"
    dom, left = browse(probed(page), tmp_path, f"--screenshot={shot}", "--window-size=1100,2600")
    assert 'data-done="1"' in dom
    sizes = re.findall(r'data-size="([\d.]+)x([\d.]+)"', dom)
    assert len(sizes) == parse(page).figures == FIGURES[kind]
    assert all(float(w) > 100 and float(h) > 100 for w, h in sizes), sizes
    assert re.search(r"<html[^>]*data-blocked", dom) is None  # the page tried to load nothing
    assert 'data-resources=""' in dom  # and loaded nothing
    assert left == []
    data = shot.read_bytes()  # the screenshot, to look at: pytest's tmp_path
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a page, not a blank


def test_the_browser_check_catches_an_external_load(made, tmp_path: Path) -> None:
    page = page_of(made["backtest"], tmp_path / "b.html")
    bad = page.replace("</header>", '</header><img src="https://example.invalid/x.png">')
    dom, _ = browse(probed(bad), tmp_path / "a")
    assert "https://example.invalid/x.png" in re.search(r'data-blocked="([^"]*)"', dom).group(1)
    # without the page's policy the request is made, and the network log shows it
    loose = probed(bad).replace(f"content=\"{CSP}; script-src 'unsafe-inline'\"", 'content=""')
    _, left = browse(loose, tmp_path / "b")
    assert "https://example.invalid/x.png" in left


def test_an_existing_file_is_kept_unless_overwrite_and_the_input_never_replaced(
    made, tmp_path: Path
) -> None:
    kept = tmp_path / "notes.txt"
    kept.write_text("keep")
    r = cli("report", made["run"], "-o", kept)
    assert r.exit_code == 2 and "exists" in r.output and "--overwrite" in r.output, r.output
    assert kept.read_text() == "keep"
    r = cli("report", made["run"], "-o", kept, "--overwrite")
    assert r.exit_code == 0, r.output
    assert kept.read_text().lstrip().lower().startswith("<!doctype html")
    scenario = tmp_path / "s.yaml"
    scenario.write_bytes(made["scenario"].read_bytes())
    for extra in ([], ["--overwrite"]):
        r = cli("report", scenario, "-n", "16", "-o", scenario, *extra)
        assert r.exit_code == 2 and "is the input" in r.output, r.output
        assert scenario.read_bytes() == made["scenario"].read_bytes()
