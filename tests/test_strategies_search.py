"""ER/WS random graph models, local search and REA: unit behaviour, state round trips, and on the
real NB201 table REA and local search beat random search."""
from __future__ import annotations

import json
import math

import networkx as nx
import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import runner
from harness.config import RunConfig
from harness.contracts import (
    DagConstraints,
    LabelledDAG,
    Proposal,
    RunContext,
)
from harness.errors import HarnessError
from harness.testing import SyntheticBenchmark, check_resume, drive, unit
from spaces.nb201 import NB201Space
from strategies import graph_models
from strategies.graph_models import (
    ErdosRenyiSearch,
    WattsStrogatzSearch,
    orient_and_label,
)
from strategies.local_search import LocalSearch
from strategies.rea import RegularizedEvolution, RegularizedEvolutionNB201
from strategies.registry import STRATEGIES

NB201 = NB201Space()
CTX = RunContext(fidelities=(12, 200), fidelity=200, budget=None, time_budget=None)

TARGETS = {
    "er": "strategies.graph_models:ErdosRenyiSearch",
    "ws": "strategies.graph_models:WattsStrogatzSearch",
    "local_search": "strategies.local_search:LocalSearch",
    "rea": "strategies.rea:RegularizedEvolution",
    "rea_nb201": "strategies.rea:RegularizedEvolutionNB201",
}


def objective(space, failures: float = 0.0):
    """A deterministic synthetic validation accuracy: op-index sum plus hashed noise, some failing."""
    def f(arch) -> float:
        cid = space.canonical_id(arch)
        if unit("fail|" + cid) < failures:
            return math.nan
        return float(sum(space.to_dag(arch).X)) + 0.5 * unit(cid)
    return f


def setup(strategy, seed: int = 0, space=NB201):
    strategy.setup(space, np.random.SeedSequence(seed), CTX)
    return strategy


def queries(strategy, f, steps: int, n: int = 1, space=NB201) -> list[tuple]:
    """(arch, val) per query of ``steps`` ask(n)/tell rounds against ``f`` (``harness.testing.drive``)."""
    return [(s.proposal.arch, s.observation.val_acc) for s in drive(strategy, space, f, steps, n, full=True)]


# -- ER / WS ------------------------------------------------------------------------------------

@st.composite
def graphs_and_constraints(draw):
    n = draw(st.integers(2, 9))
    pairs = [(i, j) for i in range(n) for j in range(i)]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True)) if pairs else []
    mask = np.full((n, n), -1, dtype=np.int8)
    for i, j in pairs:
        mask[i, j] = draw(st.sampled_from([-1, -1, 0, 1]))
    n_ops = draw(st.integers(1, 5))
    fixed = tuple(draw(st.sampled_from([-1, -1] + list(range(n_ops)))) for _ in range(n))
    allowed = tuple((f,) if f >= 0 else tuple(draw(st.lists(st.integers(0, n_ops - 1), min_size=1, unique=True)))
                    for f in fixed)
    c = DagConstraints(n_nodes=n, op_names=tuple(f"op{k}" for k in range(n_ops)), fixed_ops=fixed,
                       edge_mask=mask, allowed_ops=allowed)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from((j, i) if draw(st.booleans()) else (i, j) for i, j in edges)
    return g, c, set(edges)


@settings(max_examples=60, deadline=None)
@given(graphs_and_constraints(), st.integers(0, 2**32 - 1))
def test_orient_and_label_respects_every_mask(gce, seed):
    g, c, edges = gce
    dag = orient_and_label(g, c, np.random.default_rng(seed))
    assert isinstance(dag, LabelledDAG) and dag.n_nodes == c.n_nodes
    for i in range(c.n_nodes):
        for j in range(i):
            expected = {1: 1, 0: 0, -1: int((i, j) in edges)}[int(c.edge_mask[i, j])]
            assert dag.A[i, j] == expected, (i, j)
        assert dag.X[i] in c.allowed_ops[i]
        if c.fixed_ops[i] >= 0:
            assert dag.X[i] == c.fixed_ops[i]


