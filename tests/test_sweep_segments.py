"""A sweep's points table has a column per segment, as a run's summary has an entry per segment."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim import sweep
from sim.outcomes import summarize
from sim.points import point_scenario
from sim.seeds import sweep_point_seed


def segmented() -> sim.Scenario:
    rule = {"kind": "hazard", "to": "signed", "pressure": "heard", "resistance": 0, "rate": 0.2}
    return sim.scenario_from_dict(
        {
            "kind": "scenario",
            "name": "segments",
            "clock": {"tick": 1, "horizon": 6},
            "agents": {
                "staff": {
                    "kind": "population",
                    "positions": ["silent", "signed"],
                    "initial": "silent",
                    "rule": rule,
                    "segments": {"aides": {"size": 20}, "junior": {"size": 40, "rate": 0.05}},
                },
                "boss": {"kind": "individual", "positions": ["stays"], "initial": "stays"},
            },
            "signals": {"heard": [{"constant": 1.0}]},
            "outcomes": {"late": {"trigger": {"kind": "deadline", "at": 6}}},
        }
    )


def test_a_sweep_has_a_column_per_segment_equal_to_the_runs_summary(tmp_path: Path) -> None:
    base = segmented()
    path, values = "agents.staff.rule.rate", [0.1, 0.3]
    table = sweep(base, {path: values}, out=tmp_path / "s", replicates=64, seed=4)
    names = table.column_names
    for part in ("staff", "staff.aides", "staff.junior"):
        assert f"p_switch_{part}" in names and f"switch_time_median_{part}" in names
    # segment columns sit right after their population's, in the order of the run's outputs
    at = names.index("p_switch_staff")
    assert names[at : at + 6] == [
        "p_switch_staff",
        "switch_time_median_staff",
        "p_switch_staff.aides",
        "switch_time_median_staff.aides",
        "p_switch_staff.junior",
        "switch_time_median_staff.junior",
    ]
    for i, row in enumerate(table.to_pylist()):
        sc = point_scenario(base.canonical(), [path], [values[i]])
        agents = summarize(sim.run(sc, 64, seed=sweep_point_seed(4, i), jobs=1))["agents"]
        for part in ("staff", "staff.aides", "staff.junior"):
            assert row[f"p_switch_{part}"] == pytest.approx(agents[part]["p_switch"], abs=0)
            expected = agents[part]["switch_time_median"]
            assert row[f"switch_time_median_{part}"] == expected
    # the junior segment keeps its own rate whatever the population's: its share does not move
    first, second = table.to_pylist()
    assert first["p_switch_staff.junior"] == pytest.approx(second["p_switch_staff.junior"], abs=0.1)
    assert first["p_switch_staff.aides"] < second["p_switch_staff.aides"]
