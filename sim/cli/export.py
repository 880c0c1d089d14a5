"""``stancesim export DIR --csv``: a sweep folder's tables as CSV."""

from __future__ import annotations

from pathlib import Path

import typer

from sim.cli.common import user_errors
from sim.errors import InputError


def export(
    folder: Path = typer.Argument(..., help="A sweep folder (with manifest.json)."),
    csv: bool = typer.Option(False, "--csv", help="Write points.csv (and replicates.csv)."),
) -> None:
    """Write a sweep's points (and replicates, if kept) as CSV files beside them."""
    with user_errors():
        import pyarrow.csv as pcsv
        import pyarrow.parquet as pq

        from sim.store import SweepStore

        SweepStore.read_manifest(folder)
        if not csv:
            raise InputError("choose a format: --csv")
        for name in ("points", "replicates"):
            src = folder / name
            if not src.exists() or not any(src.glob("*.parquet")):
                continue
            table = pq.read_table(src)
            if "point" in table.column_names:
                table = table.sort_by([("point", "ascending")])
            dest = folder / f"{name}.csv"
            tmp = folder / f".{name}.csv.tmp"
            pcsv.write_csv(table, tmp)
            tmp.replace(dest)
            typer.echo(f"{dest} ({table.num_rows} rows)")
