"""NB101 space: official module hashes, pruning, validity, text/DAG views and naszilla's moves (the
generic SearchSpace contract, on samples, is tests/test_spaces_contract.py)."""
from __future__ import annotations

import hashlib
import json

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from harness.contracts import LabelledDAG, edge_count
from spaces import nb101
from spaces.nb101 import (
    NB101Space,
    NB101Spec,
    is_valid_spec,
    module_hash,
    prune,
    spec_from_strings,
)

SPACE = NB101Space()
C3, C1, MP = nb101.OPS


# ---------------------------------------------------------------- an independent, slow reference

def _ref_prune(matrix, ops):
    """Vertices on an input->output path, found with networkx (a second implementation of _prune)."""
    m = np.asarray(matrix)
    n = len(m)
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(*np.nonzero(m)))
    keep = sorted(({0} | nx.descendants(g, 0)) & ({n - 1} | nx.ancestors(g, n - 1)))
    if len(keep) < 2:
        return None
    return m[np.ix_(keep, keep)], [ops[v] for v in keep]


def _ref_hash(matrix, ops):
    """graph_util.hash_module written out plainly from its description (docs/reference-notes.md)."""
    m, ops = _ref_prune(matrix, ops)
    n = len(m)
    labels = [-1] + [nb101.OPS.index(o) for o in ops[1:-1]] + [-2]
    md5 = lambda s: hashlib.md5(s.encode("utf-8")).hexdigest()  # noqa: E731
    h = [md5(str((int(m[v].sum()), int(m[:, v].sum()), labels[v]))) for v in range(n)]
    for _ in range(n):
        h = [md5("".join(sorted(h[w] for w in range(n) if m[w, v])) + "|"
                 + "".join(sorted(h[w] for w in range(n) if m[v, w])) + "|" + h[v]) for v in range(n)]
    return md5(str(sorted(h)))


@st.composite
def raw_specs(draw, min_n=2, max_n=7):
    """Any square upper-triangular 0/1 spec with legal ops (possibly disconnected or too dense)."""
    n = draw(st.integers(min_n, max_n))
    m = np.zeros((n, n), dtype=int)
    for i in range(n):
        for j in range(i + 1, n):
            m[i, j] = draw(st.booleans())
    ops = ["input"] + [draw(st.sampled_from(nb101.OPS)) for _ in range(n - 2)] + ["output"]
    return m, ops


@st.composite
def valid_specs(draw, min_n=2, max_n=7):
    m, ops = draw(raw_specs(min_n, max_n))
    assume(is_valid_spec(m, ops))
    return NB101Spec(m, ops)


sampled = st.integers(0, 2**32 - 1).map(lambda s: SPACE.sample(np.random.default_rng(s)))
archs = st.one_of(valid_specs(), sampled)


# ---------------------------------------------------------------- the official hashes

def _check_hashes(rows):
    bad = [(h, a, o) for h, a, o in rows if SPACE.canonical_id(spec_from_strings(a, o)) != h]
    assert not bad, f"{len(bad)} of {len(rows)} hashes differ, first {bad[0]}"


def test_hash_of_the_10k_naslib_specs(shared_data):
    df = pd.read_csv(shared_data / "nb101" / "nb101_10k_specs_from_naslib_with_hash.csv", dtype=str)
    assert len(df) == 10_250
    _check_hashes(list(df.itertuples(index=False)))


def test_hash_of_the_521_nasbench_vis_specs(shared_data):
    # these hashes are the official keys of nasbench-vis (PROVENANCE.md item 1), not recomputed ones
    df = pd.read_csv(shared_data / "nb101" / "nb101_20k_val_acc_by_hash.csv", dtype=str)
    df = df.dropna(subset=["adjacency_pruned"])
    assert len(df) == 521
    _check_hashes(list(df[["module_hash", "adjacency_pruned", "operations_pruned"]].itertuples(index=False)))


def test_hash_of_the_30_official_api_cells(shared_data):
    stats = json.loads((shared_data / "nb101" / "nb101_30_full_stats.json").read_text())
    assert len(stats) == 30
    for h, cell in stats.items():
        assert module_hash(cell["module_adjacency"], cell["module_operations"]) == h
        assert module_hash(np.array(cell["module_adjacency"], dtype=np.int8), cell["module_operations"]) == h


