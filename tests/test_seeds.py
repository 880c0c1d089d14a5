"""The seed registry (:mod:`sim.seeds`): distinct keys, and every stream as it always was.

Each expected value below is the derivation the code used before the
registry existed, written out, so that a change of any key fails here.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim import seeds


def _draws(rng: np.random.Generator) -> list[int]:
    return [int(x) for x in rng.integers(0, 2**62, size=4)]


def _old(seed: int, *key: int) -> list[int]:
    return _draws(np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key)))


@pytest.mark.parametrize("seed", [0, 1, 20231117])
def test_streams_equal_the_old_derivations(seed: int) -> None:
    assert _draws(seeds.block_rng(seed, 0)) == _old(seed, 0)
    assert _draws(seeds.block_rng(seed, 7)) == _old(seed, 7)
    assert _draws(seeds.process_rng(seed, 3)) == _old(seed, 3, 1)
    assert _draws(seeds.design_rng(seed)) == _old(seed, 0)
    assert _draws(seeds.nowcast_particles_rng(seed)) == _old(seed, 0)
    assert _draws(seeds.nowcast_resample_rng(seed)) == _old(seed, 2**32 - 1)
    assert seeds.calibration_point_seed(seed, 4) == seed + 1 + 4
    state = np.random.SeedSequence(seed, spawn_key=(1, 5)).generate_state(2, np.uint32)
    assert seeds.sweep_point_seed(seed, 5) == int(state[0]) << 32 | int(state[1])
    assert _draws(seeds.posterior_sample_rng(seed)) == _draws(np.random.default_rng(seed))
    assert _draws(seeds.figure_rng()) == _draws(np.random.default_rng(0))


def test_sweep_point_seed_matches_a_known_value() -> None:
    # pinned (computed with the code before the registry): a change of the
    # derivation changes every sweep's results
    assert seeds.sweep_point_seed(0, 0) == 16979431502593231591
    assert seeds.sweep_point_seed(20231117, 3) == 8503792448460137277


def test_run_keys_are_distinct() -> None:
    """A run's model and process streams never share a key, whatever the block."""
    blocks = range(64)
    keys = [(b,) for b in blocks] + [(b, 1) for b in blocks]
    assert len(set(keys)) == len(keys)
    # and they really are different streams
    assert _draws(seeds.block_rng(9, 2)) != _draws(seeds.process_rng(9, 2))


def test_sweep_and_nowcast_keys_are_distinct() -> None:
    points = [(1, i) for i in range(64)]
    assert (0,) not in points  # the design never reuses a point's key
    assert len({seeds.sweep_point_seed(3, i) for i in range(256)}) == 256
    # the nowcast's resampling stream is apart from its particles' (block 0)
    assert seeds.NOWCAST_RESAMPLE_KEY != 0
    assert _draws(seeds.nowcast_resample_rng(3)) != _draws(seeds.nowcast_particles_rng(3))


def test_calibration_points_get_distinct_seeds() -> None:
    got = [seeds.calibration_point_seed(10, i) for i in range(128)]
    assert len(set(got)) == len(got) and 10 not in got  # never the design's own seed


def test_fresh_seeds_are_in_range() -> None:
    s = seeds.fresh_seed()
    assert 0 <= s < 2**63
