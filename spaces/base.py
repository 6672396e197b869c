"""The SearchSpace protocol and the labelled-DAG view shared by every space.

A space is pure: it knows which architectures exist and how to move between them, never how
well they perform (that is an Evaluator's job, see ``harness.evaluation``). Every architecture
also has a labelled-DAG view so graph generators (GraphPNAS, the RNN controller, ER/WS) can
work on any space through ``to_dag`` / ``from_dag`` and the space's ``DagConstraints``.

Conventions of the DAG view (the GraphPNAS paper's, §3.1.1): nodes are numbered in a
topological order, ``A[i, j] = 1`` means an edge j -> i and only ``j < i`` may be set (strictly
lower-triangular), ``X[i]`` is the index of node i's op in ``DagConstraints.op_names``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Hashable, Sequence

import numpy as np

Arch = Hashable
"""An architecture: any immutable, hashable value chosen by its space."""


@dataclass(frozen=True)
class LabelledDAG:
    """A DAG with op labels: ``A`` strictly lower-triangular uint8 (A[i, j] = edge j -> i)."""

    A: np.ndarray
    X: tuple[int, ...]

    def __post_init__(self) -> None:
        A = np.array(self.A, dtype=np.uint8, copy=True)
        n = len(self.X)
        if A.shape != (n, n):
            raise ValueError(f"adjacency shape {A.shape} does not match {n} node labels")
        if np.triu(A).any():
            raise ValueError("adjacency must be strictly lower-triangular (A[i, j] = edge j -> i, j < i)")
        A.setflags(write=False)
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "X", tuple(int(x) for x in self.X))

    @property
    def n_nodes(self) -> int:
        return len(self.X)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelledDAG) and self.X == other.X and np.array_equal(self.A, other.A)

    def __hash__(self) -> int:
        return hash((self.X, self.A.tobytes()))


@dataclass(frozen=True)
class DagConstraints:
    """What a graph generator must respect to produce a DAG the space can accept.

    ``fixed_ops[i]`` is the forced op index of node i or -1 when free; ``edge_mask[i, j]`` is 1
    (edge forced), 0 (edge forbidden) or -1 (free), only meaningful for j < i; ``max_edges`` caps
    the number of edges (None = no cap); ``allowed_ops[i]`` lists the op indices node i may take.
    """

    n_nodes: int
    op_names: tuple[str, ...]
    fixed_ops: tuple[int, ...]
    edge_mask: np.ndarray
    max_edges: int | None = None
    allowed_ops: tuple[tuple[int, ...], ...] = field(default=())

    def __post_init__(self) -> None:
        mask = np.array(self.edge_mask, dtype=np.int8, copy=True)
        mask.setflags(write=False)
        object.__setattr__(self, "edge_mask", mask)
        if not self.allowed_ops:
            free = tuple(i for i, _ in enumerate(self.op_names))
            allowed = tuple((f,) if f >= 0 else free for f in self.fixed_ops)
            object.__setattr__(self, "allowed_ops", allowed)


class SearchSpace(ABC):
    """A pure search space. Architectures are immutable and hashable; RNGs are passed in."""

    name: str = ""

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> Arch:
        """A random valid architecture (the space's documented prior)."""

    @abstractmethod
    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        """A valid architecture one random edit away (the space's documented mutation)."""

    @abstractmethod
    def neighbours(self, arch: Arch) -> list[Arch]:
        """All valid architectures one edit away, in a fixed order (callers shuffle)."""

    @abstractmethod
    def is_valid(self, arch: object) -> bool:
        """Whether ``arch`` is an architecture of this space (never raises)."""

    @abstractmethod
    def canonical_id(self, arch: Arch) -> str:
        """A string equal for two architectures iff the benchmark treats them as one."""

    @abstractmethod
    def to_str(self, arch: Arch) -> str:
        """A printable form that ``from_str`` parses back to an equal architecture."""

    @abstractmethod
    def from_str(self, text: str) -> Arch:
        """Parse ``to_str`` output; raises ValueError naming the problem."""

    @abstractmethod
    def to_dag(self, arch: Arch) -> LabelledDAG:
        """The labelled-DAG view of an architecture."""

    @abstractmethod
    def from_dag(self, dag: LabelledDAG) -> Arch | None:
        """The architecture a labelled DAG denotes, or None when the space rejects it."""

    @property
    @abstractmethod
    def dag_constraints(self) -> DagConstraints:
        """Fixed ops, fixed/forbidden edges and limits of the DAG view."""

    def sample_many(self, rng: np.random.Generator, n: int) -> list[Arch]:
        return [self.sample(rng) for _ in range(n)]

    def describe(self) -> dict:
        """Parameters that identify this space instance (written to manifests)."""
        return {"name": self.name}


def check_arch(space: SearchSpace, arch: object) -> None:
    """Raise ValueError with a one-line reason when ``arch`` is not valid in ``space``."""
    if not space.is_valid(arch):
        raise ValueError(f"invalid {space.name} architecture: {arch!r}")


def edge_count(dag: LabelledDAG) -> int:
    return int(np.asarray(dag.A).sum())


__all__: Sequence[str] = [
    "Arch",
    "LabelledDAG",
    "DagConstraints",
    "SearchSpace",
    "check_arch",
    "edge_count",
]
