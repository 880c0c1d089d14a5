"""A population on a graph: the ``network`` of a population, its edge-list files and checks.

A network is either drawn by a ``networkx`` generator from an allow-list
(:data:`GENERATORS`), once from ``graph_seed`` (or, with
``fresh_graph_per_replicate: true``, once per replicate from the replicate's
own stream), or read from an edge-list file (relative to the scenario file).
Each generator has a model of its own, so a bad parameter is reported at its
own field; what depends on the population's size (``k < size``, block sizes
adding up to it, a node of the file outside it) is checked on the raw mapping
by :func:`network_problems`, which :mod:`sim.scenario.references` runs.

Edge-list files are read relative to the directory that
:func:`files_relative_to` sets while a scenario file is validated (the
working directory otherwise). The path is resolved when the scenario is
validated and kept with the file's sha256, so that a resolved scenario (a
sweep's manifest) reads the same file anywhere and notices when it changed.
"""

import hashlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self, Union

import numpy as np
from pydantic import Discriminator, Field, Tag, create_model, field_validator, model_validator

from sim.scenario.base import Strict

Array = np.ndarray[Any, Any]
Loc = tuple[str | int, ...]

#: Most undirected edges a graph may have (its sparse matrix holds each twice).
MAX_EDGES = 5_000_000
#: Most edges of a graph drawn afresh for every replicate: a block holds 512 of them.
MAX_FRESH_EDGES = 100_000
#: Largest edge-list file read.
MAX_EDGE_FILE_BYTES = 128 * 2**20

_SCENARIO_DIR: ContextVar[Path | None] = ContextVar("scenario_dir", default=None)


@contextmanager
def files_relative_to(scenario_file: str | os.PathLike[str] | None) -> Iterator[None]:
    """Read the edge-list files named while validating relative to ``scenario_file``'s folder."""
    folder = None if scenario_file is None else Path(scenario_file).resolve().parent
    token = _SCENARIO_DIR.set(folder)
    try:
        yield
    finally:
        _SCENARIO_DIR.reset(token)