@given(valid_specs())
def test_fast_hash_equals_the_plain_reference(spec):
    assert module_hash(spec.matrix, spec.ops) == _ref_hash(spec.matrix, spec.ops)


# ---------------------------------------------------------------- pruning

def test_prune_removes_a_dangling_vertex():
    # 0 -> 1 -> 3, 0 -> 2 and 2 leads nowhere
    m = [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]]
    pm, pops = prune(m, ["input", C3, MP, "output"])
    assert pm.tolist() == [[0, 1, 0], [0, 0, 1], [0, 0, 0]] and pops == ["input", C3, "output"]


def test_prune_removes_a_vertex_the_input_does_not_reach():
    # 1 -> 2 -> 3 but nothing feeds 1; 0 -> 2
    m = [[0, 0, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
    pm, pops = prune(m, ["input", C1, MP, "output"])
    assert pm.tolist() == [[0, 1, 0], [0, 0, 1], [0, 0, 0]] and pops == ["input", MP, "output"]


def test_disconnected_spec():
    m = [[0, 1, 0], [0, 0, 0], [0, 0, 0]]
    ops = ["input", C3, "output"]
    assert prune(m, ops) is None
    assert not is_valid_spec(m, ops)
    with pytest.raises(ValueError, match="disconnected"):
        module_hash(m, ops)
    assert prune([[0]], ["input"]) is None  # ModelSpec: fewer than 2 vertices left


def test_prune_rejects_a_matrix_that_is_not_upper_triangular():
    with pytest.raises(ValueError, match="upper-triangular"):
        prune([[0, 0], [1, 0]], ["input", "output"])


@given(raw_specs())
def test_prune_matches_the_reference(spec):
    m, ops = spec
    got, ref = prune(m, ops), _ref_prune(m, ops)
    assert (got is None) == (ref is None)
    if got is not None:
        assert got[0].tolist() == ref[0].tolist() and got[1] == ref[1]


@given(valid_specs())
def test_hash_is_invariant_under_pruning_and_padding(spec):
    h = module_hash(spec.matrix, spec.ops)
    assert module_hash(*prune(spec.matrix, spec.ops)) == h
    n = len(spec.ops)
    assume(n < 7)
    # insert an isolated vertex before the output: pruned away, same cell
    m = np.zeros((n + 1, n + 1), dtype=int)
    m[: n - 1, : n - 1] = np.asarray(spec.matrix)[: n - 1, : n - 1]
    m[: n - 1, n] = np.asarray(spec.matrix)[: n - 1, n - 1]
    assert module_hash(m, list(spec.ops[:-1]) + [MP, "output"]) == h


@given(valid_specs(min_n=3), st.data())
def test_hash_is_invariant_under_topological_relabelling(spec, data):
    m = np.asarray(spec.matrix)
    n = len(m)
    order, left = [0], set(range(1, n - 1))
    while left:
        ready = [v for v in sorted(left) if all(u in order for u in np.nonzero(m[:, v])[0])]
        v = data.draw(st.sampled_from(ready))
        order.append(v)
        left.remove(v)
    order.append(n - 1)
    new = m[np.ix_(order, order)]
    assert not np.tril(new).any()
    assert module_hash(new, [spec.ops[v] for v in order]) == module_hash(m, spec.ops)


def test_different_cells_have_different_hashes():
    chain = [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
    hashes = {module_hash(chain, ["input", op, "output"]) for op in nb101.OPS}
    hashes.add(module_hash([[0, 1], [0, 0]], ["input", "output"]))
    assert len(hashes) == 4


# ---------------------------------------------------------------- validity (api._check_spec on the pruned spec)

def _chain_with_skips(extra):
    m = np.zeros((7, 7), dtype=int)
    for i in range(6):
        m[i, i + 1] = 1
    for i, j in extra:
        m[i, j] = 1
    return m


def test_edges_are_counted_after_pruning_as_the_api_does():
    ops = ["input"] + [C3] * 5 + ["output"]
    m = _chain_with_skips([(0, 2), (0, 3), (0, 4)])  # 9 edges
    assert is_valid_spec(m, ops)
    m[0, 5] = 1  # 10 edges, all used
    assert not is_valid_spec(m, ops)
    # 10 raw edges of which 2 only feed a dead end: the pruned cell has 8 edges and is in the benchmark
    m = np.zeros((7, 7), dtype=int)
    for i, j in [(0, 1), (1, 2), (2, 3), (3, 4), (4, 6), (0, 2), (1, 3), (2, 4), (0, 5), (1, 5)]:
        m[i, j] = 1
    assert m.sum() == 10 and prune(m, ops)[0].sum() == 8
    assert is_valid_spec(m, ops)


@pytest.mark.parametrize("matrix, ops", [
    ([[0, 1], [0, 0]], ["output", "input"]),
    ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "conv5x5", "output"]),
    ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", C3]),
    ([[0, 2], [0, 0]], ["input", "output"]),
    ([[0, 1], [1, 0]], ["input", "output"]),
    (np.eye(8, k=1, dtype=int), ["input"] + [C3] * 6 + ["output"]),
])
def test_invalid_specs(matrix, ops):
    assert not is_valid_spec(matrix, ops)
    assert not SPACE.is_valid(NB101Spec(matrix, ops))


junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=8) | st.tuples(inner, inner),
    max_leaves=40,
)


