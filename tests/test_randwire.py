"""RandWire: the pure space, the model builder's shapes and sizes (GraphPNAS Table 2 / Table 7),
the low-data oracle's determinism and cache, and a tiny end-to-end search on digits."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.contracts import LabelledDAG
from harness.testing import check_space
from spaces.randwire import RandWireArch, RandWireSpace


@pytest.mark.parametrize("n", [2, 3, 12])
def test_space_contract_at_other_sizes(n):
    """The benchmark's 8 (digits) and 32 nodes are in tests/test_spaces_contract.py."""
    check_space(RandWireSpace(n), n=5, seed=n)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 12), st.integers(0, 2**32 - 1))
def test_id_is_the_bits_and_moves_flip_one_edge(n, seed):
    space = RandWireSpace(n)
    rng = np.random.default_rng(seed)
    a = space.sample(rng)
    assert space.canonical_id(a) == space.to_str(a)  # isomorphic graphs are distinct architectures
    m = space.mutate(a, rng)
    assert sum(x != y for x, y in zip(a.bits, m.bits)) == 1
    assert len(space.neighbours(a)) == n * (n - 1) // 2 == len(set(space.neighbours(a)))


@st.composite
def _constrained_dags(draw):
    """(space, a DAG drawn under the space's ``dag_constraints``): forced/forbidden edges and fixed ops
    applied, every free edge and free op drawn."""
    space = RandWireSpace(draw(st.integers(2, 12)))
    c = space.dag_constraints
    n = c.n_nodes
    A = np.zeros((n, n), dtype=np.uint8)
    for i in range(n):
        for j in range(i):
            A[i, j] = draw(st.booleans()) if c.edge_mask[i, j] == -1 else c.edge_mask[i, j]
    X = tuple(draw(st.sampled_from(ops)) for ops in c.allowed_ops)
    return space, LabelledDAG(A, X)


@settings(max_examples=60, deadline=None)
@given(_constrained_dags())
def test_every_constrained_dag_round_trips(space_dag):
    """One DAG per architecture: a generator's log P of a DAG is the log P of its architecture."""
    space, dag = space_dag
    arch = space.from_dag(dag)
    assert space.is_valid(arch)
    assert space.to_dag(arch) == dag


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 12), st.integers(0, 2**32 - 1))
def test_every_free_decision_changes_the_architecture(n, seed):
    space = RandWireSpace(n)
    c = space.dag_constraints
    dag = space.to_dag(space.sample(np.random.default_rng(seed)))
    ids = {space.canonical_id(space.from_dag(dag))}
    for i, j in zip(*np.nonzero(np.tril(c.edge_mask == -1, k=-1))):
        A = np.array(dag.A)
        A[i, j] ^= 1
        ids.add(space.canonical_id(space.from_dag(LabelledDAG(A, dag.X))))
    assert len(ids) == 1 + n * (n - 1) // 2
    assert all(len(ops) == 1 for ops in c.allowed_ops)  # ops are fixed: no decision there either


def test_dag_view_is_the_interior_graph():
    """Input/output are implicit (Xie et al. 2019 §3.2): node 0 -> 1 only; node order = bit order."""
    from strategies.dag_decisions import DagDecisions

    space = RandWireSpace(4)
    a = RandWireArch(4, "100001")  # edges 0 -> 1 and 2 -> 3
    dag = space.to_dag(a)
    assert dag.X == (0, 0, 0, 0) and space.dag_constraints.op_names == ("relu_sepconv3x3_bn",)
    assert np.array_equal(dag.A, a.adjacency()) and dag.A[1, 0] == 1 and dag.A[3, 2] == 1 and dag.A.sum() == 2
    c = space.dag_constraints
    assert c.n_nodes == 4 and c.fixed_ops == dag.X and c.max_edges is None
    assert (c.edge_mask[np.tril_indices(4, k=-1)] == -1).all()
    assert "".join(map(str, DagDecisions.of(space).encode(dag))) == a.bits
    assert space.from_dag(LabelledDAG(np.zeros((6, 6)), (0,) * 6)) is None  # the old (N + 2)-node view
    assert space.from_dag(LabelledDAG(np.zeros((4, 4)), (0, 1, 0, 0))) is None


def test_ws_strategy_and_explorer_draw_randwire_graphs_on_the_n_nodes():
    """The ER/WS models run on the DAG view's nodes: on RandWire that is G, so the WS baseline is the
    space's own prior (same draws, same graphs) and the GraphPNAS explorer keeps every WS edge."""
    from strategies.graph_models import WattsStrogatzSearch
    from strategies.graphpnas.loop import explorer_dag
    from strategies.graphpnas.presets import PAPER

    space = RandWireSpace(8)
    ws = WattsStrogatzSearch()
    ws.setup(space, np.random.SeedSequence(7))
    rng = np.random.default_rng(np.random.SeedSequence(7))
    assert [p.arch for p in ws.ask(20)] == [space.sample(rng) for _ in range(20)]
    for _ in range(20):
        dag, info = explorer_dag(PAPER["randwire"], space.dag_constraints, rng)
        assert space.from_dag(dag).bits.count("1") == 8 * dict(info)["k"] // 2  # WS keeps n k / 2 edges


