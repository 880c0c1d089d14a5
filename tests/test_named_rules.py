"""Named rules: a rule's ``id`` in paths, change effects and the World, and every path
the project ships reaching the rule it means."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.engine import Block
from sim.errors import InputError
from sim.plan import compile_plan
from sim.yamlio import item_index, load_file, plain

runner = CliRunner()
ARTICLE = ROOT / "scenarios" / "openai_2023_11.yaml"
SHIPPED = {
    p.stem: plain(load_file(p).data)
    for p in sorted((ROOT / "scenarios").glob("*.yaml"))
    if plain(load_file(p).data).get("kind") == "scenario"
}


def _without_ids(data: Any) -> Any:
    """The same scenario with every rule id removed and effects addressing rules by index."""
    data = copy.deepcopy(data)
    for agent in data["agents"].values():
        rules = agent.get("rules", [])
        ids = [r.pop("id", None) for r in rules]
        for event in data.get("events", {}).values():
            for eff in event.get("effects", []):
                if eff.get("agent") in data["agents"] and agent is data["agents"][eff["agent"]]:
                    if isinstance(eff.get("rule"), str):
                        eff["rule"] = ids.index(eff["rule"])
    return data


@pytest.mark.parametrize("name", ["openai_2023_11", "union_strike", "bench_770"])
def test_ids_do_not_change_results(name: str) -> None:
    named = sim.scenario_from_dict(SHIPPED[name])
    plain_ = sim.scenario_from_dict(_without_ids(SHIPPED[name]))
    assert named.sha256() != plain_.sha256()  # the hash covers the ids
    a, b = sim.run(named, 300, seed=5), sim.run(plain_, 300, seed=5)
    for field in ("outcome", "time", "switch_time", "final_pos", "final_fraction"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_set_by_id_reaches_the_named_rule() -> None:
    sc = sim.load_scenario(ARTICLE, ["agents.toner.rules.step_aside.resistance=0.42"])
    toner = sc.agents["toner"]
    assert toner.rules[1].resistance == 0.42  # type: ignore[union-attr]
    assert toner.rules[0].resistance != 0.42  # type: ignore[union-attr]


def test_a_bad_value_set_by_id_is_reported_as_the_flag() -> None:
    flag = "agents.toner.rules.step_aside.rate=-1"
    with pytest.raises(InputError) as info:
        sim.load_scenario(ARTICLE, [flag])
    (problem,) = info.value.problems
    assert problem.source == f"--set {flag}"
    assert problem.path == "agents.toner.rules.1.rate"


def test_an_unknown_rule_id_in_a_path_lists_the_ids() -> None:
    result = runner.invoke(app, ["run", str(ARTICLE), "--set", "agents.toner.rules.stay.rate=1"])
    assert result.exit_code == 2
    assert (
        "agent 'toner' has 2 rules (indices 0 to 1; ids: reinstate, step_aside), "
        "no index or id 'stay'"
    ) in result.stderr


def test_sweep_param_by_id_is_the_same_as_by_index(tmp_path: Path) -> None:
    base = sim.load_scenario(ROOT / "scenarios" / "bench_770.yaml")
    by_id = sim.sweep(base, {"agents.toner.rules.reinstate.rate": "0.1,0.9"},
                      out=tmp_path / "a", replicates=64, seed=2)  # fmt: skip
    by_index = sim.sweep(base, {"agents.toner.rules.0.rate": "0.1,0.9"},  # index on purpose
                         out=tmp_path / "b", replicates=64, seed=2)  # fmt: skip
    assert by_id.column("p_return").to_pylist() == by_index.column("p_return").to_pylist()


def _block() -> Block:
    plan = compile_plan(sim.load_scenario(ARTICLE))
    return Block(plan, np.random.default_rng(0), 4)


def test_the_world_reads_and_changes_a_rule_by_id() -> None:
    w = _block().world
    np.testing.assert_array_equal(w.param("toner", "resistance", rule="step_aside"), 0.85)
    np.testing.assert_array_equal(
        w.param("toner", "resistance", rule="step_aside"), w.param("toner", "resistance", rule=1)
    )
    before = w.param("toner", "resistance", rule="reinstate")
    w.change("toner", "resistance", add=-0.1, rule="step_aside")
    np.testing.assert_array_equal(w.param("toner", "resistance", rule="step_aside"), 0.75)
    np.testing.assert_array_equal(w.param("toner", "resistance", rule="reinstate"), before)
    with pytest.raises(ValueError, match="unknown rule id 'stay' \\(known: reinstate, step_aside"):
        w.param("toner", "rate", rule="stay")
    with pytest.raises(ValueError, match="unknown rule id 'stay'"):
        w.change("toner", "rate", add=1, rule="stay")


def test_a_change_effect_by_id_changes_that_rule_only() -> None:
    sc = sim.load_scenario(ARTICLE)
    plan = compile_plan(sc)
    (round_,) = [e for e in plan.events if e.id == "negotiation_round"]
    labels = [label for eff in round_.effects for _, label in getattr(eff, "targets", ())]
    assert labels == ["dangelo.rules.1", "mccauley.rules.1", "toner.rules.1"]


def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(InputError) as info:
        sim.scenario_from_dict(data)
    return [f"{p.path}: {p.message}" for p in info.value.problems]


def test_rule_ids_are_unique_within_an_agent_and_never_numbers() -> None:
    data = copy.deepcopy(SHIPPED["openai_2023_11"])
    data["agents"]["toner"]["rules"][1]["id"] = "reinstate"
    data["agents"]["dangelo"]["rules"][1]["id"] = 7
    data["agents"]["mccauley"]["rules"][1]["id"] = "7"
    data["events"]["negotiation_round"]["effects"][2]["rule"] = "stepaside"
    found = _problems(data)
    assert (
        "agents.toner.rules.1.id: rule id 'reinstate' is already used by rule 0 of 'toner'"
    ) in found
    assert any(p.startswith("agents.dangelo.rules.1.id: ") for p in found), found
    assert any(p.startswith("agents.mccauley.rules.1.id: String should match") for p in found)
    assert (
        "events.negotiation_round.effects.2.rule: unknown rule id of 'toner': 'stepaside' "
        "(known: reinstate)"
    ) in found


def test_the_same_id_in_two_agents_is_fine() -> None:
    sc = sim.scenario_from_dict(SHIPPED["openai_2023_11"])
    assert sc.agents["toner"].rules[0].id == sc.agents["mccauley"].rules[0].id == "reinstate"  # type: ignore[union-attr]


# --------------------------------------- every shipped path reaches its rule
RULE_PATH = re.compile(r"agents\.([A-Za-z_]\w*)\.rules\.(\w+)")
#: paths that address a rule by index on purpose
ON_PURPOSE = {
    "tests/test_golden.py": "the evidence golden's sweep table is keyed by this path",
    "tests/test_bad_input.py": "deliberately past the last rule (agents.toner.rules.5)",
    "tests/test_named_rules.py": "it tests indices and ids side by side",
}


def _rule_paths(path: Path) -> list[tuple[int, str, str]]:
    found = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if "index on purpose" in line:
            continue
        found += [(n, m[1], m[2]) for m in RULE_PATH.finditer(line)]
    return found


def _misaddressed(path: Path, label: str | None = None) -> list[str]:
    """Paths to a shipped scenario's agent that reach no rule, or use an index for a named one."""
    out = []
    for n, agent, part in _rule_paths(path):
        holders = [d for d in SHIPPED.values() if agent in d["agents"]]
        if not holders:
            continue  # an agent of a test's own scenario
        reached = [
            (d, i)
            for d in holders
            if (i := item_index(d["agents"][agent].get("rules", []), part)) is not None
        ]
        where = f"{label or path.relative_to(ROOT)}:{n}: agents.{agent}.rules.{part}"
        if not reached:
            out.append(f"{where} reaches no rule")
        named = [d["agents"][agent]["rules"][i].get("id") for d, i in reached]
        if part.isdigit() and any(named):
            out.append(f"{where} should name the rule: {next(x for x in named if x)}")
    return out


def _files() -> list[Path]:
    files = sorted((ROOT / "scenarios").glob("*.sweep.yaml"))
    files += sorted((ROOT / "scenarios").glob("*.py"))
    files += sorted((ROOT / "tests").glob("*.py"))
    return [p for p in files if str(p.relative_to(ROOT)) not in ON_PURPOSE]


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_rule_path_reaches_the_rule_it_means(path: Path) -> None:
    assert _misaddressed(path) == []


def test_the_check_catches_an_index_for_a_named_rule(tmp_path: Path) -> None:
    bad = tmp_path / "probe.md"
    bad.write_text("--set agents.toner.rules.1.rate=1 and agents.toner.rules.stay.rate")
    found = _misaddressed(bad, "probe.md")
    # toner's rule 1 is named in the article (step_aside) and in its forecast (break_off)
    assert found[0] in (
        "probe.md:1: agents.toner.rules.1 should name the rule: step_aside",
        "probe.md:1: agents.toner.rules.1 should name the rule: break_off",
    )
    assert found[1:] == ["probe.md:1: agents.toner.rules.stay reaches no rule"]


def test_every_rule_path_in_the_readme_reaches_the_rule_it_means() -> None:
    assert _misaddressed(ROOT / "README.md") == []
