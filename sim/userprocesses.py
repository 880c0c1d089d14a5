"""Users' processes: load them from a Python file, and say where they came from.

A processes file is ordinary Python that names its processes in a
module-level list ``PROCESSES``; each is a generator function
``fn(env, world)`` run on every block (see :class:`sim.engine.World`). A
scenario file never names Python code: processes come only from the command
line (``stancesim run FILE --processes my_processes.py``) or from
``sim.run(..., processes=[fn])``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.engine import ProcessFn


def load_processes(path: str | Path) -> list[ProcessFn]:
    """The processes a file names in its module-level list ``PROCESSES``.

    Raises
    ------
    ValueError
        The file is missing, does not load, or ``PROCESSES`` is not a list of
        generator functions (the message names the file and what was expected).
    """
    file = Path(path)
    if file.is_dir():
        raise ValueError(f"{file}: is a folder, not a processes file (a .py file)")
    if not file.is_file():
        raise ValueError(f"{file}: no such processes file")
    if file.suffix != ".py":  # importlib loads only Python source by its suffix
        raise ValueError(
            f"{file}: not a Python file; expected a .py file with a module-level list "
            "PROCESSES = [fn, ...]"
        )
    digest = _sha256(file)[:16]
    name = f"stancesim_processes_{digest}"
    if name not in sys.modules:  # registered, so that worker processes can unpickle them
        spec = importlib.util.spec_from_file_location(name, file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # the user's code: report it, with its line when known
            del sys.modules[name]
            line = getattr(exc, "lineno", None)
            where = f"{file}:{line}" if line else str(file)
            raise ValueError(f"{where}: the processes file does not load: {exc!r}") from None
    procs = getattr(sys.modules[name], "PROCESSES", None)
    if not isinstance(procs, list | tuple) or not procs:
        raise ValueError(
            f"{file}: expected a module-level list PROCESSES = [fn, ...] of generator "
            "functions fn(env, world)"
        )
    for i, fn in enumerate(procs):
        if not inspect.isgeneratorfunction(fn):
            raise ValueError(
                f"{file}: PROCESSES[{i}] is {fn!r}, expected a generator function "
                "fn(env, world) (a def with yield)"
            )
    return list(procs)


def raised_in(exc: BaseException, file: str | Path) -> str | None:
    """Where in the processes ``file`` an error arose, as ``FILE:LINE: Type: message``.

    None when no frame of the error (nor of a worker's traceback, which
    :mod:`concurrent.futures` chains as text) lies in ``file``: the error is
    then not the user's code's, and stays a crash to report.
    """
    import re
    import traceback

    text = "".join(traceback.format_exception(exc))
    names = {str(file), str(Path(file).resolve())}
    # the same code loaded earlier from another path is that module (modules go by content)
    loaded = sys.modules.get(f"stancesim_processes_{_sha256(Path(file))[:16]}")
    if loaded is not None and getattr(loaded, "__file__", None):
        names.add(str(loaded.__file__))
    pattern = "|".join(re.escape(n) for n in names)
    lines = re.findall(rf'File "(?:{pattern})", line (\d+)', text)
    if not lines:
        return None
    return f"{file}:{lines[-1]}: a process raised {type(exc).__name__}: {exc}"


def provenance(processes: Sequence[ProcessFn]) -> list[dict[str, Any]]:
    """Where processes come from: per source file, its name, sha256 and the processes' names."""
    files: dict[str, dict[str, Any]] = {}
    for fn in processes:
        try:
            src = inspect.getsourcefile(fn)
        except TypeError:
            src = None
        key = src or "<unknown>"
        if key not in files:
            sha = _sha256(Path(src)) if src and Path(src).is_file() else None
            files[key] = {"file": Path(key).name, "sha256": sha, "processes": []}
        files[key]["processes"].append(getattr(fn, "__qualname__", repr(fn)))
    return list(files.values())


def _sha256(file: Path) -> str:
    return hashlib.sha256(file.read_bytes()).hexdigest()
