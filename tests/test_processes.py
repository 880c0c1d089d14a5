"""Users' processes in Python: closed forms, determinism, and where they may not go."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT, z_tolerance
from typer.testing import CliRunner

import sim
from sim.cli import app

Q = 0.3  # probability that the leak forces the agent
T_LEAK = 10.0


def _one_agent(rule: dict[str, Any] | None = None, horizon: float = 40) -> dict[str, Any]:
    """One individual ``a``; outcome ``yes`` as soon as it is in ``yes``, else ``no`` at the end."""
    return {
        "kind": "scenario",
        "name": "one",
        "clock": {"horizon": horizon},
        "agents": {
            "a": {
                "kind": "individual",
                "positions": ["no", "yes"],
                "initial": "no",
                "rules": [rule] if rule else [],
            }
        },
        "signals": {"a_yes": [{"agent": "a", "position": "yes"}], "p": [{"constant": 0.5}]},
        "outcomes": {
            "yes": {
                "trigger": {"kind": "condition", "condition": {"signal": "a_yes", "at_least": 1}}
            },
            "no": {"trigger": {"kind": "deadline", "at": horizon}},
        },
    }


def leak(env, world):
    """At T_LEAK, each replicate's agent is forced with probability Q."""
    yield env.timeout(T_LEAK)
    hit = world.random() < Q
    world.force("a", "yes", where=hit)
    world.trace("the press prints the leak", where=hit)


def mediator(env, world):
    """At 20 h the mediator lowers a's bar: the pressure it feels rises by 0.3."""
    yield env.timeout(20)
    world.offset("a", 0.3)


def test_forcing_with_probability_q_gives_outcome_probability_q() -> None:
    n = 4000
    res = sim.run(sim.scenario_from_dict(_one_agent()), n, seed=2, processes=[leak])
    yes = res.outcome == 0
    assert abs(yes.mean() - Q) < z_tolerance(Q, n)
    # the process acts between ticks: the outcome is seen in the phases of tick 10
    assert np.all(res.time[yes] == T_LEAK)
    assert np.all(res.switch_time[yes, 0] == T_LEAK)


def test_an_offset_from_a_mediator_changes_the_switch_probability_to_its_closed_form() -> None:
    # hazard: pressure 0.5, resistance 0.4, rate 0.05 -> 0.005 per hour; after the
    # offset 0.05 * (0.8 - 0.4) = 0.02. Ticks 1..19 before it, ticks 20..40 after.
    rule = {"kind": "hazard", "to": "yes", "pressure": "p", "resistance": 0.4, "rate": 0.05}
    n = 6000
    res = sim.run(sim.scenario_from_dict(_one_agent(rule)), n, seed=3, processes=[mediator])
    p_before = 1 - 0.995**19
    p_all = 1 - 0.995**19 * 0.98**21
    switched = np.isfinite(res.switch_time[:, 0])
    assert abs(switched.mean() - p_all) < z_tolerance(p_all, n)
    early = res.switch_time[:, 0] < 20
    assert abs(early.mean() - p_before) < z_tolerance(p_before, n)
    # without the mediator: the plain geometric law
    plain = sim.run(sim.scenario_from_dict(_one_agent(rule)), n, seed=3)
    p_plain = 1 - 0.995**40
    assert abs(np.isfinite(plain.switch_time[:, 0]).mean() - p_plain) < z_tolerance(p_plain, n)


def test_process_randomness_depends_only_on_seed_and_replicate() -> None:
    sc = sim.scenario_from_dict(_one_agent())
    small = sim.run(sc, 600, seed=5, processes=[leak])
    big = sim.run(sc, 1300, seed=5, processes=[leak], jobs=2)
    np.testing.assert_array_equal(small.outcome, big.outcome[:600])
    assert 0 < small.outcome.sum() < 600  # both outcomes happen


def noop_drawing(env, world):
    """Draws from the processes' stream every tick and changes nothing."""
    while True:
        yield env.timeout(1)
        world.random(3)


