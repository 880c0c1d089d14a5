"""The engine: blocks of replicates advanced together by SimPy processes.

- :mod:`sim.engine.processes`: the scenario's actors and mechanisms as SimPy
  processes, and the order of the phases within a tick;
- :mod:`sim.engine.world`: a block's arrays (:class:`BlockState`) and the
  public view of them (:class:`World`);
- :mod:`sim.engine.populations`: one class per way a population moves;
- :mod:`sim.engine.trace`: one replicate's story, per-tick recordings;
- :mod:`sim.engine.block`: a block, its environment and its processes.

The engine reads only the compiled :class:`~sim.plan.Plan`.
"""

from sim.engine.block import Block, BlockOutput, ProcessFn, simulate_block
from sim.engine.trace import Recording, Tracer
from sim.engine.world import BlockState, World

__all__ = [
    "Block",
    "BlockOutput",
    "BlockState",
    "ProcessFn",
    "Recording",
    "Tracer",
    "World",
    "simulate_block",
]
