"""A sweep's results folder: streamed, crash-safe, resumable.

Layout::

    DIR/manifest.json        what was run (resolved base scenario, definition, hashes)
    DIR/points/*.parquet     one row per finished point
    DIR/replicates/*.parquet per-replicate rows, when asked for
    DIR/.journal/*.jsonl     finished points not yet in a Parquet part

A finished point is appended to the journal at once (a whole line, flushed),
so killing the process loses at most the points in flight; a partial last
line is ignored on reading. Every ``PART_ROWS`` points the journal becomes a
Parquet part, written to a temporary file and renamed into place, so no reader
ever sees a half-written part. At the end, parts are compacted into a few
large files sorted by point. Rows are deduplicated by point on reading, which
makes every step safe to repeat after a crash.

The manifest's ``status`` is ``running`` until the last part is compacted;
then it becomes ``complete`` and lists every part with its sha256, so a folder
tells from its own files whether it is whole. Each Parquet part (in its schema
metadata) and each journal segment (in its first line) carries a copy of the
manifest, from which a deleted manifest is rebuilt on ``--resume``. A part
that cannot be read, or no longer matches its recorded hash, is dropped on
``--resume`` and its points computed again.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sim.errors import InputError
from sim.folders import clean_hidden, hidden_name, sha256_file

#: Points per Parquet part while the sweep runs (STANCESIM_PART_ROWS overrides it,
#: which the crash tests use to exercise part writing).
PART_ROWS = int(os.environ.get("STANCESIM_PART_ROWS", "2000"))
#: Rows per part after compaction.
COMPACT_ROWS = 250_000
MANIFEST = "manifest.json"
#: Key of the manifest copy in each Parquet part's schema metadata.
META_KEY = b"stancesim.manifest"
#: Manifest fields that describe the sweep (not its progress); the copies hold these.
_COPIED = (
    "stancesim_version",
    "created",
    "scenario_file",
    "base_scenario",
    "base_scenario_sha256",
    "definition",
    "definition_sha256",
    "n_points",
    "block_size",
)


class DroppedPart(UserWarning):
    """A Parquet part was unreadable or damaged; its points will be computed again."""


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(hidden_name(f"{path.name}.tmp"))
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _schema(columns: list[str], param_types: dict[str, pa.DataType]) -> pa.Schema:
    fields = []
    for c in columns:
        if c in param_types:
            fields.append(pa.field(c, param_types[c]))
        elif c == "seed":
            fields.append(pa.field(c, pa.uint64()))
        elif c in ("point", "replicates") or c.startswith("count_"):
            fields.append(pa.field(c, pa.int64()))
        elif c in ("status", "error"):
            fields.append(pa.field(c, pa.string()))
        else:
            fields.append(pa.field(c, pa.float64()))
    return pa.schema(fields)


class SweepStore:
    """Reads and writes one sweep's results folder."""

    def __init__(
        self, root: str | Path, columns: list[str], param_types: dict[str, pa.DataType]
    ) -> None:
        self.root = Path(root)
        self.columns = columns
        self.schema = _schema(columns, param_types)
        self.points_dir = self.root / "points"
        self.replicates_dir = self.root / "replicates"
        self.journal_dir = self.root / ".journal"
        self._journal: Any = None
        self._journal_rows = 0
        self._segment = 0
        #: The sweep's description, copied into every part and journal segment.
        self.copy: dict[str, Any] = {}
        #: Parts dropped by :meth:`done_points` as unreadable or damaged.
        self.dropped: list[Path] = []

    # ------------------------------------------------------------- manifest
    @staticmethod
    def read_manifest(root: str | Path, rebuild: bool = False) -> dict[str, Any]:
        """The manifest of an existing sweep folder.

        Parameters
        ----------
        root : path
            The sweep folder.
        rebuild : bool
            When ``manifest.json`` is missing, write it again from the copy in
            the parts or journal (status ``running``: only ``--resume`` can
            tell the sweep complete again).
        """
        path = Path(root) / MANIFEST
        if Path(root).exists() and not Path(root).is_dir():
            raise InputError(f"{root}: is a file, not a sweep folder")
        try:
            return dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            pass
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(
                f"{path}: unreadable manifest ({exc}); delete it and run "
                f"stancesim sweep --resume {root} to rebuild it from the parts"
            ) from None
        copy = _find_copy(Path(root))
        if copy is None:
            if (Path(root) / "points").is_dir() or (Path(root) / ".journal").is_dir():
                raise InputError(
                    f"{root}: sweep folder without {MANIFEST}, and no finished point holds a "
                    "copy of it (stopped before its first point, or written by an older "
                    "stancesim); run the sweep again with --out into a new folder"
                )
            raise InputError(f"{root}: not a sweep folder (no {MANIFEST})")
        if not rebuild:
            raise InputError(
                f"{root}: {MANIFEST} is missing; rebuild it from the sweep's own files "
                f"(and finish the sweep) with: stancesim sweep --resume {root}"
            )
        manifest = {**copy, "status": "running", "rebuilt": True}
        _atomic_write_text(path, json.dumps(manifest, indent=2) + "\n")
        return manifest

    def create(self, manifest: dict[str, Any]) -> None:
        """Start a new folder; refuse one that already holds files."""
        if self.root.exists() and not self.root.is_dir():
            raise InputError(f"--out {self.root}: is a file, not a folder; choose a folder")
        clean_hidden(self.root)  # a writer killed before its first manifest left only these
        if (self.root / "run.json").exists():
            raise InputError(
                f"--out {self.root}: is a run folder (stancesim run --out); choose another --out"
            )
        if self.root.exists() and any(self.root.iterdir()):
            raise InputError(
                f"{self.root}: folder is not empty; use --resume {self.root} to finish that "
                "sweep, or choose another --out"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        _atomic_write_text(self.root / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        self.copy = {k: manifest[k] for k in _COPIED if k in manifest}
        for d in (self.points_dir, self.journal_dir):
            d.mkdir(parents=True, exist_ok=True)

    def adopt(self, manifest: dict[str, Any]) -> None:
        """Copy an existing sweep's description into the parts written from now on."""
        self.copy = {k: manifest[k] for k in _COPIED if k in manifest}

    def update_manifest(self, **fields: Any) -> None:
        """Change fields of the manifest (atomically); a field set to None is removed."""
        manifest = self.read_manifest(self.root)
        manifest.update(fields)
        manifest = {k: v for k, v in manifest.items() if v is not None}
        _atomic_write_text(self.root / MANIFEST, json.dumps(manifest, indent=2) + "\n")

    # --------------------------------------------------------------- writing
    def open(self) -> None:
        """Open a fresh journal segment for appending."""
        self.journal_dir.mkdir(parents=True, exist_ok=True)
        self.points_dir.mkdir(parents=True, exist_ok=True)
        existing = [int(p.stem.split("-")[1]) for p in self.journal_dir.glob("segment-*.jsonl")]
        self._segment = max(existing, default=-1) + 1
        self._journal = open(
            self.journal_dir / f"segment-{self._segment:06d}.jsonl", "a", encoding="utf-8"
        )
        if self.copy:
            self._journal.write(json.dumps({"manifest": self.copy}, separators=(",", ":")) + "\n")
            self._journal.flush()
        self._journal_rows = 0

    def append(self, result: dict[str, Any]) -> None:
        """Record one finished point (durable against the process being killed)."""
        self._journal.write(json.dumps(result, allow_nan=True, separators=(",", ":")) + "\n")
        self._journal.flush()
        self._journal_rows += 1
        if self._journal_rows >= PART_ROWS:
            self.close()
            self.fold_journal()
            self.open()

    def close(self) -> None:
        """Close the current journal segment."""
        if self._journal is not None:
            self._journal.flush()
            os.fsync(self._journal.fileno())
            self._journal.close()
            self._journal = None

    def fold_journal(self) -> None:
        """Turn closed journal segments into Parquet parts."""
        for seg in sorted(self.journal_dir.glob("segment-*.jsonl")):
            results = list(_read_journal(seg))
            if results:
                stamp = f"{time.time_ns()}-{seg.stem}"
                self._write_part(
                    self.points_dir, f"part-{stamp}", [r["row"] for r in results], self.schema
                )
                reps = [r["replicates"] for r in results if "replicates" in r]
                if reps:
                    self._write_part(
                        self.replicates_dir, f"part-{stamp}", _replicate_rows(reps), None
                    )
            seg.unlink()

    def _write_part(
        self, folder: Path, name: str, rows: list[dict[str, Any]], schema: pa.Schema | None
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if schema is not None:
            table = pa.Table.from_pylist([_clean(r, self.columns) for r in rows], schema=schema)
        else:
            table = pa.Table.from_pylist(rows)
        tmp = self.root / hidden_name(f"{name}.parquet.tmp")
        pq.write_table(self._with_copy(table), tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, folder / f"{name}.parquet")

    # --------------------------------------------------------------- reading
    def _with_copy(self, table: pa.Table) -> pa.Table:
        if not self.copy:
            return table
        meta = dict(table.schema.metadata or {})
        meta[META_KEY] = json.dumps(self.copy, separators=(",", ":")).encode()
        return table.replace_schema_metadata(meta)

    def done_points(self, expected: dict[str, Any] | None = None) -> set[int]:
        """Points already finished (in parts or in the journal).

        Parts that cannot be read, or differ from their sha256 in ``expected``
        (the ``files`` of a complete manifest), are deleted (listed in
        :attr:`dropped`, with a :class:`DroppedPart` warning): their points
        are not done, so they are computed again. With per-replicate rows
        kept, a point also needs its replicate rows to count as done.
        """
        expected = expected or {}
        done: set[int] = set()
        self._ok_points: set[int] = set()
        self._rep_points: set[int] = set()
        for part in sorted(self.points_dir.glob("*.parquet")):
            table = self._readable(part, expected)
            if table is not None:
                points = table.column("point").to_pylist()
                done.update(points)
                status = table.column("status").to_pylist()
                self._ok_points.update(
                    p for p, st in zip(points, status, strict=True) if st == "ok"
                )
        for seg in sorted(self.journal_dir.glob("segment-*.jsonl")):
            for r in _read_journal(seg):
                done.add(r["row"]["point"])
                if r["row"].get("status") == "ok":
                    self._ok_points.add(r["row"]["point"])
                if "replicates" in r:
                    self._rep_points.add(r["row"]["point"])
        if self.replicates_dir.exists():
            for part in sorted(self.replicates_dir.glob("*.parquet")):
                table = self._readable(part, expected)
                if table is not None:
                    self._rep_points.update(table.column("point").to_pylist())
            # a finished point whose replicate rows were dropped is run again
            done -= self._ok_points - self._rep_points
        return done

    def _readable(self, part: Path, expected: dict[str, Any]) -> pa.Table | None:
        name = part.relative_to(self.root).as_posix()
        try:
            if name in expected and sha256_file(part) != expected[name]["sha256"]:
                raise ValueError("does not match its sha256 in the manifest")
            return pq.read_table(part)
        except (OSError, ValueError, pa.ArrowException) as exc:
            part.unlink(missing_ok=True)
            self.dropped.append(part)
            warnings.warn(
                f"{part}: unreadable or damaged ({exc}); dropped, its points are computed again",
                DroppedPart,
                stacklevel=2,
            )
            return None

    def drop_partial_views(self) -> None:
        """Remove the views of the unfinished sweep, stale once it is complete.

        ``export --partial`` wrote ``*.partial.csv`` beside the parts, and
        ``plot sweep --partial`` figures marked partial (their ``.json`` says
        so) into ``plots/``. Other files are the user's, and stay.
        """
        for name in ("points", "replicates"):
            (self.root / f"{name}.partial.csv").unlink(missing_ok=True)
        plots = self.root / "plots"
        for data in sorted(plots.glob("*.json")) if plots.is_dir() else []:
            try:
                shown = json.loads(data.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(shown, dict) and "partial" in shown:
                for ext in (".png", ".svg", ".json"):
                    data.with_suffix(ext).unlink(missing_ok=True)

    def files_record(self) -> dict[str, dict[str, Any]]:
        """Every Parquet part with its sha256 and size (for a complete manifest)."""
        out = {}
        for folder in (self.points_dir, self.replicates_dir):
            for p in sorted(folder.glob("*.parquet")) if folder.exists() else []:
                out[p.relative_to(self.root).as_posix()] = {
                    "sha256": sha256_file(p),
                    "bytes": p.stat().st_size,
                }
        return out

    def journal_table(self) -> pa.Table:
        """Finished points still in the journal (read only, for a partial view)."""
        rows = [
            _clean(r["row"], self.columns)
            for seg in sorted(self.journal_dir.glob("segment-*.jsonl"))
            for r in _read_journal(seg)
        ]
        return pa.Table.from_pylist(rows, schema=self.schema)

    def failures(self) -> int:
        """Number of finished points that failed."""
        table = self.table()
        return sum(1 for s in table.column("status").to_pylist() if s != "ok")

    def table(self) -> pa.Table:
        """All finished points, one row each, sorted by point."""
        return _dedupe(_read_parts(self.points_dir, self.schema), "point")

    def compact(self) -> None:
        """Fold the journal, then rewrite all parts as a few large files sorted by point."""
        self.close()
        self.fold_journal()
        self._compact_dir(self.points_dir, "point", self.schema)
        if self.replicates_dir.exists():
            self._compact_dir(self.replicates_dir, ["point", "replicate"], None)
        if self.journal_dir.exists() and not any(self.journal_dir.iterdir()):
            self.journal_dir.rmdir()

    def _compact_dir(self, folder: Path, key: str | list[str], schema: pa.Schema | None) -> None:
        old = sorted(folder.glob("*.parquet"))
        if not old:
            return
        table = _dedupe(_read_parts(folder, schema), key)
        n_parts = max(1, math.ceil(table.num_rows / COMPACT_ROWS))
        stamp = time.time_ns()
        new = []
        for i in range(n_parts):
            name = (
                f"points-{stamp}-{i:05d}" if schema is not None else f"replicates-{stamp}-{i:05d}"
            )
            chunk = table.slice(i * COMPACT_ROWS, COMPACT_ROWS)
            tmp = self.root / hidden_name(f"{name}.parquet.tmp")
            pq.write_table(self._with_copy(chunk), tmp)
            os.replace(tmp, folder / f"{name}.parquet")
            new.append(folder / f"{name}.parquet")
        for p in old:
            if p not in new:
                p.unlink()


def _read_journal(path: Path) -> Iterator[dict[str, Any]]:
    for entry in _journal_lines(path):
        if "row" in entry:
            yield entry


def _journal_lines(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break  # the process was killed while writing this line
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                break


def _find_copy(root: Path) -> dict[str, Any] | None:
    """The manifest copy held by any part or journal segment of ``root``."""
    for part in sorted((root / "points").glob("*.parquet")):
        try:
            meta = pq.read_schema(part).metadata or {}
        except (OSError, pa.ArrowException):
            continue
        if META_KEY in meta:
            return dict(json.loads(meta[META_KEY]))
    for seg in sorted((root / ".journal").glob("segment-*.jsonl")):
        try:
            first = next(_journal_lines(seg), None)
        except (OSError, UnicodeDecodeError):
            continue
        if first is not None and "manifest" in first:
            return dict(first["manifest"])
    return None


def _read_parts(folder: Path, schema: pa.Schema | None) -> pa.Table:
    parts = sorted(folder.glob("*.parquet"))
    if not parts:
        return schema.empty_table() if schema is not None else pa.table({})
    return pa.concat_tables([pq.read_table(p) for p in parts], promote_options="default")


def _dedupe(table: pa.Table, key: str | list[str]) -> pa.Table:
    if table.num_rows == 0:
        return table
    keys = [key] if isinstance(key, str) else key
    order = table.sort_by([(k, "ascending") for k in keys])
    cols = [order.column(k).to_numpy() for k in keys]
    import numpy as np

    keep = np.ones(order.num_rows, dtype=bool)
    same = np.ones(order.num_rows - 1, dtype=bool)
    for c in cols:
        same &= c[1:] == c[:-1]
    keep[1:] = ~same
    return order.filter(pa.array(keep))


def _replicate_rows(reps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for r in reps:
        for k, (o, t) in enumerate(zip(r["outcome"], r["time"], strict=True)):
            rows.append({"point": r["point"], "replicate": k, "outcome": o, "time": t})
    return rows


def _clean(row: dict[str, Any], columns: list[str]) -> dict[str, Any]:
    out = {}
    for c in columns:
        v = row.get(c)
        if isinstance(v, dict | list):
            v = json.dumps(v, sort_keys=True)
        out[c] = v
    return out
