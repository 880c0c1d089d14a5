"""stancesim: stances under pressure, simulated and replicated.

Notebook use::

    import sim
    sc = sim.load_scenario("scenarios/openai_2023_11.yaml")
    res = sim.run(sc, replicates=2000, seed=1)
    res.summary()["outcomes"]
"""

from sim._version import __version__
from sim.errors import InputError
from sim.runner import BLOCK_SIZE, RunResult, run, trace_replicate
from sim.scenario import Scenario, load_scenario, scenario_from_dict
from sim.sweep import sweep

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
