"""ENAS macro search space (Pham et al. 2018, §2.3 "Designing Convolutional Networks"), pure.

A network is a chain of N layers (N = 12 in ENAS and GraphPNAS §4.2). Layer i (0-based) applies
one of six ops to the output of layer i-1 (the stem for layer 0) and adds skip connections from a
searched subset of the i earlier outputs *before* layer i-1: the stem and layers 0..i-2. This is
melodyguan/enas ``src/cifar10/general_child.py`` ``_enas_layer``: ``inputs = prev_layers[-1]`` and
skip bit k of layer i selects ``prev_layers[k]`` with ``prev_layers = [stem, layer 0, ...]``, k < i.

Architecture: a tuple of N layers, layer i = ``(op, b_0, ..., b_{i-1})`` with op in 0..5 and bits
in {0, 1}. Op ids are ENAS's branch order (``_enas_layer`` branch_0..5) and D-VAE's
(muhanzhang/D-VAE ``util.py``): 0 conv 3x3, 1 sep-conv 3x3, 2 conv 5x5, 3 sep-conv 5x5,
4 avg pool 3x3, 5 max pool 3x3. There are 6^N * 2^(N(N-1)/2) networks: 1.6e29 for N = 12
(ENAS §2.3; GraphPNAS §4.2), every one a distinct network, so the canonical id is ``to_str``.

String format (``to_str``): the D-VAE ``final_structures*.txt`` list ``[[op], [op, b_0], ...]``.
``from_str`` also reads ENAS's flat ``fixed_arc`` form ("op  op b_0  op b_0 b_1 ...", the
``cifar10_macro_final.sh`` format).

Labelled-DAG view (D-VAE ``decode_ENAS_to_igraph``): N + 2 nodes; node 0 = input (the stem
output), node i + 1 = layer i (label op + 1), node N + 1 = output (the classifier, fed by the last
layer). Edges: the chain i -> i + 1 for every layer (forced, GraphPNAS's A[i, i-1] = 1), skip bit
b_k of layer i -> edge k -> i + 1 (free), last layer -> output (forced); nothing else.
"""
from __future__ import annotations

import ast

import numpy as np

from harness.contracts import DagConstraints, LabelledDAG, SearchSpace

OPS = ("conv3x3", "sep_conv3x3", "conv5x5", "sep_conv5x5", "avg_pool3x3", "max_pool3x3")
DAG_OPS = ("input",) + OPS + ("output",)
SKIP_PROB = 0.4
"""Prior probability of a skip connection: ENAS's ``controller_skip_target`` (scripts/
cifar10_macro_search.sh) and GraphPNAS's ER explorer p = 0.4 for this space (§4.2). p = 0.5 would
be uniform over the 1.6e29 networks."""

Layer = tuple[int, ...]
EnasArch = tuple[Layer, ...]