def resolve(path: str) -> Path:
    """An edge-list path as given, made absolute against the scenario's folder."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    return (_SCENARIO_DIR.get() or Path.cwd()) / p


# ----------------------------------------------------------------- generators
class _Params(Strict):
    pass


class RingParams(_Params):
    """``k`` nearest neighbours on a ring, each edge rewired (or added) with probability ``p``."""

    k: int = Field(
        ge=2, description="Each person's neighbours on the ring (even; odd rounds down)."
    )
    p: float = Field(ge=0, le=1, description="Probability of rewiring (or adding) each edge.")


class AttachParams(_Params):
    """Preferential attachment: each newcomer links to ``m`` people."""

    m: int = Field(ge=1, description="Edges from each new person.")


class ClusterParams(AttachParams):
    """Preferential attachment with a triangle after each link with probability ``p``."""

    p: float = Field(ge=0, le=1, description="Probability of closing a triangle.")


class GnpParams(_Params):
    """Every pair linked with probability ``p``."""

    p: float = Field(ge=0, le=1, description="Probability of each edge.")


class RegularParams(_Params):
    """Every person has exactly ``d`` neighbours."""

    d: int = Field(ge=0, description="Degree of every person.")


class BlockParams(_Params):
    """Blocks of ``sizes`` people; a pair in blocks i and j is linked with probability p[i][j]."""

    sizes: list[int] = Field(min_length=1, description="People in each block, adding up to size.")
    p: list[list[float]] = Field(
        min_length=1, description="Symmetric matrix of edge probabilities between blocks."
    )

    @model_validator(mode="after")
    def _square(self) -> Self:
        n = len(self.sizes)
        if any(s < 1 for s in self.sizes):
            raise ValueError(f"every block needs at least one person, got sizes {self.sizes}")
        if len(self.p) != n or any(len(row) != n for row in self.p):
            raise ValueError(f"p must be a {n} x {n} matrix, one row and column per block")
        for i in range(n):
            for j in range(n):
                if not 0 <= self.p[i][j] <= 1:
                    raise ValueError(f"p[{i}][{j}] = {self.p[i][j]} is not a probability")
                if self.p[i][j] != self.p[j][i]:
                    raise ValueError(f"p must be symmetric: p[{i}][{j}] != p[{j}][{i}]")
        return self


class NoParams(_Params):
    """No parameters."""


@dataclass(frozen=True)
class Generator:
    """A generator of the allow-list: its networkx function and its parameters."""

    function: str
    params: type[_Params]
    what: str


#: The allowed generators: the name in a scenario (the networkx function's
#: name, without ``_graph``), its function (``n`` is always the population's size).
GENERATORS: dict[str, Generator] = {
    "watts_strogatz": Generator("watts_strogatz_graph", RingParams, "small world (rewired ring)"),
    "newman_watts_strogatz": Generator(
        "newman_watts_strogatz_graph", RingParams, "small world (ring plus shortcuts)"
    ),
    "barabasi_albert": Generator("barabasi_albert_graph", AttachParams, "preferential attachment"),
    "powerlaw_cluster": Generator(
        "powerlaw_cluster_graph", ClusterParams, "preferential attachment with triangles"
    ),
    "erdos_renyi": Generator("fast_gnp_random_graph", GnpParams, "G(n, p)"),
    "random_regular": Generator("random_regular_graph", RegularParams, "every degree d"),
    "stochastic_block_model": Generator(
        "stochastic_block_model", BlockParams, "blocks with their own densities"
    ),
    "complete": Generator("complete_graph", NoParams, "everyone hears everyone else"),
}
_ALIASES = {g.function: name for name, g in GENERATORS.items()}
_ALIASES["gnp_random_graph"] = "erdos_renyi"


def expected_edges(generator: str, params: Mapping[str, Any], n: int) -> float:
    """About how many edges a generator makes for ``n`` people (for the size limits)."""
    if generator in ("watts_strogatz", "newman_watts_strogatz"):
        extra = 1 + float(params.get("p", 0)) if generator.startswith("newman") else 1
        return n * (int(params.get("k", 0)) // 2) * extra
    if generator in ("barabasi_albert", "powerlaw_cluster"):
        return float(int(params.get("m", 0)) * n)
    if generator == "erdos_renyi":
        return float(params.get("p", 0)) * n * (n - 1) / 2
    if generator == "random_regular":
        return n * int(params.get("d", 0)) / 2
    if generator == "stochastic_block_model":
        sizes, p = list(params.get("sizes", [])), list(params.get("p", []))
        return sum(
            p[i][j] * sizes[i] * sizes[j] / (2 if i == j else 1)
            for i in range(len(sizes))
            for j in range(i, len(sizes))
            if i < len(p) and j < len(p[i])
        )
    return n * (n - 1) / 2


def _generator_tag(value: Any) -> str | None:
    name = value.get("generator") if isinstance(value, dict) else getattr(value, "generator", None)
    return _ALIASES.get(name, name) if isinstance(name, str) else None


class _Generated(Strict):
    graph_seed: int | None = Field(
        None,
        ge=0,
        le=2**63 - 1,
        description="Seed of the one graph every replicate uses (results are conditional on it).",
    )
    fresh_graph_per_replicate: bool = Field(
        False,
        description="Draw a new graph for every replicate from its own stream, in place of one "
        "graph from graph_seed (costs a networkx call per replicate).",
    )

    @field_validator("generator", mode="before", check_fields=False)
    @classmethod
    def _canonical_name(cls, v: Any) -> Any:
        return _ALIASES.get(v, v) if isinstance(v, str) else v

    @model_validator(mode="after")
    def _one_graph(self) -> Self:
        if self.fresh_graph_per_replicate and self.graph_seed is not None:
            raise ValueError("give graph_seed or fresh_graph_per_replicate: true, not both")
        if not self.fresh_graph_per_replicate and self.graph_seed is None:
            raise ValueError(
                "missing graph_seed: the graph is drawn once from it (or set "
                "fresh_graph_per_replicate: true for a new graph in every replicate)"
            )
        return self


def _generated(name: str, params: type[_Params]) -> Any:
    aliases = [name, *(k for k, v in _ALIASES.items() if v == name)]
    default = Field(default_factory=NoParams) if params is NoParams else ...
    model = create_model(
        f"Network_{name}",
        __base__=_Generated,
        __doc__=f"A graph drawn by networkx's {GENERATORS[name].function}.",
        __module__=__name__,
        generator=(Literal[tuple(aliases)], ...),
        params=(params, default),
    )
    return Annotated[model, Tag(name)]


_members = [_generated(name, g.params) for name, g in GENERATORS.items()]
#: a graph from one of :data:`GENERATORS`, discriminated by the generator's name
#: (the models are made from the table, so type checkers see Any)
GeneratedNetwork: Any = Annotated[
    Union[tuple(_members)],  # noqa: UP007 (a union built from a list)
    Discriminator(
        _generator_tag,
        custom_error_type="generator",
        custom_error_message="unknown or missing network generator; allowed: "
        + ", ".join(GENERATORS),
    ),
]


class EdgeList(Strict):
    """A graph read from a file: one edge ``u v`` per line, people numbered 0 to size - 1."""

    edges: str = Field(
        description="Edge-list file, relative to the scenario file: two numbers per line "
        "(people 0 to size - 1), # starts a comment; undirected, repeats count once."
    )
    sha256: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{64}$",
        description="The file's sha256 (filled in when the scenario is read; if given, the file "
        "must match it).",
    )

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        """Resolve the path and hash the file, reporting a file that cannot be used."""
        if not isinstance(data, dict) or not isinstance(data.get("edges"), str):
            return data
        path = resolve(data["edges"])
        digest = read_edges(path).sha256  # ValueError: the file's problem, at this field
        given = data.get("sha256")
        if isinstance(given, str) and given != digest:
            raise ValueError(
                f"{path} changed since this scenario was resolved (sha256 {digest[:12]}…, "
                f"expected {given[:12]}…)"
            )
        return {**data, "edges": path.as_posix(), "sha256": digest}


def _network_tag(value: Any) -> str:
    has = (lambda k: k in value) if isinstance(value, dict) else (lambda k: hasattr(value, k))
    return "edges" if has("edges") else "generator"


if TYPE_CHECKING:
    Network = EdgeList | Any
else:
    Network = Annotated[
        Annotated[EdgeList, Tag("edges")] | Annotated[GeneratedNetwork, Tag("generator")],
        Discriminator(_network_tag),
    ]


# ----------------------------------------------------------------- edge files
@dataclass(frozen=True)
class Edges:
    """An edge-list file's undirected edges (each once, ``u <= v``) and its hash."""

    pairs: Array  # int64, shape (E, 2)
    sha256: str
    largest: int  # largest person number named (-1: no edge)
    largest_line: int  # line that names it


