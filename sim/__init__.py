"""stancesim: stances under pressure, simulated and replicated.

Notebook use::

    import sim
    res = sim.run("scenarios/openai_2023_11.yaml", replicates=2000, seed=1)
    res.summary()["outcomes"]

``sim.sweep`` is the function (the Python form of ``stancesim sweep``); the
module that defines it and the rest of the sweep machinery is :mod:`sim.sweeps`,
as ``sim.run`` is defined in :mod:`sim.runner`.

Importing the package is cheap: the names below are loaded on first use
(PEP 562), so that ``stancesim`` can handle Ctrl-C from its first line (see
:mod:`sim._entry`). No signal handler is installed here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sim._version import __version__

if TYPE_CHECKING:
    from sim.errors import InputError
    from sim.results import RunResult
    from sim.runner import BLOCK_SIZE, run, trace_replicate
    from sim.scenario import Scenario, load_scenario, scenario_from_dict
    from sim.sweeps import sweep

#: public name -> module that defines it
_LAZY = {
    "BLOCK_SIZE": "sim.runner",
    "InputError": "sim.errors",
    "RunResult": "sim.results",
    "Scenario": "sim.scenario",
    "load_scenario": "sim.scenario",
    "run": "sim.runner",
    "scenario_from_dict": "sim.scenario",
    "sweep": "sim.sweeps",
    "trace_replicate": "sim.runner",
}

__all__ = [
    "BLOCK_SIZE",
    "InputError",
    "RunResult",
    "Scenario",
    "__version__",
    "load_scenario",
    "run",
    "scenario_from_dict",
    "sweep",
    "trace_replicate",
]


def __getattr__(name: str) -> Any:
    """Load a public name on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
