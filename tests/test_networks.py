"""Populations on a graph: limit cases, an independent implementation (ndlib), batches.

- On a complete graph where everyone also hears themselves, each person's
  share of neighbours is the population's fraction exactly, so a network
  population must give the mean-field population's results replicate by
  replicate (same draws, same comparisons).
- On networkx's complete graph (no self-loops) the answer agrees with the mean
  field statistically.
- On one fixed graph, the threshold model agrees with ndlib's ThresholdModel:
  exactly with given thresholds, statistically with drawn ones.
"""

from __future__ import annotations

import copy
import itertools
import math
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest

import sim
from sim.engine import BlockState
from sim.plan import compile_plan


def _scenario(rule: dict[str, Any], size: int = 40, network: Any = None, **more: Any) -> dict:
    pop: dict[str, Any] = {
        "kind": "population",
        "size": size,
        "positions": ["silent", "signed"],
        "initial": "silent",
        "rule": rule,
    }
    if network is not None:
        pop["network"] = network
    return {
        "kind": "scenario",
        "name": "net",
        "clock": {"horizon": more.pop("horizon", 40)},
        "agents": {
            "staff": pop,
            "market": {"kind": "source", "curve": {"kind": "ramp", "end": 40, "end_value": 0.6}},
        },
        "signals": {
            "peers": [
                {"fraction": "staff", "position": "signed", "weight": 0.7},
                {"curve": "market", "weight": 0.5},
            ],
            "support": [{"signal": "peers"}, {"constant": -0.1}],
        },
        "outcomes": {"never": {"trigger": {"kind": "deadline", "at": 1000}}},
        **more,
    }


def _complete_with_self(tmp_path: Path, n: int) -> dict[str, str]:
    path = tmp_path / "complete.txt"
    lines = [f"{u} {v}" for u, v in itertools.combinations_with_replacement(range(n), 2)]
    path.write_text("# everyone hears everyone, themselves too\n" + "\n".join(lines) + "\n")
    return {"edges": str(path)}


def _arrays(res: Any) -> dict[str, Any]:
    return {k: getattr(res, k) for k in ("outcome", "final_fraction", "half_time")}


def _same(a: Any, b: Any) -> None:
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


RULES = {
    "threshold": {"kind": "threshold", "to": "signed", "support": "support",
                  "threshold": {"uniform": [0.0, 0.8]}},
    "threshold_reversible": {"kind": "threshold", "to": "signed", "support": "support",
                             "threshold": {"uniform": [0.0, 0.8]}, "reversible": True},
    "hazard_dense": {"kind": "hazard", "to": "signed", "pressure": "support",
                     "resistance": {"uniform": [0.0, 0.5]}, "rate": 0.3},
    "logistic_dense_reversible": {"kind": "logistic", "to": "signed", "pressure": "support",
                                  "resistance": {"uniform": [0.1, 0.4]}, "rate": 0.2,
                                  "slope": 8, "reversible": True},
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(RULES))
def test_complete_graph_hearing_oneself_is_the_mean_field_exactly(
    tmp_path: Path, kind: str
) -> None:
    n = 40
    mean_field = sim.scenario_from_dict(_scenario(RULES[kind], n))
    network = sim.scenario_from_dict(_scenario(RULES[kind], n, _complete_with_self(tmp_path, n)))
    a = sim.run(mean_field, 300, seed=5)
    b = sim.run(network, 300, seed=5)
    assert a.final_fraction.mean() > 0.05  # the model moves: the check can fail
    _same(_arrays(a), _arrays(b))


def _mean_final(res: Any) -> tuple[float, float]:
    f = res.final_fraction[:, 0]
    return float(f.mean()), float(f.std(ddof=1) / math.sqrt(len(f)))


