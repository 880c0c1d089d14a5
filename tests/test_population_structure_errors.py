"""Misuse of structured populations: one located message each (file:line:column: field), exit 2.

Also the JSON Schema of ``stancesim schema``: structured populations pass it,
their typos fail it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.yamlio import load_file, plain

runner = CliRunner()

GOOD = """\
kind: scenario
name: ministers
clock: {tick: 1, horizon: 48}
agents:
  ministers:
    kind: population
    positions: [in_post, resigned, sacked]
    initial: in_post
    rules:
      - {id: resign, kind: threshold, to: resigned, support: heard, threshold: {beta: [2, 5]}}
      - {id: sack, kind: hazard, to: sacked, pressure: heard, resistance: 0.2,
         rate: {uniform: [0, 0.1]}, per_person: [rate]}
    segments:
      cabinet: {size: 20, threshold: {beta: [3, 3]}}
      junior: {size: 60}
    hears:
      cabinet: {cabinet: 0.8, junior: 0.2}
      junior: {junior: 0.5, cabinet: 0.5}
  pm:
    kind: individual
    positions: [stays, goes]
    initial: stays
    rules:
      - {id: go, kind: threshold, to: goes, support: cabinet_out, threshold: 0.3}
signals:
  heard:
    - {fraction: ministers, position: resigned}
    - {constant: 0.05}
  cabinet_out:
    - {fraction: ministers.cabinet, position: resigned}
outcomes:
  pm_resigns:
    trigger: {kind: condition, condition: {agent: pm, position: goes}}
"""

#: (what to replace, its replacement, expected "line:column: field: message")
CASES = {
    "hearing row not summing to 1": (
        "cabinet: {cabinet: 0.8, junior: 0.2}",
        "cabinet: {cabinet: 0.8, junior: 0.3}",
        "17:7: agents.ministers.hears.cabinet: the weights of what 'cabinet' hears must sum "
        "to 1, they sum to 1.1",
    ),
    "unknown segment in hears": (
        "junior: {junior: 0.5, cabinet: 0.5}",
        "junior: {junior: 0.5, cabnet: 0.5}",
        "18:29: agents.ministers.hears.junior.cabnet: unknown segment 'cabnet' of 'ministers'; "
        "did you mean 'cabinet'?",
    ),
    "a segment without a row": (
        "      junior: {junior: 0.5, cabinet: 0.5}\n",
        "",
        "16:5: agents.ministers.hears: hears has no row for segment 'junior' "
        "(every segment needs one)",
    ),
    "unknown segment in a signal": (
        "fraction: ministers.cabinet,",
        "fraction: ministers.cabnet,",
        "30:8: signals.cabinet_out.0.fraction: unknown segment 'cabnet' of 'ministers'; "
        "did you mean 'cabinet'?",
    ),
    "per_person on an individual": (
        "threshold: 0.3}",
        "threshold: 0.3, per_person: [threshold]}",
        "24:83: agents.pm.rules.0.per_person: "  # index on purpose: the test's own pm
        "per_person is for a population's rules: an "
        "individual has one value of each parameter per replicate",
    ),
    "per_person naming a parameter the rule lacks": (
        "per_person: [rate]",
        "per_person: [rate, slope]",
        "12:56: agents.ministers.rules.1.per_person.1: a hazard rule has no parameter 'slope' "
        "to draw per person (it has rate, resistance)",
    ),
    "a segment setting a parameter no rule has": (
        "junior: {size: 60}",
        "junior: {size: 60, slope: 3}",
        "15:26: agents.ministers.segments.junior.slope: no rule of this segment has a "
        "parameter 'slope'",
    ),
    "a segment's unknown initial position": (
        "junior: {size: 60}",
        "junior: {size: 60, initial: gone}",
        "15:26: agents.ministers.segments.junior.initial: unknown position 'gone' "
        "(known: in_post, resigned, sacked)",
    ),
    "hears without segments": (
        "    segments:\n      cabinet: {size: 20, threshold: {beta: [3, 3]}}\n"
        "      junior: {size: 60}\n",
        "    size: 80\n",
        "14:5: agents.ministers.hears: hears needs segments: it says how much each segment "
        "hears each other",
    ),
    "a size that is not the segments' sum": (
        "    segments:",
        "    size: 90\n    segments:",
        "13:5: agents.ministers.size: size 90 is not the sum of its segments' sizes 80 "
        "(leave it out to take their sum)",
    ),
    "rule and rules at once": (
        "    rules:",
        "    rule: {kind: fixed}\n    rules:",
        "5:3: agents.ministers: give rule or rules, not both",
    ),
    "a change of a segment's unknown rule": (
        "outcomes:",
        "events:\n  e:\n    trigger: {kind: at, time: 1}\n    effects:\n"
        "      - {kind: change, agent: ministers.junior, rule: quit, param: rate, set: 0}\n"
        "outcomes:",
        "35:49: events.e.effects.0.rule: unknown rule id of 'ministers.junior': 'quit' "
        "(known: resign, sack)",
    ),
}


def test_the_good_file_runs(tmp_path: Path) -> None:
    path = tmp_path / "good.yaml"
    path.write_text(GOOD, encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("name", sorted(CASES))
def test_misuse_is_one_located_error(name: str, tmp_path: Path) -> None:
    old, new, expected = CASES[name]
    assert old in GOOD
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = [ln.removeprefix("error: ") for ln in result.stderr.splitlines()]
    assert f"{path}:{expected}" in lines, result.stderr


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    return jsonschema.Draft202012Validator(json.loads(result.stdout))


def _doc(tmp_path: Path, text: str = GOOD) -> dict[str, Any]:
    path = tmp_path / "doc.yaml"
    path.write_text(text, encoding="utf-8")
    data: dict[str, Any] = json.loads(json.dumps(plain(load_file(path).data)))
    return data


def test_structured_populations_pass_the_json_schema(
    validator: jsonschema.protocols.Validator, tmp_path: Path
) -> None:
    assert [e.message for e in validator.iter_errors(_doc(tmp_path))] == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("per_person: [rate]", "per_person: [speed]"),
        ("junior: {size: 60}", "junior: {size: 0}"),
        ("junior: {size: 60}", "junior: {sise: 60}"),
        ("cabinet: {size: 20, threshold", "cabinet: {size: 20, spontaneous: 2, threshold"),
    ],
)
def test_structured_typos_fail_the_json_schema(
    old: str, new: str, validator: jsonschema.protocols.Validator, tmp_path: Path
) -> None:
    assert not validator.is_valid(_doc(tmp_path, GOOD.replace(old, new, 1)))