def n_architectures(n_layers: int, n_ops: int = len(OPS)) -> int:
    """6^N ops times 2^(N(N-1)/2) skip patterns (ENAS §2.3)."""
    return n_ops**n_layers * 2 ** (n_layers * (n_layers - 1) // 2)


def to_flat(arch: EnasArch) -> list[int]:
    """ENAS's ``sample_arc`` / ``fixed_arc`` sequence: op, then the layer's skip bits, per layer."""
    return [x for layer in arch for x in layer]


class EnasSpace(SearchSpace):
    """ENAS macro space with ``n_layers`` layers; ``skip_prob`` is the sampling prior of a skip.

    ``sample``: ops uniform, skip bits i.i.d. Bernoulli(``skip_prob``). ``mutate``: one
    neighbour drawn uniformly. ``neighbours``: every other op of one layer (5 N of them), then every
    single skip-bit flip (N(N-1)/2), in layer order.
    """

    name = "enas"

    def __init__(self, n_layers: int = 12, skip_prob: float = SKIP_PROB):
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        if not 0.0 <= skip_prob <= 1.0:
            raise ValueError(f"skip_prob must be in [0, 1], got {skip_prob}")
        self.n_layers = n_layers
        self.skip_prob = skip_prob
        self.n_skips = n_layers * (n_layers - 1) // 2
        self._skip_sites = [(i, k) for i in range(n_layers) for k in range(i)]

    def size(self) -> int:
        return n_architectures(self.n_layers)

    def sample(self, rng: np.random.Generator) -> EnasArch:
        ops = rng.integers(0, len(OPS), size=self.n_layers)
        bits = rng.random(self.n_skips) < self.skip_prob
        out, k = [], 0
        for i in range(self.n_layers):
            out.append((int(ops[i]),) + tuple(int(b) for b in bits[k:k + i]))
            k += i
        return tuple(out)

    def _edit(self, arch: EnasArch, j: int) -> EnasArch:
        """The j-th neighbour (order of ``neighbours``) without building the list."""
        out = list(arch)
        n_op_edits = (len(OPS) - 1) * self.n_layers
        if j < n_op_edits:
            layer, r = divmod(j, len(OPS) - 1)
            op = r + (r >= arch[layer][0])
            out[layer] = (op,) + arch[layer][1:]
            return tuple(out)
        layer, k = self._skip_sites[j - n_op_edits]
        bits = list(arch[layer])
        bits[1 + k] ^= 1
        out[layer] = tuple(bits)
        return tuple(out)

    def mutate(self, arch: EnasArch, rng: np.random.Generator) -> EnasArch:
        return self._edit(arch, int(rng.integers((len(OPS) - 1) * self.n_layers + self.n_skips)))

    def neighbours(self, arch: EnasArch) -> list[EnasArch]:
        return [self._edit(arch, j) for j in range((len(OPS) - 1) * self.n_layers + self.n_skips)]

    def is_valid(self, arch: object) -> bool:
        if not isinstance(arch, tuple) or len(arch) != self.n_layers:
            return False
        for i, layer in enumerate(arch):
            if not isinstance(layer, tuple) or len(layer) != i + 1:
                return False
            if not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in layer):
                return False
            if not 0 <= layer[0] < len(OPS) or any(b not in (0, 1) for b in layer[1:]):
                return False
        return True

    def canonical_id(self, arch: EnasArch) -> str:
        return self.to_str(arch)

    def to_str(self, arch: EnasArch) -> str:
        return "[" + ", ".join("[" + ", ".join(str(int(x)) for x in layer) + "]" for layer in arch) + "]"

    def from_str(self, text: str) -> EnasArch:
        text = text.strip()
        if text.startswith("["):
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise ValueError(f"not an ENAS architecture list: {text[:80]!r}") from None
            if not isinstance(value, list) or not all(isinstance(layer, list) for layer in value):
                raise ValueError(f"expected a list of layer lists [[op], [op, b0], ...], got {text[:80]!r}")
            arch = tuple(tuple(layer) for layer in value)
        else:
            try:
                flat = [int(x) for x in text.split()]
            except ValueError:
                raise ValueError(f"not an ENAS fixed_arc string of integers: {text[:80]!r}") from None
            if len(flat) != self.n_layers + self.n_skips:
                raise ValueError(
                    f"an ENAS fixed_arc for {self.n_layers} layers has {self.n_layers + self.n_skips} "
                    f"integers, got {len(flat)}"
                )
            arch, k = [], 0
            for i in range(self.n_layers):
                arch.append(tuple(flat[k:k + i + 1]))
                k += i + 1
            arch = tuple(arch)
        if not self.is_valid(arch):
            raise ValueError(
                f"not a {self.n_layers}-layer ENAS architecture (layer i = [op 0..5, i skip bits 0/1]): {text[:80]!r}"
            )
        return arch

    def to_dag(self, arch: EnasArch) -> LabelledDAG:
        n = self.n_layers + 2
        A = np.zeros((n, n), dtype=np.uint8)
        for i, layer in enumerate(arch):
            A[i + 1, i] = 1
            for k, b in enumerate(layer[1:]):
                A[i + 1, k] = b
        A[n - 1, n - 2] = 1
        X = (0,) + tuple(layer[0] + 1 for layer in arch) + (len(DAG_OPS) - 1,)
        return LabelledDAG(A, X)

    def from_dag(self, dag: LabelledDAG) -> EnasArch | None:
        n = self.n_layers + 2
        if dag.n_nodes != n or dag.X[0] != 0 or dag.X[-1] != len(DAG_OPS) - 1:
            return None
        A = np.asarray(dag.A)
        if A[n - 1, : n - 2].any() or not A[n - 1, n - 2]:
            return None
        arch = []
        for i in range(self.n_layers):
            op = dag.X[i + 1] - 1
            if not 0 <= op < len(OPS) or not A[i + 1, i]:
                return None
            arch.append((op,) + tuple(int(b) for b in A[i + 1, :i]))
        return tuple(arch)

    @property
    def dag_constraints(self) -> DagConstraints:
        n = self.n_layers + 2
        mask = np.zeros((n, n), dtype=np.int8)
        for i in range(1, n - 1):
            mask[i, : i - 1] = -1
            mask[i, i - 1] = 1
        mask[n - 1, n - 2] = 1
        layer_ops = tuple(range(1, len(OPS) + 1))
        return DagConstraints(
            n_nodes=n,
            op_names=DAG_OPS,
            fixed_ops=(0,) + (-1,) * self.n_layers + (len(DAG_OPS) - 1,),
            edge_mask=mask,
            max_edges=None,
            allowed_ops=((0,),) + (layer_ops,) * self.n_layers + ((len(DAG_OPS) - 1,),),
        )

    def describe(self) -> dict:
        return {"name": self.name, "n_layers": self.n_layers, "skip_prob": self.skip_prob}


class Enas6Space(EnasSpace):
    """The 6-layer ENAS macro space of D-VAE's ``final_structures6.txt`` (the "enas6" benchmark)."""

    name = "enas6"

    def __init__(self, skip_prob: float = SKIP_PROB):
        super().__init__(n_layers=6, skip_prob=skip_prob)
