"""The one registry of random streams: every seed the program derives is made here.

Each command takes one integer ``seed`` (drawn by :func:`fresh_seed` when none
is given) and derives every random stream from it with
``numpy.random.SeedSequence(seed, spawn_key=KEY)``. The keys, per command:

=====================  ==========================  ===============================
command                stream                      derivation
=====================  ==========================  ===============================
run, trace             block ``b`` (the model)     ``spawn_key=(b,)``
run, trace             users' processes, block b   ``spawn_key=(b, 1)``
run, trace             correlated parameters,      ``spawn_key=(b, 2, c)``
                       block b, ``correlations``
                       entry c (file order)
sweep                  design (random/lhs/sobol)   ``spawn_key=(0,)``
sweep                  point ``i``'s run seed      ``spawn_key=(1, i)``, 64 bits
calibrate              design (Latin hypercube)    ``spawn_key=(0,)``
calibrate              point ``i``'s nowcast seed  the integer ``seed + 1 + i``
nowcast                particles                   block 0 of a run: ``(0,)``
nowcast                resampling                  ``spawn_key=(2**32 - 1,)``
nowcast                rejuvenation (MH moves)     ``spawn_key=(2**32 - 2,)``
sensitivity            point ``i``'s run seed      ``spawn_key=(1, i)``, as a sweep's
sensitivity            design (SALib's sampler)    ``spawn_key=(2,)``
sensitivity            bootstrap (SALib analysers) ``spawn_key=(3,)``, afresh per output
=====================  ==========================  ===============================

Within one command the keys never repeat. The run's own streams are
``(b,)``, ``(b, 1)`` and, for a scenario with ``correlations``, ``(b, 2, c)``
(derived from the block's stream, see :func:`correlated_rng`); a sweep's
design ``(0,)`` is a different command's key space (a point's runs use the
point seed, never the sweep seed). The nowcast's resampling key would be
block ``2**32 - 1`` of a run, which would take more than 2 * 10**12
replicates.

A sensitivity analysis runs its points through the sweep machinery, so point
``i`` gets a sweep point's seed; its design and bootstrap keys ``(2,)`` and
``(3,)`` are apart from the sweep's ``(0,)`` and ``(1, i)``.

Every key is part of the reproducibility contract: changing one changes the
results of a seed. The calibration points are the one derivation outside
``spawn_key``: point ``i`` nowcasts with the seed ``seed + 1 + i``, so that
calibrations with seeds ``s`` and ``s + 1`` share all but one point's stream.
It is kept exactly so that published calibrations do not change; a new
calibration method would derive ``spawn_key=(1, i)`` like the sweep.
"""

from __future__ import annotations

import numpy as np

#: spawn key of the nowcast's resampling stream (a block index no run reaches)
NOWCAST_RESAMPLE_KEY = 2**32 - 1
#: spawn key of the nowcast's rejuvenation moves (another block index no run reaches)
NOWCAST_REJUVENATE_KEY = 2**32 - 2


def _stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def fresh_seed() -> int:
    """A seed from the operating system's entropy (printed so the run can be repeated)."""
    return int(np.random.SeedSequence().entropy % (2**63))  # type: ignore[operator]


def block_rng(seed: int, block: int) -> np.random.Generator:
    """The model's stream of block ``block`` of a run: ``spawn_key=(block,)``.

    Replicate ``K`` is row ``K % BLOCK_SIZE`` of block ``K // BLOCK_SIZE``.
    """
    return _stream(seed, block)


def process_rng(seed: int, block: int) -> np.random.Generator:
    """Users' processes' stream in block ``block``: ``spawn_key=(block, 1)``.

    Separate from :func:`block_rng`, so that a process never changes the model's draws.
    """
    return _stream(seed, block, 1)


def correlated_rng(block: np.random.Generator, entry: int) -> np.random.Generator:
    """Correlated parameters' stream of a block: ``spawn_key=(*key, 2, entry)``.

    Derived from the block's model stream ``block`` (key ``(b,)``, so
    ``(b, 2, entry)``) without drawing from it: a scenario's other draws stay
    as they are, and each block of a batch, or the nowcast's particles (block
    0), derive their own. Entry ``c`` is the ``c``-th ``correlations`` entry.
    """
    seq = block.bit_generator.seed_seq
    if not isinstance(seq, np.random.SeedSequence):
        raise ValueError("correlated parameters need a block stream made from a SeedSequence")
    key = (*seq.spawn_key, 2, entry)
    return np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=key))


def design_rng(seed: int) -> np.random.Generator:
    """The stream that places the design points of a sweep or calibration: ``spawn_key=(0,)``."""
    return _stream(seed, 0)


def sweep_point_seed(seed: int, index: int) -> int:
    """The run seed of sweep point ``index``: 64 bits of ``spawn_key=(1, index)``.

    It depends on nothing but the sweep's seed and the point's index, so
    results never depend on the executor or the order in which points finish.
    """
    state = np.random.SeedSequence(seed, spawn_key=(1, index)).generate_state(2, np.uint32)
    return int(state[0]) << 32 | int(state[1])


def sensitivity_design_rng(seed: int) -> np.random.Generator:
    """The stream of a sensitivity analysis's design (SALib's sampler): ``spawn_key=(2,)``."""
    return _stream(seed, 2)


def sensitivity_bootstrap_rng(seed: int) -> np.random.Generator:
    """SALib's bootstrap of a sensitivity analysis: ``spawn_key=(3,)``.

    Made afresh for each output analysed, so an output's intervals do not
    depend on which other outputs were analysed before it.
    """
    return _stream(seed, 3)


def calibration_point_seed(seed: int, index: int) -> int:
    """The nowcast seed of calibration design point ``index``: ``seed + 1 + index``.

    Not a spawn key (see the module docstring): kept as it was so that
    calibration results for a seed do not change.
    """
    return seed + 1 + index


def nowcast_particles_rng(seed: int) -> np.random.Generator:
    """The nowcast's particles: block 0 of a run with ``seed`` (so they are replicates 0..)."""
    return block_rng(seed, 0)


def nowcast_resample_rng(seed: int) -> np.random.Generator:
    """The nowcast's resampling stream: ``spawn_key=(2**32 - 1,)``, apart from the particles'."""
    return _stream(seed, NOWCAST_RESAMPLE_KEY)


def nowcast_rejuvenate_rng(seed: int) -> np.random.Generator:
    """The nowcast's Metropolis-Hastings moves: ``spawn_key=(2**32 - 2,)``, apart from the rest."""
    return _stream(seed, NOWCAST_REJUVENATE_KEY)


def posterior_sample_rng(seed: int) -> np.random.Generator:
    """Draws from a calibration's weighted design for plots: ``default_rng(seed)``, no spawn key."""
    return np.random.default_rng(seed)


def figure_rng() -> np.random.Generator:
    """Fixed stream of figures that estimate a mean by drawing: ``default_rng(0)``."""
    return np.random.default_rng(0)