@pytest.mark.parametrize("cls,keys", [(ErdosRenyiSearch, {"p"}), (WattsStrogatzSearch, {"k", "p"})])
def test_graph_models_record_hyperparameters_per_sample(cls, keys):
    s = setup(cls(), 3)
    props = s.ask(40)
    assert all(isinstance(p, Proposal) and NB201.is_valid(p.arch) for p in props)
    infos = [dict(p.info) for p in props]
    assert all(set(i) == {"graph_model"} | keys and i["graph_model"] == cls.name for i in infos)
    ps = [i["p"] for i in infos]
    lo, hi = (0.1, 0.5) if cls is ErdosRenyiSearch else (0.2, 0.8)
    assert all(lo <= p <= hi for p in ps) and len(set(ps)) == 40, "p is drawn per sample"
    if cls is WattsStrogatzSearch:
        assert {i["k"] for i in infos} == {2, 4, 6}
    # NB201's topology is fixed: the models only choose ops, uniformly
    ops = np.array([p.arch for p in s.ask(400)])
    assert set(ops.ravel()) == set(range(5))


class _OnlySparse(NB201Space):
    """NB201 whose DAG view is ignored; accepts only samples whose free-graph had <= 1 edge."""

    name = "only-sparse"

    def __init__(self):
        self.seen_edges: list[int] = []

    @property
    def dag_constraints(self):
        c = super().dag_constraints
        return DagConstraints(n_nodes=c.n_nodes, op_names=c.op_names, fixed_ops=c.fixed_ops,
                              edge_mask=np.full((c.n_nodes, c.n_nodes), -1, dtype=np.int8),
                              allowed_ops=c.allowed_ops)

    def from_dag(self, dag):
        self.seen_edges.append(int(dag.A.sum()))
        return tuple(x - 1 for x in dag.X[1:-1]) if dag.A.sum() <= 1 else None


def test_rejected_samples_are_redrawn_and_endless_rejection_is_an_error(monkeypatch):
    space = _OnlySparse()
    s = setup(ErdosRenyiSearch(), 1, space)
    props = s.ask(5)
    assert len(props) == 5 and len(space.seen_edges) > 5 and max(space.seen_edges) > 1
    monkeypatch.setattr(graph_models, "MAX_REJECTIONS", 50)
    s = setup(WattsStrogatzSearch(k_choices=(4,)), 1, space)
    with pytest.raises(HarnessError, match="only-sparse"):
        s.ask(1)


def test_bad_hyperparameter_ranges_are_refused():
    with pytest.raises(HarnessError, match="p_range"):
        setup(ErdosRenyiSearch(p_range=(0.6, 0.2)))
    with pytest.raises(HarnessError, match="k_choices"):
        setup(WattsStrogatzSearch(k_choices=(1,)))


def test_hyperparameters_reach_the_trajectory(tmp_path):
    STRATEGIES.register("ws", TARGETS["ws"])
    cfg = RunConfig(space="nb201", dataset="synthetic", strategy="ws", seed=0, budget=12, fidelity=200)
    out = runner.execute(cfg, tmp_path, None, evaluator=SyntheticBenchmark(NB201))
    extras = [json.loads(e) for e in pq.read_table(out.paths.trajectory).column("extra").to_pylist()]
    assert all(e["graph_model"] == "ws" and e["k"] in (2, 4, 6) and 0.2 <= e["p"] <= 0.8 for e in extras)


# -- local search -------------------------------------------------------------------------------

def _check_first_improvement(log, num_init):
    """Replays the log against the rules: starts, climb from the best, first improvement, restart."""
    seen, starts, cur, restarts = set(), [], None, 0
    for arch, val in log:
        cid = NB201.canonical_id(arch)
        assert cid not in seen, "local search re-queried an architecture"
        seen.add(cid)
        if cur is None:
            starts.append((arch, val))
            if len(starts) == num_init:
                cur, starts = max(starts, key=lambda s: s[1]), []
        else:
            assert arch in NB201.neighbours(cur[0]), "asked a non-neighbour while climbing"
            if val > cur[1]:
                cur = (arch, val)
        if cur is not None and all(NB201.canonical_id(nb) in seen for nb in NB201.neighbours(cur[0])):
            cur, restarts = None, restarts + 1
    return restarts