@given(st.one_of(junk, st.builds(NB101Spec, junk, junk), st.builds(NB101Spec, st.just(((0, 1), (0, 0))), junk)))
def test_is_valid_never_raises(obj):
    assert SPACE.is_valid(obj) in (True, False)
    if isinstance(obj, NB101Spec):
        assert is_valid_spec(obj.matrix, obj.ops) in (True, False)


# ---------------------------------------------------------------- text and DAG views

@given(valid_specs(max_n=6))
def test_str_round_trip_of_small_specs(arch):
    """Specs with fewer than 7 vertices (the benchmark's pruned cells): sampling never gives them."""
    text = SPACE.to_str(arch)
    assert SPACE.from_str(text) == arch
    assert SPACE.to_str(SPACE.from_str(text)) == text


def test_str_is_the_tfrecord_format():
    spec = spec_from_strings("0110000100010000", f"input,{C3},{MP},output")
    assert spec == NB101Spec(((0, 1, 1, 0), (0, 0, 0, 1), (0, 0, 0, 1), (0, 0, 0, 0)), ("input", C3, MP, "output"))
    assert SPACE.to_str(spec) == f"0110000100010000;input,{C3},{MP},output"


@pytest.mark.parametrize("bad", [
    "", "0100", "0100;input,output;x", "010;input,output", "0120;input,output",
    "0100;input,conv5x5", "0100;input,x,output", "0010;input,output", "0000;input,output",
])
def test_from_str_rejects_bad_text(bad):
    with pytest.raises(ValueError):
        SPACE.from_str(bad)


@given(st.one_of(valid_specs(max_n=6), sampled))
def test_dag_view_is_the_transposed_spec(arch):
    dag = SPACE.to_dag(arch)
    assert np.array_equal(dag.A, np.asarray(arch.matrix).T)
    assert [nb101.DAG_OPS[x] for x in dag.X] == list(arch.ops)
    assert SPACE.from_dag(dag) == arch


def test_dag_constraints():
    c = SPACE.dag_constraints
    assert c.n_nodes == 7 and c.max_edges == 9
    assert c.op_names == ("input", C3, C1, MP, "output")
    assert c.fixed_ops == (0, -1, -1, -1, -1, -1, 4)
    assert c.allowed_ops == ((0,),) + ((1, 2, 3),) * 5 + ((4,),)
    assert (c.edge_mask[np.tril_indices(7, -1)] == -1).all() and not c.edge_mask[np.triu_indices(7)].any()


def test_from_dag_rejects_invalid_dags():
    A = np.zeros((3, 3), dtype=np.uint8)
    A[1, 0] = 1
    assert SPACE.from_dag(LabelledDAG(A.copy(), (0, 1, 4))) is None  # output unreachable
    A[2, 1] = 1
    assert SPACE.from_dag(LabelledDAG(A, (0, 1, 4))) is not None
    assert SPACE.from_dag(LabelledDAG(A, (0, 4, 4))) is None  # output op inside
    assert SPACE.from_dag(LabelledDAG(A, (0, 7, 4))) is None  # no such op


