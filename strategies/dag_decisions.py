"""A space's architectures as a vector of independent categorical decisions (its labelled-DAG view).

Policy-gradient and density-model strategies (REINFORCE, BOHB) need a fixed set of categorical
variables, not a graph. Every space exposes one through ``SearchSpace.dag_constraints``: one
decision per node whose op is free (a categorical over ``allowed_ops[i]``) and one per free edge
(``edge_mask == -1``; two options, absent = 0 / present = 1). Forced ops and edges are filled in.
On NB201 this is six 5-way decisions, one per cell edge in arch-string order with the official
op order -- the 6 x 5 table of AutoDL's REINFORCE and the ConfigSpace of its BOHB
(``exps/NATS-algos/{reinforce,bohb}.py``). On NB101 it is five 3-way op decisions and 21 edge
bits, i.e. naszilla's ``random_spec`` variables. The space still decides validity: a decision
vector is only an architecture when ``from_dag`` accepts it (and ``max_edges`` holds).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from harness.contracts import Arch, LabelledDAG, SearchSpace
from harness.errors import HarnessError


@dataclass(frozen=True)
class DagDecisions:
    """Decision ``k < len(op_nodes)`` picks node ``op_nodes[k]``'s op; the rest switch ``edges``."""

    n_nodes: int
    fixed_X: tuple[int, ...]
    """Each node's op index, where forced (free nodes hold their first allowed op)."""
    forced_A: np.ndarray
    op_nodes: tuple[int, ...]
    op_choices: tuple[tuple[int, ...], ...]
    edges: tuple[tuple[int, int], ...]
    """Free edges (i, j), j < i, meaning j -> i, in row-major order."""
    max_edges: int | None

    @classmethod
    def of(cls, space: SearchSpace) -> DagDecisions:
        c = space.dag_constraints
        mask = np.asarray(c.edge_mask)
        lower = np.tri(c.n_nodes, k=-1, dtype=bool)
        op_nodes = tuple(i for i, ops in enumerate(c.allowed_ops) if len(ops) > 1)
        return cls(
            n_nodes=c.n_nodes,
            fixed_X=tuple(int(ops[0]) for ops in c.allowed_ops),
            forced_A=((mask == 1) & lower).astype(np.uint8),
            op_nodes=op_nodes,
            op_choices=tuple(tuple(int(o) for o in c.allowed_ops[i]) for i in op_nodes),
            edges=tuple((int(i), int(j)) for i, j in zip(*np.nonzero((mask == -1) & lower))),
            max_edges=c.max_edges,
        )

    @property
    def n_choices(self) -> np.ndarray:
        """Number of options of each decision (>= 2)."""
        return np.array([len(ch) for ch in self.op_choices] + [2] * len(self.edges), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.op_nodes) + len(self.edges)

    def decode(self, codes: Sequence[int]) -> LabelledDAG | None:
        """The DAG a decision vector denotes, or None when it exceeds ``max_edges``."""
        X = list(self.fixed_X)
        for node, choices, code in zip(self.op_nodes, self.op_choices, codes):
            X[node] = choices[int(code)]
        A = self.forced_A.copy()
        for (i, j), code in zip(self.edges, codes[len(self.op_nodes):]):
            A[i, j] = int(code)
        if self.max_edges is not None and int(A.sum()) > self.max_edges:
            return None
        return LabelledDAG(A, tuple(X))

    def to_arch(self, space: SearchSpace, codes: Sequence[int]) -> Arch | None:
        """The architecture of a decision vector, or None when the space rejects it."""
        dag = self.decode(codes)
        return None if dag is None else space.from_dag(dag)

    def encode(self, dag: LabelledDAG) -> np.ndarray:
        """The decision vector of a DAG of this view (ValueError if it does not fit the view)."""
        if dag.n_nodes != self.n_nodes:
            raise ValueError(f"DAG has {dag.n_nodes} nodes, the decision view has {self.n_nodes}")
        ops = [self.op_choices[k].index(dag.X[node]) for k, node in enumerate(self.op_nodes)]
        A = np.asarray(dag.A)
        return np.array(ops + [int(A[i, j]) for i, j in self.edges], dtype=np.int64)

    def sample_uniform(self, space: SearchSpace, rng: np.random.Generator,
                       max_tries: int = 100_000) -> tuple[np.ndarray, Arch]:
        """Uniform decisions, redrawn until the space accepts them: (codes, arch).

        On NB201 this is uniform over the 15,625 cells; on NB101 it is naszilla's ``random_spec``
        (every edge w.p. 1/2, ops uniform, redrawn until valid), i.e. ConfigSpace's
        ``sample_configuration`` over these variables followed by the space's validity check.
        """
        k = self.n_choices
        for _ in range(max_tries):
            codes = rng.integers(0, k)
            arch = self.to_arch(space, codes)
            if arch is not None:
                return codes, arch
        raise HarnessError(
            f"{space.name}: {max_tries} uniform DAG decision vectors in a row were invalid; "
            f"check the space's dag_constraints / from_dag"
        )


__all__ = ["DagDecisions"]
