"""Correlated parameters: several drawn parameters tied by a Gaussian copula.

``correlations`` (top level) maps ids to entries like::

    board_views:
      parameters: [agents.toner.rules.reinstate.resistance,
                   agents.mccauley.rules.reinstate.resistance]
      rank: 0.6          # Spearman's rank correlation between every pair

Each parameter keeps its own distribution (its marginal); only the ranks move
together. Per replicate, standard normals with the stated correlation are
drawn and each goes through Φ and its parameter's inverse CDF. A ``rank``
correlation r is the copula's ρ = 2 sin(π r / 6) (Spearman's rho of a Gaussian
copula is (6/π) asin(ρ/2)), ``gaussian`` states ρ itself. Either is one number
for every pair or a full matrix in the order of ``parameters``.

What the paths name (that they exist and are drawn, continuous and once per
replicate) and the size of the matrix are checked with the other references
(:func:`sim.scenario.references.correlations`); the matrix on its own is
checked here.
"""

import difflib
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from pydantic import Field, ValidationError, field_validator, model_validator

from sim.scenario.base import Strict

#: Tolerance of the positive semi-definite check (the smallest eigenvalue may be this far below 0)
PSD_TOLERANCE = 1e-9

Correlation = float | list[list[float]]


def gaussian_of_rank(r: float) -> float:
    """The Gaussian copula's ρ whose Spearman rank correlation is ``r``: 2 sin(π r / 6)."""
    return 2 * math.sin(math.pi * r / 6)


def rank_of_gaussian(rho: float) -> float:
    """Spearman's rank correlation of a Gaussian copula with ρ: (6/π) asin(ρ/2)."""
    return 6 / math.pi * math.asin(rho / 2)


def _matrix_problem(m: list[list[float]]) -> str | None:
    """Why a list of rows is not a correlation matrix (None when it is one)."""
    k = len(m)
    if k < 2 or any(len(row) != k for row in m):
        return f"a correlation matrix is square, at least 2 x 2; got rows of {[len(r) for r in m]}"
    for i in range(k):
        if m[i][i] != 1:
            return f"the diagonal is 1; row {i} has {m[i][i]:g}"
        for j in range(i):
            if m[i][j] != m[j][i]:
                return f"a correlation matrix is symmetric; [{i}][{j}] != [{j}][{i}]"
    low = float(np.linalg.eigvalsh(np.asarray(m, dtype=float)).min())
    if low < -PSD_TOLERANCE:
        return f"not positive semi-definite (smallest eigenvalue {low:.3g}): no joint draw has it"
    return None


class CorrelationEntry(Strict):
    """Parameters drawn together by a Gaussian copula; each keeps its own distribution."""

    description: str | None = None
    parameters: list[str] = Field(
        min_length=2,
        description="paths as --set writes them: agents.ID.rules.RULE.PARAM (RULE an index "
        "or id; agents.ID.rule.PARAM for a population's one rule) or agents.ID.patience",
    )
    gaussian: Correlation | None = Field(
        None, description="ρ of the copula's normals: one number for every pair, or a matrix"
    )
    rank: Correlation | None = Field(
        None,
        description="Spearman's rank correlation of the parameters: one number for every "
        "pair, or a matrix (the copula's ρ is 2 sin(π r / 6))",
    )

    @field_validator("gaussian", "rank")
    @classmethod
    def _correlation(cls, v: Correlation | None) -> Correlation | None:
        values = [v] if isinstance(v, int | float) else [x for row in v or [] for x in row]
        if any(not -1 <= x <= 1 for x in values):
            raise ValueError(f"correlations lie in [-1, 1], got {v}")
        return v

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.gaussian is None) == (self.rank is None):
            raise ValueError("give gaussian (the copula's ρ) or rank (Spearman's), one of them")
        return self

    def matrix(self) -> list[list[float]]:
        """The copula's correlation matrix ρ, in the order of ``parameters``."""
        stated = self.gaussian if self.gaussian is not None else self.rank
        assert stated is not None
        k = len(self.parameters)
        m = (
            [[1.0 if i == j else float(stated) for j in range(k)] for i in range(k)]
            if isinstance(stated, int | float)
            else [[float(x) for x in row] for row in stated]
        )
        if self.rank is not None:
            m = [
                [x if i == j else gaussian_of_rank(x) for j, x in enumerate(row)]
                for i, row in enumerate(m)
            ]
        return m

    def problem(self) -> str | None:
        """Why the copula's matrix is not a correlation matrix for these parameters (or None)."""
        stated = self.gaussian if self.gaussian is not None else self.rank
        if not isinstance(stated, int | float) and len(stated or []) != len(self.parameters):
            return f"the matrix has {len(stated or [])} rows for {len(self.parameters)} parameters"
        problem = _matrix_problem(self.matrix())
        k = len(self.parameters)
        if problem and isinstance(stated, int | float):
            problem += f" (one correlation for all {k} parameters: ρ >= {-1 / (k - 1):.3g})"
        if problem and self.rank is not None:
            problem += " (after converting each rank correlation r to 2 sin(π r / 6))"
        return problem


