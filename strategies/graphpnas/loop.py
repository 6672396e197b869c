"""The GraphPNAS search loop: replay buffer, random explorer, learning, and the Strategy.

Each ask samples architectures from the generator (``model.GraphGenerator``) or, with
probability epsilon, from a prior graph model (the random explorer, paper §3.2 "Exploration vs.
Exploitation"); each tell adds the validation accuracies to the history and, every
``update_every`` evaluations, fits the generator on the replay buffer (the top architectures so
far) for ``epochs`` passes. Every hyper-parameter comes from a ``presets.Preset`` with its source.

Policies the paper leaves open, stated:
- Samples the space rejects (``from_dag`` is None, or more than ``max_edges`` edges once the nodes
  off every input-output path are removed, paper App. F) and samples already in
  the buffer (``reject="buffer"``, paper §4.1) or already evaluated (``"history"``, the authors'
  code) are rejected; rejection is outside the probability model, whose log P stays exact over
  the masked DAGs. After ``sample_tries`` rounds the explorer fills the gap (authors' code).
- The generator is trained on the DAG it sampled (for NB101, the 7-node DAG before pruning);
  an architecture not proposed by this strategy is trained on ``space.to_dag`` when that has the
  generator's node count, and is only ranked otherwise.
- Rewards are validation accuracies in percent; failed evaluations are ignored; a repeated
  architecture keeps its best reward.
- A fit that no later query could use is skipped: the run's query budget is spent, or (the
  authors' code, which re-initialises the generator at every fit) only the explorer samples
  until the next fit.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Sequence

import networkx as nx
import numpy as np
import torch

from harness import seeding
from harness.contracts import (
    Arch,
    DagConstraints,
    LabelledDAG,
    Observation,
    Proposal,
    RunContext,
    SearchSpace,
)
from harness.devices import deterministic_kernels, resolve_device, torch_threads
from harness.errors import HarnessError
from strategies.adam import Adam
from strategies.base import Strategy
from strategies.graph_models import orient_and_label
from strategies.graphpnas.model import GraphGenerator
from strategies.graphpnas.presets import Preset, resolve

EXPLORER_TRIES = 1000


TORCH_STREAM = 1
"""Spawn-key word of the generator's torch stream (64-bit seeds)."""


# ---------------------------------------------------------------------- random explorer
def explorer_dag(preset: Preset, constraints: DagConstraints, rng: np.random.Generator) -> tuple[LabelledDAG, tuple]:
    """One DAG from the prior graph model and the model's parameters (for the trajectory).

    ER(p) or WS(k, p) on the space's node count with k uniform over the even values of
    ``ws_k`` (capped at the node count) and p ~ U(ws_p), oriented and labelled by
    ``strategies.graph_models.orient_and_label`` (edge j -> i for j < i, the space's forced and
    forbidden edges and fixed ops applied, free ops uniform), as the ER/WS baselines do.
    """
    n = constraints.n_nodes
    seed = int(rng.integers(2**31))
    if preset.explorer == "er":
        graph = nx.gnp_random_graph(n, preset.er_p, seed=seed)
        info: tuple = (("explorer", "er"), ("p", preset.er_p))
    else:
        ks = [k for k in range(preset.ws_k[0], preset.ws_k[1] + 1) if k % 2 == 0]
        k = min(ks[int(rng.integers(len(ks)))], n)
        p = float(rng.uniform(*preset.ws_p))
        graph = nx.watts_strogatz_graph(n, k, p, seed=seed)
        info = (("explorer", "ws"), ("k", k), ("p", p))
    return orient_and_label(graph, constraints, rng), info


def pruned_edge_count(A: np.ndarray) -> int:
    """Edges among the nodes that are reachable from node 0 and reach the last node.

    Paper App. F: "we first sample a 7-node DAG, then we remove any node that is not connected to
    the input or the output node. We reject samples that have more than 9 edges" (the pruning of
    google-research/nasbench ``model_spec.py::ModelSpec._prune``).
    """
    A = np.asarray(A, dtype=bool)
    n = len(A)
    fwd = np.zeros(n, dtype=bool)
    fwd[0] = True
    for i in range(1, n):
        fwd[i] = (A[i, :i] & fwd[:i]).any()
    back = np.zeros(n, dtype=bool)
    back[n - 1] = True
    for j in range(n - 2, -1, -1):
        back[j] = (A[j + 1:, j] & back[j + 1:]).any()
    keep = fwd & back
    return int(A[np.ix_(keep, keep)].sum())


