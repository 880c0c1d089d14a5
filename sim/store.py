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
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sim.errors import InputError

#: Points per Parquet part while the sweep runs (STANCESIM_PART_ROWS overrides it,
#: which the crash tests use to exercise part writing).
PART_ROWS = int(os.environ.get("STANCESIM_PART_ROWS", "2000"))
#: Rows per part after compaction.
COMPACT_ROWS = 250_000
MANIFEST = "manifest.json"


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
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

    # ------------------------------------------------------------- manifest
    @staticmethod
    def read_manifest(root: str | Path) -> dict[str, Any]:
        """The manifest of an existing sweep folder."""
        path = Path(root) / MANIFEST
        try:
            return dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise InputError(f"{root}: not a sweep folder (no {MANIFEST})") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: unreadable manifest ({exc})") from None

    def create(self, manifest: dict[str, Any]) -> None:
        """Start a new folder; refuse one that already holds files."""
        if self.root.exists() and any(self.root.iterdir()):
            raise InputError(
                f"{self.root}: folder is not empty; use --resume {self.root} to finish that "
                "sweep, or choose another --out"
            )
        for d in (self.points_dir, self.journal_dir):
            d.mkdir(parents=True, exist_ok=True)
        _atomic_write_text(self.root / MANIFEST, json.dumps(manifest, indent=2) + "\n")

    def update_manifest(self, **fields: Any) -> None:
        """Change fields of the manifest (atomically)."""
        manifest = self.read_manifest(self.root)
        manifest.update(fields)
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
        tmp = self.root / f".{name}.parquet.tmp"
        pq.write_table(table, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, folder / f"{name}.parquet")

    # --------------------------------------------------------------- reading
    def done_points(self) -> set[int]:
        """Points already finished (in parts or in the journal)."""
        done: set[int] = set()
        for part in sorted(self.points_dir.glob("*.parquet")):
            done.update(pq.read_table(part, columns=["point"]).column("point").to_pylist())
        for seg in sorted(self.journal_dir.glob("segment-*.jsonl")):
            done.update(r["row"]["point"] for r in _read_journal(seg))
        return done

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
            tmp = self.root / f".{name}.parquet.tmp"
            pq.write_table(chunk, tmp)
            os.replace(tmp, folder / f"{name}.parquet")
            new.append(folder / f"{name}.parquet")
        for p in old:
            if p not in new:
                p.unlink()


def _read_journal(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break  # the process was killed while writing this line
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                break


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
