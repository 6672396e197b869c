"""RandWire search space (GraphPNAS paper §4.1, App. D.1; Xie et al. 2019): one cell graph G.

An architecture is the DAG G on N interior nodes (default N = 32), oriented by node order (edge
j -> i only for j < i, as RandWire orients its random graphs). Every lower-triangular adjacency
matrix is an architecture: the paper counts "2.1×10^149 valid adjacency matrices" = 2^(32·31/2).
Isomorphic graphs are NOT merged (the paper counts matrices; the canonical id is the adjacency
bits). Each node is the same op, ReLU-SepConv3×3-BN; G is shared by the network's last stages
(see ``blackboxes.randwire.model``).

Labelled-DAG view: G itself, the N interior nodes only (one op label, "relu_sepconv3x3_bn",
fixed), every lower-triangular edge free. The cell input and output are implicit, as in RandWire
(Xie et al. 2019, §3.2): a node without a predecessor reads the cell input and the nodes without a
successor are averaged into the output (``blackboxes.randwire.model``). They are left out of the view
on purpose: their edges are implied by G, so a view holding them would either let a graph
generator decide edges that ``from_dag`` ignores (many DAGs per architecture, a wrong log P) or
force edges that depend on other edges, which ``DagConstraints`` masks cannot express. With G
alone, every free decision is one architecture bit, ``to_dag(from_dag(d)) == d`` for every DAG d
the constraints allow, and the ER/WS prior models draw their graph on the N nodes, as RandWire's
generators do.

Prior (``sample``): the paper's random explorer, a Watts-Strogatz graph with k uniform over
{2, 4, 6} (capped at N) and p ~ U[0.2, 0.8] (§4.1: "we choose WS model with the same
hyperparameter range as a prior distribution"), oriented by node order. ``mutate`` flips one
interior edge; ``neighbours`` are all N(N-1)/2 single-edge flips.
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from harness.contracts import DagConstraints, LabelledDAG, SearchSpace

OP_NAMES = ("relu_sepconv3x3_bn",)
"""The one op of every node of the DAG view (no input/output nodes: see the module docstring)."""
WS_K = (2, 4, 6)
WS_P = (0.2, 0.8)


@dataclass(frozen=True)
class RandWireArch:
    """Cell graph G: ``bits[t]`` is edge j -> i for the t-th pair (i, j), i = 1..n-1, j = 0..i-1."""

    n_nodes: int
    bits: str

    def edges(self) -> list[tuple[int, int]]:
        """Edges (j, i), j < i, on interior nodes 0..n-1."""
        return [pair for pair, b in zip(_pairs(self.n_nodes), self.bits) if b == "1"]

    def adjacency(self) -> np.ndarray:
        """``A[i, j] = 1`` for edge j -> i on the interior nodes."""
        A = np.zeros((self.n_nodes, self.n_nodes), dtype=np.uint8)
        for j, i in self.edges():
            A[i, j] = 1
        return A


def _pairs(n: int) -> list[tuple[int, int]]:
    return [(j, i) for i in range(1, n) for j in range(i)]


def _from_adjacency(A: np.ndarray) -> RandWireArch:
    n = A.shape[0]
    return RandWireArch(n, "".join("1" if A[i, j] else "0" for j, i in _pairs(n)))


class RandWireSpace(SearchSpace):
    """All DAGs on ``n_nodes`` ordered interior nodes (see the module docstring)."""

    name = "randwire"

    def __init__(self, n_nodes: int = 32):
        if n_nodes < 2:  # one node is one fixed cell: no edge to search, no decision for a strategy
            raise ValueError(f"a RandWire graph needs n_nodes >= 2 (one node leaves nothing to search), got {n_nodes}")
        self.n_nodes = int(n_nodes)
        self._n_bits = self.n_nodes * (self.n_nodes - 1) // 2

    def describe(self) -> dict:
        return {"name": self.name, "n_nodes": self.n_nodes}

    def sample(self, rng: np.random.Generator) -> RandWireArch:
        n = self.n_nodes
        k = min(int(WS_K[int(rng.integers(len(WS_K)))]), n)
        p = float(rng.uniform(*WS_P))
        graph = nx.watts_strogatz_graph(n, k, p, seed=int(rng.integers(2**31))) if n > 1 else nx.empty_graph(n)
        A = np.zeros((n, n), dtype=np.uint8)
        for u, v in graph.edges():
            A[max(u, v), min(u, v)] = 1
        return _from_adjacency(A)

    def mutate(self, arch: RandWireArch, rng: np.random.Generator) -> RandWireArch:
        if self._n_bits == 0:
            return arch
        return self._flip(arch, int(rng.integers(self._n_bits)))

    def neighbours(self, arch: RandWireArch) -> list[RandWireArch]:
        return [self._flip(arch, t) for t in range(self._n_bits)]

    def _flip(self, arch: RandWireArch, t: int) -> RandWireArch:
        b = arch.bits
        return RandWireArch(self.n_nodes, b[:t] + ("0" if b[t] == "1" else "1") + b[t + 1:])

    def is_valid(self, arch: object) -> bool:
        return (
            isinstance(arch, RandWireArch)
            and arch.n_nodes == self.n_nodes
            and isinstance(arch.bits, str)
            and len(arch.bits) == self._n_bits
            and set(arch.bits) <= {"0", "1"}
        )

    def canonical_id(self, arch: RandWireArch) -> str:
        return self.to_str(arch)

    def to_str(self, arch: RandWireArch) -> str:
        """``rw<N>:<hex>``: the adjacency bits as one hexadecimal number (first pair = top bit)."""
        value = int(arch.bits, 2) if arch.bits else 0
        return f"rw{arch.n_nodes}:{value:0{(self._n_bits + 3) // 4}x}"

    def from_str(self, text: str) -> RandWireArch:
        head, sep, digits = text.partition(":")
        if not sep or head != f"rw{self.n_nodes}":
            raise ValueError(f"not a randwire-{self.n_nodes} architecture string (expected 'rw{self.n_nodes}:<hex>'): {text!r}")
        try:
            value = int(digits, 16) if digits else 0
        except ValueError:
            raise ValueError(f"bad hexadecimal edge bits in {text!r}") from None
        if value >> self._n_bits:
            raise ValueError(f"{text!r} sets more than the {self._n_bits} edge bits of a {self.n_nodes}-node graph")
        return RandWireArch(self.n_nodes, format(value, f"0{self._n_bits}b") if self._n_bits else "")

    def to_dag(self, arch: RandWireArch) -> LabelledDAG:
        """G on its N interior nodes (input and output implicit; see the module docstring)."""
        return LabelledDAG(arch.adjacency(), (0,) * self.n_nodes)

    def from_dag(self, dag: LabelledDAG) -> RandWireArch | None:
        if dag.n_nodes != self.n_nodes or any(dag.X):
            return None
        return _from_adjacency(np.asarray(dag.A))

    @property
    def dag_constraints(self) -> DagConstraints:
        """N nodes with the one fixed op; every edge j -> i (j < i) free, each one architecture bit."""
        n = self.n_nodes
        free = np.tril(np.full((n, n), -1, dtype=np.int8), k=-1)
        return DagConstraints(n_nodes=n, op_names=OP_NAMES, fixed_ops=(0,) * n, edge_mask=free)
