"""``stancesim report``: a run, sweep, sensitivity or backtest folder as one HTML page to share.

The page (:mod:`sim.report_html`) holds the scenario's premises and
assumptions (the comments of its file, :mod:`sim.report_premises`), the
outcome table with its intervals, the figures as inline SVG, the sensitivity
ranking and discovery boxes when there are any, and the provenance. It is
read from folders only through their own readers and checks
(:func:`sim.folders.check_complete`, :func:`sim.sweep_results.read_results`),
so an incomplete folder is refused exactly as ``plot`` refuses it. Figures
come from :mod:`sim.figures` (and the sensitivity and discovery modules).

Run folders keep the scenario file verbatim as ``scenario.source.yaml`` (see
:func:`run_record` and :func:`sim.folders.keeping`); a folder written before
that, and a sweep whose scenario file has changed since, get a note instead.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from sim.errors import InputError
from sim.report_html import Details, Figure, Section, Table, Text, figure_svg, premises_section

#: The scenario file, verbatim, in a run folder.
SOURCE_NAME = "scenario.source.yaml"
KINDS = ("run", "sweep", "sensitivity", "backtest")


def command_line() -> str | None:
    """The command line of this process when it is the stancesim program, else None.

    Under a test runner or in a notebook ``sys.argv`` is someone else's, and
    recording it would be wrong.
    """
    prog = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if prog is None:
        return None
    if prog.name == "stancesim" or (prog.name == "__main__.py" and prog.parent.name == "sim"):
        return shlex.join(["stancesim", *sys.argv[1:]])
    return None


def now_utc() -> str:
    """The time now, UTC, as ``2024-01-31T12:00:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def run_record() -> dict[str, Any]:
    """What a run folder's ``run.json`` records of how it was made: date and command line."""
    return {"created": now_utc(), "command": command_line()}


# ------------------------------------------------------------- what it is
def detect(path: Path) -> str:
    """``run``, ``sweep``, ``sensitivity``, ``backtest`` or ``scenario`` (a file).

    Raises
    ------
    InputError
        ``path`` is none of these.
    """
    if path.is_file():
        return "scenario"
    if not path.is_dir():
        raise InputError(f"{path}: no such file or folder")
    if (path / "run.json").exists() or (path / "replicates.parquet").exists():
        return "run"
    if (path / "manifest.json").exists() or (path / "points").is_dir():
        from sim.store import SweepStore

        manifest = SweepStore.read_manifest(path)
        return "sensitivity" if manifest.get("kind") == "sensitivity" else "sweep"
    if (path / "backtest.json").exists():
        return "backtest"
    raise InputError(
        f"{path}: not a run, sweep, sensitivity or backtest folder (no run.json, manifest.json "
        "or backtest.json); give a folder written by stancesim run --out, sweep --out, "
        "sensitivity --out or backtest --out, or a scenario file"
    )


# -------------------------------------------------------------- premises
def _premises(text: str | None, name: str, notes: list[str]) -> Section:
    from sim.report_premises import read_premises
    from sim.yamlio import load_text

    parsed = None
    if text is not None:
        try:
            parsed = read_premises(text, load_text(text, name).data)
        except InputError as exc:
            notes.append(f"{name}: its comments could not be read ({exc})")
    return premises_section(parsed, text, notes)


def _source_hash(text: str, name: str) -> str | None:
    from sim.scenario import validate_data
    from sim.yamlio import load_text

    try:
        return validate_data(load_text(text, name)).sha256()
    except InputError:
        return None


def _sweep_source(manifest: dict[str, Any]) -> tuple[str | None, list[str]]:
    """A sweep's scenario file, if it is still on disk and still gives the sweep's scenario."""
    name = manifest.get("scenario_file")
    if not name:
        return None, ["This folder records no scenario file, so its comments are not shown."]
    try:
        text = Path(name).read_text(encoding="utf-8")
    except OSError:
        return None, [
            f"The scenario file {name} is not at hand (sweep folders record its path, not its "
            "text), so its premises and assumptions are not shown."
        ]
    if _source_hash(text, name) != manifest.get("base_scenario_sha256"):
        return None, [
            f"{name} no longer gives this folder's base scenario (it was changed since, or the "
            "sweep used --set), so its comments are not shown; the resolved scenario is below."
        ]
    return text, [f"Read from {name}, which still gives this folder's scenario hash."]


