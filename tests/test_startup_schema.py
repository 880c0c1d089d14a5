"""The scenario schema is built once, on first use, not while the package loads (issue 14, item 4).

Importing the schema modules only creates the model classes; pydantic builds
a validator when a model is first used (``defer_build``), and resolves the
recursive :data:`Condition` then. Checked in a fresh process, where nothing
has used a model yet.
"""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return done.stdout.strip()


def test_importing_the_scenario_schema_builds_no_validator() -> None:
    out = _python(
        "import sim.scenario\n"
        "from pydantic import BaseModel\n"
        "def subclasses(c):\n"
        "    for s in c.__subclasses__():\n"
        "        yield s\n"
        "        yield from subclasses(s)\n"
        "models = {c for c in subclasses(BaseModel) if c.__module__.startswith('sim.')}\n"
        "print(len(models), sorted(c.__name__ for c in models if c.__pydantic_complete__))\n"
    )
    count, built = out.split(" ", 1)
    assert int(count) > 50  # the schema's models were all created
    assert built == "[]"


def test_nested_conditions_validate_on_their_own() -> None:
    # the recursive models need no explicit model_rebuild: first use resolves Condition
    out = _python(
        "from sim.scenario.schema_conditions import AllOf, NotOf\n"
        "c = AllOf.model_validate({'all': [{'signal': 's', 'at_least': 0.5},\n"
        "    {'not': {'any': [{'agent': 'a', 'position': 'p'}]}}]})\n"
        "print(type(c.all[1]).__name__, type(c.all[1].not_.any[0]).__name__)\n"
        "print(NotOf.model_validate({'not': {'count': 'g', 'position': 'p', 'above': 1}}).not_)\n"
    )
    lines = out.splitlines()
    assert lines[0] == "NotOf PositionCondition"
    assert "count='g'" in lines[1] and "above=1.0" in lines[1]
