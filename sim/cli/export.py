"""``stancesim export DIR``: a sweep folder's tables as CSV."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from sim.cli.common import stderr, user_errors


def export(
    folder: Path = typer.Argument(..., help="A sweep folder (with manifest.json)."),
    csv: bool = typer.Option(True, "--csv", help="Write CSV (the only format, and the default)."),
    partial: bool = typer.Option(
        False, "--partial", help="Export an unfinished sweep's finished points (*.partial.csv)."
    ),
) -> None:
    """Write a sweep's points (and replicates, if kept) as CSV files beside them."""
    with user_errors():
        import pyarrow.csv as pcsv

        from sim.folders import hidden_name, write_error
        from sim.sweep_results import read_results

        outputs = []
        for name in ("points", "replicates"):
            src = folder / name
            if name == "replicates" and (not src.exists() or not any(src.glob("*.parquet"))):
                continue
            table, _, note = read_results(folder, partial, name)
            if note is not None and name == "points":
                stderr.print(f"warning: {note}", markup=False)
            outputs.append((name if note is None else f"{name}.partial", table, note))
        for name, table, note in outputs:
            dest = folder / f"{name}.csv"
            tmp = folder / hidden_name(f"{name}.csv.tmp")
            try:
                pcsv.write_csv(table, tmp)
                os.replace(tmp, dest)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise write_error(folder, exc, "") from None
            typer.echo(f"{dest} ({table.num_rows} rows{'' if note is None else '; ' + note})")