# ------------------------------------------------------------------- runs
def _outcome_table(summary: dict[str, Any], clock: Any) -> Table:
    from sim.clocktime import format_time
    from sim.stats import fixed

    rows = []
    for name, o in summary["outcomes"].items():
        if name == "unresolved" and o["count"] == 0:
            continue
        span = "—" if o["time_q10"] is None else f"{o['time_q10']:.0f}–{o['time_q90']:.0f} h"
        ci = f"[{fixed(o['ci95'][0])}, {fixed(o['ci95'][1])}]"
        rows.append(
            [name, fixed(o["p"]), ci, str(o["count"]), format_time(clock, o["time_median"]), span]
        )
    headers = ["outcome", "P", "95% CI", "count", "median time", "10–90% range"]
    return Table(headers, rows, {1, 2, 3, 5})


def _agent_table(summary: dict[str, Any], clock: Any) -> Table:
    from sim.clocktime import format_time
    from sim.stats import fixed

    rows = [
        [aid, fixed(a["p_switch"]), format_time(clock, a["switch_time_median"])]
        for aid, a in summary["agents"].items()
    ]
    return Table(["agent", "P(switch)", "median switch time"], rows, {1})


def run_sections(
    result: Any, source: str | None, notes: list[str], resolved: bool
) -> list[Section]:
    """Premises, outcomes and figures of a run (a :class:`~sim.results.RunResult`)."""
    from sim import figures
    from sim.yamlio import dump

    summary = result.summary()
    clock = result.scenario.clock
    prem = _premises(source, SOURCE_NAME, notes)
    if resolved:
        prem.blocks.append(
            Details(
                "The resolved scenario (every default filled in)", dump(result.scenario.canonical())
            )
        )
    out = Section(
        "Outcomes",
        [
            Text(
                f"{summary['replicates']:,} replicates. P is the share of replicates that ended "
                "this way; intervals are 95% Wilson intervals; times are the median and the "
                "10–90% range of when it happened."
            ),
            _outcome_table(summary, clock),
            Section("Agents", [_agent_table(summary, clock)]),
        ],
    )
    figs = Section("Figures")
    fig, _ = figures.figure_time_to_outcome(result)
    figs.blocks.append(Figure("When each ending happens (cumulative incidence).", figure_svg(fig)))
    if result.trajectories is not None:
        fig, _ = figures.figure_trajectories(result)
        figs.blocks.append(
            Figure(
                "The first population's support, and when each individual switched.",
                figure_svg(fig),
            )
        )
    return [out, figs, prem]  # the answer first, what it rests on after


