"""Correlated parameters across agents (issue 15, item 1): a Gaussian copula, marginals kept."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.engine import BlockState, Streams
from sim.plan import compile_plan
from sim.scenario import scenario_from_dict
from sim.scenario.schema_correlations import factor, gaussian_of_rank, rank_of_gaussian
from sim.seeds import block_rng

N = 20_000
ALPHA = 1e-4  # KS level: a correct sampler fails once in 10,000 seeds

MARGINALS: dict[str, Any] = {
    "a": {"uniform": [0.2, 0.9]},
    "b": {"beta": [2, 5]},
    "c": {"normal": [0.5, 0.2], "truncate": [0, 1]},
    "d": {"lognormal": [0, 0.5], "truncate": [0, 3]},
}
EXACT = {
    "a": stats.uniform(0.2, 0.7),
    "b": stats.beta(2, 5),
    "c": stats.truncnorm(-2.5, 2.5, 0.5, 0.2),
}


def _scenario(correlations: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """Four board members whose resistances are drawn; a patience; a crowd; nothing moves."""
    agents: dict[str, Any] = {
        name: {
            "kind": "individual",
            "positions": ["no", "yes"],
            "initial": "no",
            "rules": [
                {
                    "kind": "hazard",
                    "id": "sign",
                    "to": "yes",
                    "pressure": "push",
                    "resistance": dist,
                    "rate": 0.01,
                }
            ],
        }
        for name, dist in MARGINALS.items()
    }
    agents["a"]["patience"] = {"triangular": [10, 20, 40]}
    agents["a"]["rules"].append(
        {"kind": "hazard", "to": "yes", "pressure": "push", "resistance": 0.5, "rate": 0.01}
    )
    agents["crowd"] = {
        "kind": "population",
        "size": 10,
        "positions": ["out", "in"],
        "initial": "out",
        "rule": {
            "kind": "hazard",
            "to": "in",
            "pressure": "push",
            "resistance": {"uniform": [0, 1]},
            "rate": {"uniform": [0.01, 0.02]},
        },
    }
    agents["choosy"] = {
        "kind": "individual",
        "positions": ["no", "yes"],
        "initial": "no",
        "rules": [
            {
                "kind": "hazard",
                "to": "yes",
                "pressure": "push",
                "resistance": {"choice": [0.2, 0.8]},
                "rate": 0.01,
            }
        ],
    }
    data: dict[str, Any] = {
        "kind": "scenario",
        "name": "board",
        "clock": {"tick": 1, "horizon": 4},
        "agents": agents,
        "signals": {"push": [{"constant": 0.0}]},
        "outcomes": {"end": {"trigger": {"kind": "deadline", "at": 4}}},
        **extra,
    }
    if correlations is not None:
        data["correlations"] = correlations
    return data


def _path(name: str) -> str:
    return f"agents.{name}.rules.sign.resistance"


def _drawn(data: dict[str, Any], n: int = N, seed: int = 5) -> tuple[dict[str, np.ndarray], Any]:
    """Each member's resistance and a's patience, drawn for ``n`` replicates of block 0."""
    plan = compile_plan(scenario_from_dict(data))
    state = BlockState(plan, block_rng(seed, 0), n)
    out = {k: state.param[plan.param_slot[(k, 0, "resistance")]] for k in MARGINALS}
    out["patience"] = state.due[plan.patience_slot["a"]]
    out["crowd.rate"] = state.param[plan.param_slot[("crowd", 0, "rate")]]
    out["a.rule1"] = state.param[plan.param_slot[("a", 1, "resistance")]]
    return out, state


def test_the_scenario_runs_without_correlations() -> None:
    drawn, _ = _drawn(_scenario(), n=10)
    assert set(drawn) >= set(MARGINALS)


def test_spearman_is_the_copulas_closed_form() -> None:
    rho = 0.7
    corr = {"board": {"parameters": [_path(k) for k in MARGINALS], "gaussian": rho}}
    drawn, _ = _drawn(_scenario(corr))
    expected = rank_of_gaussian(rho)  # (6/π) asin(ρ/2)
    # CI of Spearman's rho: standard error about (1 - r²) / sqrt(n - 3) (Fisher-like, conservative)
    tol = 4.5 * (1 - expected**2) / math.sqrt(N - 3)
    names = list(MARGINALS)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            r = stats.spearmanr(drawn[a], drawn[b]).statistic
            assert abs(r - expected) < tol, (a, b, r, expected)


def test_a_rank_correlation_is_met_as_stated() -> None:
    corr = {"pair": {"parameters": [_path("a"), _path("b")], "rank": -0.4}}
    drawn, _ = _drawn(_scenario(corr))
    r = stats.spearmanr(drawn["a"], drawn["b"]).statistic
    assert abs(r - (-0.4)) < 4.5 * (1 - 0.16) / math.sqrt(N - 3)


def test_a_full_matrix_gives_each_pair_its_own_correlation() -> None:
    m = [[1, 0.8, 0.0], [0.8, 1, -0.3], [0.0, -0.3, 1]]
    corr = {"three": {"parameters": [_path("a"), _path("b"), _path("c")], "gaussian": m}}
    drawn, _ = _drawn(_scenario(corr))
    for (i, x), (j, y) in [((0, "a"), (1, "b")), ((1, "b"), (2, "c")), ((0, "a"), (2, "c"))]:
        expected = rank_of_gaussian(m[i][j])
        r = stats.spearmanr(drawn[x], drawn[y]).statistic
        assert abs(r - expected) < 4.5 * (1 - expected**2) / math.sqrt(N - 3) + 1e-3


@pytest.mark.parametrize("name", ["a", "b", "c"])
def test_each_marginal_is_unchanged(name: str) -> None:
    corr = {"board": {"parameters": [_path(k) for k in MARGINALS], "gaussian": 0.9}}
    drawn, _ = _drawn(_scenario(corr))
    bound = float(stats.kstwo.ppf(1 - ALPHA, N))
    assert stats.kstest(drawn[name], EXACT[name].cdf).statistic < bound


def test_a_truncated_lognormal_marginal_is_unchanged() -> None:
    corr = {"board": {"parameters": [_path(k) for k in MARGINALS], "gaussian": 0.9}}
    x, _ = _drawn(_scenario(corr))
    tn = stats.truncnorm(-np.inf, math.log(3) / 0.5, 0, 0.5)
    bound = float(stats.kstwo.ppf(1 - ALPHA, N))
    assert stats.kstest(x["d"], lambda v: tn.cdf(np.log(np.maximum(v, 1e-300)))).statistic < bound


def test_a_patience_and_a_populations_rate_can_be_correlated() -> None:
    corr = {
        "mixed": {
            "parameters": ["agents.a.patience", "agents.crowd.rule.rate", _path("b")],
            "rank": 0.5,
        }
    }
    drawn, _ = _drawn(_scenario(corr))
    tol = 4.5 * 0.75 / math.sqrt(N - 3) + 0.01  # the patience is a whole tick: some ties
    assert abs(stats.spearmanr(drawn["crowd.rate"], drawn["b"]).statistic - 0.5) < tol
    assert abs(stats.spearmanr(drawn["patience"], drawn["crowd.rate"]).statistic - 0.5) < tol


def test_correlations_leave_every_other_draw_as_it_was() -> None:
    plain, plain_state = _drawn(_scenario(), n=512)
    corr = {"pair": {"parameters": [_path("a"), _path("b")], "gaussian": 0.5}}
    tied, tied_state = _drawn(_scenario(corr), n=512)
    for name in ("c", "d", "crowd.rate", "a.rule1", "patience"):
        np.testing.assert_array_equal(plain[name], tied[name], err_msg=name)
    assert not np.array_equal(plain["a"], tied["a"])
    # per-person draws too (the crowd's resistances), which come later in the stream
    plain_crowd, tied_crowd = plain_state.populations[0], tied_state.populations[0]
    assert plain_crowd.resistance.shape == (512, 10)
    np.testing.assert_array_equal(plain_crowd.resistance, tied_crowd.resistance)


def test_a_file_without_correlations_compiles_to_the_same_draws() -> None:
    plan = compile_plan(scenario_from_dict(_scenario()))
    assert all(d.copula is None for d in plan.draws)
    assert "correlations" not in scenario_from_dict(_scenario()).canonical()


def test_each_block_draws_the_same_whatever_the_batch() -> None:
    corr = {"board": {"parameters": [_path(k) for k in MARGINALS], "rank": 0.6}}
    data = _scenario(corr)
    plan = compile_plan(scenario_from_dict(data))
    slot = plan.param_slot[("b", 0, "resistance")]
    together = BlockState(plan, Streams([block_rng(9, 0), block_rng(9, 1)], 64), 128)
    for b in (0, 1):
        alone = BlockState(plan, block_rng(9, b), 64)
        rows = slice(64 * b, 64 * (b + 1))
        np.testing.assert_array_equal(together.param[slot][rows], alone.param[slot])


def test_results_are_the_same_at_two_batch_sizes() -> None:
    corr = {"board": {"parameters": [_path(k) for k in MARGINALS], "gaussian": 0.6}}
    data = _scenario(corr)
    data["signals"]["push"] = [{"constant": 0.7}]
    data["clock"]["horizon"] = 40
    data["outcomes"]["end"]["trigger"]["at"] = 40
    sc = scenario_from_dict(data)
    one = sim.run(sc, 4 * 512, seed=3, batch_blocks=1)
    four = sim.run(sc, 4 * 512, seed=3, batch_blocks=4)
    for name in ("outcome", "time", "switch_time", "final_pos"):
        np.testing.assert_array_equal(getattr(one, name), getattr(four, name), err_msg=name)
    assert np.isfinite(one.switch_time).any()  # something did happen


def test_the_factor_reproduces_the_matrix_even_when_singular() -> None:
    for m in ([[1, 1], [1, 1]], [[1, 0.3, 0.3], [0.3, 1, 0.3], [0.3, 0.3, 1]], [[1, -1], [-1, 1]]):
        low = np.asarray(factor([[float(x) for x in r] for r in m]))
        np.testing.assert_allclose(low @ low.T, m, atol=1e-12)


def test_rank_and_gaussian_convert_both_ways() -> None:
    for r in (-0.9, -0.2, 0.0, 0.35, 1.0):
        assert rank_of_gaussian(gaussian_of_rank(r)) == pytest.approx(r, abs=1e-12)


# ------------------------------------------------------------------ errors
def _errors(tmp_path: Path, data: dict[str, Any]) -> str:
    path = tmp_path / "s.yaml"  # JSON is YAML: a real file, read with line numbers
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.stderr


BAD = [
    (
        {"x": {"parameters": [_path("a"), _path("b")], "gaussian": [[1, 2], [2, 1]]}},
        "correlations.x.gaussian: correlations lie in [-1, 1]",
    ),
    (
        {"x": {"parameters": [_path("a"), _path("b"), _path("c")], "gaussian": -0.8}},
        "(one correlation for all 3 parameters: ρ >= -0.5)",
    ),
    (
        {
            "x": {
                "parameters": [_path("a"), _path("b"), _path("c")],
                "gaussian": [[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]],
            }
        },
        "correlations.x.gaussian: not positive semi-definite",
    ),
    (
        {"x": {"parameters": [_path("a"), _path("b")], "gaussian": [[1, 0.2], [0.3, 1]]}},
        "symmetric",
    ),
    (
        {"x": {"parameters": [_path("a"), _path("b"), _path("c")], "gaussian": [[1, 0], [0, 1]]}},
        "correlations.x.gaussian: the matrix has 2 rows for 3 parameters",
    ),
    (
        {"x": {"parameters": [_path("a"), "agents.zed.rules.sign.resistance"]}},
        "correlations.x",  # neither gaussian nor rank, and an unknown agent
    ),
    (
        {"x": {"parameters": [_path("a"), "agents.bb.rules.sign.resistance"], "rank": 0.2}},
        "correlations.x.parameters.1: unknown agent 'bb'; did you mean 'b'?",
    ),
    (
        {"x": {"parameters": [_path("a"), "agents.b.rules.nope.resistance"], "rank": 0.2}},
        "correlations.x.parameters.1: agent 'b' has 1 rule(s), no index or id 'nope'",
    ),
    (
        {"x": {"parameters": [_path("a"), "agents.a.rules.1.resistance"], "rank": 0.2}},
        "correlations.x.parameters.1: resistance of rule 1 of 'a' is 0.5, not a distribution",
    ),
    (
        {"x": {"parameters": [_path("a"), "agents.choosy.rules.0.resistance"], "rank": 0.2}},
        "is a choice: only continuous distributions",
    ),
    (
        {"x": {"parameters": [_path("a"), "agents.crowd.rule.resistance"], "rank": 0.2}},
        "correlations.x.parameters.1: resistance of rule 0 of 'crowd' is drawn per person",
    ),
    (
        {
            "x": {"parameters": [_path("a"), _path("b")], "rank": 0.2},
            "y": {"parameters": [_path("c"), _path("a")], "rank": 0.2},
        },
        "correlations.y.parameters.1: 'agents.a.rules.sign.resistance' is already correlated",
    ),
    (
        {"x": {"parameters": [_path("a"), "signals.push"], "rank": 0.2}},
        "correlations.x.parameters.1: expected a parameter path",
    ),
]


@pytest.mark.parametrize(("corr", "message"), BAD, ids=[m for _, m in BAD])
def test_a_bad_correlation_is_a_located_error(
    tmp_path: Path, corr: dict[str, Any], message: str
) -> None:
    err = _errors(tmp_path, _scenario(copy.deepcopy(corr)))
    assert message in err
    assert f"{tmp_path / 's.yaml'}:" in err


# ------------------------------------- parameters set to constants (--set, sweeps)
THREE = {
    "x": {
        "parameters": [_path("a"), _path("b"), _path("c")],
        "gaussian": [[1, 0.5, 0.7], [0.5, 1, 0.2], [0.7, 0.2, 1]],
    }
}


def _file(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def _copulas(sc: Any) -> dict[str, tuple[int, int]]:
    """Each correlated resistance's (entry, column) in the compiled plan."""
    plan = compile_plan(sc)
    where = {slot: key[0] for key, slot in plan.param_slot.items() if key[2] == "resistance"}
    return {
        where[d.slot]: (d.copula.index, d.column)
        for d in plan.draws
        if d.kind == "param" and d.copula is not None
    }


