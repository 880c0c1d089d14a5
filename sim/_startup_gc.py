"""The cyclic garbage collector while a command starts (see :mod:`sim._entry`).

Importing the command line and a command's module makes some 73,000 objects
(modules, classes, pydantic's fields, typer's parameters) that live as long
as the process, and little cyclic garbage. With the collector on, it walks
them again and again while they pile up, for nothing: about 55 ms of a
``stancesim validate`` at Python's threshold, and still one walk of 20 ms at
a hundred times that threshold. So the console script holds the collector
off until the command's module is in, then leaves everything made so far out
of every later collection (``gc.freeze``) and turns it back on: the command
itself runs with the collector as Python sets it (a nowcast's cyclic
garbage, frozen scipy distributions and simpy frames, held 1.5x the peak
memory when it collected a hundred times less often).

Standard library only: :mod:`sim._entry` imports it before anything heavy.
"""

from __future__ import annotations

import gc

_held = False


def hold_collector() -> None:
    """Turn the cyclic collector off until :func:`release_collector` (if it is on)."""
    global _held
    if not _held and gc.isenabled():
        gc.disable()
        _held = True


def release_collector() -> None:
    """Freeze what start-up made and turn the collector back on (after :func:`hold_collector`)."""
    global _held
    if _held:
        gc.freeze()
        gc.enable()
        _held = False
