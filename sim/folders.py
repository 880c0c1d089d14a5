"""Results folders that are either complete or plainly incomplete.

A folder written by ``run --out`` or ``calibrate --out`` is built beside its
target, as ``DIR.tmp-PID-XXXX``; its last file is ``run.json`` (status, and
every file's relative name and sha256); only then does it take the name
``DIR``. With ``--overwrite`` the old ``DIR`` is first renamed to
``DIR.old-PID-XXXX`` and deleted after the new one is in place, so no moment
exists where a half-written folder carries the name ``DIR``. Readers call
:func:`check_complete`, which refuses a folder whose ``run.json`` is missing,
not complete, or does not match the files.

Temporary names carry the writer's process id, so that the next start can
delete what a killed process left behind (:func:`clean_stale`) without
touching the work of one still running.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sim._version import __version__
from sim.errors import InputError

MARKER = "run.json"
#: Prefix of hidden temporary files and folders written inside a folder.
HIDDEN = ".stancesim-"
_PID = re.compile(r"^(?P<pid>\d+)-")


# -------------------------------------------------------------- ownership
def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (unknown counts as running)."""
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # e.g. another user's process
    try:  # a killed child its parent has not reaped yet is a zombie: dead
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _owner(rest: str) -> int | None:
    m = _PID.match(rest)
    return int(m.group("pid")) if m else None


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def clean_stale(target: Path) -> list[Path]:
    """Delete what killed writers of ``target`` left behind; return what was removed.

    That is ``target.tmp-PID-*`` and ``target.old-PID-*`` beside it, and hidden
    ``.stancesim-PID-*`` entries inside it, whose process ``PID`` is dead. When
    a writer died between moving the old folder aside and moving the new one in,
    the old folder is put back rather than deleted.
    """
    removed: list[Path] = []
    target = Path(target)
    parent = target.parent
    if parent.is_dir():
        for kind in ("tmp", "old"):
            prefix = f"{target.name}.{kind}-"
            for p in sorted(parent.glob(f"{_glob_escape(prefix)}*")):
                pid = _owner(p.name[len(prefix) :])
                if pid is None or pid_alive(pid):
                    continue
                if kind == "old" and not target.exists():
                    try:
                        os.rename(p, target)
                        continue
                    except OSError:
                        pass
                _remove(p)
                removed.append(p)
    removed += clean_hidden(target)
    return removed


def clean_hidden(folder: Path) -> list[Path]:
    """Delete hidden ``.stancesim-PID-*`` entries of ``folder`` whose writer is dead."""
    removed = []
    if Path(folder).is_dir():
        for p in sorted(Path(folder).glob(f"{HIDDEN}*")):
            pid = _owner(p.name[len(HIDDEN) :])
            if pid is not None and not pid_alive(pid):
                _remove(p)
                removed.append(p)
    return removed


def hidden_name(stem: str) -> str:
    """Name of a hidden temporary entry owned by this process."""
    return f"{HIDDEN}{os.getpid()}-{stem}"


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


# ----------------------------------------------------------------- writing
def write_error(out: Path | str, exc: OSError, option: str = "--out ") -> InputError:
    """A user error for a folder that cannot be written (read-only, full disk, ...)."""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        reason = "no space left on the device"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = "permission denied (read-only folder or file system)"
    return InputError(f"{option}{out}: cannot write there: {reason}; nothing was written")


def check_target(out: Path, overwrite: bool, inputs: tuple[Path, ...] = ()) -> None:
    """Refuse an ``--out`` that cannot take a new results folder, before any work.

    Raises
    ------
    InputError
        ``out`` is a file, a non-empty folder (unless ``overwrite``; never one
        holding one of ``inputs``), or read-only.
    """
    if not Path(os.path.abspath(out)).name:
        raise InputError(f"--out {out}: choose a folder below the file system's root")
    here = Path.cwd().resolve()
    if Path(out).resolve() in (here, *here.parents):
        raise InputError(f"--out {out}: is the current folder (or holds it); choose a subfolder")
    clean_stale(Path(os.path.abspath(out)))
    out = Path(out)
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise InputError(f"--out {out}: is a file, not a folder; choose a folder")
        if any(out.iterdir()) and not overwrite:
            raise InputError(
                f"--out {out}: folder is not empty; add --overwrite to replace it "
                "(its files are deleted), or choose another --out"
            )
        held = [i for i in inputs if out.resolve() in Path(i).resolve().parents]
        if held and overwrite:
            raise InputError(
                f"--out {out}: holds the input {held[0]}, which --overwrite would delete; "
                "choose another --out"
            )
        if not os.access(out, os.W_OK):
            raise InputError(f"--out {out}: folder is read-only; nothing was written")
    for parent in out.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"--out {out}: {parent} is a file, not a folder")
            if not os.access(parent, os.W_OK):
                raise InputError(f"--out {out}: {parent} is read-only; nothing was written")
            break