# ---------------------------------------------------------------------- learning
def epsilon(preset: Preset, step: int) -> float:
    """The explorer's probability at a search step (paper §3.2, schedules of §4.1, §4.2, App. B, F)."""
    if preset.eps_kind == "step":
        return preset.eps_start if step < preset.eps_steps else 0.0
    if preset.eps_kind == "linear":
        return preset.eps_start * max(0.0, 1.0 - step / preset.eps_steps)
    return preset.eps_start * preset.eps_factor ** (step // preset.eps_steps)


def log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(x)) for x < 0, stable (Maechler 2012); x is clamped just below 0."""
    x = torch.clamp(x, max=-1e-6)
    return torch.where(x > -math.log(2.0), torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


def reinforce_loss(log_p: torch.Tensor, reward: torch.Tensor, beta: float) -> torch.Tensor:
    """Paper eqs. 11-12: -R log P(G) for R > 0, and beta |R| (-log(1 - P(G))) for R <= 0.

    Eq. 12 puts log(1 - P) in place of log P for negative rewards; the sign is taken so that a
    negative sample's probability goes down (as the authors' mixture_bernoulli_loss does:
    ``log(1 - exp(-nll)) * r`` with r < 0); the literal product -R * beta * log(1 - P) would
    raise it.
    """
    pos = reward > 0
    loss = torch.where(pos, -reward * log_p, -beta * reward.abs() * log1mexp(log_p))
    return loss.mean()


def weighted_nll_loss(edge_lp: torch.Tensor, op_lp: torch.Tensor, reward: torch.Tensor,
                      n_edges: int, n_ops: int) -> torch.Tensor:
    """Authors' code: r * (edge NLL / #edge decisions + 0.5 * op NLL / #op decisions), r = cdf rank."""
    nll = -edge_lp / max(n_edges, 1) - 0.5 * op_lp / max(n_ops, 1)
    return (reward * nll).mean()