def test_a_parameter_set_to_a_constant_leaves_its_correlation(tmp_path: Path) -> None:
    from sim.scenario import load_scenario

    path = _file(tmp_path, _scenario(copy.deepcopy(THREE)))
    sc = load_scenario(path, [f"{_path('b')}=0.6"])
    entry = sc.correlations["x"]
    assert entry.parameters == [_path("a"), _path("c")]
    assert entry.matrix() == [[1, 0.7], [0.7, 1]]  # b's row and column left
    assert _copulas(sc) == {"a": (0, 0), "c": (0, 1)}
    # left with one parameter, the entry disappears; the file itself is untouched
    sc = load_scenario(path, [f"{_path('b')}=0.6", f"{_path('c')}=0.3"])
    assert sc.correlations == {} and _copulas(sc) == {}
    assert load_scenario(path).correlations["x"].parameters == THREE["x"]["parameters"]


def test_a_distribution_set_in_its_place_stays_correlated(tmp_path: Path) -> None:
    from sim.scenario import load_scenario

    path = _file(tmp_path, _scenario(copy.deepcopy(THREE)))
    sc = load_scenario(path, [f"{_path('b')}={{uniform: [0, 1]}}"])
    assert len(sc.correlations["x"].parameters) == 3


def test_a_constant_in_the_file_itself_is_still_an_error(tmp_path: Path) -> None:
    from sim.scenario import load_scenario

    corr = {"x": {"parameters": [_path("a"), "agents.a.rules.1.resistance"], "rank": 0.2}}
    path = _file(tmp_path, _scenario(corr))
    with pytest.raises(sim.InputError, match=r"rule 1 of 'a' is 0\.5, not a distribution"):
        load_scenario(path, [f"{_path('b')}=0.6"])