def run_provenance(summary: dict[str, Any], record: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Version, seed, scenario hash, command line and date of a run."""
    record = record or {}
    command = (
        record.get("command")
        or "not recorded (by this folder, or not run by the stancesim command)"
    )
    prov = [
        ("scenario", str(summary["scenario"])),
        ("stancesim version", str(summary["version"])),
        ("seed", str(summary["seed"])),
        ("replicates", f"{summary['replicates']:,}"),
        ("scenario sha256", str(summary["scenario_sha256"])),
        ("command line", command),
        ("date", record.get("created") or "not recorded by this folder"),
    ]
    if summary.get("processes"):
        prov.append(("processes", json.dumps(summary["processes"])))
    return prov


# ------------------------------------------------------------------ report
def _page(title: str, lead: str, prov: list[tuple[str, str]], sections: list[Section]) -> str:
    from sim._version import __version__
    from sim.report_html import render

    made = command_line() or "stancesim report (from Python or a test)"
    prov = [*prov, ("report made", f"{now_utc()} by stancesim {__version__}: {made}")]
    return render(title, lead, prov, sections)


def report_run(result: Any, source: str | None, record: dict[str, Any] | None, where: str) -> str:
    """The page of a run: a :class:`~sim.results.RunResult` with its scenario file's text.

    Parameters
    ----------
    result : RunResult
    source : str or None
        The scenario file, verbatim (None: not kept; the page says so).
    record : dict or None
        ``created`` and ``command`` (a run folder's ``run.json``).
    where : str
        The folder or file the run came from, for the lead line.
    """
    notes: list[str] = []
    if source is None:
        notes.append(
            f"This run folder does not keep its scenario file ({SOURCE_NAME}: it was written "
            "before stancesim kept it, or from Python), so the premises and assumptions written "
            "as comments are not shown. The resolved scenario (without comments) is below."
        )
    elif _source_hash(source, SOURCE_NAME) != result.scenario_sha256:
        notes.append(
            "The run changed this file's values with --set (see the command line), so some "
            "values below differ from those that ran; the resolved scenario is at the end."
        )
    summary = result.summary()
    sections = run_sections(result, source, notes, resolved=bool(notes))
    name = result.scenario.name
    lead = f"A run of {name}: {summary['replicates']:,} replicates, from {where}."
    if result.scenario.description:
        lead += f" {result.scenario.description.strip()}"
    return _page(f"stancesim report: {name}", lead, run_provenance(summary, record), sections)


def report_folder(root: Path, partial: bool = False, discoveries: list[Path] | None = None) -> str:
    """The page of a run, sweep, sensitivity or backtest folder.

    Parameters
    ----------
    root : Path
    partial : bool
        Accept an unfinished sweep or sensitivity folder (its finished points; marked).
    discoveries : list of Path, optional
        Discovery folders (``stancesim discover --out``) to add; complete discovery
        folders directly inside ``root`` are added too.

    Raises
    ------
    InputError
        ``root`` is none of these, or incomplete (as every reader refuses it).
    """
    kind = detect(root)
    if kind == "scenario":
        raise InputError(f"{root}: a file; give a folder (or run it: stancesim report FILE)")
    extra = [Path(d) for d in discoveries or []]
    if kind == "run":
        return _report_run_folder(root)
    if kind == "backtest":
        from sim.report_sweeps import backtest_sections

        sections, _ = backtest_sections(root)
        note = (
            "Backtest folders do not record their scenario, so its premises are not shown here; "
            "a report of the scenario itself: stancesim report SCENARIO_FILE -o report.html"
        )
        sections.append(Section("Premises and assumptions", [Text(note, "warn")]))
        prov = [
            ("folder", str(root)),
            (
                "seed, scenario, version",
                "not recorded by backtest folders (see the figure's "
                "footnote for the scenario and version)",
            ),
            ("command line", "not recorded by backtest folders"),
            (
                "date",
                time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ", time.gmtime((root / "backtest.json").stat().st_mtime)
                )
                + " (when backtest.json was written)",
            ),
        ]
        lead = f"A backtest: the nowcast scored against the realised outcome, from {root}."
        return _page("stancesim report: backtest", lead, prov, sections)
    return _report_sweep_folder(root, kind, partial, extra)


def _report_run_folder(root: Path) -> str:
    from sim.folders import check_complete
    from sim.results import RunResult

    record = check_complete(root, "run")
    result = RunResult.read(root)
    source = None
    if SOURCE_NAME in record.get("files", {}):
        source = (root / SOURCE_NAME).read_text(encoding="utf-8")
    return report_run(result, source, record, str(root))


def _report_sweep_folder(root: Path, kind: str, partial: bool, extra: list[Path]) -> str:
    from sim.report_sweeps import (
        discovery_section,
        find_discoveries,
        read_sensitivity,
        sensitivity_section,
        sweep_provenance,
        sweep_sections,
    )
    from sim.sweep_results import read_results
    from sim.yamlio import dump

    table, manifest, note = read_results(root, partial)
    sens = read_sensitivity(root) if kind == "sensitivity" else None
    boxes = [discovery_section(d) for d in [*extra, *find_discoveries(root)]]
    source, notes = _sweep_source(manifest)
    prem = _premises(source, str(manifest.get("scenario_file")), notes)
    if source is None:
        prem.blocks.append(
            Details(
                "The resolved base scenario (every default filled in)",
                dump(manifest["base_scenario"]),
            )
        )
    sections = []
    if sens is not None:
        sections.append(sensitivity_section(sens, list(manifest["base_scenario"]["outcomes"])))
    sections += boxes
    sections += [*sweep_sections(table, manifest, note), prem]
    name = manifest["base_scenario"].get("name")
    params = ", ".join(manifest["definition"]["parameters"])
    what = "A sensitivity analysis" if kind == "sensitivity" else "A sweep"
    lead = f"{what} of {name} over {params}, from {root}."
    return _page(
        f"stancesim report: {name} ({kind})", lead, sweep_provenance(manifest, root), sections
    )


def write_atomic(text: str, out: Path) -> Path:
    """Write ``out`` whole: a hidden temporary file beside it, synced, then renamed.

    Raises
    ------
    InputError
        ``out`` is a folder, or its folder cannot be written.
    """
    from sim.folders import clean_hidden, hidden_name, write_error

    out = Path(out)
    if out.is_dir():
        raise InputError(f"-o {out}: is a folder; give a file name such as {out}/report.html")
    parent = out.parent if str(out.parent) else Path(".")
    tmp = parent / hidden_name(out.name)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        clean_hidden(parent)
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except OSError as exc:
        raise write_error(out, exc, "-o ") from None
    finally:
        tmp.unlink(missing_ok=True)
    return out
