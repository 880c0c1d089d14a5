"""The package's layout: who imports whom, read from the source (no import is run).

Every ``import`` counts, at module level or inside a function, and those under
``TYPE_CHECKING`` too: a cycle hidden in a function is still a cycle a reader
has to untangle.
"""

from __future__ import annotations

import ast
from pathlib import Path

SIM = Path(__file__).resolve().parent.parent / "sim"


def _module(path: Path) -> str:
    parts = path.relative_to(SIM.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """``module -> sim modules it imports`` for every module of the package."""
    modules = {_module(p): p for p in SIM.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # ``from sim import plotting`` imports the module sim.plotting
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            deps |= {t for t in targets if t in modules and t != name}
        graph[name] = deps - {"sim"}  # the package itself only loads names lazily
    return graph


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        m = todo.pop()
        if m == goal:
            return True
        if m not in seen:
            seen.add(m)
            todo.extend(graph.get(m, ()))
    return False


def test_the_executor_module_imports_none_of_its_users() -> None:
    graph = import_graph()
    for user in ("sim.runner", "sim.sweep", "sim.calibrate"):
        assert not _reaches(graph, "sim.executors", user)


def test_runner_sweep_and_calibrate_start_no_pool_of_their_own() -> None:
    for name in ("runner", "sweep", "calibrate"):
        text = (SIM / f"{name}.py").read_text()
        assert "ProcessPoolExecutor" not in text and "multiprocessing" not in text, name
    graph = import_graph()
    for user in ("sim.runner", "sim.sweep", "sim.calibrate"):
        assert "sim.executors" in graph[user], user


def test_calibrate_borrows_nothing_from_sweep() -> None:
    assert not _reaches(import_graph(), "sim.calibrate", "sim.sweep")


def test_seeds_are_derived_only_in_the_registry() -> None:
    makers = {"SeedSequence", "default_rng"}
    for path in SIM.rglob("*.py"):
        if path.name == "seeds.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
                assert name not in makers, f"{path.name}:{node.lineno} builds a stream"


def test_no_cycle_through_the_run_modules() -> None:
    """``runner <-> outcomes`` was one (a type-only import one way, a lazy one back)."""
    graph = import_graph()
    for name in (
        "sim.runner",
        "sim.results",
        "sim.outcomes",
        "sim.output",
        "sim.executors",
        "sim.seeds",
        "sim.points",
        "sim.sweep",
        "sim.calibrate",
        "sim.nowcast",
    ):
        assert not any(_reaches(graph, dep, name) for dep in graph[name]), name


def test_results_need_no_runner() -> None:
    graph = import_graph()
    assert not _reaches(graph, "sim.results", "sim.runner")
    assert not _reaches(graph, "sim.outcomes", "sim.results")


def test_importing_plotting_leaves_the_backend_alone() -> None:
    import subprocess
    import sys

    code = (
        "import matplotlib; matplotlib.use('svg'); import sim.plotting, sim.figures; "
        "print(matplotlib.get_backend())"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "MPLBACKEND"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "svg"