def factor(m: list[list[float]]) -> tuple[tuple[float, ...], ...]:
    """A lower-triangular ``L`` with ``L Lᵀ = m``, for a positive semi-definite ``m``.

    numpy's Cholesky refuses a singular matrix (ρ = 1 between two parameters is
    a fair thing to state), so this is the textbook Cholesky with a zero pivot
    giving a zero column. In plain Python floats it is also the same on every
    machine (a BLAS may round differently), and the draws depend on it. Each
    row is scaled to length 1, so every normal stays exactly standard: the
    marginals never depend on rounding.
    """
    k = len(m)
    low = [[0.0] * k for _ in range(k)]
    for i in range(k):
        for j in range(i + 1):
            s = m[i][j] - math.fsum(low[i][p] * low[j][p] for p in range(j))
            if i == j:
                low[i][i] = math.sqrt(max(s, 0.0))
            elif low[j][j] > 1e-12:
                low[i][j] = s / low[j][j]
        norm = math.sqrt(math.fsum(x * x for x in low[i]))
        low[i] = [x / norm for x in low[i]]
    return tuple(tuple(row) for row in low)


# ------------------------------------------------------------ reference checks
Loc = tuple[str | int, ...]
_FORMS = "agents.ID.rules.RULE.PARAM, agents.ID.rule.PARAM or agents.ID.patience"
_DISTRIBUTIONS = ("uniform", "normal", "beta", "triangular", "lognormal", "choice")


def _map(value: Any) -> dict[str, Any]:
    return {str(k): v for k, v in value.items()} if isinstance(value, Mapping) else {}


def _hint(name: str, known: Iterable[str]) -> str:
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=1)
    return f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(names) or 'none'})"


@dataclass(frozen=True)
class Target:
    """What a correlated path names: an agent, a rule (index, -1 for patience) and a field."""

    agent: str
    rule: int
    name: str


def resolve(path: str, agents: Mapping[str, Any]) -> Target | str:
    """The parameter a path names in the raw ``agents`` mapping, or why it names none."""
    parts = path.split(".")
    if len(parts) < 3 or parts[0] != "agents":
        return f"expected a parameter path ({_FORMS}), got {path!r}"
    aid, rest = parts[1], parts[2:]
    agent = _map(agents.get(aid))
    kind = agent.get("kind")
    if kind not in ("individual", "population"):
        if aid not in agents:
            return f"unknown agent {aid!r}{_hint(aid, agents)}"
        return f"{aid!r} is a {kind}: only individuals' and populations' parameters are drawn"
    if rest == ["patience"] and kind == "individual":
        return Target(aid, -1, "patience") if "patience" in agent else f"{aid!r} has no patience"
    if kind == "population" and agent.get("segments") is not None:
        return f"{aid!r} is made of segments: their parameters cannot be correlated yet"
    if len(rest) == 2 and rest[0] == "rule" and kind == "population" and "rule" in agent:
        return Target(aid, 0, rest[1])
    if len(rest) != 3 or rest[0] != "rules" or not isinstance(agent.get("rules"), list):
        return f"expected a parameter path ({_FORMS}), got {path!r}"
    rules = [_map(r) for r in agent["rules"]]
    ids = [r.get("id") for r in rules]
    if rest[1].isdigit() and int(rest[1]) < len(rules):
        return Target(aid, int(rest[1]), rest[2])
    if rest[1] in ids:
        return Target(aid, ids.index(rest[1]), rest[2])
    named = [i for i in ids if isinstance(i, str)]
    return f"agent {aid!r} has {len(rules)} rule(s), no index or id {rest[1]!r}" + (
        f" (ids: {', '.join(named)})" if named else ""
    )


