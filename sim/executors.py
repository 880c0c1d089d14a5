"""Where sweep points run: in this process, in local processes, or on dask.distributed.

Each executor maps a function over a lazy stream of tasks and yields results
as they finish, keeping a bounded number in flight so memory stays flat
however many points there are. Order of completion never matters: every
task carries its own seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from sim.errors import InputError
from sim.runner import _mp_context, worker_init

Task = dict[str, Any]

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


class Executor:
    """Runs tasks; use as a context manager."""

    name = "base"

    def map_unordered(self, fn: Callable[[Task], Any], tasks: Iterable[Task]) -> Iterator[Any]:
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

    def map_unordered(self, fn: Callable[[Task], Any], tasks: Iterable[Task]) -> Iterator[Any]:  # noqa: D102
        for task in tasks:
            yield fn(task)


class _Bounded(Executor):
    """Shared submit-and-wait loop with at most ``in_flight`` tasks outstanding."""

    in_flight = 4

    def _submit(self, fn: Callable[[Task], Any], task: Task) -> Any:
        raise NotImplementedError

    def _wait(self, pending: set[Any]) -> tuple[set[Any], set[Any]]:
        done, rest = wait(pending, return_when=FIRST_COMPLETED)
        return set(done), set(rest)

    def map_unordered(self, fn: Callable[[Task], Any], tasks: Iterable[Task]) -> Iterator[Any]:
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
        self.pool = ProcessPoolExecutor(
            max_workers=jobs, mp_context=_mp_context(), initializer=worker_init
        )

    def _submit(self, fn: Callable[[Task], Any], task: Task) -> Future[Any]:
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

    def _submit(self, fn: Callable[[Task], Any], task: Task) -> Any:
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
