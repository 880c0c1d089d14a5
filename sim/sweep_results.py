"""Reading a sweep folder for figures and exports: whole, or knowingly partial.

A reader never takes an unfinished sweep for a finished one: the manifest's
``status`` must be ``complete`` and every part it lists must match its
sha256, unless the caller asks for the finished points of a partial sweep
(``--partial``), and then the result says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from sim.errors import InputError
from sim.folders import sha256_file
from sim.store import MANIFEST, SweepStore, _dedupe, _read_parts
from sim.sweep_definition import SweepDefinition
from sim.sweeps import columns, param_types


def _verify(root: Path, manifest: dict[str, Any], again: str) -> None:
    for name, info in manifest.get("files", {}).items():
        path = root / name
        if not path.is_file():
            raise InputError(f"{path}: missing; compute its points again with: {again}")
        if sha256_file(path) != info["sha256"]:
            raise InputError(
                f"{path}: damaged (its sha256 differs from the manifest's); compute its points "
                f"again with: {again}"
            )


def read_results(
    root: str | Path, partial: bool = False, what: str = "points"
) -> tuple[pa.Table, dict[str, Any], str | None]:
    """A sweep folder's points (or replicates) table, for readers.

    Parameters
    ----------
    root : path
        The sweep folder.
    partial : bool
        Accept an unfinished sweep (its finished points).
    what : str
        ``"points"`` or ``"replicates"``.

    Returns
    -------
    table : pyarrow.Table
        Sorted, one row per point (or per point and replicate).
    manifest : dict
    note : str or None
        For an unfinished sweep, a line saying so (None when complete).

    Raises
    ------
    InputError
        The folder is not a sweep, a recorded file is missing or damaged, or
        the sweep is unfinished and ``partial`` is not set.
    """
    from sim.scenario import scenario_from_dict

    root = Path(root)
    manifest = SweepStore.read_manifest(root)
    # A sensitivity folder is a sweep store too, but only its own command can resume it.
    command = "sensitivity" if manifest.get("kind") == "sensitivity" else "sweep"
    again = f"stancesim {command} --resume {root}"
    complete = manifest.get("status") == "complete"
    if complete:
        _verify(root, manifest, again)
    try:
        if what == "replicates":
            table = _dedupe(_read_parts(root / "replicates", None), ["point", "replicate"])
        else:
            base = scenario_from_dict(manifest["base_scenario"], source=f"{root}/{MANIFEST}")
            definition = SweepDefinition.model_validate(manifest["definition"])
            types = param_types(definition, definition.point_values())
            store = SweepStore(root, columns(base, definition), types)
            table = store.table()
            if not complete:  # points not yet in a part are finished too
                both = pa.concat_tables([table, store.journal_table()], promote_options="default")
                table = _dedupe(both, "point")
    except (OSError, pa.ArrowException) as exc:
        raise InputError(
            f"{root}: a part is unreadable ({exc}); drop it and compute its points again "
            f"with: {again}"
        ) from None
    if complete:
        return table, manifest, None
    n_points = manifest.get("n_points", "?")
    done = table.num_rows if what == "points" else len(set(table.column("point").to_pylist()))
    if not partial:
        raise InputError(
            f"{root}: the sweep is partial ({done} of {n_points} points finished, manifest status "
            f"{manifest.get('status')!r}); finish it with: {again}, or add --partial to use the "
            "finished points"
        )
    return table, manifest, f"partial sweep: {done} of {n_points} points finished"
