"""The engine: blocks of replicates advanced together by SimPy processes.

- :mod:`sim.engine.processes`: the scenario's actors and mechanisms as SimPy
  processes, and the order of the phases within a tick;
- :mod:`sim.engine.state`: a block's arrays (:class:`BlockState`); :mod:`sim.engine.world`: the
  public view of them (:class:`World`);
- :mod:`sim.engine.populations`: one class per way a population moves;
- :mod:`sim.engine.trace`: one replicate's story, per-tick recordings;
- :mod:`sim.engine.block`: a block (or batch of blocks), its environment and
  its processes;
- :mod:`sim.engine.streams`: each block's random stream, in a batch.

The engine reads only the compiled :class:`~sim.plan.Plan`.
"""

from sim.engine.block import Block, BlockResult, ProcessFn, simulate_block
from sim.engine.state import BlockState
from sim.engine.streams import Streams
from sim.engine.trace import Recording, Tracer
from sim.engine.world import World

__all__ = [
    "Block",
    "BlockResult",
    "BlockState",
    "ProcessFn",
    "Recording",
    "Streams",
    "Tracer",
    "World",
    "simulate_block",
]
