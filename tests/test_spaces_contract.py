"""Every space of every benchmark (each dataset's instance too) honours the SearchSpace contract
(``harness.testing.check_space``), and the check catches spaces that break it."""
from __future__ import annotations

import json

import numpy as np
import pytest

from blackboxes.registry import BENCHMARKS
from harness.contracts import DagConstraints, LabelledDAG
from harness.testing import check_space
from spaces.nb201 import NB201Space


def _spaces() -> dict[str, object]:
    out = {}
    for entry in BENCHMARKS.values():
        for space in [entry.make_space()] + [entry.make_space(d) for d in entry.datasets]:
            key = f"{type(space).__name__}{json.dumps(space.describe(), sort_keys=True)}"
            out.setdefault(key, space)
    return out


SPACES = _spaces()


def test_every_benchmark_space_is_listed():
    names = {s.name for s in SPACES.values()}
    assert names == {"nb201", "nb101", "randwire", "enas", "enas6"}
    assert sorted(s.n_nodes for s in SPACES.values() if s.name == "randwire") == [8, 32]  # digits, the rest


@pytest.mark.parametrize("key", list(SPACES))
def test_space_contract(key):
    check_space(SPACES[key], n=20, seed=0)


# ---------------------------------------------------------------- the check catches broken spaces

class RaisesOnJunk(NB201Space):
    def is_valid(self, arch):
        return len(arch) == 6 and super().is_valid(arch)


class GreedyParser(NB201Space):
    """Ignores whatever follows the last ``|``."""

    def from_str(self, text):
        return super().from_str(text[:text.rfind("|") + 1])


class SelfNeighbour(NB201Space):
    def neighbours(self, arch):
        return [arch] + super().neighbours(arch)


class DropsForcedEdge(NB201Space):
    def to_dag(self, arch):
        dag = super().to_dag(arch)
        A = np.array(dag.A)
        A[7, 4] = 0
        return LabelledDAG(A, dag.X)


class TooManyEdges(NB201Space):
    @property
    def dag_constraints(self):
        c = super().dag_constraints
        return DagConstraints(c.n_nodes, c.op_names, c.fixed_ops, c.edge_mask, max_edges=5, allowed_ops=c.allowed_ops)


class LossyDag(NB201Space):
    def from_dag(self, dag):
        arch = super().from_dag(dag)
        return None if arch is None else (0,) + arch[1:]


class Unstable(NB201Space):
    def __init__(self):
        self.calls = 0

    def canonical_id(self, arch):
        self.calls += 1
        return f"{super().canonical_id(arch)}#{self.calls}"


@pytest.mark.parametrize("space,match", [
    (RaisesOnJunk(), r"is_valid\(None\) raised TypeError"),
    (GreedyParser(), r"from_str\('\|.*\|junk'\) accepted garbage"),
    (SelfNeighbour(), "contains the architecture itself"),
    (DropsForcedEdge(), r"lacks forced edges \(i, j\) \[\[7, 4\]\]"),
    (TooManyEdges(), "edges > max_edges 5"),
    (LossyDag(), "is another architecture"),
    (Unstable(), "canonical_id of .* is not stable"),
], ids=lambda v: type(v).__name__ if not isinstance(v, str) else "")
def test_check_space_names_what_broke(space, match):
    with pytest.raises(AssertionError, match=f"^nb201: .*{match}"):
        check_space(space, n=3)