def test_a_sweep_point_releases_on_a_copy() -> None:
    from sim.points import point_scenario

    base = scenario_from_dict(_scenario(copy.deepcopy(THREE))).canonical()
    before = copy.deepcopy(base)
    sc = point_scenario(base, [_path("a"), _path("c")], (0.4, 0.5))
    assert sc.correlations == {}
    assert base == before  # the base is never changed
    sc = point_scenario(base, [_path("c")], (0.5,))
    assert sc.correlations["x"].parameters == [_path("a"), _path("b")]


def test_sensitivity_from_scenario_varies_correlated_parameters(tmp_path: Path) -> None:
    pytest.importorskip("SALib")
    corr = {"x": {"parameters": [_path("a"), _path("b")], "rank": 0.5}}
    data = _scenario(corr)
    del data["agents"]["crowd"]  # its thresholds are drawn per person: not an input
    del data["agents"]["choosy"]
    path = _file(tmp_path, data)
    args = ["sensitivity", str(path), "--from-scenario", "--method", "morris", "-N", "2"]
    args += ["-n", "4", "--seed", "1", "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "not a distribution" not in result.output


def test_rejuvenation_leaves_correlated_parameters_alone() -> None:
    """A move of one correlated parameter with its marginal prior would lose the copula."""
    from sim.rejuvenate import targets

    corr = {"pair": {"parameters": [_path("a"), _path("b")], "gaussian": 0.6}}
    labels = {t.label for t in targets(compile_plan(scenario_from_dict(_scenario(corr))))}
    assert _path("c") in labels and _path("d") in labels
    assert _path("a") not in labels and _path("b") not in labels