def test_describe():
    assert SPACE.describe() == {"name": "nb101"}


# ---------------------------------------------------------------- sample, mutate, neighbours

def test_samples_are_valid_seven_vertex_specs_and_deterministic():
    a = [SPACE.sample(np.random.default_rng(7)) for _ in range(2)]
    assert a[0] == a[1]
    rng = np.random.default_rng(0)
    specs = SPACE.sample_many(rng, 300)
    assert all(SPACE.is_valid(s) and len(s.ops) == 7 for s in specs)
    # naszilla's prior repeats small cells (about 1 sample in 10 prunes to input -> output)
    assert len({SPACE.canonical_id(s) for s in specs}) > 150
    # naszilla's prior: unpruned matrices are often denser than 9 edges
    assert max(edge_count(SPACE.to_dag(s)) for s in specs) > 9
    assert specs == NB101Space().sample_many(np.random.default_rng(0), 300)


@settings(max_examples=60)
@given(archs, st.integers(0, 2**32 - 1))
def test_mutate(arch, seed):
    child = SPACE.mutate(arch, np.random.default_rng(seed))
    assert SPACE.is_valid(child) and len(child.ops) == 7
    assert SPACE.canonical_id(child) != SPACE.canonical_id(arch)
    assert child == NB101Space().mutate(arch, np.random.default_rng(seed))


def test_mutate_pads_small_specs():
    tiny = spec_from_strings("0100", "input,output")
    child = SPACE.mutate(tiny, np.random.default_rng(0))
    assert SPACE.is_valid(child) and len(child.ops) == 7
    assert SPACE.canonical_id(child) != SPACE.canonical_id(tiny)


def _naszilla_neighbourhood_hashes(arch):
    """adj_neighborhood as naszilla describes it (utilized vertices / edges), deduplicated by hash."""
    m = np.asarray(arch.matrix)
    ops = list(arch.ops)
    used = set(_keep_list(m, ops))
    out = set()
    for v in range(1, 6):
        if v in used:
            for op in nb101.OPS:
                if op != ops[v]:
                    out.add(module_hash(m, ops[:v] + [op] + ops[v + 1:]))
    for i in range(6):
        for j in range(i + 1, 7):
            new = m.copy()
            new[i, j] ^= 1
            after = set(_keep_list(new, ops)) if is_valid_spec(new, ops) else set()
            utilized = {i, j} <= used if m[i, j] else {i, j} <= after
            if utilized and is_valid_spec(new, ops):
                out.add(module_hash(new, ops))
    out.discard(module_hash(m, ops))
    return out


def _keep_list(m, ops):
    g = nx.DiGraph()
    g.add_nodes_from(range(len(m)))
    g.add_edges_from(zip(*np.nonzero(m)))
    return sorted(({0} | nx.descendants(g, 0)) & ({len(m) - 1} | nx.ancestors(g, len(m) - 1)))


@settings(max_examples=60)
@given(st.one_of(sampled, valid_specs(min_n=7)))
def test_neighbours(arch):
    nbs = SPACE.neighbours(arch)
    hashes = [SPACE.canonical_id(nb) for nb in nbs]
    assert len(set(hashes)) == len(hashes)
    assert SPACE.canonical_id(arch) not in hashes
    assert all(SPACE.is_valid(nb) for nb in nbs)
    for nb in nbs:  # exactly one edit: one op or one edge
        d_ops = sum(a != b for a, b in zip(arch.ops, nb.ops))
        d_edges = int(np.abs(np.asarray(arch.matrix) - np.asarray(nb.matrix)).sum())
        assert d_ops + d_edges == 1
    assert set(hashes) == _naszilla_neighbourhood_hashes(arch)
    assert nbs == NB101Space().neighbours(arch)


def test_neighbours_of_small_specs_are_those_of_the_padded_spec():
    small = spec_from_strings("0110000100010000", f"input,{C3},{MP},output")
    padded = NB101Spec(
        ((0, 1, 1, 0, 0, 0, 0), (0, 0, 0, 0, 0, 0, 1), (0, 0, 0, 0, 0, 0, 1)) + ((0,) * 7,) * 4,
        ("input", C3, MP, C3, C3, C3, "output"),
    )
    assert SPACE.canonical_id(small) == SPACE.canonical_id(padded)
    assert SPACE.neighbours(small) == SPACE.neighbours(padded)