def test_networkx_complete_graph_agrees_with_the_mean_field() -> None:
    # without self-loops a person hears K / (N - 1), not K / N: a bias of order
    # 1/N, far inside the interval at N = 600
    rule = {"kind": "hazard", "to": "signed", "pressure": "support", "resistance": 0.0,
            "rate": 0.2}  # fmt: skip
    complete = {"generator": "complete", "graph_seed": 0}
    a = sim.run(sim.scenario_from_dict(_scenario(rule, 600, horizon=24)), 300, seed=2)
    b = sim.run(sim.scenario_from_dict(_scenario(rule, 600, complete, horizon=24)), 300, seed=3)
    (ma, sa), (mb, sb) = _mean_final(a), _mean_final(b)
    assert 0.1 < ma < 0.9
    z = abs(ma - mb) / math.hypot(sa, sb)
    assert z < 4.0, (ma, mb, z)  # 4 standard errors: a false alarm once in 16,000 runs


# ------------------------------------------------------------------ ndlib
GRAPH = {"generator": "watts_strogatz", "params": {"k": 6, "p": 0.1}, "graph_seed": 3}
N = 200


def _threshold_scenario(threshold: Any, horizon: int) -> dict[str, Any]:
    rule = {"kind": "threshold", "to": "signed", "support": "peers", "threshold": threshold}
    data = _scenario(rule, N, GRAPH, horizon=horizon)
    data["signals"] = {"peers": [{"fraction": "staff", "position": "signed"}]}
    return data


def _ndlib_run(thresholds: np.ndarray, iterations: int, seed: int) -> list[float]:
    """Fractions after each iteration of ndlib's ThresholdModel (threshold 0: seeded)."""
    mc = pytest.importorskip("ndlib.models.ModelConfig")
    ep = pytest.importorskip("ndlib.models.epidemics")
    g = nx.watts_strogatz_graph(N, 6, 0.1, seed=3)
    model = ep.ThresholdModel(g, seed=seed)
    config = mc.Configuration()
    for i in g.nodes():
        config.add_node_configuration("threshold", i, float(thresholds[i]))
    config.add_model_initial_configuration("Infected", [i for i in g if thresholds[i] <= 0])
    model.set_initial_status(config)
    runs = model.iteration_bunch(iterations + 1, node_status=False)
    return [r["node_count"][1] / N for r in runs]


def test_threshold_model_matches_ndlib_exactly_with_given_thresholds() -> None:
    rng = np.random.default_rng(11)
    th = rng.choice([0.0, 0.15, 0.35, 0.55], size=N, p=[0.05, 0.45, 0.3, 0.2])
    th += np.where(th > 0, rng.uniform(-0.05, 0.05, N), 0.0)  # off the grid of shares
    sc = sim.scenario_from_dict(_threshold_scenario(th.tolist(), horizon=15))
    res = sim.run(sc, 2, seed=1, record=True)
    assert res.trajectories is not None
    ours = res.trajectories["staff.signed"][res.trajectories["replicate"] == 0]
    theirs = _ndlib_run(th, 14, seed=0)
    # tick 1 moves the seeds (ndlib's iteration 0); tick k + 1 is ndlib's iteration k
    np.testing.assert_array_equal(ours, theirs)
    assert len(set(ours)) > 3  # a cascade over several ticks


def test_threshold_model_agrees_with_ndlib_statistically() -> None:
    # thresholds off the shares a degree of 4 to 8 makes (no ties to break)
    choice = {"choice": [0.0, 0.15, 0.35, 0.55], "p": [0.03, 0.3, 0.4, 0.27]}
    reps, iterations = 200, 20
    res = sim.run(sim.scenario_from_dict(_threshold_scenario(choice, iterations + 1)), reps, seed=4)
    ours = res.final_fraction[:, 0]
    rng = np.random.default_rng(99)
    theirs = np.array(
        [
            _ndlib_run(rng.choice(choice["choice"], size=N, p=choice["p"]), iterations, seed=k)[-1]
            for k in range(reps)
        ]
    )
    se = math.hypot(ours.std(ddof=1), theirs.std(ddof=1)) / math.sqrt(reps)
    assert 0.05 < theirs.mean() < 0.95
    assert abs(ours.mean() - theirs.mean()) < 4 * se, (ours.mean(), theirs.mean(), se)


# ----------------------------------------------------------- reproducibility
def _batch_case(rule: dict[str, Any], network: dict[str, Any]) -> Any:
    return sim.scenario_from_dict(_scenario(rule, 60, network, horizon=30))


