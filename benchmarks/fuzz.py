"""Bad-input corpus: mutations of the shipped files, each refused cleanly or run.

    python benchmarks/fuzz.py [--seed 0] [--limit N] [--jobs 2] [--list]

Every scenario, sweep and observations file in ``scenarios/`` is mutated:
each field set to NaN, infinity, -1, 0, 1e308, a string, a list, deleted or
duplicated, plus deep nesting and huge sizes. Each mutated file goes through
``python -m sim validate`` and, when valid, a small ``run`` (-n 16), ``sweep``
or ``nowcast`` as fits its kind, in a child process with a 30 s timeout and a
3 GiB address-space limit. Each must end in a located error (exit 2, a
``file:line`` in the message, no traceback) or a valid run (exit 0).

The sweep file is first shrunk to 2 values per parameter and 16 replicates
(the shipped grid has 448 points), so that a valid mutation runs in seconds.
The counts per class are printed, then every failure.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 30.0
MEMORY = 3 * 2**30
CLASSES = ("located", "valid", "traceback", "hang", "memory", "unlocated")
FAILURES = ("traceback", "hang", "memory", "unlocated")

#: value mutations: label and the value put in place of a field
VALUES: list[tuple[str, Any]] = [
    ("nan", math.nan),
    ("inf", math.inf),
    ("-1", -1),
    ("0", 0),
    ("1e308", 1e308),
    ("string", "fuzz"),
    ("list", [1, 2]),
]
#: keys whose values are free text: mutating them tells nothing
_TEXT = {"description", "note", "name"}
#: top-level keys whose keys are ids
_COLLECTIONS = {"agents", "signals", "events", "decisions", "outcomes", "flags", "parameters"}


@dataclass(frozen=True)
class Mutation:
    """One mutated file: which shipped file, what was done, and the new text."""

    base: str  # file name in scenarios/
    kind: str  # scenario, sweep or observations
    label: str  # e.g. "agents.toner.rules.0.rate=nan"
    text: str

    @property
    def name(self) -> str:
        """A file name for the mutated text (unique per label)."""
        slug = re.sub(r"[^A-Za-z0-9_.=-]+", "_", self.label)[:80]
        return f"fuzz_{Path(self.base).stem.replace('.', '_')}__{slug}.yaml"


def _load(text: str) -> Any:
    """Plain data (dicts, lists, scalars) of a shipped file."""

    def plain(node: Any) -> Any:
        if isinstance(node, dict):
            return {str(k): plain(v) for k, v in node.items()}
        if isinstance(node, list):
            return [plain(v) for v in node]
        if isinstance(node, bool | int | float | str):
            return type(node)(node) if not isinstance(node, bool) else bool(node)
        return node if node is None else str(node)

    return plain(YAML(typ="rt").load(text))


def _dump(data: Any) -> str:
    """YAML in JSON's syntax, one value per line (fast, and every value has its own line)."""

    def fix(node: Any) -> Any:
        if isinstance(node, float) and not math.isfinite(node):
            return _SPECIAL[str(node)]
        if isinstance(node, dict):
            return {k: fix(v) for k, v in node.items()}
        if isinstance(node, list):
            return [fix(v) for v in node]
        return node

    text = json.dumps(fix(data), indent=1, ensure_ascii=False)
    for word, yaml in _YAML_SPECIAL.items():
        text = text.replace(f'"{word}"', yaml)
    return text + "\n"


_SPECIAL = {"nan": "@@nan@@", "inf": "@@inf@@", "-inf": "@@-inf@@"}
_YAML_SPECIAL = {"@@nan@@": ".nan", "@@inf@@": ".inf", "@@-inf@@": "-.inf"}


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every field path below ``node`` (mapping values and sequence items)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*path, k)
            if str(k) not in _TEXT:
                yield from _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield (*path, i)
            yield from _paths(v, (*path, i))


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


def _shrink_sweep(data: dict[str, Any]) -> None:
    """The shipped sweep, 2 values per parameter and 16 replicates (in place)."""
    for key, spec in data["parameters"].items():
        if isinstance(spec, str) and spec.count(":") == 2:
            data["parameters"][key] = spec.rsplit(":", 1)[0] + ":2"
    data["replicates"] = 16


def _kind(text: str) -> str:
    m = re.search(r"^kind:\s*(\w+)", text, re.M)
    return m[1] if m else "scenario"