def test_canonical_id_cache_is_transparent():
    space = NB101Space()
    spec = space.sample(np.random.default_rng(3))
    assert space.canonical_id(spec) == space.canonical_id(spec) == module_hash(spec.matrix, spec.ops)
    as_lists = NB101Spec([list(r) for r in spec.matrix], list(spec.ops))
    assert as_lists == spec and hash(as_lists) == hash(spec)


# ---------------------------------------------------------------- the official code as oracle (nasbench-pytorch)
# nasbench_pytorch.model ships google-research/nasbench's graph_util.py and model_spec.py unchanged
# (its README, "Disclaimer"), except that its ModelSpec.__init__ turns the pruned matrix into a torch
# tensor after ``_prune``: that fails for a disconnected spec (torch.tensor(None)) and makes
# ``hash_spec`` fail (np.sum(tensor, axis=0)). So the oracle runs the unchanged ``ModelSpec._prune``
# on a numpy spec and hashes with ``graph_util.hash_module`` and hash_spec's labels; validity is
# _prune's connectivity plus nasbench/api.py::_check_spec's rules on the pruned spec.

def _official():
    pytest.importorskip("torch")
    model_spec = pytest.importorskip("nasbench_pytorch.model.model_spec", reason="nasbench-pytorch is not installed")
    from nasbench_pytorch.model import graph_util

    def answer(matrix, ops):
        """(valid, pruned matrix, pruned ops, module hash) by the official code; None for a disconnected spec."""
        spec = model_spec.ModelSpec.__new__(model_spec.ModelSpec)
        spec.original_matrix = spec.matrix = np.array(matrix)
        spec.original_ops, spec.ops, spec.valid_spec = list(ops), list(ops), True
        spec._prune()
        if not spec.valid_spec:
            return False, None, None, None
        m = np.asarray(spec.matrix)
        labels = [-1] + [nb101.OPS.index(o) for o in spec.ops[1:-1]] + [-2]
        valid = (len(spec.ops) <= 7 and int(m.sum()) <= 9 and spec.ops[0] == "input" and spec.ops[-1] == "output"
                 and all(o in nb101.OPS for o in spec.ops[1:-1]))
        return valid, m, list(spec.ops), graph_util.hash_module(m, labels)

    return answer


def _agrees(answer, matrix, ops) -> bool:
    """Whether our validity, pruning and hash equal the official ``answer`` for (matrix, ops)."""
    valid, m, pops, h = answer
    if is_valid_spec(matrix, ops) != valid:
        return False
    ours = prune(matrix, ops)
    if m is None:
        return ours is None
    return ours[0].tolist() == m.tolist() and ours[1] == pops and module_hash(matrix, ops) == h


def test_official_code_agrees_on_the_10k_naslib_specs(shared_data):
    official = _official()
    df = pd.read_csv(shared_data / "nb101" / "nb101_10k_specs_from_naslib_with_hash.csv", dtype=str)
    bad = []
    for h, a, o in df.itertuples(index=False):
        s = spec_from_strings(a, o)
        answer = official(s.matrix, s.ops)
        if answer[3] != h or not _agrees(answer, s.matrix, s.ops):
            bad.append((h, a, o))
    assert len(df) == 10_250 and not bad, f"{len(bad)} of {len(df)} disagree, first {bad[:1]}"


def test_official_code_agrees_on_random_seven_vertex_specs():
    official = _official()
    rng = np.random.default_rng(20_190_201)
    n, valid, connected = 4_000, 0, 0
    for _ in range(n):
        m = np.triu(rng.random((7, 7)) < rng.choice([0.2, 0.35, 0.5]), k=1).astype(int)
        ops = ["input"] + [nb101.OPS[k] for k in rng.integers(0, 3, size=5)] + ["output"]
        assert _agrees(official(m, ops), m, ops), (m.tolist(), ops)
        valid += is_valid_spec(m, ops)
        connected += prune(m, ops) is not None
    # every outcome is frequent: disconnected (~1,300), connected with > 9 edges (~300), valid (~2,400)
    assert n - connected > 0.2 * n and connected - valid > 0.05 * n and valid > 0.4 * n
