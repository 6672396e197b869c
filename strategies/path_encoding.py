"""Architecture encodings for predictor-based strategies (BANANAS): path encodings and a fallback.

BANANAS (White et al. 2021) feeds its neural predictor the *path encoding*: one bit per possible
sequence of ops along an input -> output path, set when the cell has such a path. Both tabular
spaces get it from their labelled-DAG view (``spaces.base``), because the view keeps the paths:

- NB101 (naszilla ``nas_bench_101/cell_101.py::get_paths/get_path_indices``,
  ``encodings.py::encode_paths``): a path's interior ops ``o_0 .. o_{L-1}`` get index
  ``sum_i 3**i * (m(o_i) + 1)`` with ``m = {conv3x3: 0, conv1x1: 1, maxpool3x3: 2}``, i.e. the
  paths of length ``L`` fill ``[sum_{l<L} 3**l, sum_{l<=L} 3**l)``; 3**0 + ... + 3**5 = 364
  indices (the empty path input -> output is index 0). BANANAS' default ``trunc_path`` keeps the
  first 40 (``cell_101.py::encode``: ``cutoff = 40``), i.e. the paths of length <= 3.
- NB201 (naszilla ``nas_bench_201/cell_201.py::get_paths/get_path_indices/encode_freq_paths``):
  the cell's four input -> output paths (edge 0->3; 0->1->3; 0->2->3; 0->1->2->3) with ops in
  naszilla's order ``avg_pool_3x3, nor_conv_1x1, nor_conv_3x3, none, skip_connect``; a path of
  ``L`` edges gets ``sum_{1<=l<L} 5**l + sum_i 5**i * op_i``, 5 + 25 + 125 = 155 indices.
  Paths through ``none`` edges are encoded like any other (as naszilla does). BANANAS' default
  ``trunc_path`` keeps the first 30 (``cell_201.py::encode``: ``cutoff = 30``), the paths of 1 and
  2 edges, so the 3-edge path (the only one through edge 1->2) is not seen by the predictor.
  In our NB201 DAG view (the line graph, ``spaces.nb201``) the edges are nodes, so the same
  input -> output walk over the view yields exactly these four op sequences.

Any other space gets ``adjacency_encoding``: the free entries of the adjacency matrix and a one-hot
op per free node, both read off the space's ``DagConstraints`` (naszilla's ``adj`` encoding, made
generic). Choose with ``make_encoder(space, kind)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from harness.contracts import Arch, DagConstraints, LabelledDAG, SearchSpace

ENCODINGS = ("auto", "path", "adjacency")


@dataclass(frozen=True)
class PathEncoding:
    """Index scheme of one space's path encoding (see the module docstring)."""

    op_order: tuple[str, ...]
    """Interior ops in index order (the digit of each op)."""
    min_length: int
    """Shortest path counted, in interior ops (NB101 0: input -> output; NB201 1)."""
    max_length: int
    default_cutoff: int
    """How many leading indices BANANAS keeps by default (naszilla ``trunc_path``)."""

    @property
    def size(self) -> int:
        b = len(self.op_order)
        return sum(b**l for l in range(self.min_length, self.max_length + 1))

    def index(self, path: Sequence[str]) -> int:
        """The index of a path given by its interior op names, in input -> output order."""
        b = len(self.op_order)
        if not self.min_length <= len(path) <= self.max_length:
            raise ValueError(f"path of {len(path)} ops outside {self.min_length}..{self.max_length}")
        offset = sum(b**l for l in range(self.min_length, len(path)))
        return offset + sum(b**i * self.op_order.index(op) for i, op in enumerate(path))

    def encode(self, dag: LabelledDAG, op_names: Sequence[str], cutoff: int | None = None) -> np.ndarray:
        """0/1 vector over the first ``cutoff`` path indices (default ``default_cutoff``)."""
        n = min(self.size, self.default_cutoff if cutoff is None else cutoff)
        out = np.zeros(n, dtype=np.float32)
        for path in input_output_paths(dag):
            i = self.index([op_names[x] for x in path])
            if i < n:
                out[i] = 1.0
        return out


PATH_ENCODINGS: dict[str, PathEncoding] = {
    "nb101": PathEncoding(("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"), 0, 5, 40),
    "nb201": PathEncoding(("avg_pool_3x3", "nor_conv_1x1", "nor_conv_3x3", "none", "skip_connect"), 1, 3, 30),
}
"""Per-space path encodings, keyed by ``SearchSpace.name`` (the BANANAS paper defines these two)."""


def input_output_paths(dag: LabelledDAG) -> list[tuple[int, ...]]:
    """Op labels of the interior nodes on every path from node 0 (input) to the last node (output)."""
    n = dag.n_nodes
    A = np.asarray(dag.A)
    to: list[list[tuple[int, ...]]] = [[] for _ in range(n)]
    to[0] = [()]
    for i in range(1, n):
        for j in np.flatnonzero(A[i, :i]):
            step = () if j == 0 else (dag.X[j],)
            to[i].extend(p + step for p in to[j])
    return to[n - 1]


def adjacency_encoding(dag: LabelledDAG, constraints: DagConstraints) -> np.ndarray:
    """Free adjacency entries (row-major, j < i) then a one-hot op for each node with a choice."""
    mask = np.asarray(constraints.edge_mask)
    rows, cols = np.tril_indices(constraints.n_nodes, k=-1)
    free = mask[rows, cols] == -1
    parts = [np.asarray(dag.A)[rows[free], cols[free]].astype(np.float32)]
    for i, allowed in enumerate(constraints.allowed_ops):
        if len(allowed) > 1:
            parts.append(np.array([dag.X[i] == op for op in allowed], dtype=np.float32))
    return np.concatenate(parts)


def make_encoder(space: SearchSpace, kind: str = "auto", cutoff: int | None = None) -> Callable[[Arch], np.ndarray]:
    """An ``arch -> float32 vector`` function for ``space``.

    ``kind``: ``"path"`` (the space's entry in ``PATH_ENCODINGS``, truncated to ``cutoff`` indices,
    default the BANANAS one), ``"adjacency"`` (``adjacency_encoding``), or ``"auto"``: path when
    the space has one, adjacency otherwise.
    """
    if kind not in ENCODINGS:
        raise ValueError(f"unknown encoding {kind!r}; valid: {', '.join(ENCODINGS)}")
    if cutoff is not None and cutoff < 1:
        raise ValueError(f"path cutoff must be >= 1, got {cutoff}")
    constraints = space.dag_constraints
    scheme = PATH_ENCODINGS.get(space.name)
    if kind == "path" and scheme is None:
        raise ValueError(f"no path encoding for space {space.name!r}; known: {', '.join(PATH_ENCODINGS)}")
    if kind == "adjacency" or scheme is None:
        return lambda arch: adjacency_encoding(space.to_dag(arch), constraints)
    names = constraints.op_names
    missing = [op for op in scheme.op_order if op not in names]
    if missing:
        raise ValueError(f"space {space.name!r} lacks the path encoding's ops {missing}")
    return lambda arch: scheme.encode(space.to_dag(arch), names, cutoff)


__all__ = [
    "ENCODINGS", "PATH_ENCODINGS", "PathEncoding", "adjacency_encoding", "input_output_paths", "make_encoder",
]