@pytest.mark.parametrize(
    ("rule", "network"),
    [
        (dict(RULES["threshold"], spontaneous=0.01), GRAPH),
        (RULES["hazard_dense"], {"generator": "barabasi_albert", "params": {"m": 2},
                                 "graph_seed": 1}),
        (dict(RULES["logistic_dense_reversible"], resistance=0.2),
         {"generator": "watts_strogatz", "params": {"k": 4, "p": 0.2},
          "fresh_graph_per_replicate": True}),
    ],
    ids=["threshold", "hazard", "fresh_graphs"],
)  # fmt: skip
def test_results_do_not_depend_on_the_batch(rule: dict[str, Any], network: dict[str, Any]) -> None:
    sc = _batch_case(rule, network)
    one = sim.run(sc, 1100, seed=8, batch_blocks=1)
    two = sim.run(sc, 1100, seed=8, batch_blocks=2)
    assert 0.02 < one.final_fraction.mean() < 0.98
    _same(_arrays(one), _arrays(two))


def test_one_graph_for_all_replicates_unless_fresh() -> None:
    ws = {"generator": "watts_strogatz", "params": {"k": 4, "p": 0.3}}
    fixed = _batch_case(RULES["hazard_dense"], {**ws, "graph_seed": 5})
    fresh = _batch_case(RULES["hazard_dense"], {**ws, "fresh_graph_per_replicate": True})
    rng = np.random.default_rng(0)
    a = BlockState(compile_plan(fixed), rng, 4).populations[0]
    b = BlockState(compile_plan(fresh), rng, 4).populations[0]
    assert getattr(a, "graphs", "?") is None
    want = nx.to_scipy_sparse_array(nx.watts_strogatz_graph(60, 4, 0.3, seed=5)).toarray()
    np.testing.assert_array_equal(a.matrix.toarray(), want)
    graphs = [g.toarray() for g, _ in b.graphs]
    assert len(graphs) == 4
    assert all(not np.array_equal(x, y) for x, y in itertools.combinations(graphs, 2))


def test_an_event_changes_every_persons_threshold_on_a_graph() -> None:
    data = _threshold_scenario(0.9, horizon=6)
    data["events"] = {
        "amnesty": {
            "trigger": {"kind": "at", "time": 3},
            "effects": [{"kind": "change", "agent": "staff", "param": "threshold", "set": 0.0}],
        }
    }
    res = sim.run(sim.scenario_from_dict(data), 3, seed=1, record=True)
    assert res.trajectories is not None
    ours = res.trajectories["staff.signed"][res.trajectories["replicate"] == 0]
    np.testing.assert_array_equal(ours, [0, 0, 1, 1, 1, 1])


def test_a_person_without_neighbours_hears_a_share_of_zero(tmp_path: Path) -> None:
    edges = tmp_path / "e.csv"
    edges.write_text("1,2\n2,3\n3,1\n")  # person 0 hears no one
    data = _threshold_scenario([0.5, 0.0, 0.0, 0.0], horizon=4)
    data["agents"]["staff"].update(size=4, network={"edges": str(edges)})
    res = sim.run(sim.scenario_from_dict(data), 2, seed=1)
    np.testing.assert_array_equal(res.final_fraction[:, 0], [0.75, 0.75])


def test_the_resolved_scenario_keeps_the_file_and_its_hash(tmp_path: Path) -> None:
    (tmp_path / "g.txt").write_text("0 1\n1 2\n")
    data = _threshold_scenario([0.0, 0.5, 0.5], horizon=4)
    data["agents"]["staff"].update(size=3, network={"edges": "g.txt"})
    scenario = tmp_path / "s.yaml"
    import yaml

    scenario.write_text(yaml.safe_dump(data))
    sc = sim.load_scenario(scenario)  # relative to the scenario file, not the working directory
    net = sc.canonical()["agents"]["staff"]["network"]
    assert Path(net["edges"]) == (tmp_path / "g.txt").resolve()
    assert len(net["sha256"]) == 64
    again = sim.scenario_from_dict(copy.deepcopy(sc.canonical()))
    assert again.sha256() == sc.sha256()
    (tmp_path / "g.txt").write_text("0 1\n0 2\n")
    with pytest.raises(sim.InputError, match="changed since"):
        sim.scenario_from_dict(copy.deepcopy(sc.canonical()))
