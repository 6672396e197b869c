"""Random graph models as search strategies: Erdős–Rényi (ER) and Watts–Strogatz (WS).

The GraphPNAS paper's random-search baselines (§4.1, Table 1): "we first randomly draw
hyperparameters from certain ranges, i.e., 0.1 ≤ p ≤ 0.5 for ER and (2, 0.2) ≤ (k, p) ≤ (6, 0.8)
for WS, and then sample G from individual models". Each query therefore draws its own
hyper-parameters and logs them (``Proposal.info``), so the paper's ER/WS-TopK and -BEST
selections (the best models, e.g. "WS(k=4, p=0.75) and ER(p=0.1)") can be computed from the
trajectories' ``extra`` column afterwards.

A sampled undirected graph on ``DagConstraints.n_nodes`` nodes (the paper's App. F: "we first
sample a 7-node DAG" on NB101) is oriented by node order, edge j -> i for j < i (as RandWire,
Xie et al. 2019, orients its generated graphs), then the space's constraints are applied: forced
edges set, forbidden edges cleared, fixed ops set, free ops uniform over ``allowed_ops``. The space
maps the DAG to an architecture (``from_dag``) and may reject it (NB101: more than 9 edges after
pruning, or no input-output path); a rejected sample is redrawn with new hyper-parameters, so the
accepted (hyper-parameters, graph) pairs follow the prior conditioned on the space accepting the
graph. On NB101 this shapes the accepted hyper-parameters: WS with k = 6 gives 21 edges on 7 nodes
and is never accepted, k = 4 (14 edges) only when pruning removes enough of them (measured: 80 %
of accepted WS samples have k = 2, 20 % k = 4), and ER with a low p rarely connects input to
output (accepted p skews towards 0.5). Keeping the hyper-parameters and redrawing only the graph
would never terminate for WS(k = 6) on NB101.

On NB201 every edge of the DAG view is forced (the topology is fixed), so both models reduce to
uniform random op choices, i.e. random search with logged (and irrelevant) hyper-parameters.

Deviation from the authors' code (DSL-Lab/GraphPNAS ``model/generators/erdos_renyi.py``): that
generator draws the node count uniformly from 3..max nodes; we use the space's node count, as
the paper's App. F describes and as ``from_dag`` expects.
"""
from __future__ import annotations

from abc import abstractmethod
from typing import Sequence

import networkx as nx
import numpy as np

from harness.contracts import (
    DagConstraints,
    LabelledDAG,
    Observation,
    Proposal,
    RunContext,
    SearchSpace,
)
from harness.errors import HarnessError
from strategies.base import Strategy, best_observed

MAX_REJECTIONS = 10_000
"""Consecutive samples the space may reject before the strategy gives up with an error."""

Info = tuple[tuple[str, float | int | str], ...]


def orient_and_label(graph: nx.Graph, constraints: DagConstraints, rng: np.random.Generator) -> LabelledDAG:
    """The labelled DAG of an undirected graph on nodes 0..n-1 under a space's constraints.

    Edge {i, j} becomes j -> i for j < i (``A[i, j] = 1``); then ``edge_mask`` forces (1) and
    forbids (0) edges, fixed ops are set and each free node's op is uniform over its allowed ops.
    """
    n = constraints.n_nodes
    A = np.zeros((n, n), dtype=np.uint8)
    for u, v in graph.edges():
        A[max(u, v), min(u, v)] = 1
    mask = np.tril(constraints.edge_mask, k=-1)
    lower = np.tril(np.ones((n, n), dtype=bool), k=-1)
    A[(mask == 1) & lower] = 1
    A[(mask == 0) & lower] = 0
    X = []
    for i in range(n):
        fixed = constraints.fixed_ops[i]
        if fixed >= 0:
            X.append(fixed)
        else:
            allowed = constraints.allowed_ops[i]
            X.append(int(allowed[int(rng.integers(len(allowed)))]))
    return LabelledDAG(A, tuple(X))