# ---------------------------------------------------------------------- the strategy
class GraphPNAS(Strategy):
    """GraphPNAS (Li et al.): a GNN graph generator trained by REINFORCE on a replay buffer.

    ``preset="auto"`` picks the paper's setting for the space (nb101, nb201, enas, randwire; a
    generic fallback otherwise), ``"code"`` the authors' code's; see ``presets.py`` for every value
    and its source, and ``presets.cite(strategy.preset)``. Keyword ``overrides`` replace preset
    fields (e.g. ``epochs=20``). ``device``: "cpu", "cuda[:N]" or "auto" (default: the GPU when one
    is visible, else the CPU; the manifest records the device used, since GPU and CPU round floats
    differently and so sample differently for one seed). Torch runs on
    ``$HARNESS_TORCH_THREADS`` threads (default 1) inside ask/tell: these are small tensors, and
    extra threads on a busy machine make ``index_add_`` up to 80x slower (measured here).

    Proposals carry ``info=(("source", "generator" | "explorer"), ...)`` plus the explorer's
    model parameters, logged in the trajectory's ``extra`` column.

    Defaults (paper preset, sources in ``presets.py``): K = 10, S = 7, hidden 128 (§4); REINFORCE
    with the buffer's mean/std as control variate and eq. 12's reweighting, beta = 0.05 (§3.2,
    §4.1); Adam, gradient clip 1.0 (Table 8); NB201: top-15 buffer, explorer for the first 10
    queries (App. B), one pass over the buffer after every query, graph batch 16, lr 1e-3;
    NB101: top-30 buffer, ER(0.25) explorer for 30 queries, 70 epochs every 10 queries, batch 2,
    lr 1e-3 (App. F). Deviations: eq. 12's negative term is signed to lower P(G) (see
    ``reinforce_loss``); NB201's learning schedule is our choice (the paper gives none); the
    attention weight is a scalar per message (the code gates per channel: ``preset="code"``).
    """

    name = "graphpnas"
    default_preset = "auto"

    def __init__(self, preset: str | None = None, device: str = "auto", **overrides: Any):
        self.preset = preset
        self.device = device
        self.overrides = overrides

    def resolved(self) -> dict[str, Any]:
        return {"preset": self.preset_.name, "device": self.device_}

    # ------------------------------------------------------------------ setup
    def setup(self, space: SearchSpace, seed: np.random.SeedSequence, context: RunContext | None = None) -> None:
        super().setup(space, seed, context)
        self.preset_ = resolve(self.preset or self.default_preset, space.name).with_overrides(self.overrides)
        dev = self.device_ = resolve_device(self.device)
        self.torch_gen = seeding.torch_generator(seeding.torch_seed(seed, TORCH_STREAM), dev)
        c = space.dag_constraints
        self.constraints = c
        p = self.preset_
        with torch.random.fork_rng(devices=[]):
            self.model = GraphGenerator(c, hidden=p.hidden, att_hidden=p.att_hidden, n_components=p.n_components,
                                        n_prop=p.n_prop, pos_dim=p.pos_dim, separate_layers=p.separate_layers,
                                        attention=p.attention).to(dev)
        self._init_model()
        self.history: dict[str, list] = {}  # canonical id -> [best reward, first-seen order]
        self.dags: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # id -> the DAG to train on
        self.proposed: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # asked, not yet told
        self.n_told = 0
        self.since_update = 0
        self.n_updates = 0

    def _init_model(self) -> None:
        self.model.reset_parameters(self.torch_gen)
        self.optimizer = self._adam()

    def _adam(self) -> Adam:
        """Adam (paper Table 8), fused: one kernel for all parameters instead of ~100 small ops each
        (``strategies.adam``: torch.optim.Adam's update without torch.optim's start-up cost)."""
        return Adam(self.model.parameters(), lr=self.preset_.lr, fused=True)

    # ------------------------------------------------------------------ replay buffer
    def buffer_size(self) -> int:
        p = self.preset_
        if p.buffer_top is not None:
            return p.buffer_top
        horizon = self.context.budget if self.context is not None and self.context.budget else p.buffer_frac_horizon
        start, end = p.buffer_frac
        frac = start + (end - start) * min(1.0, self.n_told / horizon)
        return max(1, math.ceil(frac * len(self.history)))

    def buffer(self) -> list[str]:
        """Canonical ids of the top architectures, best first (ties: first seen first)."""
        ranked = sorted(self.history.items(), key=lambda kv: (-kv[1][0], kv[1][1]))
        return [cid for cid, _ in ranked[: self.buffer_size()]]

    # ------------------------------------------------------------------ ask
    def _accept(self, dag: LabelledDAG, exclude: set[str]) -> tuple[Arch, str] | None:
        """(architecture, canonical id) when the space accepts the DAG and it is not excluded."""
        arch = self.space.from_dag(dag)
        if arch is None:
            return None
        c = self.constraints
        if c.max_edges is not None and pruned_edge_count(dag.A) > c.max_edges:
            return None
        cid = self.space.canonical_id(arch)
        return None if cid in exclude else (arch, cid)

    def _generate(self, m: int, exclude: set[str]) -> list[tuple[Arch, str, tuple]]:
        found: list[tuple[Arch, str, tuple]] = []
        for t in range(self.preset_.sample_tries):
            A, X, _ = self.model.sample((m - len(found)) * (5 * t + 1), self.torch_gen)
            for a, x in zip(A, X):
                ok = self._accept(LabelledDAG(a, tuple(x.tolist())), exclude)
                if ok is not None:
                    exclude.add(ok[1])
                    found.append((ok[0], ok[1], (a, x)))
                    if len(found) == m:
                        return found
        return found

    def _explore(self, exclude: set[str]) -> tuple[Arch, str, tuple, tuple]:
        """An explorer sample not in ``exclude`` (or, if the prior keeps hitting it, a repeat)."""
        fallback = None
        for _ in range(EXPLORER_TRIES):
            dag, info = explorer_dag(self.preset_, self.constraints, self.rng)
            ok = self._accept(dag, set())
            if ok is None:
                continue
            pair = (np.asarray(dag.A, dtype=np.uint8), np.asarray(dag.X, dtype=np.int64))
            if ok[1] not in exclude:
                exclude.add(ok[1])
                return ok[0], ok[1], pair, info
            fallback = fallback or (ok[0], ok[1], pair, info)
        if fallback is None:
            raise HarnessError(
                f"GraphPNAS's {self.preset_.explorer.upper()} explorer found no valid {self.space.name} "
                f"architecture in {EXPLORER_TRIES} draws; check the space's dag_constraints/from_dag"
            )
        return fallback

    def _excluded(self) -> set[str]:
        return set(self.history) if self.preset_.reject == "history" else set(self.buffer())

    def ask(self, n: int) -> list[Proposal]:
        with torch_threads(), deterministic_kernels(self.device_):
            return self._ask(n)

    def _ask(self, n: int) -> list[Proposal]:
        p = self.preset_
        explore = [self.rng.random() < epsilon(p, (self.n_told + k) // p.evals_per_step) for k in range(n)]
        exclude = self._excluded()
        n_gen = n - sum(explore)
        generated = self._generate(n_gen, exclude) if n_gen else []
        out: list[Proposal] = []
        gen_iter = iter(generated)
        for e in explore:
            item = None if e else next(gen_iter, None)
            if item is None:
                arch, cid, dag, info = self._explore(exclude)
                out.append(Proposal(arch, info=(("source", "explorer"),) + info))
            else:
                arch, cid, dag = item
                out.append(Proposal(arch, info=(("source", "generator"),)))
            self.proposed[cid] = dag
        return out

    def recommend(self, n: int, rng: np.random.Generator, history: Sequence[Observation]) -> list[Proposal]:
        """``n`` i.i.d. samples of the generator with the random explorer off (paper Fig. 3, Tables
        1, 3, 6), conditioned on the space accepting them (repeats allowed: a distribution's
        samples); drawn with a torch generator seeded from ``rng``, the model left as it is."""
        gen = seeding.torch_generator(int(rng.integers(2**63)), self.device_)
        out: list[Proposal] = []
        with torch_threads(), deterministic_kernels(self.device_):
            for t in range(max(self.preset_.sample_tries, 1) * 5):
                A, X, _ = self.model.sample((n - len(out)) * (t + 1), gen)
                for a, x in zip(A, X):
                    ok = self._accept(LabelledDAG(a, tuple(x.tolist())), set())
                    if ok is not None and len(out) < n:
                        out.append(Proposal(ok[0], info=(("source", "generator"), ("fits", self.n_updates))))
                if len(out) == n:
                    break
        return out

    def dag_log_prob(self, dags: Sequence[LabelledDAG], rng: np.random.Generator, chunk: int = 2048) -> np.ndarray:
        """Teacher-forced log P of each DAG under the generator, in float64 (sums over a whole space
        are exact to ~1e-12); rejection (``_accept``) is outside the model, see the module doc.

        When the topology is fixed (NB201: only ops are decided) DAGs that share a prefix share
        their first steps, so each distinct prefix runs once (3,906 prefixes instead of 15,625 x 6
        steps on NB201), and the GNN runs as it samples (the model's float32) with each step's
        softmax in float64: the probabilities are the sampler's, and each step's still sums to 1
        to ~1e-16. Otherwise every DAG is teacher forced whole by a float64 copy of the model."""
        if not len(dags):
            return np.zeros(0)
        with torch.no_grad(), torch_threads():
            if self.model.n_free_edges:
                model = copy.deepcopy(self.model).double()
                parts = [model.log_prob([(np.asarray(d.A, dtype=np.uint8), d.X) for d in dags[s:s + chunk]]).cpu().numpy()
                         for s in range(0, len(dags), chunk)]
                return np.concatenate(parts)
            model = self.model
            A = np.stack([np.asarray(d.A, dtype=np.uint8) for d in dags])
            X = np.array([d.X for d in dags], dtype=np.int64)
            out = np.zeros(len(dags))
            for i in model.active:
                prefixes, first, inverse = np.unique(X[:, :i], axis=0, return_index=True, return_inverse=True)
                lp = np.concatenate([model.op_log_probs(A[first[s:s + chunk]], X[first[s:s + chunk]], i,
                                                        dtype=torch.float64).cpu().numpy()
                                     for s in range(0, len(first), chunk)])
                out += lp[inverse.reshape(-1), X[:, i]]
            return out

    # ------------------------------------------------------------------ tell
    def _dag_of(self, cid: str, arch: Arch) -> tuple[np.ndarray, np.ndarray] | None:
        dag = self.proposed.pop(cid, None)
        if dag is not None:
            return dag
        own = self.space.to_dag(arch)
        if own.n_nodes != self.model.n_nodes:
            return None
        return np.asarray(own.A, dtype=np.uint8), np.asarray(own.X, dtype=np.int64)

    def tell(self, observations: Sequence[Observation]) -> None:
        with torch_threads(), deterministic_kernels(self.device_):
            self._tell(observations)

    def _tell(self, observations: Sequence[Observation]) -> None:
        for obs in observations:
            self.n_told += 1
            self.since_update += 1
            if not obs.ok:
                continue
            cid = obs.arch_id or self.space.canonical_id(obs.arch)
            entry = self.history.get(cid)
            if entry is None:
                self.history[cid] = [float(obs.val_acc), len(self.history)]
                dag = self._dag_of(cid, obs.arch)
                if dag is not None:
                    self.dags[cid] = dag
            else:
                entry[0] = max(entry[0], float(obs.val_acc))
        if self.since_update >= self.preset_.update_every:
            self.since_update = 0
            if self._fit_is_used():
                self.fit()

    def _fit_is_used(self) -> bool:
        """False when no query can sample the fitted generator: the query budget is spent, or the
        generator is re-initialised at the next fit and every query until then goes to the explorer
        (epsilon = 1; the schedules never increase). Skipping such a fit changes no distribution."""
        ctx, p = self.context, self.preset_
        if ctx is not None and ctx.budget is not None and self.n_told >= ctx.budget:
            return False
        batch = ctx.batch_size if ctx is not None else 1
        last = self.n_told + p.update_every + batch - 2  # the last query before the next fit
        return not (p.reinit_each_update and epsilon(p, last // p.evals_per_step) >= 1.0)

    # ------------------------------------------------------------------ learning
    def rewards(self, ids: Sequence[str]) -> np.ndarray:
        """Training weights of buffer entries: standardised (paper §3.2) or cdf ranks (code)."""
        r = np.array([self.history[c][0] for c in ids], dtype=np.float64)
        if self.preset_.objective == "weighted_nll":
            ranks = np.empty(len(r))
            ranks[np.argsort(r, kind="stable")] = np.arange(1, len(r) + 1) / len(r)
            return ranks
        sigma = r.std()
        return (r - r.mean()) / sigma if sigma > 0 else np.zeros_like(r)

    def fit(self) -> None:
        """``epochs`` passes over the replay buffer in shuffled graph batches (paper §3.2, Table 8)."""
        p = self.preset_
        ids = self.buffer()
        weights = self.rewards(ids)
        keep = [k for k, c in enumerate(ids) if c in self.dags]
        dags = [self.dags[ids[k]] for k in keep]
        w = torch.tensor(weights[keep], dtype=self.model.dtype, device=self.model.device)
        self.n_updates += 1
        if p.reinit_each_update:
            self._init_model()
        if not dags or not torch.any(w != 0):
            return
        for _ in range(p.epochs):
            order = self.rng.permutation(len(dags))
            for s in range(0, len(dags), p.graph_batch):
                idx = order[s:s + p.graph_batch]
                batch = [dags[i] for i in idx]
                if p.objective == "reinforce":
                    loss = reinforce_loss(self.model.log_prob(batch), w[idx], p.reweight_beta)
                else:
                    edge_lp, op_lp = self.model.log_prob_parts(batch)
                    loss = weighted_nll_loss(edge_lp, op_lp, w[idx], self.model.n_free_edges, self.model.n_free_ops)
                self.optimizer.zero_grad()
                loss.backward()
                for q in self.model.unreached_parameters():
                    q.grad = torch.zeros_like(q)
                if p.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), p.grad_clip)
                self.optimizer.step()

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {
            "rng": self.rng.bit_generator.state,
            "torch_gen": self.torch_gen.get_state(),
            "model": {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "history": {k: list(v) for k, v in self.history.items()},
            "dags": {k: (a.copy(), x.copy()) for k, (a, x) in self.dags.items()},
            "proposed": {k: (a.copy(), x.copy()) for k, (a, x) in self.proposed.items()},
            "counters": {"n_told": self.n_told, "since_update": self.since_update, "n_updates": self.n_updates},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.torch_gen.set_state(state["torch_gen"])
        self.model.load_state_dict(state["model"])
        self.optimizer = self._adam()
        self.optimizer.load_state_dict(state["optimizer"])
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.dags = {k: (np.asarray(a), np.asarray(x)) for k, (a, x) in state["dags"].items()}
        self.proposed = {k: (np.asarray(a), np.asarray(x)) for k, (a, x) in state["proposed"].items()}
        c = state["counters"]
        self.n_told, self.since_update, self.n_updates = c["n_told"], c["since_update"], c["n_updates"]


class GraphPNASCode(GraphPNAS):
    """GraphPNAS as the authors' code runs it (``presets.CODE``): re-initialised generator fitted by
    reward-weighted NLL on the top-K buffer with cdf rewards, hidden 24, 70 epochs, Adam 1e-3, batch 2."""

    name = "graphpnas_code"
    default_preset = "code"