def mutations() -> list[Mutation]:
    """The whole corpus, in a fixed order."""
    out: list[Mutation] = []
    seen: set[str] = set()

    def add(base: str, kind: str, label: str, text: str) -> None:
        if text not in seen:
            seen.add(text)
            out.append(Mutation(base, kind, label, text))

    shapes: set[tuple[str, str]] = set()

    def first_of_shape(kind: str, p: tuple[Any, ...]) -> bool:
        """Whether ``p`` is the first path of its shape in files of this kind.

        The same field of two agents of one kind (or of two list items) is
        checked by the same code: one of each shape is enough.
        """
        shape = []
        for n, part in enumerate(p):
            if isinstance(part, int) or (n == 1 and p[0] in _COLLECTIONS):
                node = _parent(original, (*p[: n + 1], None))
                sub = node.get("kind", "") if isinstance(node, dict) else ""
                shape.append(f"*{sub if isinstance(sub, str) else ''}")
            else:
                shape.append(str(part))
        key = (kind, ".".join(shape))
        if key in shapes:
            return False
        shapes.add(key)
        return True

    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        kind = _kind(text)
        original = _load(text)
        if kind == "sweep":
            _shrink_sweep(original)
            text = _dump(original)
        base = path.name

        def mutated(p: tuple[Any, ...], change: Any, original: Any = original) -> str:
            data = copy.deepcopy(original)
            change(_parent(data, p), p[-1])
            return _dump(data)

        for p in _paths(original):
            if not first_of_shape(kind, p):
                continue
            label = ".".join(map(str, p))
            for name, value in VALUES:

                def put(parent: Any, key: Any, value: Any = value) -> None:
                    parent[key] = copy.deepcopy(value)

                add(base, kind, f"{label}={name}", mutated(p, put))

            def delete(parent: Any, key: Any) -> None:
                del parent[key]

            def duplicate(parent: Any, key: Any) -> None:
                if isinstance(parent, list):
                    parent.insert(key, copy.deepcopy(parent[key]))

            def nest(parent: Any, key: Any) -> None:
                for _ in range(200):
                    parent[key] = [parent[key]]

            add(base, kind, f"{label} deleted", mutated(p, delete))
            add(base, kind, f"{label} duplicated", mutated(p, duplicate))
            if len(p) <= 2:  # the depth check does not depend on where
                add(base, kind, f"{label} nested 200 deep", mutated(p, nest))
        # a duplicated key: the same line twice, in the shipped text
        lines = text.splitlines(keepends=True)
        for n, line in enumerate(lines):
            if n % 4 == 0 and re.match(r'^\s*"?[A-Za-z_][\w.]*"?:\s', line):
                dup = "".join([*lines[: n + 1], line, *lines[n + 1 :]])
                add(base, kind, f"line {n + 1} duplicated", dup)
        # huge sizes
        add(base, kind, "padded past 1 MiB", text + ("#" * 99 + "\n") * 11_000)
        add(base, kind, "5000-digit integer", text + "huge: " + "7" * 5000 + "\n")
        add(base, kind, "2000 nested brackets", text + "deep: " + "[" * 2000 + "]" * 2000)
        add(base, kind, "long text", text + "long: " + "x" * 500_000 + "\n")
        for aid, agent in (original.get("agents") or {}).items():
            if isinstance(agent, dict) and "size" in agent:
                for size in (10**9, 10**30, 100_000):
                    d = copy.deepcopy(original)
                    d["agents"][aid]["size"] = size
                    add(base, kind, f"agents.{aid}.size={size}", _dump(d))
            if isinstance(agent, dict) and "positions" in agent:
                d = copy.deepcopy(original)
                more = [f"p{i}" for i in range(1_200)]
                d["agents"][aid]["positions"] = [*agent["positions"], *more]
                add(base, kind, f"agents.{aid}.positions + 1200", _dump(d))
        for key, number in (("horizon", 1e9), ("tick", 1e-6), ("tick", 1e6), ("horizon", 1e5)):
            if isinstance(original.get("clock"), dict):
                d = copy.deepcopy(original)
                d["clock"][key] = number
                add(base, kind, f"clock.{key}={number:g}", _dump(d))
        if isinstance(original.get("observations"), list):
            d = copy.deepcopy(original)
            d["observations"] = d["observations"] * 2000
            add(base, kind, "observations x2000", _dump(d))
    return out


# ------------------------------------------------------------------- running
def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def _sim(args: list[str], cwd: Path) -> tuple[str, int, str]:
    """Run ``python -m sim ARGS``; return (status, exit code, output)."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "sim", *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            cwd=cwd,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            preexec_fn=_limit,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return "hang", -1, ""
    return "done", proc.returncode, proc.stdout + proc.stderr


def classify(code: int, output: str, source: str) -> str:
    """The class of one command's ending (see :data:`CLASSES`)."""
    if "MemoryError" in output or code in (-9, -6):
        return "memory"
    if "Traceback" in output or code not in (0, 2):
        return "traceback"
    if code == 0:
        return "valid"
    located = re.search(re.escape(source) + r":\d+", output)
    # a whole-file refusal (size, not a regular file) has no line: the file is the place
    whole = re.search(re.escape(source) + r": (file is|not a regular file)", output)
    return "located" if located or whole else "unlocated"


