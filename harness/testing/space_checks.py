"""The SearchSpace contract (``harness.contracts``) as one check that runs on any space.

``check_space(space)`` samples architectures and checks every promise the strategies rely on:
validity of what ``sample``/``mutate``/``neighbours`` return, ``is_valid`` on junk, the text and
labelled-DAG round trips, a stable ``canonical_id``, and that ``to_dag`` respects the space's own
``dag_constraints``. Space-specific facts (counts, official formats) stay in each space's tests.
"""
from __future__ import annotations

import copy

import numpy as np

from harness.contracts import LabelledDAG, SearchSpace

JUNK: tuple = (None, "x", 3, 2.5, b"", [], {}, (None, "x", 3), ("x",) * 6, (None,) * 12)
"""Objects no space takes for an architecture: ``is_valid`` must say False (and never raise)."""
GARBAGE = ("", "x", "not an architecture", "[[", ";;", "\x00\xff")
"""Strings no space's ``from_str`` may accept; ``to_str(a) + "junk"`` is checked as well."""


def _label(space: SearchSpace) -> str:
    params = {k: v for k, v in space.describe().items() if k != "name"}
    return space.name + (f"({', '.join(f'{k}={v}' for k, v in params.items())})" if params else "")


def _kept_edges(A: np.ndarray) -> int:
    """Edges among the nodes on a path from node 0 to the last node: what ``max_edges`` caps (NB101
    counts edges after pruning, google-research/nasbench ``model_spec.py::ModelSpec._prune``;
    GraphPNAS App. F rejects samples "that have more than 9 edges" after that pruning)."""
    A = np.asarray(A, dtype=bool)
    n = len(A)
    fwd = np.zeros(n, dtype=bool)
    back = np.zeros(n, dtype=bool)
    fwd[0] = back[n - 1] = True
    for i in range(1, n):
        fwd[i] = (A[i, :i] & fwd[:i]).any()
    for j in range(n - 2, -1, -1):
        back[j] = (A[j + 1:, j] & back[j + 1:]).any()
    keep = fwd & back
    return int(A[np.ix_(keep, keep)].sum())


def _check_constraints(space: SearchSpace, label: str) -> None:
    c = space.dag_constraints
    n, n_ops = c.n_nodes, len(c.op_names)
    assert len(c.fixed_ops) == len(c.allowed_ops) == n and c.edge_mask.shape == (n, n), (
        f"{label}: dag_constraints has {len(c.fixed_ops)} fixed ops, {len(c.allowed_ops)} allowed-op lists and a "
        f"{c.edge_mask.shape} edge mask for {n} nodes")
    for i, (fixed, allowed) in enumerate(zip(c.fixed_ops, c.allowed_ops)):
        assert allowed and all(0 <= x < n_ops for x in allowed), f"{label}: allowed_ops[{i}] = {allowed} for {n_ops} ops"
        assert fixed < 0 or tuple(allowed) == (fixed,), f"{label}: node {i} fixed to op {fixed} but allows {allowed}"
    assert set(np.unique(np.tril(c.edge_mask, -1))) <= {-1, 0, 1}, f"{label}: edge_mask entries must be -1, 0 or 1"


def _check_dag(space: SearchSpace, arch, dag: object, label: str, text: str) -> None:
    c = space.dag_constraints
    assert isinstance(dag, LabelledDAG), f"{label}: to_dag({text}) returned a {type(dag).__name__}, not a LabelledDAG"
    assert dag.n_nodes == c.n_nodes, f"{label}: to_dag({text}) has {dag.n_nodes} nodes, dag_constraints {c.n_nodes}"
    bad = [i for i, x in enumerate(dag.X) if x not in c.allowed_ops[i]]
    assert not bad, f"{label}: to_dag({text}) labels nodes {bad} with ops dag_constraints does not allow there"
    A = np.asarray(dag.A, dtype=bool)
    lower = np.tri(c.n_nodes, k=-1, dtype=bool)
    missing = np.argwhere(lower & (c.edge_mask == 1) & ~A)
    assert not len(missing), f"{label}: to_dag({text}) lacks forced edges (i, j) {missing.tolist()}"
    extra = np.argwhere(lower & (c.edge_mask == 0) & A)
    assert not len(extra), f"{label}: to_dag({text}) has forbidden edges (i, j) {extra.tolist()}"
    if c.max_edges is not None:
        assert _kept_edges(A) <= c.max_edges, f"{label}: to_dag({text}) has {_kept_edges(A)} edges > max_edges {c.max_edges}"
    back = space.from_dag(dag)
    assert back is not None and space.is_valid(back), f"{label}: from_dag(to_dag({text})) rejected its own DAG"
    assert space.canonical_id(back) == space.canonical_id(arch), f"{label}: from_dag(to_dag({text})) is another architecture"