def test_processes_leave_the_model_stream_alone() -> None:
    sc = sim.load_scenario(ROOT / "scenarios" / "bench_770.yaml")
    a = sim.run(sc, 300, seed=11)
    b = sim.run(sc, 300, seed=11, processes=[noop_drawing])
    for name in ("outcome", "time", "switch_time", "final_fraction"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def counting(env, world):
    """Keeps a per-replicate count in the world, never in the generator."""
    while True:
        yield env.timeout(5)
        count = world.state("pokes", 0)
        count += world.random() < 0.5
        world.set_flag("poked", where=count >= 2)


def test_state_kept_in_the_world_follows_its_rows() -> None:
    from sim.engine import Block
    from sim.plan import compile_plan
    from sim.runner import block_rng, process_rng

    data = _one_agent()
    data["flags"] = {"poked": False}
    plan = compile_plan(sim.scenario_from_dict(data))
    block = Block(
        plan, block_rng(1, 0), 64, processes=[counting], process_rng=lambda: process_rng(1, 0)
    )
    for _ in range(20):
        block.step()
    pokes = block.world.state("pokes").copy()
    idx = np.arange(64)[::-1]
    block.take(idx)
    np.testing.assert_array_equal(block.world.state("pokes"), pokes[idx])
    np.testing.assert_array_equal(block.world.flag("poked"), pokes[idx] >= 2)


def test_a_process_must_be_a_generator_function() -> None:
    def not_a_generator(env, world):
        return None

    with pytest.raises(TypeError, match="generator function"):
        sim.run(sim.scenario_from_dict(_one_agent()), 10, seed=0, processes=[not_a_generator])


def test_nowcast_refuses_processes() -> None:
    from sim.nowcast import nowcast
    from sim.observations import ObservationsFile

    obs = ObservationsFile.model_validate(
        {"kind": "observations", "observations": [{"kind": "no_outcome", "at": 5}]}
    )
    with pytest.raises(ValueError, match="processes"):
        nowcast(sim.scenario_from_dict(_one_agent()), obs, at=5, particles=8, processes=[leak])


# ------------------------------------------------------------------ command line
LEAK_FILE = f"""
Q = {Q}


def leak(env, world):
    yield env.timeout({T_LEAK})
    world.force("a", "yes", where=world.random() < Q)


PROCESSES = [leak]
"""


def _files(tmp_path: Path, text: str = LEAK_FILE) -> tuple[Path, Path]:
    from sim.yamlio import dump

    sc = tmp_path / "one.yaml"
    sc.write_text(dump(_one_agent()))
    procs = tmp_path / "leak.py"
    procs.write_text(text)
    return sc, procs


def test_cli_runs_processes_and_records_their_file(tmp_path: Path) -> None:
    sc, procs = _files(tmp_path)
    out = tmp_path / "out"
    args = ["run", str(sc), "-n", "700", "--seed", "1", "--json", "--processes", str(procs)]
    res = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout[: res.stdout.rindex("}") + 1])
    sha = hashlib.sha256(procs.read_bytes()).hexdigest()
    assert summary["processes"] == [{"file": "leak.py", "sha256": sha, "processes": ["leak"]}]
    assert json.loads((out / "summary.json").read_text())["processes"][0]["sha256"] == sha
    assert abs(summary["outcomes"]["yes"]["p"] - Q) < z_tolerance(Q, 700)
    # and without --processes nothing is forced
    plain = CliRunner().invoke(app, args[:-2])
    assert json.loads(plain.stdout)["outcomes"]["yes"]["count"] == 0
    assert "processes" not in json.loads(plain.stdout)


@pytest.mark.parametrize(
    "text,message",
    [
        ("x = 1\n", "expected a module-level list PROCESSES"),
        ("PROCESSES = [print]\n", "PROCESSES[0]"),
        ("def f(env, world):\n    yield env.timeout(1\n", "does not load"),
    ],
)
def test_cli_bad_processes_file_is_a_user_error(tmp_path: Path, text: str, message: str) -> None:
    sc, procs = _files(tmp_path, text)
    res = CliRunner().invoke(app, ["run", str(sc), "-n", "10", "--processes", str(procs)])
    assert res.exit_code == 2
    assert message in res.output and "leak.py" in res.output
    assert "Traceback" not in res.output


def test_cli_missing_processes_file(tmp_path: Path) -> None:
    sc, _ = _files(tmp_path)
    res = CliRunner().invoke(app, ["run", str(sc), "--processes", str(tmp_path / "nope.py")])
    assert res.exit_code == 2
    assert "no such processes file" in res.output


