"""NAS-Bench-201 / NATS-Bench topology search space (Dong & Yang 2020), pure.

An architecture is a tuple of 6 op indices into ``OPS``, one per cell edge, in the order of the
official arch string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``: edges 0->1, 0->2, 1->2, 0->3, 1->3,
2->3. ``OPS`` is the official op list (NAS-Bench-201 ``get_search_spaces('cell', 'nas-bench-201')``).
The 15,625 cells were each trained separately, so the canonical id is the arch string itself:
cells that compute the same function (e.g. through ``none`` edges) are distinct benchmark entries.

Labelled-DAG view. NB201 puts ops on edges; graph generators put ops on nodes. We use the line
graph, which is lossless: node 0 is the cell input, nodes 1..6 are the six edges (labelled with
their op, in arch-string order), node 7 is the cell output. Edge-node (s->d) receives from every
edge-node that ends in s (node s sums its incoming edges), or from the input when s = 0; the output
receives from the three edges into cell node 3. This topology is the same for every cell, so the
DAG constraints fix every edge and the generator only chooses the six op labels (8 nodes, as in
the GraphPNAS authors' NB201 setting of 6 edge labels plus input/output).
"""
from __future__ import annotations

import re

import numpy as np

from harness.contracts import DagConstraints, LabelledDAG, SearchSpace

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
N_EDGES = len(EDGES)
N_CELLS = len(OPS) ** N_EDGES

DAG_OPS = ("input",) + OPS + ("output",)
_DAG_N = N_EDGES + 2
_OUT = _DAG_N - 1


def _line_graph_adjacency() -> np.ndarray:
    A = np.zeros((_DAG_N, _DAG_N), dtype=np.uint8)
    for e, (src, _dst) in enumerate(EDGES, start=1):
        if src == 0:
            A[e, 0] = 1
        else:
            for f, (_s, d) in enumerate(EDGES, start=1):
                if d == src:
                    A[e, f] = 1
    for f, (_s, d) in enumerate(EDGES, start=1):
        if d == 3:
            A[_OUT, f] = 1
    A.setflags(write=False)
    return A


LINE_GRAPH = _line_graph_adjacency()
_ARCH_RE = re.compile(r"^\|([a-z_0-9]+)~0\|\+\|([a-z_0-9]+)~0\|([a-z_0-9]+)~1\|\+"
                      r"\|([a-z_0-9]+)~0\|([a-z_0-9]+)~1\|([a-z_0-9]+)~2\|$")
_OP_INDEX = {op: i for i, op in enumerate(OPS)}


def arch_str(arch: tuple[int, ...]) -> str:
    o = [OPS[i] for i in arch]
    return f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"


def parse_arch_str(text: str) -> tuple[int, ...]:
    m = _ARCH_RE.match(text.strip())
    if not m:
        raise ValueError(f"not an NB201 arch string: {text!r} (expected |op~0|+|op~0|op~1|+|op~0|op~1|op~2|)")
    try:
        return tuple(_OP_INDEX[op] for op in m.groups())
    except KeyError as exc:
        raise ValueError(f"unknown NB201 op {exc.args[0]!r} in {text!r}; ops are {', '.join(OPS)}") from None


def arch_code(arch: tuple[int, ...]) -> int:
    """A dense integer 0..15624 (base-5 digits, edge 0 least significant) for array lookups."""
    code = 0
    for op in reversed(arch):
        code = code * len(OPS) + op
    return code


def arch_from_code(code: int) -> tuple[int, ...]:
    digits = []
    for _ in range(N_EDGES):
        code, r = divmod(code, len(OPS))
        digits.append(r)
    return tuple(digits)


class NB201Space(SearchSpace):
    """Uniform sampling, one-op mutation (Dong et al.'s REA), 24 one-op neighbours."""

    name = "nb201"

    def size(self) -> int:
        return N_CELLS

    def sample(self, rng: np.random.Generator) -> tuple[int, ...]:
        return tuple(int(x) for x in rng.integers(0, len(OPS), size=N_EDGES))

    def mutate(self, arch: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        """Change exactly one edge to a different op (AutoDL NATS-algos regularized_ea.py)."""
        edge = int(rng.integers(N_EDGES))
        new_op = int(rng.integers(len(OPS) - 1))
        if new_op >= arch[edge]:
            new_op += 1
        out = list(arch)
        out[edge] = new_op
        return tuple(out)

    def neighbours(self, arch: tuple[int, ...]) -> list[tuple[int, ...]]:
        out = []
        for edge in range(N_EDGES):
            for op in range(len(OPS)):
                if op != arch[edge]:
                    nb = list(arch)
                    nb[edge] = op
                    out.append(tuple(nb))
        return out

    def is_valid(self, arch: object) -> bool:
        return (
            isinstance(arch, tuple)
            and len(arch) == N_EDGES
            and all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) and 0 <= x < len(OPS) for x in arch)
        )

    def canonical_id(self, arch: tuple[int, ...]) -> str:
        return arch_str(arch)

    def to_str(self, arch: tuple[int, ...]) -> str:
        return arch_str(arch)

    def from_str(self, text: str) -> tuple[int, ...]:
        return parse_arch_str(text)

    def to_dag(self, arch: tuple[int, ...]) -> LabelledDAG:
        X = (0,) + tuple(op + 1 for op in arch) + (len(DAG_OPS) - 1,)
        return LabelledDAG(LINE_GRAPH, X)

    def from_dag(self, dag: LabelledDAG) -> tuple[int, ...] | None:
        if dag.n_nodes != _DAG_N or not np.array_equal(dag.A, LINE_GRAPH):
            return None
        if dag.X[0] != 0 or dag.X[-1] != len(DAG_OPS) - 1:
            return None
        ops = tuple(x - 1 for x in dag.X[1:-1])
        return ops if all(0 <= o < len(OPS) for o in ops) else None

    @property
    def dag_constraints(self) -> DagConstraints:
        fixed = (0,) + (-1,) * N_EDGES + (len(DAG_OPS) - 1,)
        interior = tuple(range(1, len(OPS) + 1))
        allowed = ((0,),) + (interior,) * N_EDGES + ((len(DAG_OPS) - 1,),)
        mask = np.tril(LINE_GRAPH.astype(np.int8), k=-1)
        return DagConstraints(
            n_nodes=_DAG_N, op_names=DAG_OPS, fixed_ops=fixed, edge_mask=mask,
            max_edges=None, allowed_ops=allowed,
        )
