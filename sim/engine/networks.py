"""Populations on a graph: each person reads the share of their neighbours in a position.

A population with a ``network`` keeps each person's stance (one row per
replicate, one column per person). Its rule reads, for each person,

``signal - sum_P c_P * fraction(P) + sum_P c_P * share of the person's neighbours in P``

where ``c_P`` is the weight of the population's own ``{fraction: ..., position:
P}`` in the rule's signal (:class:`sim.plan.NetworkSpec`): every other term of
the signal (curves, individuals, other populations) is heard as usual, and a
person without neighbours reads a share of 0. Each tick one sparse product,
``stances (rows x N) @ adjacency (N x N)``, counts every person's neighbours in
the rule's target position in every replicate at once.

The graph is drawn once per scenario from its ``graph_seed`` (or read from its
edge-list file) and kept per process (:func:`fixed_graph`); with
``fresh_graph_per_replicate`` each replicate draws its own from a seed taken
from its block's stream at set-up, and the batch's graphs are laid out as one
block-diagonal matrix. Every random draw is made block by block through
:class:`~sim.engine.streams.Streams`, so results never depend on the batch.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from sim import rules as R
from sim.engine.streams import Streams
from sim.errors import InputError
from sim.ops import State
from sim.plan import NetworkSpec, PopulationSpec
from sim.scenario.schema_networks import GENERATORS, read_edges

Array = np.ndarray[Any, Any]
Graph = tuple[Any, Array]  # (CSR adjacency, float32; degree of each person, float64)


# ---------------------------------------------------------------------- graphs
def adjacency(pairs: Array, n: int) -> Graph:
    """The symmetric adjacency of undirected edges ``pairs`` (each once) and the degrees.

    A self-loop ``(i, i)`` is one entry: the person hears themselves once.
    """
    u, v = pairs[:, 0], pairs[:, 1]
    loop = u == v
    rows = np.concatenate([u, v[~loop]])
    cols = np.concatenate([v, u[~loop]])
    data = np.ones(len(rows), dtype=np.float32)
    import scipy.sparse as sp  # only populations on a graph need it (start-up)

    a = sp.csr_array((data, (rows, cols)), shape=(n, n))
    a.sum_duplicates()
    a.data[:] = 1.0  # an edge given twice is one edge
    degree = np.diff(a.indptr).astype(np.float64)
    return a, degree


def _networkx() -> Any:
    try:
        import networkx
    except ImportError:
        raise InputError(
            "a network drawn by a generator needs networkx, which is not installed: "
            "pip install 'stancesim[networks]' (or give an edge-list file: edges: FILE)"
        ) from None
    return networkx


def generate(graph: Any, n: int, seed: int) -> Array:
    """Undirected edges (E x 2) of a graph drawn by the generator ``graph`` names, from ``seed``."""
    nx = _networkx()
    name = graph.generator
    fn = getattr(nx, GENERATORS[name].function)
    params = graph.params.model_dump()
    if name == "complete":
        g = fn(n)
    elif name == "random_regular":
        g = fn(params["d"], n, seed=seed)
    elif name == "stochastic_block_model":
        g = fn(params["sizes"], params["p"], seed=seed)
    else:
        g = fn(n, **params, seed=seed)
    pairs = np.array(list(g.edges()), dtype=np.int64).reshape(-1, 2)
    return np.sort(pairs, axis=1)


def fixed_graph(network: NetworkSpec) -> Graph:
    """The one graph of a population (drawn from ``graph_seed`` or read), kept per process."""
    graph = network.graph
    return _fixed(graph.model_dump_json(), network.size, graph)


@lru_cache(maxsize=4)
def _fixed(key: str, n: int, graph: Any) -> Graph:
    if hasattr(graph, "edges"):
        edges = read_edges(Path(graph.edges))
        if graph.sha256 is not None and edges.sha256 != graph.sha256:
            raise InputError(f"{graph.edges} changed since the scenario was read")
        return adjacency(np.asarray(edges.pairs), n)
    return adjacency(generate(graph, n, graph.graph_seed), n)


def fresh_graphs(network: NetworkSpec, seeds: Array) -> list[Graph]:
    """One graph per replicate, each from its own seed (a uniform made a 53-bit integer)."""
    n = network.size
    return [adjacency(generate(network.graph, n, int(u * 2**53)), n) for u in seeds.ravel()]


def _ceiling(top: Array, tick: float) -> Array:
    """Per replicate, a per-tick probability that no person's exceeds.

    ``top`` bounds every person's per-hour probability (either way) in its
    replicate; ``per_tick`` keeps the order, up to a rounding of ``pow`` that
    the margin of 1e-12 covers. A bound outside [0, 1] (or NaN) bounds
    nothing: every pair of that replicate is then computed (``inf``).
    """
    with np.errstate(invalid="ignore"):
        inside = (top >= 0.0) & (top <= 1.0)
    if tick == 1.0:
        return np.where(inside, top, np.inf)
    return np.where(inside, R.per_tick(np.where(inside, top, 0.0), tick) + 1e-12, np.inf)


# ----------------------------------------------------------------- populations
class Wired:
    """The graph of a population (or each replicate's graph), and neighbour counts on it.

    Shared by a population of one rule (:class:`Neighbours`) and one of
    several rules (:class:`~sim.engine.persons.NetworkPersonsPopulation`).
    """

    spec: PopulationSpec
    N: int

    def wire(self, person: list[Any]) -> None:
        """The graph: the scenario's one, or each replicate's from its drawn seed."""
        net = self.spec.network
        assert net is not None
        self.net = net
        self.graphs: list[Graph] | None = None
        if net.seed_slot >= 0:
            seeds = person[net.seed_slot]
            self.graphs = fresh_graphs(net, seeds)
            self._stack()
        else:
            self.matrix, degree = fixed_graph(net)
            self.degree = degree[:, None]
            self.safe_degree = np.maximum(self.degree, 1.0)

    def _stack(self) -> None:
        """The replicates' graphs as one matrix on (person, replicate) pairs, and the degrees."""
        assert self.graphs is not None
        rows, n = len(self.graphs), self.N
        parts = [g.tocoo() for g, _ in self.graphs]
        i = np.concatenate([c.row.astype(np.int64) * rows + r for r, c in enumerate(parts)])
        j = np.concatenate([c.col.astype(np.int64) * rows + r for r, c in enumerate(parts)])
        data = np.ones(len(i), dtype=np.float32)
        import scipy.sparse as sp

        self.matrix = sp.csr_array((data, (i, j)), shape=(n * rows, n * rows))
        self.degree = np.stack([d for _, d in self.graphs], axis=1)
        self.safe_degree = np.maximum(self.degree, 1.0)

    def take_graphs(self, index: Array) -> None:
        """Keep the graphs of rows ``index`` (one graph for all: nothing to do)."""
        if self.graphs is not None:
            self.graphs = [self.graphs[i] for i in index]
            self._stack()

    def neighbours(self, x: Array) -> Array:
        """Each person's count of neighbours marked in ``x`` (persons x replicates, float32)."""
        if self.graphs is None:
            return self.matrix @ x
        return (self.matrix @ x.ravel()).reshape(x.shape)


class Neighbours(Wired):
    """What a population on a graph adds to :class:`~sim.engine.populations.Population`.

    A mixin (``NetworkPopulation(Neighbours, Population)`` in
    :mod:`sim.engine.populations`, which calls :meth:`setup`): it keeps each
    person's stance and advances threshold, hazard and logistic rules person by
    person, each person reading their neighbours.

    Per-person arrays are laid out persons x replicates (each row a person),
    the orientation in which ``adjacency @ stances`` is one CSR product whose
    result needs no reordering; the uniforms, drawn replicates x persons block
    by block as a dense mean-field population draws them, are read transposed.
    Threshold rules: irreversible ones switch for good once the drive reaches
    the person's threshold, with ``spontaneous`` switchers besides (one uniform
    per person and tick, only when it is not the constant 0); reversible ones
    are in the target exactly while it does. Hazard and logistic rules draw one
    uniform per person and tick and compare it as the dense mean-field
    population (:class:`~sim.engine.populations.HazardDensePopulation`) does:
    on a complete graph where everyone also hears themselves both give the
    same results.
    """

    spec: PopulationSpec
    N: int
    tick: float
    counts: Array

    def setup(self, n: int, person: list[Any]) -> None:
        """Per-person state for ``n`` replicates, and the graph (or each replicate's)."""
        self.in_to = np.zeros((self.N, n), dtype=bool)
        values = person[self.spec.person] if self.spec.person >= 0 else None
        #: each person's threshold or resistance, persons x replicates (None: one
        #: resistance per replicate)
        self.values: Array | None = None if values is None else np.ascontiguousarray(values.T)
        self.bar: Array | None = None  # threshold rules: each threshold less the tolerance
        self.span: tuple[Array, Array] | None = None  # hazard rules: resistances' range
        self.wire(person)

    def take(self, index: Array) -> None:
        """Keep rows ``index``."""
        self.counts, self.in_to = self.counts[index], self.in_to[:, index]
        if self.values is not None:
            self.values = self.values[:, index]
        self.bar = self.span = None
        self.take_graphs(index)

    def drive(self, s: State) -> Array | None:
        """The rule's signal without the population's own terms (each person adds theirs)."""
        base = s.signal(self.spec.drive) + s.param[self.spec.offset]
        for position, c in self.net.coefficients:
            base = base - c * (self.counts[:, position] / self.N)
        return base

    def count(self) -> Array:
        """Each person's neighbours in the target position (persons x replicates, float32)."""
        return self.neighbours(self.in_to.astype(np.float32))

    def heard(self, base: Array) -> Array:
        """Each person's drive (persons x replicates): ``base`` plus their neighbours' shares."""
        return self._shares(base, self.count(), self.degree, self.safe_degree, None)

    def heard_at(self, base: Array, count: Array, who: Array, rep: Array) -> Array:
        """:meth:`heard` of the pairs ``(who[k], rep[k])`` only, value for value."""
        col = rep if self.degree.shape[1] > 1 else 0  # fresh graphs: a degree per replicate
        return self._shares(
            base, count[who, rep], self.degree[who, col], self.safe_degree[who, col], rep
        )

    def _shares(
        self, base: Array, count: Array, degree: Array, deg: Array, rep: Array | None
    ) -> Array:
        """``base`` plus the shares ``count`` makes; ``rep``: the replicate of each value.

        The same operations in the same order whatever the shape, so that a
        value computed for one pair is the value computed for everyone.
        """
        # a person without neighbours counts 0 of them, so dividing by 1 gives a share of 0
        out: Array | None = None
        for position, c in self.net.coefficients:
            if position == self.spec.to_idx:
                term = count / deg
            elif position == self.spec.initial_idx:
                term = np.subtract(degree, count)
                np.divide(term, deg, out=term)
            else:
                continue  # nobody is in any other position: their share is 0
            if c != 1.0:
                term *= c
            out = term if out is None else np.add(out, term, out=out)
        assert out is not None  # validation: the signal reads the population's own share
        out += base if rep is None else np.broadcast_to(base, (len(self.counts),))[rep]
        return out

    def moved(self, s: State, drive: Array, before: Array, rng: Streams) -> Array:
        """How many are in the target position after this tick."""
        if self.net.means.startswith("threshold"):
            self._threshold_step(s, self.heard(drive), len(before), rng)
        else:
            self._hazard_step(s, drive, len(before), rng)
        return np.count_nonzero(self.in_to, axis=0)

    def _threshold_step(self, s: State, x: Array, rows: int, rng: Streams) -> None:
        assert self.values is not None
        if self.bar is None:
            # R.threshold_reached's comparison, its bar made once (values change only by events)
            self.bar = self.values - R.TOLERANCE
        reached = x >= self.bar
        if self.spec.reversible:
            self.in_to = reached
            return
        if self.net.spontaneous:
            p = R.per_tick(s.param[self.spec.spontaneous], self.tick)
            # u < p compared as drawn (replicates x persons), set where true
            hit = np.flatnonzero(rng.random(rows, self.N) < np.reshape(p, (-1, 1)))
            rep, who = np.divmod(hit, self.N)
            reached[who, rep] = True
        self.in_to |= reached

    def _hazard_step(self, s: State, base: Array, rows: int, rng: Streams) -> None:
        """One uniform per person; probabilities computed only where a uniform can move someone.

        A person moves when their uniform is below a per-tick probability that
        is at most :func:`_ceiling` of their replicate; every other pair keeps
        its position whatever its probability, so it is not computed. The
        pairs that remain are computed with the same operations as for
        everyone, so the numbers are those of the whole computation.
        """
        spec = self.spec
        u = rng.random(rows, self.N)  # replicates x persons, as drawn
        rate = np.broadcast_to(s.param[spec.rate], (rows,))
        top = rate if spec.logistic else self._hazard_top(s, base, rate)
        # a flat index then a division: faster than a two-dimensional nonzero
        rep, who = np.divmod(np.flatnonzero(u < _ceiling(top, self.tick)[:, None]), self.N)
        was = self.in_to[who, rep]
        if not spec.reversible:  # who is in the target stays there
            rep, who, was = rep[~was], who[~was], was[~was]
        x = self.heard_at(base, self.count(), who, rep)
        if self.values is not None:
            res = self.values[who, rep]
        else:
            res = np.broadcast_to(s.param[spec.resistance], (rows,))[rep]
        r = rate[rep]
        back: Array | None = None
        if spec.logistic:
            slope = np.broadcast_to(s.param[spec.slope], (rows,))[rep]
            fwd = R.logistic_probability(x, res, r, slope)
            if spec.reversible:
                back = R.logistic_back_probability(x, res, r, slope)
        else:
            fwd = R.hazard_probability(x, res, r)
            if spec.reversible:
                back = R.hazard_back_probability(x, res, r)
        uu = u[rep, who]
        go = ~was & (uu < R.per_tick(fwd, self.tick))
        self.in_to[who[go], rep[go]] = True
        if back is not None:
            leave = was & (uu < R.per_tick(back, self.tick))
            self.in_to[who[leave], rep[leave]] = False

    def _hazard_top(self, s: State, base: Array, rate: Array) -> Array:
        """A hazard rule's largest per-hour probability in each replicate (either way).

        ``min(1, rate * excess)`` with the excess at its largest: every share
        lies in [0, 1], so a person's drive lies within ``base`` plus the
        negative, or the positive, weights of the shares (widened by 1e-9 for
        the rounding of the sums); rounded subtraction and product keep the
        order, so the bound holds for the computed values too.
        """
        rows = len(rate)
        if self.values is None:
            low_res = high_res = np.broadcast_to(s.param[self.spec.resistance], (rows,))
        else:
            if self.span is None:  # kept until an event changes the resistances
                self.span = (self.values.min(axis=0), self.values.max(axis=0))
            low_res, high_res = self.span
        weights = [c for _, c in self.net.coefficients]
        b = np.broadcast_to(base, (rows,))
        slack = 1e-9 * (1.0 + np.abs(b) + sum(abs(c) for c in weights))
        high_x = b + sum(max(c, 0.0) for c in weights) + slack
        excess = high_x - low_res
        if self.spec.reversible:
            low_x = b + sum(min(c, 0.0) for c in weights) - slack
            excess = np.maximum(excess, high_res - low_x)
        return np.minimum(1.0, rate * np.maximum(0.0, excess))

    def change_person(self, how: str, amount: float, mask: Array) -> None:
        """Change every person's threshold or resistance where ``mask``."""
        if self.values is None:
            raise TypeError(f"population {self.spec.id!r} holds no per-person values")
        old = self.values
        self.values = np.where(mask[None, :], R.changed_values(old, how, amount), old)
        self.bar = self.span = None

    def why(self, r: int) -> str:
        """Extra detail for the trace."""
        return "; each person hears their neighbours"
