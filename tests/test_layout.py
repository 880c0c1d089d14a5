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
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node.module, node.level, package)
                # ``from sim import plotting`` imports the module sim.plotting; the
                # package itself counts only when a name is taken from its __init__
                subs = [f"{base}.{a.name}" for a in node.names]
                names_from_base = any(m not in modules for m in subs)
                targets = [base] * names_from_base + subs
            else:
                continue
            deps |= {t for t in targets if t in modules and t != name}
        graph[name] = deps - {"sim"}  # the package itself only loads names lazily
    return graph


def _absolute(module: str | None, level: int, package: str) -> str:
    """The absolute name of ``from <dots><module> import ...`` written in ``package``."""
    if level == 0:
        return module or ""
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - (level - 1)])
    return f"{base}.{module}" if module else base


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import cycle, as a path that comes back to its first module (depth-first search)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for dep in sorted(graph.get(m, ())):
            if state.get(dep) == 1:
                found.append([*path[path.index(dep) :], dep])
            elif dep not in state:
                visit(dep)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    return found


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


def test_no_import_cycle_in_the_package() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles: " + "; ".join(" -> ".join(c) for c in found)


def test_the_cycle_finder_finds_function_level_and_relative_imports(tmp_path: Path) -> None:
    # the test above is only as good as the graph: a lazy import and a relative one count
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    assert _absolute("x", 1, "sim.cli") == "sim.cli.x"
    assert _absolute(None, 2, "sim.cli") == "sim"
    assert _absolute("engine", 2, "sim.cli") == "sim.engine"
    graph = import_graph()
    # a function-level import is an edge: _entry imports the command line inside main()
    assert "sim.cli" in graph["sim._entry"]


def test_the_executor_module_imports_none_of_its_users() -> None:
    graph = import_graph()
    for user in ("sim.runner", "sim.sweeps", "sim.calibrate"):
        assert not _reaches(graph, "sim.executors", user)


def test_runner_sweep_and_calibrate_start_no_pool_of_their_own() -> None:
    for name in ("runner", "sweeps", "calibrate"):
        text = (SIM / f"{name}.py").read_text()
        assert "ProcessPoolExecutor" not in text and "multiprocessing" not in text, name
    graph = import_graph()
    for user in ("sim.runner", "sim.sweeps", "sim.calibrate"):
        assert "sim.executors" in graph[user], user


def test_calibrate_borrows_nothing_from_sweep() -> None:
    assert not _reaches(import_graph(), "sim.calibrate", "sim.sweeps")


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
        "sim.sweeps",
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


def test_figures_only_draw_what_they_are_given() -> None:
    """No run, no folder read, no random draw: the caller (sim.cli.plot, a notebook) does those."""
    graph = import_graph()
    for forbidden in ("sim.runner", "sim.sweeps"):
        assert not _reaches(graph, "sim.figures", forbidden), forbidden
    assert not graph["sim.figures"] & {"sim.sweep_results", "sim.folders", "sim.seeds"}
    text = (SIM / "figures.py").read_text()
    for word in ("read_table", "load_scenario", "RunView", "load_run", "default_rng", "draw("):
        assert word not in text, word