def _value_problem(target: Target, agents: Mapping[str, Any]) -> str | None:
    """Why the named parameter cannot be correlated: constant, discrete or drawn per person."""
    agent = _map(agents[target.agent])
    if target.rule < 0:
        value: Any = agent.get("patience")
        what = f"the patience of {target.agent!r}"
        rule: dict[str, Any] = {}
    else:
        rules = agent.get("rules")
        holder: list[Any] = rules if isinstance(rules, list) else [agent.get("rule")]
        rule = _map(holder[target.rule])
        value = rule.get(target.name)
        what = f"{target.name} of rule {target.rule} of {target.agent!r}"
    if not isinstance(value, Mapping):
        shown = "unset" if value is None else repr(value)
        return f"{what} is {shown}, not a distribution: only drawn parameters can be correlated"
    dist = next((d for d in _DISTRIBUTIONS if d in value), None)
    if dist == "choice":
        return f"{what} is a choice: only continuous distributions can be correlated"
    if agent.get("kind") == "population" and target.rule >= 0:
        per_person = rule.get("per_person")
        listed = per_person if isinstance(per_person, list) else []
        if target.name in ("threshold", "resistance") or target.name in listed:
            return f"{what} is drawn per person: only parameters drawn once per replicate can be"
    return None


def correlation_problems(data: Mapping[str, Any]) -> Iterator[tuple[Loc, str]]:
    """What each ``correlations`` entry names exists and can be correlated; its matrix fits."""
    agents = _map(data.get("agents"))
    seen: dict[Target, str] = {}
    for cid, raw in _map(data.get("correlations")).items():
        entry = _map(raw)
        paths = entry.get("parameters")
        for i, path in enumerate(paths if isinstance(paths, list) else []):
            if not isinstance(path, str):
                continue  # the schema reports it
            loc: Loc = ("correlations", cid, "parameters", i)
            target = resolve(path, agents)
            if isinstance(target, str):
                yield loc, target
                continue
            problem = _value_problem(target, agents)
            if problem is not None:
                yield loc, problem
            elif target in seen:  # a parameter has one joint distribution, not two
                yield loc, f"{path!r} is already correlated in {seen[target]}"
            else:
                seen[target] = f"correlations.{cid}"
        try:
            valid = CorrelationEntry.model_validate(raw)
        except ValidationError:
            continue  # the schema reports it
        problem = valid.problem()
        if problem is not None:
            stated = "gaussian" if valid.gaussian is not None else "rank"
            yield ("correlations", cid, stated), problem


# ----------------------------------------------------- parameters set to constants
def _value(target: Target, agents: Mapping[str, Any]) -> Any:
    """The raw value of the parameter a target names (None when unset)."""
    agent = _map(agents.get(target.agent))
    if target.rule < 0:
        return agent.get("patience")
    rules = agent.get("rules")
    holder: list[Any] = rules if isinstance(rules, list) else [agent.get("rule")]
    if not 0 <= target.rule < len(holder):
        return None
    return _map(holder[target.rule]).get(target.name)


def _released(path: Any, agents: Mapping[str, Any], fixed: set[Target]) -> bool:
    return isinstance(path, str) and resolve(path, agents) in fixed


def release_constants(data: dict[str, Any], paths: Iterable[tuple[str, ...]]) -> None:
    """Take parameters set to a constant (``--set``, a sweep point) out of their correlation.

    A parameter fixed at a number has no rank left to share, so its entry keeps
    its other parameters (its row and column leave a stated matrix) and an
    entry left with one parameter disappears. A parameter the file itself gives
    as a constant is still reported (:func:`correlation_problems`): only the
    overridden ``paths`` are released. ``data`` is changed in place; callers
    pass their own copy (a sweep point never changes its base).
    """
    entries = data.get("correlations")
    if not isinstance(entries, dict) or not entries:
        return
    agents = _map(data.get("agents"))
    fixed: set[Target] = set()
    for path in paths:
        target = resolve(".".join(path), agents)
        if isinstance(target, Target) and not isinstance(_value(target, agents), Mapping):
            fixed.add(target)
    if not fixed:
        return
    for cid in list(entries):
        entry = entries[cid]
        names = entry.get("parameters") if isinstance(entry, dict) else None
        if not isinstance(names, list):
            continue
        keep = [i for i, p in enumerate(names) if not _released(p, agents, fixed)]
        if len(keep) == len(names):
            continue
        if len(keep) < 2:
            del entries[cid]
            continue
        entry["parameters"] = [names[i] for i in keep]
        for key in ("gaussian", "rank"):
            m = entry.get(key)
            if isinstance(m, list) and len(m) == len(names) and all(isinstance(r, list) for r in m):
                entry[key] = [[m[i][j] for j in keep] for i in keep]
    if not entries:
        del data["correlations"]