def read_edges(path: Path) -> Edges:
    """Read an edge-list file (cached while the file is unchanged); ValueError if unusable."""
    try:
        info = path.stat()
    except OSError as exc:
        raise ValueError(f"cannot read the edge list {path}: {exc.strerror or exc}") from None
    if not path.is_file():
        raise ValueError(f"the edge list {path} is not a file")
    if info.st_size > MAX_EDGE_FILE_BYTES:
        raise ValueError(
            f"the edge list {path} has {info.st_size:,} bytes; at most "
            f"{MAX_EDGE_FILE_BYTES:,} are read"
        )
    return _read_edges(str(path), info.st_mtime_ns, info.st_size)


@lru_cache(maxsize=8)
def _read_edges(path: str, mtime: int, size: int) -> Edges:
    raw = Path(path).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"the edge list {path} is not UTF-8 text") from None
    us: list[int] = []
    vs: list[int] = []
    largest, largest_line = -1, 0
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split("#", 1)[0].replace(",", " ").split()
        if fields[2:] == ["{}"]:  # networkx's write_edgelist adds the (empty) edge data
            fields = fields[:2]
        if not fields:
            continue
        where = f"{path} line {number}"
        if len(fields) != 2:
            raise ValueError(f"{where}: expected two person numbers, got {line.strip()!r}")
        try:
            u, v = int(fields[0]), int(fields[1])
        except ValueError:
            raise ValueError(
                f"{where}: expected two person numbers (0, 1, ...), got {line.strip()!r}"
            ) from None
        if u < 0 or v < 0:
            raise ValueError(f"{where}: person numbers start at 0, got {line.strip()!r}")
        if max(u, v) > largest:
            largest, largest_line = max(u, v), number
        us.append(min(u, v))
        vs.append(max(u, v))
        if len(us) > MAX_EDGES:
            raise ValueError(f"the edge list {path} has more than {MAX_EDGES:,} edges")
    pairs = np.unique(np.array([us, vs], dtype=np.int64).T.reshape(-1, 2), axis=0)
    pairs.flags.writeable = False
    return Edges(pairs, digest, largest, largest_line)


# --------------------------------------------------------------------- checks
def _get(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, Mapping) else getattr(item, key, None)


def own_coefficients(signals: Mapping[str, Any], signal: str, population: str) -> dict[str, float]:
    """Weight of each ``{fraction: population, position: P}`` in a signal, through nested signals.

    Signals are weighted sums, so a signal is ``sum_P c_P * fraction(P) + rest``;
    these ``c_P`` are what a person on a network reads as the share of their
    neighbours in ``P``. Works on raw mappings and on validated models alike.
    """
    out: dict[str, float] = {}

    def walk(name: str, factor: float, depth: int) -> None:
        terms = signals.get(name)
        if not isinstance(terms, list) or depth > 100:  # cycles are reported elsewhere
            return
        for t in terms:
            weight = _get(t, "weight")
            w = factor * (1.0 if weight is None else weight)
            if not isinstance(w, float | int) or isinstance(w, bool):
                continue
            if _get(t, "fraction") == population and isinstance(_get(t, "position"), str):
                out[_get(t, "position")] = out.get(_get(t, "position"), 0.0) + w
            elif isinstance(_get(t, "signal"), str):
                walk(_get(t, "signal"), w, depth + 1)

    walk(signal, 1.0, 0)
    return {p: c for p, c in out.items() if c != 0.0}


