"""The random streams of a batch: each seed block draws from its own generator into its rows.

A batch advances several seed blocks together (so that per-tick numpy calls
work on thousands of rows), but the block stays the unit of the random
streams: block ``j`` of the batch owns rows ``j * rows`` to ``(j + 1) * rows``
and every draw is made block by block, from that block's generator, with the
same call, size and order as a block running alone would make. So a
replicate's numbers never depend on how blocks are batched.

A single generator owns every row, whatever their number (a block on its own,
a nowcast's particles), and rows may then be resampled between ticks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]


class Streams:
    """Generators of the blocks of a batch, each owning a contiguous run of rows.

    Parameters
    ----------
    generators : sequence of numpy.random.Generator
        One per block, in row order.
    rows : int, optional
        Rows per block; needed when there is more than one generator (a single
        generator owns every row).
    """

    def __init__(self, generators: Sequence[np.random.Generator], rows: int | None = None) -> None:
        if not generators:
            raise ValueError("a batch needs at least one stream")
        if len(generators) > 1 and rows is None:
            raise ValueError("several streams need their rows per block")
        self.generators = list(generators)
        self.rows = rows

    def __len__(self) -> int:
        return len(self.generators)

    @property
    def single(self) -> np.random.Generator | None:
        """The generator when there is only one (it owns every row), else None."""
        return self.generators[0] if len(self.generators) == 1 else None

    def spans(self, size: int) -> Iterator[tuple[np.random.Generator, slice]]:
        """Each block's generator with its rows, out of ``size`` rows."""
        if len(self.generators) == 1:
            yield self.generators[0], slice(0, size)
            return
        assert self.rows is not None
        if size != self.rows * len(self.generators):
            raise ValueError(f"{size} rows do not make {len(self)} blocks of {self.rows}")
        for j, g in enumerate(self.generators):
            yield g, slice(j * self.rows, (j + 1) * self.rows)

    def random(self, size: int, *shape: int) -> Array:
        """Uniforms of shape ``(size, *shape)``, each block's rows from its own generator.

        ``Generator.random`` fills ``out`` with the doubles it would return, so
        a block's rows hold exactly what ``g.random((rows, *shape))`` gives.
        """
        out = np.empty((size, *shape))
        for g, rows in self.spans(size):
            g.random(out=out[rows])
        return out

    def joined(self, size: int, fn: Callable[[np.random.Generator, int], Any]) -> Any:
        """``fn(generator, rows)`` for each block, joined along rows.

        Scalars (a constant drawn for nobody) are returned as they are.
        """
        parts = [fn(g, rows.stop - rows.start) for g, rows in self.spans(size)]
        if len(parts) == 1 or not isinstance(parts[0], np.ndarray):
            return parts[0]
        return np.concatenate(parts)

    def sample(self, d: Any, size: int, tick: float) -> Any:
        """A block's set-up draw (:class:`sim.plan.Draw`) for ``size`` rows, block by block.

        Per-person values of several blocks are written block by block into one
        array (so that no second copy of them is ever whole); fixed ones are a
        view, drawing nothing.
        """
        if d.kind == "person":
            if isinstance(d.value, list):
                return d.sample(self.generators[0], size, tick)
            if len(self) > 1:
                out = np.empty((size, d.persons))
                for g, rows in self.spans(size):
                    d.fill_persons(g, out[rows])
                return out
        return self.joined(size, lambda g, m: d.sample(g, m, tick))