class _GraphModelSearch(Strategy):
    """Shared sampling loop: draw hyper-parameters, a graph, map it through the space.

    Each proposal's hyper-parameters are remembered by canonical id (``state_dict`` keeps them), so
    ``recommend`` can sample from the best setting found: the paper's ER-/WS-BEST (Table 1)."""

    model = ""

    def setup(self, space: SearchSpace, seed: np.random.SeedSequence, context: RunContext | None = None) -> None:
        super().setup(space, seed, context)
        self._check_params()
        self._constraints = space.dag_constraints
        self.settings: dict[str, Info] = {}

    def ask(self, n: int) -> list[Proposal]:
        out = [self._sample(self.rng) for _ in range(n)]
        for p in out:
            self.settings.setdefault(self.space.canonical_id(p.arch), p.info[1:])
        return out

    def best_setting(self, history: Sequence[Observation]) -> Info | None:
        """The hyper-parameters of the best-rewarded architecture this model proposed (each
        sample draws its own, so "the best model found during search", GraphPNAS Table 1, is the
        setting of the best sample); None before any answer."""
        for arch in best_observed(history, len(history)):
            hp = self.settings.get(self.space.canonical_id(arch))
            if hp is not None:
                return hp
        return None

    def recommend(self, n: int, rng: np.random.Generator, history: Sequence[Observation]) -> list[Proposal]:
        """``n`` samples of the best setting (ER-/WS-BEST); before any answer, of the prior."""
        hp = self.best_setting(history)
        return [self._sample(rng, hp) for _ in range(n)]

    def _sample(self, rng: np.random.Generator, fixed: Info | None = None) -> Proposal:
        n_nodes = self._constraints.n_nodes
        for _ in range(MAX_REJECTIONS):
            hp = self._draw_hyperparameters(rng) if fixed is None else fixed
            graph = self._graph(n_nodes, hp, int(rng.integers(2**31)))
            arch = self.space.from_dag(orient_and_label(graph, self._constraints, rng))
            if arch is not None:
                return Proposal(arch, info=(("graph_model", self.model),) + hp)
        raise HarnessError(
            f"{self.model.upper()} graph model: space {self.space.name!r} rejected {MAX_REJECTIONS} samples in a row; "
            f"use hyper-parameter ranges that give graphs this space accepts"
        )

    def state_dict(self) -> dict:
        return {**super().state_dict(), "settings": {k: list(map(list, v)) for k, v in self.settings.items()}}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.settings = {k: tuple(tuple(pair) for pair in v) for k, v in state.get("settings", {}).items()}

    @abstractmethod
    def _check_params(self) -> None:
        """Raise HarnessError on a bad constructor parameter (checked at setup)."""

    @abstractmethod
    def _draw_hyperparameters(self, rng: np.random.Generator) -> Info:
        """One draw of the model's hyper-parameters, as logged pairs."""

    @abstractmethod
    def _graph(self, n_nodes: int, hp: Info, seed: int) -> nx.Graph:
        """An undirected graph on nodes 0..n_nodes-1 from the model with ``hp``."""


def _check_range(name: str, lo_hi: Sequence[float]) -> None:
    lo, hi = (float(x) for x in lo_hi)
    if not 0.0 <= lo <= hi <= 1.0:
        raise HarnessError(f"{name} must be (low, high) with 0 <= low <= high <= 1, got {tuple(lo_hi)}")


class ErdosRenyiSearch(_GraphModelSearch):
    """ER(p) with p ~ U[0.1, 0.5] per sample (GraphPNAS paper §4.1); logs ``graph_model``, ``p``.

    ``networkx.gnp_random_graph``, seeded per sample from the strategy's generator.
    """

    name = "er"
    model = "er"

    def __init__(self, p_range: Sequence[float] = (0.1, 0.5)):
        self.p_range = p_range

    def _check_params(self) -> None:
        _check_range("p_range", self.p_range)

    def _draw_hyperparameters(self, rng: np.random.Generator) -> Info:
        lo, hi = self.p_range
        return (("p", float(rng.uniform(lo, hi))),)

    def _graph(self, n_nodes: int, hp: Info, seed: int) -> nx.Graph:
        return nx.gnp_random_graph(n_nodes, dict(hp)["p"], seed=seed)


class WattsStrogatzSearch(_GraphModelSearch):
    """WS(k, p) with k uniform over {2, 4, 6} and p ~ U[0.2, 0.8] per sample; logs ``k``, ``p``.

    The paper's range is (2, 0.2) ≤ (k, p) ≤ (6, 0.8) (§4.1) and its best WS model is
    WS(k=4, p=0.75). k is drawn among the even values: the WS ring lattice joins each node to
    k/2 neighbours per side (Watts & Strogatz 1998; RandWire, Xie et al. 2019, uses even K), and
    ``networkx.watts_strogatz_graph`` treats an odd k as k - 1, so odd values would only relabel
    k - 1. k is capped at n_nodes (networkx: k = n gives the complete graph); the logged k is the
    one used.
    """

    name = "ws"
    model = "ws"

    def __init__(self, k_choices: Sequence[int] = (2, 4, 6), p_range: Sequence[float] = (0.2, 0.8)):
        self.k_choices = k_choices
        self.p_range = p_range

    def _check_params(self) -> None:
        _check_range("p_range", self.p_range)
        if not self.k_choices or any(int(k) < 2 for k in self.k_choices):
            raise HarnessError(f"k_choices must be a non-empty list of integers >= 2, got {self.k_choices!r}")

    def _draw_hyperparameters(self, rng: np.random.Generator) -> Info:
        k = int(self.k_choices[int(rng.integers(len(self.k_choices)))])
        lo, hi = self.p_range
        return (("k", min(k, self._constraints.n_nodes)), ("p", float(rng.uniform(lo, hi))))

    def _graph(self, n_nodes: int, hp: Info, seed: int) -> nx.Graph:
        d = dict(hp)
        return nx.watts_strogatz_graph(n_nodes, int(d["k"]), float(d["p"]), seed=seed)
