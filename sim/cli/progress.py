"""Progress bars on stderr (rich), for the commands that take more than a few seconds.

A bar is drawn only when a person watches stderr (:func:`show_progress`);
otherwise the helpers cost nothing. No refresh thread: with ``--jobs`` the
workers are forked, and a fork while another thread holds a lock (rich's, the
allocator's) can leave the child waiting on it forever; bars are redrawn as
work finishes instead, at most every tenth of a second, and always at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sim.cli import common

if TYPE_CHECKING:  # loaded when used: a run without a bar needs neither rich nor these here
    from rich.progress import ProgressColumn

    from sim.engine import ProcessFn
    from sim.results import RunResult
    from sim.scenario import Scenario

#: ``advance(k)``: k more units done; ``advance(0, "stage")`` only renames the bar
Advance = Callable[..., None]
#: fewest replicates of a run worth a bar (smaller runs end in a blink)
RUN_BAR_FROM = 2000
REDRAW_EVERY = 0.1  # seconds


def _nothing(k: int = 1, description: str | None = None) -> None:
    return None


@contextmanager
def progress_bar(
    description: str,
    total: int,
    unit: str,
    columns: Sequence[ProgressColumn] = (),
) -> Iterator[Advance]:
    """A transient bar of ``total`` ``unit``; yields ``advance(k=1, description=None)``.

    Parameters
    ----------
    description : str
        What is being done (plain text, shown as is).
    total : int
        Units of work.
    unit : str
        Their name, e.g. ``"points"``.
    columns : sequence of rich columns
        Extra columns, shown before the time remaining.
    """
    if not common.show_progress():
        yield _nothing
        return
    # rich is loaded only when a bar is drawn (about 10 ms of start-up otherwise)
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    layout = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn(f"{{task.completed}}/{{task.total}} {unit}"),
        *columns,
        TimeRemainingColumn(),
    )
    with Progress(*layout, console=common.stderr, transient=True, auto_refresh=False) as bar:
        task = bar.add_task(escape(description), total=total)
        shown = [0.0]

        def advance(k: int = 1, description: str | None = None) -> None:
            if description is None:
                bar.advance(task, k)
            else:
                bar.update(task, advance=k, description=escape(description))
            now = time.perf_counter()
            if now - shown[0] >= REDRAW_EVERY or bar.tasks[0].finished or description:
                bar.refresh()
                shown[0] = now

        bar.refresh()
        yield advance


def run_with_progress(
    scenario: Scenario,
    replicates: int,
    seed: int | None,
    jobs: int = 1,
    record: bool = False,
    processes: Sequence[ProcessFn] = (),
    description: str | None = None,
) -> RunResult:
    """:func:`sim.runner.run`, with a bar over replicates when the run is long enough to need it."""
    from sim.runner import run

    if replicates < RUN_BAR_FROM:
        return run(scenario, replicates, seed, jobs, record, processes=processes)
    with progress_bar(description or scenario.name, replicates, "replicates") as advance:
        return run(scenario, replicates, seed, jobs, record, advance, processes=processes)
