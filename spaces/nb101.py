"""NAS-Bench-101 search space (Ying et al. 2019), pure: specs, pruning, the module hash, moves.

An architecture is an ``NB101Spec``: a V x V upper-triangular 0/1 matrix (``matrix[i][j] = 1``
means an edge i -> j, V <= 7) and V op names, the first ``input``, the last ``output``, the others
from ``OPS``. The space keeps the *unpruned* spec (mutations act on it, as in naszilla); the
benchmark identifies a cell by the module hash of its *pruned* spec, which is ``canonical_id``.

Definitions follow google-research/nasbench (read, not copied):
- pruning: ``nasbench/lib/model_spec.py::ModelSpec._prune``: keep the vertices that are both
  reachable from the input and reach the output; the spec is invalid when fewer than 2 remain
  (the input does not reach the output);
- validity: ``nasbench/api.py::NASBench._check_spec``, applied like the API to the *pruned* spec:
  <= 7 vertices, <= 9 edges, first op ``input``, last ``output``, interior ops from ``OPS``.
  Our representation is stricter on the unpruned spec: it must be square, 0/1, upper-triangular,
  have 2..7 vertices and legal ops on every vertex (the API only looks at the pruned ops);
- hash: ``nasbench/lib/graph_util.py::hash_module`` called from ``ModelSpec.hash_spec`` with labels
  input = -1, output = -2, interior = index in ``OPS``.

Moves follow naszilla (``naszilla/nas_bench_101/sample_random.py::random_cell_adj``,
``mutations.py::adj_mutate``, ``cell_101.py::adj_neighborhood``); specs with V < 7 vertices
(imported pruned cells) are first padded to 7 x 7 like naszilla's ``Cell101.convert_to_cell``
(dangling conv3x3 vertices inserted before the output), which leaves the hash unchanged.

Labelled-DAG view (``spaces.base``): ``op_names = DAG_OPS`` (input, the three ``OPS``, output),
one node per vertex of the spec in its own (topological) order, ``A = matrix.T`` (so
``A[i, j] = 1`` is the edge j -> i) and ``X[i] = DAG_OPS.index(ops[i])``. ``dag_constraints``
asks for 7 nodes, node 0 input and node 6 output, every edge below the diagonal free, at most
9 edges; ``from_dag`` returns the spec or None when it is invalid (dangling vertices allowed,
as in the benchmark's own unpruned specs).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from harness.contracts import DagConstraints, LabelledDAG, SearchSpace, check_arch

try:  # CPython's built-in MD5 is ~25% faster than OpenSSL's on these short messages
    from _md5 import md5
except ImportError:  # pragma: no cover - builds without the module
    from hashlib import md5

INPUT = "input"
OUTPUT = "output"
OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
MAX_VERTICES = 7
MAX_EDGES = 9
DAG_OPS = (INPUT,) + OPS + (OUTPUT,)

_OP_INDEX = {op: i for i, op in enumerate(OPS)}
_BIT = {0: "0", 1: "1"}  # also takes False/True, numpy ints and 0.0/1.0, which equal 0/1
_DAG_INDEX = {op: i for i, op in enumerate(DAG_OPS)}
_N = MAX_VERTICES
_EDGES = tuple((i, j) for i in range(_N - 1) for j in range(i + 1, _N))  # naszilla's flip order
_N_EDGES = len(_EDGES)  # 21
_N_INTERIOR = _N - 2  # 5
_ROW_OFFSET = tuple(sum(_N - 1 - k for k in range(i)) for i in range(_N))  # row i's first bit
_CACHE_MAX = 1 << 18
_BIT_WEIGHTS = 1 << np.arange(_N_EDGES, dtype=np.int64)


@dataclass(frozen=True)
class NB101Spec:
    """An unpruned NB101 cell; lists and arrays are turned into tuples so specs hash and compare."""

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        m = self.matrix.tolist() if isinstance(self.matrix, np.ndarray) else self.matrix
        if isinstance(m, (list, tuple)) and all(isinstance(r, (list, tuple, np.ndarray)) for r in m):
            m = tuple(tuple(r.tolist() if isinstance(r, np.ndarray) else r) for r in m)
        object.__setattr__(self, "matrix", m)
        if isinstance(self.ops, (list, np.ndarray)):
            object.__setattr__(self, "ops", tuple(str(o) for o in self.ops))


# ---------------------------------------------------------------- bitmask core (row i bit j = edge i->j)

def _parse(matrix: Any, ops: Any) -> tuple[list[int], tuple[str, ...]]:
    """Row bitmasks and ops of a square 0/1 upper-triangular spec; ValueError says what is wrong."""
    if isinstance(matrix, np.ndarray):
        matrix = matrix.tolist()
    if not isinstance(matrix, (list, tuple)):
        raise ValueError("matrix must be a square nested sequence of 0/1")
    try:
        ops = tuple(ops)
    except TypeError:
        raise ValueError("ops must be a sequence of op names") from None
    n = len(matrix)
    if len(ops) != n:
        raise ValueError(f"{len(ops)} ops for a {n} x {n} matrix")
    rows = []
    for i, row in enumerate(matrix):
        if isinstance(row, np.ndarray):
            row = row.tolist()
        if not isinstance(row, (list, tuple)) or len(row) != n:
            raise ValueError("matrix must be square")
        try:  # bit j of the mask is entry j: the row reversed, read as a binary number
            mask = int("".join(map(_BIT.__getitem__, reversed(row))) or "0", 2)
        except (KeyError, TypeError):
            raise ValueError(f"matrix entries must be 0 or 1, got row {list(row)!r}") from None
        if mask & ((2 << i) - 1):
            raise ValueError("matrix must be strictly upper-triangular (edge i -> j needs i < j)")
        rows.append(mask)
    return rows, ops


def _keep(rows: Sequence[int]) -> int:
    """Bitmask of the vertices on an input -> output path (ModelSpec._prune's survivors)."""
    n = len(rows)
    if n < 2:
        return 0
    reach = 1
    for i in range(n):
        if reach >> i & 1:
            reach |= rows[i]
    back = 1 << (n - 1)
    for i in range(n - 2, -1, -1):
        if rows[i] & back:
            back |= 1 << i
    return reach & back


def _connected(keep: int) -> bool:
    # ModelSpec._prune: invalid when more than V - 2 vertices are extraneous
    return keep.bit_count() >= 2


def _pruned_edges(rows: Sequence[int], keep: int) -> int:
    return sum((rows[i] & keep).bit_count() for i in range(len(rows)) if keep >> i & 1)


@functools.cache
def _seed_hash(out_degree: int, in_degree: int, label: int) -> str:
    return md5(str((out_degree, in_degree, label)).encode()).hexdigest()


def _hash(rows: Sequence[int], labels: Sequence[int], keep: int) -> str:
    """graph_util.hash_module on the subgraph induced by ``keep`` (labels of kept vertices used)."""
    n = len(rows)
    kept_rows = tuple([rows[v] & keep if keep >> v & 1 else 0 for v in range(n)])
    kept_labels = tuple([labels[v] if keep >> v & 1 else 0 for v in range(n)])
    return _hash_pruned(kept_rows, kept_labels, keep)


@functools.lru_cache(maxsize=1 << 16)
def _hash_pruned(rows: tuple[int, ...], labels: tuple[int, ...], keep: int) -> str:
    """``_hash`` on rows/labels already restricted to ``keep``; cached because mutation and
    neighbourhoods keep producing the same pruned cells from different unpruned specs."""
    vs = [v for v in range(len(rows)) if keep >> v & 1]
    pos = {v: k for k, v in enumerate(vs)}
    outs = [[pos[w] for w in vs if rows[v] >> w & 1] for v in vs]
    ins: list[list[int]] = [[] for _ in outs]
    for k, targets in enumerate(outs):
        for t in targets:
            ins[t].append(k)
    h = [_seed_hash(len(outs[k]), len(ins[k]), labels[v]) for k, v in enumerate(vs)]
    nbrs = list(zip(ins, outs))
    for _ in outs:
        h = [
            md5(f"{''.join(sorted([h[w] for w in a]))}|{''.join(sorted([h[w] for w in b]))}|{hk}".encode()).hexdigest()
            for (a, b), hk in zip(nbrs, h)
        ]
    return md5(str(sorted(h)).encode()).hexdigest()


def _labels(ops: Sequence[str], keep: int) -> list[int]:
    """hash_spec's labels (input -1, output -2, interior OPS index); only kept ops must be known."""
    n = len(ops)
    labels = [-1] + [0] * (n - 2) + [-2]
    for v in range(1, n - 1):
        if keep >> v & 1:
            try:
                labels[v] = _OP_INDEX[ops[v]]
            except (KeyError, TypeError):
                raise ValueError(f"unknown NB101 op {ops[v]!r}; ops are {', '.join(OPS)}") from None
    return labels


def _invalid_reason(rows: Sequence[int], ops: Sequence[str]) -> str | None:
    n = len(rows)
    if not 2 <= n <= MAX_VERTICES:
        return f"{n} vertices (NB101 specs have 2 to {MAX_VERTICES})"
    if ops[0] != INPUT or ops[-1] != OUTPUT:
        return f"first op must be {INPUT!r} and last {OUTPUT!r}"
    bad = [o for o in ops[1:-1] if o not in _OP_INDEX]
    if bad:
        return f"unknown NB101 op {bad[0]!r}; ops are {', '.join(OPS)}"
    keep = _keep(rows)
    if not _connected(keep):
        return "the input does not reach the output"
    edges = _pruned_edges(rows, keep)
    if edges > MAX_EDGES:
        return f"{edges} edges after pruning (at most {MAX_EDGES})"
    return None


# ---------------------------------------------------------------- public functions

def prune(matrix: Any, ops: Sequence[str]) -> tuple[np.ndarray, list[str]] | None:
    """ModelSpec._prune: the spec without vertices off every input->output path, None if disconnected.

    Raises ValueError when ``matrix``/``ops`` are not a square 0/1 upper-triangular spec (as
    ModelSpec's constructor does).
    """
    rows, ops = _parse(matrix, ops)
    keep = _keep(rows)
    if not _connected(keep):
        return None
    vs = [v for v in range(len(rows)) if keep >> v & 1]
    pruned = np.array([[rows[i] >> j & 1 for j in vs] for i in vs], dtype=np.int8)
    return pruned, [ops[v] for v in vs]


def module_hash(matrix: Any, ops: Sequence[str]) -> str:
    """The official 32-hex module hash of the pruned spec; ValueError when the spec is disconnected."""
    rows, ops = _parse(matrix, ops)
    keep = _keep(rows)
    if not _connected(keep):
        raise ValueError("spec is disconnected (the input does not reach the output): no module hash")
    return _hash(rows, _labels(ops, keep), keep)


def is_valid_spec(matrix: Any, ops: Any) -> bool:
    """Whether (matrix, ops) is a cell of the benchmark (see the module docstring); never raises."""
    try:
        rows, ops = _parse(matrix, ops)
        return _invalid_reason(rows, ops) is None
    except Exception:  # noqa: BLE001 - junk of any kind is simply not a spec
        return False


def spec_from_strings(adjacency_bits: str, operations: str) -> NB101Spec:
    """A spec from the tfrecord's ``raw_adjacency`` ('0'/'1', row-major V x V) and ``raw_operations``."""
    if not isinstance(adjacency_bits, str) or not isinstance(operations, str):
        raise ValueError("adjacency and operations must be strings")
    bits = adjacency_bits.strip()
    n = int(round(len(bits) ** 0.5))
    if n * n != len(bits) or n < 2 or set(bits) - {"0", "1"}:
        raise ValueError(f"adjacency {bits!r} is not a row-major V x V string of '0'/'1' (V >= 2)")
    ops = tuple(o.strip() for o in operations.split(","))
    if len(ops) != n:
        raise ValueError(f"{len(ops)} operations for a {n} x {n} adjacency")
    matrix = tuple(tuple(int(c) for c in bits[i * n:(i + 1) * n]) for i in range(n))
    rows, ops = _parse(matrix, ops)
    reason = _invalid_reason(rows, ops)
    if reason:
        raise ValueError(f"not a valid NB101 spec: {reason}")
    return NB101Spec(matrix, ops)


def _valid_keep(rows: Sequence[int]) -> int | None:
    """The kept-vertex mask of a spec whose ops are known legal, or None when it is invalid."""
    keep = _keep(rows)
    if not _connected(keep) or _pruned_edges(rows, keep) > MAX_EDGES:
        return None
    return keep


def _spec(rows: Sequence[int], ops: Sequence[str]) -> NB101Spec:
    n = len(rows)
    return NB101Spec(tuple(tuple(r >> j & 1 for j in range(n)) for r in rows), tuple(ops))


def _padded(arch: NB101Spec) -> tuple[list[int], list[str]]:
    """The 7 x 7 form of a spec (naszilla Cell101.convert_to_cell): dangling vertices before the output."""
    rows, ops = _parse(arch.matrix, arch.ops)
    n = len(rows)
    if n == _N:
        return rows, list(ops)
    last = n - 1
    padded = [(r & ~(1 << last)) | ((r >> last & 1) << (_N - 1)) for r in rows[:last]]
    padded += [0] * (_N - last)
    return padded, list(ops[:last]) + [OPS[0]] * (_N - 1 - last) + [OUTPUT]


def _rows_from_bits(bits: int) -> list[int]:
    return [((bits >> _ROW_OFFSET[i]) & ((1 << (_N - 1 - i)) - 1)) << (i + 1) for i in range(_N)]


def _bits_from_rows(rows: Sequence[int]) -> int:
    return sum((rows[i] >> (i + 1)) << _ROW_OFFSET[i] for i in range(_N - 1))


N_CELLS = 423_624
"""Distinct cells (module hashes) of NAS-Bench-101 (Ying et al. 2019, §2.2)."""


class NB101Space(SearchSpace):
    """NAS-Bench-101 with naszilla's sampling, mutation and local-search neighbourhood."""

    name = "nb101"

    def __init__(self) -> None:
        self._ids: dict[NB101Spec, str] = {}

    def size(self) -> int:
        return N_CELLS

    # -- moves

    def _remember(self, arch: NB101Spec, h: str) -> NB101Spec:
        if len(self._ids) >= _CACHE_MAX:
            self._ids.clear()
        self._ids[arch] = h
        return arch

    def sample(self, rng: np.random.Generator) -> NB101Spec:
        """naszilla random_cell_adj: each of the 21 upper-triangular entries ~ Bernoulli(0.5), the 5
        interior ops uniform over ``OPS``, input/output fixed; redrawn until valid.

        The 21 bits are drawn as one uniform integer below 2**21 (bit k = edge ``_EDGES[k]``); the
        ops are drawn once the matrix is valid (validity does not depend on them).
        """
        while True:
            rows = _rows_from_bits(int(rng.integers(0, 1 << _N_EDGES)))
            if _valid_keep(rows) is not None:
                break
        ops = [INPUT] + [OPS[k] for k in rng.integers(0, len(OPS), size=_N_INTERIOR)] + [OUTPUT]
        return _spec(rows, ops)

    def mutate(self, arch: NB101Spec, rng: np.random.Generator) -> NB101Spec:
        """naszilla adj_mutate (mutation_rate 1): flip each of the 21 edges w.p. 1/21 and change each
        interior op w.p. 1/5 to one of the two others; redrawn until the child is valid and (our
        addition, as BANANAS/REA dedup by hash) its module hash differs from the parent's.

        Always terminates: every valid 7-vertex spec is reachable in one draw with positive
        probability. naszilla's fallback of raising the rate after 5,000 tries is not needed.
        """
        check_arch(self, arch)
        rows, ops = _padded(arch)
        parent = self.canonical_id(arch)
        bits = _bits_from_rows(rows)
        op_idx = np.array([_OP_INDEX[o] for o in ops[1:-1]])
        while True:
            flips = rng.random(_N_EDGES) < 1.0 / _N_EDGES
            change = rng.random(_N_INTERIOR) < 1.0 / _N_INTERIOR
            shift = rng.integers(1, len(OPS), size=_N_INTERIOR)
            new_rows = _rows_from_bits(bits ^ int(_BIT_WEIGHTS[flips].sum()))
            keep = _valid_keep(new_rows)
            if keep is None:
                continue
            new_ops = [INPUT] + [OPS[k] for k in np.where(change, (op_idx + shift) % len(OPS), op_idx)] + [OUTPUT]
            h = _hash(new_rows, _labels(new_ops, keep), keep)
            if h != parent:
                return self._remember(_spec(new_rows, new_ops), h)

    def neighbours(self, arch: NB101Spec) -> list[NB101Spec]:
        """naszilla adj_neighborhood (White et al. 2020 local search), before its shuffle: every
        other op on each interior vertex that survives pruning, then every single edge flip (row-major
        order) that stays valid; deduplicated by module hash, the parent's hash excluded.

        naszilla only flips edges on an input->output path (before or after the flip); any other
        flip leaves the pruned spec, hence the hash, unchanged, so the hash dedup drops it anyway.
        """
        check_arch(self, arch)
        rows, ops = _padded(arch)
        keep = _keep(rows)
        seen = {self.canonical_id(arch)}
        out: list[NB101Spec] = []

        def add(new_rows: list[int], new_ops: list[str]) -> None:
            k = _valid_keep(new_rows)
            if k is None:
                return
            h = _hash(new_rows, _labels(new_ops, k), k)
            if h not in seen:
                seen.add(h)
                out.append(self._remember(_spec(new_rows, new_ops), h))

        for v in range(1, _N - 1):
            if keep >> v & 1:
                for op in OPS:
                    if op != ops[v]:
                        add(rows, ops[:v] + [op] + ops[v + 1:])
        for i, j in _EDGES:
            new_rows = list(rows)
            new_rows[i] ^= 1 << j
            add(new_rows, ops)
        return out

    # -- identity and text

    def is_valid(self, arch: object) -> bool:
        return isinstance(arch, NB101Spec) and is_valid_spec(arch.matrix, arch.ops)

    def canonical_id(self, arch: NB101Spec) -> str:
        """The official module hash (cached per spec: it is the hot path of every evaluation)."""
        h = self._ids.get(arch)
        if h is None:
            h = module_hash(arch.matrix, arch.ops)
            self._remember(arch, h)
        return h

    def to_str(self, arch: NB101Spec) -> str:
        """``<row-major matrix bits>;<comma-separated ops>`` (the tfrecord's raw_adjacency/raw_operations)."""
        bits = "".join("1" if x else "0" for row in arch.matrix for x in row)
        return f"{bits};{','.join(arch.ops)}"

    def from_str(self, text: str) -> NB101Spec:
        if not isinstance(text, str) or text.count(";") != 1:
            raise ValueError(f"not an NB101 spec string: {text!r} (expected '<0/1 bits>;<op>,<op>,...')")
        bits, ops = text.split(";")
        return spec_from_strings(bits, ops)

    # -- labelled-DAG view

    def to_dag(self, arch: NB101Spec) -> LabelledDAG:
        A = np.array(arch.matrix, dtype=np.uint8).T
        return LabelledDAG(A, tuple(_DAG_INDEX[o] for o in arch.ops))

    def from_dag(self, dag: LabelledDAG) -> NB101Spec | None:
        if not all(0 <= x < len(DAG_OPS) for x in dag.X):
            return None
        spec = NB101Spec(np.asarray(dag.A).T, [DAG_OPS[x] for x in dag.X])
        return spec if self.is_valid(spec) else None

    @property
    def dag_constraints(self) -> DagConstraints:
        interior = tuple(range(1, len(OPS) + 1))
        out = len(DAG_OPS) - 1
        mask = np.zeros((_N, _N), dtype=np.int8)
        mask[np.tril_indices(_N, k=-1)] = -1
        return DagConstraints(
            n_nodes=_N,
            op_names=DAG_OPS,
            fixed_ops=(0,) + (-1,) * _N_INTERIOR + (out,),
            edge_mask=mask,
            max_edges=MAX_EDGES,
            allowed_ops=((0,),) + (interior,) * _N_INTERIOR + ((out,),),
        )


__all__ = [
    "INPUT", "OUTPUT", "OPS", "MAX_VERTICES", "MAX_EDGES", "DAG_OPS",
    "NB101Spec", "NB101Space", "prune", "module_hash", "is_valid_spec", "spec_from_strings",
]
