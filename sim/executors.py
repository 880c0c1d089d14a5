"""Where work runs: in this process, in local worker processes, or on dask.distributed.

The one place that starts worker processes: run blocks (:mod:`sim.runner`),
sweep points (:mod:`sim.sweeps`) and calibration points (:mod:`sim.calibrate`)
all go through :func:`make_executor`. Each executor maps a function over a
lazy stream of tasks and yields results as they finish, keeping a bounded
number in flight so memory stays flat however many tasks there are. Order of
completion never matters: every task carries its own seed (:mod:`sim.seeds`).

Local workers fork on Linux (:func:`mp_context`) and end with their parent,
even after ``kill -9`` (:func:`worker_init`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import TYPE_CHECKING, Any, TypeVar

from sim.errors import InputError

if TYPE_CHECKING:  # multiprocessing is loaded only when workers start (not by ``-j 1``)
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing.context import BaseContext

T = TypeVar("T")
R = TypeVar("R")

#: Seconds to wait for a dask scheduler to answer before giving up.
DASK_CONNECT_TIMEOUT = 5.0
_DASK_MISSING = 'dask.distributed is not installed: python -m pip install "stancesim[dask]"'


def _dask_client(address: str, timeout: float = DASK_CONNECT_TIMEOUT) -> Any:
    """A client of the scheduler at ``address``; :class:`InputError` within ``timeout`` if none."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise InputError(f"--dask {address}: {_DASK_MISSING}") from None
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(
            f"--dask {address}: no dask scheduler answered within {timeout:g} s ({exc}); "
            "give the scheduler's address as tcp://HOST:PORT, or 'local'"
        ) from None


def check_dask(address: str, timeout: float = DASK_CONNECT_TIMEOUT) -> None:
    """Fail early, before a results folder is made, when ``--dask`` cannot be used."""
    if address == "local":
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            raise InputError(f"--dask local: {_DASK_MISSING}") from None
        return
    _dask_client(address, timeout).close()


def mp_context() -> BaseContext:
    """Choose how worker processes start: fork on Linux, spawn elsewhere.

    Forked workers start at once with the package loaded, and scripts read from
    stdin work (spawn would re-import ``__main__``). The CLI runs no threads of
    its own when workers fork: its progress bars have no refresh thread and are
    redrawn from the progress callback (``tests/test_interface.py`` checks it).
    """
    import multiprocessing

    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def worker_init() -> None:
    """Make a worker process end when its parent does (Linux), even after ``kill -9``.

    Forked workers otherwise outlive a killed parent, blocked on its queue forever.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import os
    import signal

    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def process_pool(jobs: int) -> ProcessPoolExecutor:
    """A pool of ``jobs`` local workers, started by :func:`mp_context` and :func:`worker_init`."""
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=jobs, mp_context=mp_context(), initializer=worker_init)


class Executor:
    """Runs tasks; use as a context manager."""

    name = "base"

    def map_unordered(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[R]:
        """Yield ``fn(task)`` for every task, in order of completion."""
        raise NotImplementedError

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop workers; pending tasks are dropped."""


class InProcess(Executor):
    """``jobs=1``: everything in this process, in order."""

    name = "in-process"

    def map_unordered(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[R]:  # noqa: D102
        for task in tasks:
            yield fn(task)


class _Bounded(Executor):
    """Shared submit-and-wait loop with at most ``in_flight`` tasks outstanding."""

    in_flight = 4

    def _submit(self, fn: Callable[[Any], Any], task: Any) -> Any:
        raise NotImplementedError

    def _wait(self, pending: set[Any]) -> tuple[set[Any], set[Any]]:
        done, rest = wait(pending, return_when=FIRST_COMPLETED)
        return set(done), set(rest)

    def map_unordered(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[R]:
        it = iter(tasks)
        pending: set[Any] = set()
        exhausted = False
        while True:
            while not exhausted and len(pending) < self.in_flight:
                try:
                    pending.add(self._submit(fn, next(it)))
                except StopIteration:
                    exhausted = True
            if not pending:
                return
            done, pending = self._wait(pending)
            for fut in done:
                yield fut.result()


class LocalProcesses(_Bounded):
    """``jobs=J``: J worker processes on this machine."""

    name = "processes"

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.in_flight = 4 * jobs
        self.pool = process_pool(jobs)

    def _submit(self, fn: Callable[[Any], Any], task: Any) -> Future[Any]:
        return self.pool.submit(fn, task)

    def close(self) -> None:  # noqa: D102
        self.pool.shutdown(wait=True, cancel_futures=True)


class Dask(_Bounded):
    """dask.distributed: ``address`` of a scheduler, or ``"local"`` for a LocalCluster."""

    name = "dask"

    def __init__(self, address: str, jobs: int = 2) -> None:
        self.cluster = None
        if address == "local":
            try:
                from dask.distributed import Client, LocalCluster
            except ImportError:
                raise InputError(f"--dask local: {_DASK_MISSING}") from None
            self.cluster = LocalCluster(
                n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None
            )
            self.client = Client(self.cluster)
        else:
            self.client = _dask_client(address)
        workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        self.in_flight = 4 * workers

    def _submit(self, fn: Callable[[Any], Any], task: Any) -> Any:
        # pure=False: identical tasks are still separate points
        return self.client.submit(fn, task, pure=False)

    def _wait(self, pending: set[Any]) -> tuple[set[Any], set[Any]]:
        from dask.distributed import wait as dask_wait

        done, rest = dask_wait(list(pending), return_when="FIRST_COMPLETED")
        return set(done), set(rest)

    def close(self) -> None:  # noqa: D102
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_executor(jobs: int = 1, dask: str | None = None) -> Executor:
    """The executor for ``--jobs`` / ``--dask``."""
    if dask is not None:
        return Dask(dask, jobs=max(jobs, 1) if jobs > 1 else 2)
    if jobs <= 1:
        return InProcess()
    return LocalProcesses(jobs)