def _make_temp(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    while True:  # not tempfile.mkdtemp: its mode 0700 would stay on the published folder
        tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            tmp.mkdir()
            return tmp
        except FileExistsError:
            continue


@contextmanager
def building(out: Path | str, overwrite: bool, kind: str) -> Iterator[Path]:
    """Give a fresh folder beside ``out`` to fill; seal it and move it into place.

    Parameters
    ----------
    out : Path
        The results folder to (re)place.
    overwrite : bool
        Replace a non-empty ``out``.
    kind : str
        What wrote the folder (``"run"``, ``"calibration"``), recorded in ``run.json``.

    Yields
    ------
    Path
        The temporary folder; on leaving the block without an error it gets
        ``run.json`` and becomes ``out``. On an error (or an interrupt) it is
        deleted and ``out`` is left as it was.
    """
    check_target(Path(out), overwrite)
    target = Path(os.path.abspath(out))  # "." has no name to put a sibling beside
    try:
        tmp = _make_temp(target)
    except OSError as exc:
        raise write_error(out, exc) from None
    try:
        yield tmp
        seal(tmp, kind)
        publish(tmp, target, overwrite)
    except OSError as exc:
        raise write_error(out, exc) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


#: Files (name -> bytes) and ``run.json`` fields that folders sealed in this context also get.
_KEPT: ContextVar[tuple[dict[str, bytes], dict[str, Any]]] = ContextVar(
    "stancesim_kept", default=({}, {})
)


@contextmanager
def keeping(files: dict[str, bytes], **fields: Any) -> Iterator[None]:
    """Folders sealed inside this block also hold ``files`` and record ``fields`` in ``run.json``.

    ``stancesim run --out`` keeps the scenario file verbatim
    (``scenario.source.yaml``, its comments being the premises) and its command
    line this way: the run's writer (:meth:`sim.results.RunResult.write`) knows
    neither. The files are written before the seal, so they are listed and hashed.
    """
    token = _KEPT.set(({**_KEPT.get()[0], **files}, {**_KEPT.get()[1], **fields}))
    try:
        yield
    finally:
        _KEPT.reset(token)


def seal(folder: Path, kind: str) -> dict[str, Any]:
    """Write ``run.json`` listing every file of ``folder`` with its sha256 (and kept files)."""
    kept, fields = _KEPT.get()
    for name, data in kept.items():
        (folder / name).write_bytes(data)
    files = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != MARKER:
            with open(p, "rb") as f:
                os.fsync(f.fileno())  # the data is on disk before the marker says so
            files[p.relative_to(folder).as_posix()] = {
                "sha256": sha256_file(p),
                "bytes": p.stat().st_size,
            }
    record = {
        "kind": kind,
        "status": "complete",
        "stancesim_version": __version__,
        **fields,
        "files": files,
    }
    tmp = folder / f".{MARKER}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(record, indent=2) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, folder / MARKER)
    return record


def publish(tmp: Path, out: Path, overwrite: bool) -> None:
    """Give the finished folder ``tmp`` the name ``out`` (see the module notes)."""
    old = None
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise InputError(f"--out {out}: folder is not empty (written meanwhile by another)")
        old = out.with_name(f"{out.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
        os.rename(out, old)
    try:
        # rename(2) replaces an empty folder and refuses a non-empty one, so a
        # folder filled by someone else meanwhile is never mixed with this one
        os.rename(tmp, out)
    except BaseException as exc:
        if old is not None and not out.exists():
            os.rename(old, out)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            raise InputError(
                f"--out {out}: folder is not empty (written meanwhile by another)"
            ) from None
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ----------------------------------------------------------------- reading
def check_complete(folder: Path, kind: str = "run", verify: bool = True) -> dict[str, Any]:
    """The ``run.json`` of a complete folder; :class:`InputError` for anything else.

    Parameters
    ----------
    folder : Path
        A folder written by ``run --out`` (or ``calibrate --out``).
    kind : str
        The kind expected.
    verify : bool
        Check every listed file's sha256 (not only that it exists).
    """
    folder = Path(folder)
    how = f"write it again with stancesim {kind if kind == 'run' else 'calibrate'} --out {folder}"
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    marker = folder / MARKER
    if not marker.is_file() and (folder / "manifest.json").is_file():
        # a sweep or sensitivity folder: its own commands read it (no advice to overwrite it)
        raise InputError(
            f"{folder}: is a sweep (or sensitivity) folder, not a {kind} folder; draw it with "
            "stancesim plot sweep, or give a run --out folder"
        )
    if not marker.is_file():
        raise InputError(
            f"{folder}: incomplete {kind} folder: no {MARKER} (the writer was stopped before it "
            f"finished, or the folder was not written by this version of stancesim); {how} "
            "--overwrite"
        )
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
        files = dict(record["files"])
        status = record["status"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{marker}: unreadable ({exc}); {how} --overwrite") from None
    if record.get("kind", "run") != kind:
        raise InputError(f"{folder}: a {record.get('kind')} folder, not a {kind} folder")
    if status != "complete":
        raise InputError(f"{folder}: incomplete {kind} folder (status {status!r} in {MARKER})")
    for name, info in files.items():
        path = folder / name
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise InputError(f"{marker}: file name {name!r} points outside the folder")
        if not path.is_file():
            raise InputError(f"{folder}: incomplete {kind} folder: {name} is missing; {how}")
        if verify and sha256_file(path) != info["sha256"]:
            raise InputError(
                f"{path}: does not match its sha256 in {MARKER} (changed or damaged after "
                f"it was written); {how} --overwrite"
            )
    return dict(record)