def test_local_search_moves_on_first_improvement_and_restarts_at_local_optima():
    f = objective(NB201)
    log = queries(setup(LocalSearch(num_init=10), 4), f, 400)
    assert _check_first_improvement(log, 10) >= 2
    best = max(v for _, v in log)
    assert best >= 30, "climbing the op-sum objective reaches the all-avg_pool region"


def test_local_search_full_variant_scans_the_whole_neighbourhood_then_takes_its_best():
    f = objective(NB201)
    log = queries(setup(LocalSearch(num_init=3, variant="full"), 2), f, 120)
    seen = {NB201.canonical_id(a) for a, _ in log[:3]}
    cur = max(log[:3], key=lambda s: s[1])

    def unseen_neighbours(arch):
        return {nb for nb in NB201.neighbours(arch) if NB201.canonical_id(nb) not in seen}

    pending, evaluated, moves = unseen_neighbours(cur[0]), [], 0
    for arch, val in log[3:]:
        assert arch in pending, "the full variant asks every unqueried neighbour before moving"
        pending.discard(arch)
        seen.add(NB201.canonical_id(arch))
        evaluated.append((arch, val))
        if not pending:
            best = max(evaluated, key=lambda s: s[1])
            if best[1] <= cur[1]:
                break  # local optimum: a restart follows
            cur, pending, evaluated, moves = best, unseen_neighbours(best[0]), [], moves + 1
    assert moves >= 2
    assert len({NB201.canonical_id(a) for a, _ in log}) == len(log)


def test_local_search_batches_and_failures():
    f = objective(NB201, failures=0.2)
    log = queries(setup(LocalSearch(), 5), f, 50, n=4)
    assert len(log) == 200 and len({NB201.canonical_id(a) for a, _ in log}) == 200
    assert any(math.isnan(v) for _, v in log)
    for variant in ("first", "full"):
        s = setup(LocalSearch(num_init=2, variant=variant), 6)
        queries(s, lambda a: math.nan, 5, n=3)  # every evaluation failing: keeps drawing new starts


def test_local_search_refuses_bad_parameters():
    with pytest.raises(HarnessError, match="variant"):
        setup(LocalSearch(variant="best"))


# -- REA ----------------------------------------------------------------------------------------

class _RecordingSpace(NB201Space):
    def __init__(self):
        self.parents: list = []

    def mutate(self, arch, rng):
        self.parents.append(arch)
        return super().mutate(arch, rng)


def _population(s):
    return [tuple(NB201.from_str(a)) for a, _ in s.state_dict()["population"]]


def test_rea_fills_population_then_ages_out_the_oldest():
    f = objective(NB201)
    s = setup(RegularizedEvolution(population_size=5, sample_size=2), 0)
    init = queries(s, f, 5)
    assert _population(s) == [a for a, _ in init]
    for _ in range(12):
        before = _population(s)
        (child, _), = queries(s, f, 1)
        assert _population(s) == before[1:] + [child]
    # a failed child is discarded: nobody ages out
    before = _population(s)
    queries(s, lambda a: math.nan, 3)
    assert _population(s) == before


def test_rea_mutates_the_tournament_winner():
    f = objective(NB201)
    space = _RecordingSpace()
    s = setup(RegularizedEvolution(population_size=4, sample_size=60), 1, space)
    queries(s, f, 4, space=space)
    for _ in range(15):
        pop = _population(s)
        best = max(pop, key=f)
        (child, _), = queries(s, f, 1, space=space)
        assert space.parents[-1] == best, "a large tournament (with replacement) contains the best"
        assert sum(x != y for x, y in zip(best, child)) == 1
    space = _RecordingSpace()
    s = setup(RegularizedEvolution(population_size=6, sample_size=1), 1, space)
    queries(s, f, 30, space=space)
    assert len(set(space.parents)) > 3, "a tournament of one picks members uniformly, not the best"


