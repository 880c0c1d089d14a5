"""One rule per class of source: reports name a class and get its rates from one file."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.errors import InputError
from sim.observations import ReportObs, load_observations, load_source_classes

ROOT = Path(__file__).resolve().parents[1]
CLASSES = """\
kind: source_classes
classes:
  statement:
    description: a named party's own statement
    basis: an assumption for the test
    true_positive: 0.9
    false_positive: 0.05
"""


def write_case(tmp_path: Path, report_extra: str) -> Path:
    (tmp_path / "classes.yaml").write_text(CLASSES)
    path = tmp_path / "obs.yaml"
    path.write_text(
        "kind: observations\n"
        "source_classes: classes.yaml\n"
        "observations:\n"
        "  - kind: report\n"
        "    at: 3\n"
        "    condition: {agent: m, position: yes}\n"
        f"{report_extra}"
    )
    return path


def test_a_report_gets_the_rates_of_its_class(tmp_path: Path) -> None:
    obs, _ = load_observations(write_case(tmp_path, "    source_class: statement\n"))
    (report,) = obs.observations
    assert isinstance(report, ReportObs)
    assert (report.true_positive, report.false_positive) == (0.9, 0.05)
    assert report.source_class == "statement"


@pytest.mark.parametrize(
    ("extra", "line", "message"),
    [
        (
            "    source_class: rumour\n",
            7,
            "unknown source_class 'rumour' (known in classes.yaml: statement)",
        ),
        (
            "    source_class: statement\n    true_positive: 0.5\n",
            7,
            "give either source_class or true_positive, not both",
        ),
    ],
)
def test_a_bad_source_class_is_a_located_error(
    tmp_path: Path, extra: str, line: int, message: str
) -> None:
    with pytest.raises(InputError) as err:
        load_observations(write_case(tmp_path, extra))
    (problem,) = err.value.problems
    assert (Path(problem.source).name, problem.line, problem.message) == ("obs.yaml", line, message)


def test_a_report_without_class_or_rates_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="needs a source_class, or both true_positive"):
        load_observations(write_case(tmp_path, ""))


def test_a_missing_classes_file_is_named(tmp_path: Path) -> None:
    path = write_case(tmp_path, "    source_class: statement\n")
    (tmp_path / "classes.yaml").unlink()
    with pytest.raises(InputError, match=r"no such file: .*classes\.yaml") as err:
        load_observations(path)
    assert err.value.problems[0].line == 2


def test_a_class_whose_reports_are_no_evidence_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "classes.yaml"
    path.write_text(CLASSES.replace("0.05", "0.95"))
    with pytest.raises(InputError, match="must be above false_positive") as err:
        load_source_classes(path)
    assert err.value.problems[0].line == 3


def test_the_cli_refuses_an_unknown_class_with_exit_2(tmp_path: Path) -> None:
    obs = write_case(tmp_path, "    source_class: rumour\n")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "kind: scenario\nname: s\nclock: {horizon: 10}\n"
        "agents: {m: {kind: individual, positions: [no, yes], initial: no}}\n"
        "outcomes: {end: {trigger: {kind: deadline, at: 10}}}\n"
    )
    result = CliRunner().invoke(app, ["nowcast", str(scenario), "--observations", str(obs)])
    assert result.exit_code == 2, result.output
    assert "obs.yaml:7" in result.output and "unknown source_class 'rumour'" in result.output
    assert "Traceback" not in result.output


def test_every_shipped_report_is_weighed_by_its_class() -> None:
    """The shipped observations files never give a report's rates by hand."""
    for path in sorted((ROOT / "scenarios").glob("*.observations.yaml")):
        obs, located = load_observations(path)
        for i, o in enumerate(obs.observations):
            if isinstance(o, ReportObs):
                assert "source_class" in located.data["observations"][i], (path.name, i)