def test_paper_space_size_and_bad_strings():
    space = RandWireSpace(32)
    assert len(space.sample(np.random.default_rng(0)).bits) == 496  # 2^496 = 2.1e149 (§4.1)
    with pytest.raises(ValueError):
        space.from_str("rw8:00")
    with pytest.raises(ValueError):
        space.from_str("rw32:" + "f" * 125)
    assert not space.is_valid("rw32:0")
    with pytest.raises(ValueError, match="n_nodes >= 2"):
        RandWireSpace(1)


torch = pytest.importorskip("torch")

from blackboxes.randwire import model as M  # noqa: E402
from blackboxes.randwire import oracle as O  # noqa: E402


def test_graphpnas_generator_puts_all_its_mass_on_architectures():
    """Summed over every architecture's DAG, the generator's P is 1: no mass on DAGs from_dag ignores."""
    from strategies.graphpnas.model import GraphGenerator

    space = RandWireSpace(4)
    archs = [RandWireArch(4, format(v, "06b")) for v in range(2**6)]
    dags = [(np.asarray(space.to_dag(a).A), space.to_dag(a).X) for a in archs]
    with torch.random.fork_rng(devices=[]):
        model = GraphGenerator(space.dag_constraints, hidden=16, att_hidden=16, n_components=2, n_prop=1)
    model.reset_parameters(torch.Generator().manual_seed(0))
    model = model.to(torch.float64)
    with torch.no_grad():
        assert abs(model.log_prob(dags).exp().sum().item() - 1.0) < 1e-9


def _params(arch, cfg):
    return sum(p.numel() for p in M.build(arch, cfg).parameters())


def test_base_parameter_count_matches_table2():
    fc = RandWireArch(32, "1" * 496)
    n_fc = _params(fc, M.PRESETS["base"])
    assert n_fc == 3_458_837 and abs(n_fc / 3.49e6 - 1) < 0.01  # Table 2 "FC": 3.49 M
    rng = np.random.default_rng(0)
    ws = [_params(RandWireSpace(32).sample(rng), M.PRESETS["base"]) for _ in range(3)]
    assert all(2.9e6 < n < n_fc for n in ws)  # Table 2 searched graphs: 3.22-3.32 M
    assert _params(fc, M.PRESETS["large"]) == 20_863_238  # Table 2 "Large": 19.2-19.8 M (sparse G)


@pytest.mark.parametrize("name,shape", [("digits", (2, 1, 8, 8)), ("cifar", (2, 3, 32, 32))])
def test_output_shapes(name, shape):
    a = RandWireSpace(8).sample(np.random.default_rng(1))
    model = M.build(a, M.PRESETS[name])
    assert model(torch.zeros(shape)).shape == (2, M.PRESETS[name].n_classes)


def _oracle(tmp_path, epochs=1):
    space = RandWireSpace(8)
    ev = O.make_low_data_oracle("digits", tmp_path, space)
    ev.fidelities = (epochs,)
    return space, ev


def test_oracle_deterministic_and_cached(tmp_path):
    space, ev = _oracle(tmp_path)
    a = space.sample(np.random.default_rng(3))
    (r1,) = ev.evaluate([a], 1, [-1])
    assert 0 <= r1.val_acc <= 100 and math.isfinite(r1.test_acc) and r1.cost_s > 0
    extra = dict(r1.extra)
    assert extra["cached"] == 0 and extra["params"] > 1000 and extra["flops"] > 1000
    _, fresh = _oracle(tmp_path / "other")  # no shared cache: trains again, same answer
    (r2,) = fresh.evaluate([a], 1, [-1])
    assert (r2.val_acc, r2.test_acc) == (r1.val_acc, r1.test_acc)
    _, again = _oracle(tmp_path)  # same cache dir, new process state: free
    (r3,) = again.evaluate([a], 1, [-1])
    # a cached answer costs what its training cost, so a warm cache changes no trajectory
    assert (r3.val_acc, r3.cost_s, dict(r3.extra)["cached"]) == (r1.val_acc, r1.cost_s, 1.0)
    assert again.describe()["data"]["fraction"] == 0.5


@pytest.mark.slow
def test_tiny_search_on_digits(tmp_path, monkeypatch):
    from blackboxes.registry import get_benchmark
    from harness import runner
    from harness.config import RunConfig

    assert get_benchmark("randwire").make_space("digits").n_nodes == 8  # the runner builds the digits space
    space, ev = _oracle(tmp_path / "data")
    for strategy in ("random", "er"):
        cfg = RunConfig(space="randwire", dataset="digits", strategy=strategy, seed=0, budget=2, fidelity=1)
        out = runner.execute(cfg, tmp_path / "runs", tmp_path / "data", evaluator=ev)
        assert not out.skipped
    rows = list((tmp_path / "runs").rglob("*.parquet"))
    assert rows


def test_evaluation_timeout_is_a_failed_query_and_not_cached(tmp_path):
    space, ev = _oracle(tmp_path)
    ev.timeout_s = 1e-6
    a = space.sample(np.random.default_rng(5))
    (r,) = ev.evaluate([a], 1, [-1])
    assert r.status == "failed" and "timed out after" in r.error
    ev.timeout_s = None
    (again,) = ev.evaluate([a], 1, [-1])
    assert again.status == "ok" and dict(again.extra)["cached"] == 0.0