def test_rea_nb201_preset_and_batches():
    assert RegularizedEvolutionNB201().params() == {"population_size": 10, "sample_size": 3}
    assert RegularizedEvolution().params() == {"population_size": 30, "sample_size": 10}
    s = setup(RegularizedEvolutionNB201(), 2)
    log = queries(s, objective(NB201, failures=0.2), 12, n=5)
    assert len(log) == 60 and len(_population(s)) == 10


# -- shared contract: round trips and determinism -----------------------------------------------

FACTORIES = {
    "er": lambda: ErdosRenyiSearch(),
    "ws": lambda: WattsStrogatzSearch(),
    "local_search": lambda: LocalSearch(num_init=4),
    "local_search_full": lambda: LocalSearch(num_init=4, variant="full"),
    "rea": lambda: RegularizedEvolution(population_size=6, sample_size=3),
    "rea_nb201": lambda: RegularizedEvolutionNB201(),
}


@pytest.mark.parametrize("k,n", [(3, 1), (17, 1), (40, 1), (9, 3)])
@pytest.mark.parametrize("name", list(FACTORIES))
def test_state_round_trip_continues_identically(name, k, n):
    """Resumed at several phases (starts, climbing, after restarts), in batches, with failures;
    test_conformance's state_round_trip is 12 + 12 single queries with the default parameters."""
    check_resume(FACTORIES[name], NB201, objective(NB201, failures=0.1), k, 30, n, context=CTX, seed=11, label=name)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_seeds_differ(name):
    f = objective(NB201)
    a = queries(setup(FACTORIES[name](), 0), f, 15)
    b = queries(setup(FACTORIES[name](), 1), f, 15)
    assert a != b


# -- NB101 (space only, no benchmark data) ------------------------------------------------------

@pytest.mark.parametrize("cls", [ErdosRenyiSearch, WattsStrogatzSearch])
def test_graph_models_give_valid_nb101_specs(cls):
    from spaces.nb101 import NB101Space, prune

    space = NB101Space()
    s = setup(cls(), 0, space)
    for p in s.ask(100):
        assert space.is_valid(p.arch) and space.from_dag(space.to_dag(p.arch)) == p.arch
        matrix, _ops = prune(p.arch.matrix, p.arch.ops)  # App. F: <= 9 edges after pruning
        assert int(matrix.sum()) <= 9


@pytest.mark.parametrize("name", list(FACTORIES))
def test_search_strategies_run_and_round_trip_on_nb101(name):
    from spaces.nb101 import NB101Space

    space = NB101Space()
    check_resume(FACTORIES[name], space, objective(space, failures=0.1), 20, 20, 2, context=CTX, seed=11, label=name)


# -- the real NB201 table -----------------------------------------------------------------------

SEEDS = range(20)


def test_rea_and_local_search_beat_random_search_on_nb201(nb201_data_dir, tmp_path):
    """Mean best validation accuracy after 150 queries over 20 seeds (the table is built once)."""
    from blackboxes.registry import get_benchmark

    for name in ("local_search", "rea", "rea_nb201"):
        STRATEGIES.register(name, TARGETS[name])
    table = get_benchmark("nb201").make_evaluator("cifar10-valid", nb201_data_dir, NB201)

    def mean_best(name: str) -> float:
        bests = []
        for seed in SEEDS:
            cfg = RunConfig(space="nb201", dataset="cifar10-valid", strategy=name, seed=seed, budget=150, fidelity=200)
            o = runner.execute(cfg, tmp_path, nb201_data_dir, evaluator=table)
            assert o.n_rows == 150
            bests.append(o.best_val)
        return float(np.mean(bests))

    random = mean_best("random")
    for name in ("local_search", "rea", "rea_nb201"):
        score = mean_best(name)
        assert score > random + 0.1, f"{name}: mean best val {score:.3f} vs random {random:.3f} over {len(SEEDS)} seeds"