def commands(m: Mutation, file: str, out: str) -> list[list[str]]:
    """What to run once the file validates."""
    if m.kind == "sweep":
        return [["sweep", file, "--out", out, "--jobs", "1"]]
    if m.kind == "observations":
        scenario = str(Path(file).parent / "openai_2023_11.yaml")
        obs = ["--observations", file, "--particles", "256"]
        return [["nowcast", scenario, *obs, "--at", "60"]]
    return [["run", file, "-n", "16", "--seed", "1"]]


def check_in_process(m: Mutation, workdir: Path) -> tuple[str, str]:
    """Like :func:`check`, with typer's test runner (no timeout or memory limit: tests)."""
    from typer.testing import CliRunner

    from sim.cli import app

    runner = CliRunner()
    file = workdir / m.name
    file.write_text(m.text, encoding="utf-8")
    out = workdir / (m.name + ".out")
    try:
        for cmd in [["validate", str(file)], *commands(m, str(file), str(out))]:
            res = runner.invoke(app, cmd)
            output = res.output
            code = res.exit_code
            if res.exception is not None and not isinstance(res.exception, SystemExit):
                output += f"\nTraceback: {type(res.exception).__name__}: {res.exception}"
            result = classify(code, output, file.name)
            if result != "valid":
                return result, f"{cmd[0]}: {_last(output)}"
        return "valid", ""
    finally:
        file.unlink(missing_ok=True)
        shutil.rmtree(out, ignore_errors=True)


def check(m: Mutation, workdir: Path) -> tuple[str, str]:
    """Run one mutation in ``workdir`` (a copy of scenarios/); return (class, detail)."""
    file = workdir / m.name
    file.write_text(m.text, encoding="utf-8")
    out = workdir / (m.name + ".out")
    try:
        status, code, output = _sim(["validate", file.name], workdir)
        if status == "hang":
            return "hang", "validate"
        result = classify(code, output, file.name)
        if result != "valid":
            return result, _last(output)
        for cmd in commands(m, file.name, out.name):
            status, code, output = _sim(cmd, workdir)
            if status == "hang":
                return "hang", cmd[0]
            result = classify(code, output, file.name)
            if result != "valid":
                return result, f"{cmd[0]}: {_last(output)}"
        return "valid", ""
    finally:
        file.unlink(missing_ok=True)
        shutil.rmtree(out, ignore_errors=True)


def _last(output: str) -> str:
    lines = [ln for ln in output.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def workspace() -> Path:
    """A temporary copy of scenarios/ (mutated files refer to their siblings)."""
    tmp = Path(tempfile.mkdtemp(prefix="stancesim-fuzz-"))
    for f in (ROOT / "scenarios").glob("*.yaml"):
        shutil.copy(f, tmp / f.name)
    return tmp


def sample(seed: int, limit: int | None) -> list[Mutation]:
    """The corpus, or a seeded sample of ``limit`` of it."""
    corpus = mutations()
    if limit is None or limit >= len(corpus):
        return corpus
    return random.Random(seed).sample(corpus, limit)


def main(argv: list[str] | None = None) -> int:
    """Run the corpus; exit 1 when any mutation fails."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seed", type=int, default=0, help="Seed of the sample (with --limit).")
    ap.add_argument("--limit", type=int, default=None, help="Run a sample of this many.")
    ap.add_argument("--jobs", type=int, default=2, help="Mutations checked at once.")
    ap.add_argument("--list", action="store_true", help="List the mutations and exit.")
    ap.add_argument("--file", default=None, help="Only mutations of this shipped file.")
    args = ap.parse_args(argv)
    chosen = sample(args.seed, args.limit)
    if args.file is not None:
        chosen = [m for m in chosen if m.base == Path(args.file).name]
    if args.list:
        for m in chosen:
            print(f"{m.base}: {m.label}")
        return 0
    workdir = workspace()
    counts: Counter[str] = Counter()
    failures: list[tuple[Mutation, str, str]] = []
    try:
        with ThreadPoolExecutor(args.jobs) as pool:
            for n, (m, (result, detail)) in enumerate(
                zip(chosen, pool.map(lambda m: check(m, workdir), chosen), strict=True), 1
            ):
                counts[result] += 1
                if result in FAILURES:
                    failures.append((m, result, detail))
                    print(f"fail {result}: {m.base}: {m.label}: {detail}", file=sys.stderr)
                if n % 50 == 0:
                    print(f"{n}/{len(chosen)} ...", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{len(chosen)} mutations")
    for c in CLASSES:
        print(f"  {c:10s} {counts[c]}")
    for m, result, detail in failures:
        print(f"FAIL {result}: {m.base}: {m.label}: {detail}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