def network_problems(
    aid: str, population: Mapping[str, Any], signals: Mapping[str, Any]
) -> Iterator[tuple[Loc, str]]:
    """What a population's network needs from the population: its size, and a rule that hears it."""
    network = population.get("network")
    if not isinstance(network, Mapping):
        return
    loc: Loc = ("agents", aid, "network")
    size = population.get("size")
    size = size if isinstance(size, int) and not isinstance(size, bool) and size >= 1 else None
    if "edges" in network:
        yield from _file_problems(loc, network, size, aid)
    else:
        yield from _generator_problems(loc, network, size)
    # the network changes something when one rule's signal reads the population
    rules = population.get("rules")
    listed: list[tuple[Loc, Any]] = []
    if isinstance(rules, list):
        listed = [(("rules", j), r) for j, r in enumerate(rules)]
    heard: list[tuple[Loc, str]] = []
    for where, rule in listed or [(("rule",), population.get("rule"))]:
        if isinstance(rule, Mapping) and rule.get("kind") in ("threshold", "hazard", "logistic"):
            key = "support" if rule.get("kind") == "threshold" else "pressure"
            name = rule.get(key)
            if not isinstance(name, str) or name not in signals:
                return  # reported elsewhere
            if own_coefficients(signals, name, aid):
                return
            heard.append((("agents", aid, *where, key), name))
    if heard:
        (at, name), reads = heard[0], f"{{fraction: {aid}, position: ...}}"
        what = f"signal {name!r} never reads {reads}"
        if len(heard) > 1:
            what = f"no rule's signal reads {reads} (the first rule's is {name!r})"
        yield (
            at,
            f"{what}, so the network changes nothing: on a network each person reads that "
            f"term as the share of their neighbours",
        )


def _file_problems(loc: Loc, network: Mapping[str, Any], size: int | None, aid: str) -> "Found":
    path = network.get("edges")
    if not isinstance(path, str) or size is None:
        return
    try:
        edges = read_edges(resolve(path))
    except ValueError:
        return  # the schema reports it
    if edges.largest >= size:
        yield (
            (*loc, "edges"),
            f"{resolve(path)} line {edges.largest_line}: person {edges.largest} is not one of the "
            f"{size:,} members of {aid!r} (numbered 0 to {size - 1})",
        )


Found = Iterator[tuple[Loc, str]]


def _generator_problems(loc: Loc, network: Mapping[str, Any], size: int | None) -> Found:
    name = _generator_tag(dict(network))
    if name not in GENERATORS:
        return  # the schema reports it
    if find_spec("networkx") is None:
        yield (
            (*loc, "generator"),
            f"generator {name!r} needs networkx, which is not installed: "
            "pip install 'stancesim[networks]' (or give an edge-list file: edges: FILE)",
        )
    params = network.get("params")
    params = params if isinstance(params, Mapping) else {}
    if size is None:
        return
    ploc: Loc = (*loc, "params")
    for key in ("k", "m", "d"):
        value = params.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= size:
            yield (*ploc, key), f"{key} = {value} must be less than the population's size {size}"
            return
    if name == "random_regular":
        d = params.get("d")
        if isinstance(d, int) and (d * size) % 2:
            yield (*ploc, "d"), f"d * size must be even, got d = {d} and size {size}"
            return
    if name == "stochastic_block_model":
        sizes = params.get("sizes")
        if isinstance(sizes, list) and all(isinstance(s, int) for s in sizes):
            if sum(sizes) != size:
                yield (*ploc, "sizes"), f"sizes add up to {sum(sizes)}, not the size {size}"
                return
    try:
        edges = expected_edges(name, params, size)
    except (TypeError, ValueError, IndexError):
        return  # the schema reports the parameters
    fresh = network.get("fresh_graph_per_replicate") is True
    cap = MAX_FRESH_EDGES if fresh else MAX_EDGES
    if edges > cap:
        what = "a graph drawn for every replicate" if fresh else "a graph"
        yield (
            loc,
            f"about {edges:,.0f} edges; {what} may have at most {cap:,} "
            "(fewer people, or fewer neighbours each)",
        )
