"""NB201 space: arch strings, the line-graph DAG view, mutation and neighbourhoods (the generic
SearchSpace contract is tests/test_spaces_contract.py)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spaces import nb201
from spaces.nb201 import NB201Space

SPACE = NB201Space()
archs = st.tuples(*[st.integers(0, len(nb201.OPS) - 1)] * nb201.N_EDGES)


@given(archs)
def test_views_are_lossless_and_the_id_is_the_arch_string(arch):
    """Any cell, not only the sampler's: check_space covers samples, hypothesis the corners."""
    text = SPACE.to_str(arch)
    assert SPACE.from_str(text) == arch and SPACE.canonical_id(arch) == text
    assert SPACE.from_dag(SPACE.to_dag(arch)) == arch


def test_official_arch_string_format():
    arch = (3, 0, 1, 2, 4, 3)
    assert SPACE.to_str(arch) == "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|"


@pytest.mark.parametrize("bad", ["", "|nor_conv_3x3~0|", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"])
def test_from_str_rejects_bad_text(bad):
    with pytest.raises(ValueError):
        SPACE.from_str(bad)


def test_dag_constraints_fix_the_topology():
    c = SPACE.dag_constraints
    assert c.n_nodes == 8
    assert not (c.edge_mask == -1).any(), "NB201's topology is fixed: every edge is forced or forbidden"
    assert np.array_equal(c.edge_mask == 1, nb201.LINE_GRAPH.astype(bool))


def test_line_graph_is_the_cell_topology():
    A = nb201.LINE_GRAPH
    # edge 1->2 (node 3) is fed by edge 0->1 (node 1); edge 2->3 (node 6) by edges into cell node 2 (nodes 2, 3)
    assert A[3].nonzero()[0].tolist() == [1]
    assert A[6].nonzero()[0].tolist() == [2, 3]
    assert A[7].nonzero()[0].tolist() == [4, 5, 6]
    assert A[1].nonzero()[0].tolist() == A[2].nonzero()[0].tolist() == A[4].nonzero()[0].tolist() == [0]


def test_from_dag_rejects_other_topologies():
    dag = SPACE.to_dag((0,) * 6)
    A = np.array(dag.A)
    A[7, 1] = 1
    from harness.contracts import LabelledDAG

    assert SPACE.from_dag(LabelledDAG(A, dag.X)) is None


@given(archs, st.integers(0, 2**32 - 1))
def test_mutate_changes_exactly_one_edge(arch, seed):
    child = SPACE.mutate(arch, np.random.default_rng(seed))
    assert SPACE.is_valid(child)
    assert sum(a != b for a, b in zip(arch, child)) == 1


@given(archs)
def test_neighbours(arch):
    nbs = SPACE.neighbours(arch)
    assert len(nbs) == 24 and len(set(nbs)) == 24 and arch not in nbs
    assert all(sum(a != b for a, b in zip(arch, nb)) == 1 for nb in nbs)


def test_code_is_a_bijection():
    codes = {nb201.arch_code(nb201.arch_from_code(c)) for c in range(nb201.N_CELLS)}
    assert codes == set(range(nb201.N_CELLS))


def test_sample_is_deterministic_and_covers_ops():
    a = [SPACE.sample(np.random.default_rng(7)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    many = SPACE.sample_many(np.random.default_rng(1), 2000)
    counts = np.bincount(np.array(many).ravel(), minlength=5)
    assert counts.min() > 2000 * 6 / 5 * 0.85  # roughly uniform over the 5 ops


@given(st.one_of(st.none(), st.integers(), st.text(), st.lists(st.integers()),
                 st.tuples(st.integers(), st.integers()), st.tuples(*[st.integers(-3, 8)] * 6),
                 st.tuples(*[st.booleans()] * 6)))
def test_is_valid_never_raises(obj):
    assert SPACE.is_valid(obj) in (True, False)