@pytest.mark.parametrize(
    ("name", "said"),
    [("procs.yaml", "not a Python file"), ("folder.py", "is a folder")],
)
def test_cli_processes_that_are_not_a_python_file(tmp_path: Path, name: str, said: str) -> None:
    sc, _ = _files(tmp_path)
    bad = tmp_path / name
    bad.mkdir() if name == "folder.py" else bad.write_text("PROCESSES = []\n")
    for command in (["run", "-n", "4"], ["trace"]):
        res = CliRunner().invoke(app, [*command, str(sc), "--processes", str(bad)])
        assert res.exit_code == 2, res.output
        assert said in res.output and "Traceback" not in res.output, res.output


@pytest.mark.parametrize(
    "command,why",
    [
        ("nowcast", "cannot resample state kept in a process's generator"),
        ("calibrate", "cannot resample state kept in a process's generator"),
        ("sweep", "cannot record Python code"),
    ],
)
def test_commands_that_resample_refuse_processes(tmp_path: Path, command: str, why: str) -> None:
    # with inputs that are otherwise fine: the refusal is the command's, not a parsing error
    sc, procs = _files(tmp_path)
    obs = tmp_path / "obs.yaml"
    obs.write_text("kind: observations\nobservations:\n  - {kind: no_outcome, at: 5}\n")
    args = {
        "nowcast": ["--observations", str(obs), "--particles", "8"],
        "calibrate": ["--observations", str(obs), "--param", "agents.a.rules=0:1"],
        "sweep": ["--param", "clock.horizon=20,30", "--out", str(tmp_path / "s")],
    }[command]
    res = CliRunner().invoke(app, [command, str(sc), *args, "--processes", str(procs)])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert f"--processes: not supported by {command} yet" in lines[0] and why in lines[0]
    assert "Traceback" not in res.output
    assert not (tmp_path / "s").exists() and not Path("calibration").exists()


TRACED_FILE = """
def leak(env, world):
    yield env.timeout(10)
    world.force("a", "yes")
    world.trace("the press prints the leak")


PROCESSES = [leak]
"""


def test_trace_runs_processes_and_tells_their_lines(tmp_path: Path) -> None:
    sc, procs = _files(tmp_path, TRACED_FILE)
    args = ["trace", str(sc), "--seed", "3", "--replicate", "2"]
    res = CliRunner().invoke(app, [*args, "--processes", str(procs)])
    assert res.exit_code == 0, res.output
    story = res.stdout.splitlines()
    told = [line for line in story if "the press prints the leak" in line]
    assert len(told) == 1, res.stdout
    # the leak forces the agent at 10 h, and the outcome follows in the same tick
    assert any("yes" in line for line in story[story.index(told[0]) :])
    plain = CliRunner().invoke(app, args)
    assert plain.exit_code == 0 and "the press prints the leak" not in plain.stdout
    assert plain.stdout.splitlines()[0] == story[0]  # the same replicate of the same run


def test_trace_refuses_a_bad_processes_file(tmp_path: Path) -> None:
    sc, procs = _files(tmp_path, "x = 1\n")
    res = CliRunner().invoke(app, ["trace", str(sc), "--seed", "1", "--processes", str(procs)])
    assert res.exit_code == 2 and "expected a module-level list PROCESSES" in res.output


def test_the_readme_mediator_runs_from_the_command_line() -> None:
    args = ["run", str(ROOT / "scenarios" / "openai_2023_11.yaml"), "-n", "64", "--seed", "1"]
    args += ["--processes", str(ROOT / "scenarios" / "mediator.py"), "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["processes"][0]["file"] == "mediator.py"
    assert summary["processes"][0]["processes"] == ["mediator"]


RAISES = """
def boom(env, world):
    yield env.timeout(2)
    raise ValueError("no mediator today")


PROCESSES = [boom]
"""


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_process_that_raises_is_reported_at_its_line(tmp_path: Path, jobs: str) -> None:
    sc, procs = _files(tmp_path, RAISES)
    out = tmp_path / "out"
    args = ["run", str(sc), "-n", "600", "--jobs", jobs, "--processes", str(procs)]
    res = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert f"{procs}:4:" in res.output and "ValueError: no mediator today" in res.output
    assert not out.exists()
    res = CliRunner().invoke(app, ["trace", str(sc), "--processes", str(procs)])
    assert res.exit_code == 2 and f"{procs}:4:" in res.output, res.output