def _check_junk(space: SearchSpace, label: str) -> None:
    for obj in JUNK:
        try:
            verdict = space.is_valid(obj)
        except Exception as exc:  # noqa: BLE001 - the contract: is_valid never raises
            raise AssertionError(f"{label}: is_valid({obj!r}) raised {type(exc).__name__}: {exc}") from None
        assert isinstance(verdict, (bool, np.bool_)) and not verdict, f"{label}: is_valid({obj!r}) gave {verdict!r}"


def _check_garbage(space: SearchSpace, label: str, texts) -> None:
    for text in texts:
        try:
            got = space.from_str(text)
        except ValueError:
            continue
        except Exception as exc:  # noqa: BLE001 - the contract: ValueError naming the problem
            raise AssertionError(f"{label}: from_str({text!r}) raised {type(exc).__name__}, not ValueError") from None
        raise AssertionError(f"{label}: from_str({text!r}) accepted garbage as {got!r}")


def check_space(space: SearchSpace, n: int = 20, seed: int = 0) -> None:
    """Check the SearchSpace contract on ``n`` architectures sampled with ``seed`` (and their
    mutants and neighbours); raises AssertionError naming the space and what broke."""
    label = _label(space)
    twin = copy.deepcopy(space)  # a second instance: nothing may depend on a space's own history
    _check_constraints(space, label)
    _check_junk(space, label)
    _check_garbage(space, label, GARBAGE)
    assert space.sample(np.random.default_rng(seed)) == twin.sample(np.random.default_rng(seed)), (
        f"{label}: sample() differs for the same generator state")
    rng = np.random.default_rng(seed)
    for k, arch in enumerate(space.sample_many(rng, n)):
        assert space.is_valid(arch), f"{label}: sample() returned an invalid architecture {arch!r}"
        try:
            hash(arch)
        except TypeError:
            raise AssertionError(f"{label}: sample() returned an unhashable {type(arch).__name__}") from None
        text = space.to_str(arch)
        assert isinstance(text, str), f"{label}: to_str returned a {type(text).__name__}"
        back = space.from_str(text)
        assert back == arch and space.to_str(back) == text, f"{label}: from_str(to_str(a)) != a for {text}"
        cid = space.canonical_id(arch)
        assert isinstance(cid, str), f"{label}: canonical_id returned a {type(cid).__name__}"
        assert space.canonical_id(back) == cid == space.canonical_id(arch) == twin.canonical_id(arch), (
            f"{label}: canonical_id of {text} is not stable")
        _check_garbage(space, label, [text + "junk"])
        _check_dag(space, arch, space.to_dag(arch), label, text)
        child = space.mutate(arch, rng)
        assert space.is_valid(child), f"{label}: mutate({text}) returned an invalid architecture {child!r}"
        assert space.mutate(arch, np.random.default_rng(k)) == twin.mutate(arch, np.random.default_rng(k)), (
            f"{label}: mutate({text}) differs for the same generator state")
        nbs = space.neighbours(arch)
        assert isinstance(nbs, list) and nbs == space.neighbours(arch) == twin.neighbours(arch), (
            f"{label}: neighbours({text}) is not a list in a fixed order")
        invalid = [nb for nb in nbs if not space.is_valid(nb)]
        assert not invalid, f"{label}: neighbours({text}) holds invalid architectures, e.g. {invalid[0]!r}"
        ids = [space.canonical_id(nb) for nb in nbs]
        assert cid not in ids, f"{label}: neighbours({text}) contains the architecture itself"
        assert len(set(ids)) == len(ids), f"{label}: neighbours({text}) lists an architecture twice"
