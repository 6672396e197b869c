"""An LSTM controller that writes a labelled DAG node by node, and two ways to train it.

``LSTMController`` walks the nodes of a space's DAG view (``SearchSpace.dag_constraints``) in
order. At node ``i`` it takes one LSTM step and picks the node's op (categorical over
``allowed_ops[i]``), then one more step and decides each *free* incoming edge ``j -> i`` (a
Bernoulli each). Fixed ops, forced and forbidden edges are set from the constraints, never
sampled; a node with nothing to decide takes no step. The edge logits come either from ENAS'
attention over the earlier nodes' "anchors" (``edge_mode="attention"``, Pham et al. 2018,
melodyguan/enas ``src/cifar10/general_controller.py``: ``v^T tanh(W1 anchor_j + W2 h)``, the next
input is the mean of the chosen anchors) or from one linear head per node (``edge_mode="logit"``,
as the GraphPNAS authors' ``model/generators/lstm.py`` ``soft[row_i]``, next input the mean of the
chosen edges' embeddings). Either way a logit ``l`` is squashed like ENAS (``l / temperature``,
then ``tanh_constant * tanh``) and the edge is drawn from ``softmax([-l, l])``, i.e. with
probability ``sigmoid(2 l)``. Samples the space rejects (``from_dag`` is None or more than
``max_edges`` edges) are redrawn.

``RNN`` trains it by REINFORCE (ENAS / Zoph et al. 2018); ``RNNGraphPNAS`` refits it by maximum
likelihood on the top-K architectures found so far (the GraphPNAS authors' LSTM baseline).
All randomness comes from the run's seed sequence: a ``torch.Generator`` seeded from it drives
initialisation and sampling, the global torch RNG is never used.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from harness import seeding
from harness.contracts import (
    Arch,
    DagConstraints,
    LabelledDAG,
    Observation,
    RunContext,
    SearchSpace,
)
from strategies.adam import Adam
from strategies.base import Strategy, serve

EDGE_MODES = ("attention", "logit")
ENAS_ADAM_EPS = 1e-3
"""melodyguan/enas ``src/utils.py::get_train_ops``: ``AdamOptimizer(lr, beta1=0.0, epsilon=1e-3)``."""


class LSTMController(nn.Module):
    """The policy over labelled DAGs: ``rollout`` samples (or scores) step by step, ``score``
    scores given DAGs in one pass (logit mode only, where the inputs do not depend on h)."""

    def __init__(self, constraints: DagConstraints, lstm_size: int, lstm_layers: int,
                 tanh_constant: float | None, op_tanh_reduce: float, temperature: float | None,
                 edge_mode: str, per_node_heads: bool):
        super().__init__()
        if edge_mode not in EDGE_MODES:
            raise ValueError(f"unknown edge_mode {edge_mode!r}; valid: {', '.join(EDGE_MODES)}")
        n, k, H = constraints.n_nodes, len(constraints.op_names), lstm_size
        self.n_nodes, self.edge_mode = n, edge_mode
        self.tanh_constant, self.temperature = tanh_constant, temperature
        self.op_constant = None if tanh_constant is None else tanh_constant / op_tanh_reduce
        allowed = np.zeros((n, k), dtype=bool)
        for i, ops in enumerate(constraints.allowed_ops):
            allowed[i, list(ops)] = True
        mask = np.tril(np.asarray(constraints.edge_mask), k=-1)
        lower = np.tri(n, k=-1, dtype=bool)
        self.allowed = torch.from_numpy(allowed)
        self.free = torch.from_numpy((mask == -1) & lower)
        self.forced = torch.from_numpy((mask == 1) & lower)
        self.fixed_ops = torch.tensor([ops[0] for ops in constraints.allowed_ops])
        self.free_in = [torch.from_numpy(np.flatnonzero(mask[i, :i] == -1)) for i in range(n)]
        sources = {int(j) for js in self.free_in for j in js}
        self.slots: list[tuple[str, int]] = []
        """Steps in order: ("op", i), ("edge", i); an "edge" step of a node without free
        in-edges only records the node's anchor (attention mode)."""
        for i in range(n):
            if len(constraints.allowed_ops[i]) > 1:
                self.slots.append(("op", i))
            if len(self.free_in[i]) or (edge_mode == "attention" and i in sources):
                self.slots.append(("edge", i))
        self.op_nodes = torch.tensor([i for kind, i in self.slots if kind == "op"], dtype=torch.long)
        self.edge_rows = torch.tensor([i for kind, i in self.slots if kind == "edge" and len(self.free_in[i])],
                                      dtype=torch.long)
        self.n_fields = len(self.op_nodes) + len(self.edge_rows)
        """Decision fields (op choices and edge rows): the GraphPNAS loss averages over them."""
        self.g_emb = nn.Parameter(torch.empty(1, H))
        self.lstm = nn.LSTM(H, H, lstm_layers, bias=False, batch_first=True)
        heads = n if per_node_heads else 1
        self.op_emb = nn.Parameter(torch.empty(heads, k, H))
        self.op_soft = nn.Parameter(torch.empty(heads, H, k))
        if edge_mode == "attention":
            self.w_attn_1 = nn.Parameter(torch.empty(H, H))
            self.w_attn_2 = nn.Parameter(torch.empty(H, H))
            self.v_attn = nn.Parameter(torch.empty(H))
        else:
            self.edge_soft = nn.Parameter(torch.empty(n, H, n))
            self.edge_emb = nn.Parameter(torch.empty(n, n, H))

    @torch.no_grad()
    def reset_parameters(self, gen: torch.Generator, init: str) -> None:
        """``init="uniform"``: every weight ~ U(-0.1, 0.1) (ENAS ``_create_params``);
        ``init="torch"``: PyTorch's defaults for the GraphPNAS modules (LSTM and linear heads
        U(+-1/sqrt(H)), embeddings N(0, 1), ``g_emb`` 0.1 N(0, 1))."""
        if init not in ("uniform", "torch"):
            raise ValueError(f"unknown init {init!r}; valid: uniform, torch")
        bound = 1.0 / math.sqrt(self.lstm.hidden_size)
        for name, p in self.named_parameters():
            if init == "uniform":
                p.uniform_(-0.1, 0.1, generator=gen)
            elif name == "g_emb":
                p.normal_(0.0, 0.1, generator=gen)
            elif name.endswith("_emb"):
                p.normal_(0.0, 1.0, generator=gen)
            else:
                p.uniform_(-bound, bound, generator=gen)

    def _squash(self, logits: torch.Tensor, constant: float | None) -> torch.Tensor:
        if self.temperature is not None:
            logits = logits / self.temperature
        if constant is not None:
            logits = constant * torch.tanh(logits)
        return logits

    def _heads(self, weights: torch.Tensor, nodes: torch.Tensor) -> torch.Tensor:
        return weights[nodes] if weights.shape[0] > 1 else weights[torch.zeros_like(nodes)]

    def _op_logp(self, h: torch.Tensor, nodes: torch.Tensor) -> torch.Tensor:
        """Log-probabilities over ops, (..., K), for outputs h (..., S, H) at op nodes (S,)."""
        logits = self._squash(torch.einsum("...sh,shk->...sk", h, self._heads(self.op_soft, nodes)), self.op_constant)
        return torch.log_softmax(logits.masked_fill(~self.allowed[nodes], -math.inf), dim=-1)

    def rollout(self, batch: int, gen: torch.Generator | None = None, X: torch.Tensor | None = None,
                A: torch.Tensor | None = None) -> dict[str, Any]:
        """Sample ``batch`` DAGs with ``gen``, or score given ones (``X`` (B, n) op indices, ``A``
        (B, n, n) adjacency), one LSTM step at a time. Returns X, A, per-sample ``log_prob`` and
        ``entropy`` (sums over decisions) and ``edge_p``: each edge row's probabilities (B, free)."""
        teacher = X is not None
        if not teacher:
            X = self.fixed_ops.expand(batch, -1).clone()
            A = self.forced.expand(batch, -1, -1).clone()
        X, A = X.long(), A.bool()
        log_prob, entropy = torch.zeros(batch), torch.zeros(batch)
        edge_p: list[torch.Tensor] = []
        anchors: dict[int, torch.Tensor] = {}
        anchors_w1: dict[int, torch.Tensor] = {}
        inp, state = self.g_emb.expand(batch, -1), None
        for kind, i in self.slots:
            out, state = self.lstm(inp[:, None, :], state)
            h = out[:, 0]
            js = self.free_in[i]
            if kind == "op":
                node = torch.tensor([i])
                logp = self._op_logp(h[:, None], node)[:, 0]
                if not teacher:
                    X[:, i] = torch.multinomial(logp.exp(), 1, generator=gen)[:, 0]
                log_prob = log_prob + logp.gather(1, X[:, i:i + 1])[:, 0]
                entropy = entropy - torch.where(self.allowed[i], logp.exp() * logp, 0.0).sum(-1)
                inp = self._heads(self.op_emb, node)[0, X[:, i]]
                continue
            if len(js):
                if self.edge_mode == "attention":
                    keys = torch.stack([anchors_w1[int(j)] for j in js], dim=1)
                    q = torch.tanh(keys + (h @ self.w_attn_2)[:, None, :]) @ self.v_attn
                else:
                    q = (h @ self.edge_soft[i])[:, js]
                lp1, lp0 = _edge_logp(2.0 * self._squash(q, self.tanh_constant))
                if not teacher:
                    A[:, i, js] = torch.rand(lp1.shape, generator=gen) < lp1.exp()
                d = A[:, i, js].to(lp1.dtype)
                log_prob = log_prob + (d * lp1 + (1 - d) * lp0).sum(-1)
                entropy = entropy + _bernoulli_entropy(lp1, lp0).sum(-1)
                edge_p.append(lp1.exp())
                src = (torch.stack([anchors[int(j)] for j in js], dim=1) if self.edge_mode == "attention"
                       else self.edge_emb[i, js][None])
                inp = (d[..., None] * src).sum(1) / (1.0 + d.sum(1, keepdim=True))
            if self.edge_mode == "attention":
                anchors[i] = h
                anchors_w1[i] = h @ self.w_attn_1
        return {"X": X, "A": A, "log_prob": log_prob, "entropy": entropy, "edge_p": edge_p}

    def score(self, X: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        """Per-sample log-likelihood of given DAGs, all steps at once (logit mode; equals
        ``rollout(X=X, A=A)["log_prob"]``; what the GraphPNAS refits spend their time in)."""
        if self.edge_mode != "logit":
            raise ValueError("score() needs edge_mode='logit'; use rollout() to score attention-mode DAGs")
        B, T = X.shape[0], len(self.slots)
        if not T:
            return torch.zeros(B)
        X, A = X.long(), A.bool()
        ops, rows = self.op_nodes, self.edge_rows
        op_pos = [t for t, (kind, _) in enumerate(self.slots) if kind == "op"]
        edge_pos = [t for t, (kind, _) in enumerate(self.slots) if kind == "edge"]
        chosen = X[:, ops]
        op_in = self._heads(self.op_emb, ops)[torch.arange(len(ops)), chosen]  # (B, So, H)
        free = self.free[rows].to(self.g_emb.dtype)  # (Se, n)
        d = A[:, rows].to(free.dtype) * free
        edge_in = torch.einsum("bsn,snh->bsh", d, self.edge_emb[rows]) / (1.0 + d.sum(-1, keepdim=True))
        after = torch.zeros(B, T, self.g_emb.shape[1])
        after = after.index_copy(1, torch.tensor(op_pos, dtype=torch.long), op_in)
        after = after.index_copy(1, torch.tensor(edge_pos, dtype=torch.long), edge_in)
        inputs = torch.cat([self.g_emb.expand(B, 1, -1), after[:, :-1]], dim=1)
        out = self.lstm(inputs)[0]
        log_prob = self._op_logp(out[:, op_pos], ops).gather(2, chosen[..., None])[..., 0].sum(-1)
        q = torch.einsum("bsh,shn->bsn", out[:, edge_pos], self.edge_soft[rows])
        lp1, lp0 = _edge_logp(2.0 * self._squash(q, self.tanh_constant))
        return log_prob + ((d * lp1 + (free - d) * lp0)).sum((1, 2))


def _edge_logp(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log P(edge), log P(no edge) for the logit pair [-a/2, a/2], i.e. P(edge) = sigmoid(a)."""
    return F.logsigmoid(a), F.logsigmoid(-a)


def _bernoulli_entropy(lp1: torch.Tensor, lp0: torch.Tensor) -> torch.Tensor:
    return -(lp1.exp() * lp1 + lp0.exp() * lp0)


def skip_kl(edge_p: list[torch.Tensor], target: float) -> torch.Tensor:
    """ENAS' skip penalty per sample: mean over edge rows of sum_j KL(Bern(p_j) || Bern(target))."""
    if not edge_p:
        return torch.zeros(())
    rows = [(p * torch.log(p / target) + (1 - p) * torch.log((1 - p) / (1 - target))).sum(-1)
            for p in (q.clamp(1e-7, 1 - 1e-7) for q in edge_p)]
    return torch.stack(rows, dim=0).mean(0)


def dag_tensors(dags: Sequence[LabelledDAG]) -> tuple[torch.Tensor, torch.Tensor]:
    X = torch.tensor([d.X for d in dags], dtype=torch.long)
    A = torch.from_numpy(np.stack([np.asarray(d.A, dtype=bool) for d in dags]))
    return X, A


def conforms(dag: LabelledDAG, constraints: DagConstraints) -> bool:
    """Whether the controller could have written ``dag`` (so it can be scored)."""
    n = constraints.n_nodes
    if dag.n_nodes != n or any(x not in constraints.allowed_ops[i] for i, x in enumerate(dag.X)):
        return False
    mask = np.tril(np.asarray(constraints.edge_mask), k=-1)
    A = np.asarray(dag.A)
    lower = np.tri(n, k=-1, dtype=bool)
    return not (A[(mask == 1) & lower] == 0).any() and not (A[(mask == 0) & lower] == 1).any()


def sample_valid(controller: LSTMController, space: SearchSpace, n: int, gen: torch.Generator,
                 rng: np.random.Generator, max_rounds: int, exclude: set[str] | None = None
                 ) -> list[tuple[Arch, LabelledDAG]]:
    """``n`` (architecture, DAG) pairs the space accepts, drawn in batches, rejected ones redrawn.

    With ``exclude``, canonical ids in it (or already drawn) are rejected too. After
    ``max_rounds`` batches the rest are the space's own samples (``space.sample``).
    """
    constraints = space.dag_constraints
    out: list[tuple[Arch, LabelledDAG]] = []
    ids: set[str] = set()
    for _ in range(max_rounds):
        need = n - len(out)
        if need <= 0:
            break
        with torch.no_grad():
            roll = controller.rollout(need, gen)
        X, A = roll["X"].numpy(), roll["A"].numpy().astype(np.uint8)
        for b in range(need):
            if constraints.max_edges is not None and int(A[b].sum()) > constraints.max_edges:
                continue
            dag = LabelledDAG(A[b], tuple(X[b]))
            arch = space.from_dag(dag)
            if arch is None:
                continue
            if exclude is not None:
                cid = space.canonical_id(arch)
                if cid in exclude or cid in ids:
                    continue
                ids.add(cid)
            out.append((arch, dag))
    while len(out) < n:
        arch = space.sample(rng)
        out.append((arch, space.to_dag(arch)))
    return out


def _controller_log_prob(controller: LSTMController, constraints: DagConstraints, dags: Sequence[LabelledDAG],
                         chunk: int = 4096) -> np.ndarray:
    """Teacher-forced log P of each DAG (``rollout`` with given X, A); -inf where it does not conform."""
    out = np.full(len(dags), -np.inf)
    ok = [k for k, d in enumerate(dags) if conforms(d, constraints)]
    with torch.no_grad():
        for s in range(0, len(ok), chunk):
            idx = ok[s:s + chunk]
            X, A = dag_tensors([dags[k] for k in idx])
            out[idx] = controller.rollout(len(idx), X=X, A=A)["log_prob"].double().numpy()
    return out


def _torch_seed(rng: np.random.Generator) -> int:
    """The controller's torch seed: the first draw of the strategy's own numpy stream (kept so RNN
    trajectories stay as they were; newer strategies use ``seeding.torch_seed``)."""
    return int(rng.integers(0, 2**63 - 1))


class RNN(Strategy):
    """The ENAS RNN controller trained by REINFORCE (Zoph et al. 2018; Pham et al. 2018).

    Defaults, from melodyguan/enas (``src/cifar10/main.py`` builds the controller with
    ``lstm_size=64, lstm_num_layers=1``; ``scripts/cifar10_macro_search.sh`` passes the rest):
    - ``lstm_size=64``, ``lstm_layers=1`` (the ENAS paper says 100 units; the code uses 64);
    - ``tanh_constant=1.5`` (``--controller_tanh_constant``); ``temperature=None``
      (``--controller_temperature`` default);
    - ``op_tanh_reduce=1.0``: the macro script passes ``--controller_op_tanh_reduce=2.5`` but
      only ``micro_controller.py`` reads it (``GeneralController`` swallows it in ``**kwargs``),
      so in the macro search the op logits use the full tanh constant; set 2.5 for the micro one;
    - ``lr=1e-3`` (``--controller_lr``), Adam as ``src/utils.py::get_train_ops`` builds it:
      ``beta1=0.0``, ``epsilon=1e-3`` in TF's form (``lr_t * m / (sqrt(v) + eps)``), beta2 0.999;
    - ``baseline_decay=0.99`` (``--controller_bl_dec``): ``b -= (1 - decay) * (b - R)`` before
      the loss ``-log p * (R - b)``; ``entropy_weight=1e-4`` (``--controller_entropy_weight``),
      added to the reward; ``skip_target=0.4``, ``skip_weight=0.8`` (``--controller_skip_*``): the
      loss gains ``skip_weight * mean_rows sum_j KL(p_j || skip_target)``;
    - every weight ~ U(-0.1, 0.1) (``_create_params``); edges by attention over anchors, one op
      head shared by all nodes (``search_whole_channels``: ``w_soft``, ``w_emb``).
    Reward = validation accuracy / 100.

    Deviations: one Adam step per ``tell`` on the mean loss of its observations (the macro script
    aggregates 20 samples per step, which at 100-300 queries would leave < 15 updates); the entropy
    bonus is the exact entropy of each decision (as ``micro_controller.py``; the macro code uses
    ``-log p * p`` of the sampled choice); the skip KL uses the sampling probability
    ``sigmoid(2 l)`` (the macro code takes ``sigmoid`` of the logit pair ``[-l, l]``); ENAS' LSTM
    has its own gate layout, ours is ``torch.nn.LSTM`` without biases. Observations that are not
    ok (NaN validation) are skipped: no baseline update, no gradient.
    """

    name = "rnn"

    def __init__(self, lstm_size: int = 64, lstm_layers: int = 1, tanh_constant: float | None = 1.5,
                 op_tanh_reduce: float = 1.0, temperature: float | None = None, lr: float = 1e-3,
                 baseline_decay: float = 0.99, entropy_weight: float = 1e-4, skip_target: float = 0.4,
                 skip_weight: float = 0.8, max_rounds: int = 100):
        self.lstm_size = lstm_size
        self.lstm_layers = lstm_layers
        self.tanh_constant = tanh_constant
        self.op_tanh_reduce = op_tanh_reduce
        self.temperature = temperature
        self.lr = lr
        self.baseline_decay = baseline_decay
        self.entropy_weight = entropy_weight
        self.skip_target = skip_target
        self.skip_weight = skip_weight
        self.max_rounds = max_rounds

    def setup(self, space: SearchSpace, seed: np.random.SeedSequence, context: RunContext | None = None) -> None:
        super().setup(space, seed, context)
        self.gen = seeding.torch_generator(_torch_seed(self.rng))
        self.controller = LSTMController(space.dag_constraints, self.lstm_size, self.lstm_layers,
                                         self.tanh_constant, self.op_tanh_reduce, self.temperature,
                                         "attention", per_node_heads=False)
        self.controller.reset_parameters(self.gen, "uniform")
        self.optimizer = Adam(self.controller.parameters(), lr=self.lr, betas=(0.0, 0.999))  # strategies.adam
        self.baseline = 0.0
        self.steps = 0
        self._pending: list[tuple[str, LabelledDAG]] = []

    def ask(self, n: int) -> list[Arch]:
        drawn = sample_valid(self.controller, self.space, n, self.gen, self.rng, self.max_rounds)
        self._pending.extend((self.space.canonical_id(a), d) for a, d in drawn)
        return [a for a, _ in drawn]

    def recommend(self, n: int, rng: np.random.Generator, history: Sequence[Observation]) -> list[Arch]:
        """``n`` samples of the trained controller (ENAS: "sample architectures from the trained
        policy"), with a torch generator seeded from ``rng``."""
        gen = seeding.torch_generator(_torch_seed(rng))
        return [a for a, _ in sample_valid(self.controller, self.space, n, gen, rng, self.max_rounds)]

    def dag_log_prob(self, dags: Sequence[LabelledDAG], rng: np.random.Generator) -> np.ndarray:
        """Teacher-forced log P of each DAG under the controller (a float64 copy); -inf for a DAG it
        cannot write."""
        return _controller_log_prob(copy.deepcopy(self.controller).double(), self.space.dag_constraints, dags)

    def tell(self, observations: Sequence[Observation]) -> None:
        pending, self._pending = self._pending[: len(observations)], self._pending[len(observations):]
        constraints = self.space.dag_constraints
        dags, accs = [], []
        for k, obs in enumerate(observations):
            if not (obs.ok and math.isfinite(obs.val_acc)):
                continue
            cid = self.space.canonical_id(obs.arch)
            dag = pending[k][1] if k < len(pending) and pending[k][0] == cid else self.space.to_dag(obs.arch)
            if conforms(dag, constraints):
                dags.append(dag)
                accs.append(float(obs.val_acc))
        if not dags:
            return
        X, A = dag_tensors(dags)
        roll = self.controller.rollout(len(dags), X=X, A=A)
        entropy = roll["entropy"].detach()
        advantages = []
        for acc, ent in zip(accs, entropy.tolist()):
            reward = acc / 100.0 + self.entropy_weight * ent
            self.baseline -= (1.0 - self.baseline_decay) * (self.baseline - reward)
            advantages.append(reward - self.baseline)
        loss = -roll["log_prob"] * torch.tensor(advantages)
        loss = loss + self.skip_weight * skip_kl(roll["edge_p"], self.skip_target)
        self.optimizer.zero_grad()
        loss.mean().backward()
        # TF's Adam adds epsilon to sqrt(v) before bias correction: eps_torch = eps / sqrt(1 - b2^t)
        self.steps += 1
        for group in self.optimizer.param_groups:
            group["eps"] = ENAS_ADAM_EPS / math.sqrt(1.0 - group["betas"][1] ** self.steps)
        self.optimizer.step()

    def state_dict(self) -> dict[str, Any]:
        return {
            "rng": self.rng.bit_generator.state,
            "gen": self.gen.get_state(),
            "controller": self.controller.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "baseline": self.baseline,
            "steps": self.steps,
            "pending": [(cid, np.asarray(d.A).tolist(), list(d.X)) for cid, d in self._pending],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.gen.set_state(state["gen"])
        self.controller.load_state_dict(state["controller"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.baseline = float(state["baseline"])
        self.steps = int(state["steps"])
        self._pending = [(cid, LabelledDAG(np.array(A, dtype=np.uint8), tuple(X))) for cid, A, X in state["pending"]]


class RNNGraphPNAS(Strategy):
    """The GraphPNAS authors' LSTM baseline: refit by likelihood on the top-K, sample, repeat.

    From DSL-Lab/GraphPNAS: ``model/generators/lstm.py`` (``LstmRL``: ``lstm_size=128``,
    ``lstm_num_layers=2``, ``tanh_constant=2.5``, ``temperature=5``, one op head, op embedding and
    edge head (``soft[row_i]``) per node, PyTorch default init), ``config/nb101_lstm.yaml``
    (``sample_batch_size: 10``, ``keep_top: 15``, ``explore_method: three``, ``train``:
    ``max_epoch: 70``, ``batch_size: 2``, Adam ``lr: 1e-3``, shuffled) and ``model/nas.py``
    (``gen_target``: the generator is re-created every iteration and trained on the dataset,
    whose ``append`` keeps the ``keep_top`` best distinct graphs; the LSTM's loss ignores the
    rewards: it is the mean negative log-likelihood per decision field). Iterations 0-2 are
    random exploration (``calculate_explore_p('three')``); later samples already in the dataset
    are rejected (``LstmRL.sample``, up to 100 rounds).

    Deviations: exploration draws from the space's prior (``space.sample``) instead of the
    authors' Erdős–Rényi explorer; the edge likelihood is the Bernoulli the sampler draws from
    (the authors' training loss applies a softmax cross-entropy to ``sigmoid`` of the logits of a
    row); the next input after an edge row averages the chosen edges' embeddings over 1 + count
    (the code divides by 1 + the sum of the chosen indices); duplicates within a batch are also
    rejected, and when 100 rounds do not give enough new graphs the rest come from
    ``space.sample`` (the code returns a short batch). Fixed ops are not sampled (the code
    samples every node's label and cuts the graph at the first ``output``).
    """

    name = "rnn_graphpnas"

    def __init__(self, lstm_size: int = 128, lstm_layers: int = 2, tanh_constant: float | None = 2.5,
                 temperature: float | None = 5.0, keep_top: int = 15, sample_batch_size: int = 10,
                 explore_iterations: int = 3, epochs: int = 70, batch_size: int = 2, lr: float = 1e-3,
                 max_rounds: int = 100):
        self.lstm_size = lstm_size
        self.lstm_layers = lstm_layers
        self.tanh_constant = tanh_constant
        self.temperature = temperature
        self.keep_top = keep_top
        self.sample_batch_size = sample_batch_size
        self.explore_iterations = explore_iterations
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.max_rounds = max_rounds

    def setup(self, space: SearchSpace, seed: np.random.SeedSequence, context: RunContext | None = None) -> None:
        super().setup(space, seed, context)
        self.gen = seeding.torch_generator(_torch_seed(self.rng))
        self._seen: set[str] = set()
        self._data: dict[str, tuple[LabelledDAG, float]] = {}  # canonical id -> (DAG, val acc)
        self._queue: list[Arch] = []
        self._pending: dict[str, LabelledDAG] = {}
        self.iteration = 0

    def _controller(self) -> LSTMController:
        return LSTMController(self.space.dag_constraints, self.lstm_size, self.lstm_layers,
                              self.tanh_constant, 1.0, self.temperature, "logit", per_node_heads=True)

    def ask(self, n: int) -> list[Arch]:
        return serve(self._queue, n, self._next_batch)

    def recommend(self, n: int, rng: np.random.Generator, history: Sequence[Observation]) -> list[Arch]:
        """``n`` samples of a controller fitted on the current top-K, as the next search step would
        draw them but without rejecting what was seen (the learned distribution itself); fit and
        samples use a torch generator seeded from ``rng``. Without any answered architecture,
        the best observed (none)."""
        if not self._data:
            return super().recommend(n, rng, history)
        gen = seeding.torch_generator(_torch_seed(rng))
        controller = self.fit(self.top_k(), gen)
        return [a for a, _ in sample_valid(controller, self.space, n, gen, rng, self.max_rounds)]

    def dag_log_prob(self, dags: Sequence[LabelledDAG], rng: np.random.Generator) -> np.ndarray | None:
        """log P under the controller ``recommend`` samples from (the same fit, from the same ``rng``)."""
        if not self._data:
            return None
        controller = self.fit(self.top_k(), seeding.torch_generator(_torch_seed(rng)))
        return _controller_log_prob(controller.double(), self.space.dag_constraints, dags)

    def tell(self, observations: Sequence[Observation]) -> None:
        constraints = self.space.dag_constraints
        for obs in observations:
            cid = self.space.canonical_id(obs.arch)
            self._seen.add(cid)
            dag = self._pending.pop(cid, None) or self.space.to_dag(obs.arch)
            if obs.ok and math.isfinite(obs.val_acc) and conforms(dag, constraints):
                self._data[cid] = (dag, float(obs.val_acc))

    def top_k(self) -> list[LabelledDAG]:
        """The ``keep_top`` best distinct DAGs, worst first (``NASData.append``'s order)."""
        ranked = sorted(self._data.values(), key=lambda item: item[1])
        return [dag for dag, _ in ranked[-self.keep_top:]]

    def _next_batch(self) -> list[Arch]:
        explore = self.iteration < self.explore_iterations or not self._data
        self.iteration += 1
        if explore:
            archs = self.space.sample_many(self.rng, self.sample_batch_size)
            drawn = [(a, self.space.to_dag(a)) for a in archs]
        else:
            controller = self.fit(self.top_k())
            drawn = sample_valid(controller, self.space, self.sample_batch_size, self.gen, self.rng,
                                 self.max_rounds, exclude=self._seen)
        self._pending.update((self.space.canonical_id(a), d) for a, d in drawn)
        return [a for a, _ in drawn]

    def fit(self, dags: Sequence[LabelledDAG], gen: torch.Generator | None = None) -> LSTMController:
        """A freshly initialised controller trained by likelihood on ``dags``, drawing from ``gen``
        (default: the search's own generator)."""
        gen = self.gen if gen is None else gen
        controller = self._controller()
        controller.reset_parameters(gen, "torch")
        optimizer = Adam(controller.parameters(), lr=self.lr)
        X, A = dag_tensors(dags)
        for _ in range(self.epochs):
            order = torch.randperm(len(dags), generator=gen)
            for start in range(0, len(dags), self.batch_size):
                idx = order[start:start + self.batch_size]
                loss = -controller.score(X[idx], A[idx]).mean() / max(controller.n_fields, 1)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return controller

    def state_dict(self) -> dict[str, Any]:
        def plain(d: LabelledDAG) -> tuple[list, list]:
            return np.asarray(d.A).tolist(), list(d.X)

        return {
            "rng": self.rng.bit_generator.state,
            "gen": self.gen.get_state(),
            "seen": sorted(self._seen),
            "data": [(cid, *plain(d), acc) for cid, (d, acc) in self._data.items()],
            "queue": [self.space.to_str(a) for a in self._queue],
            "pending": [(cid, *plain(d)) for cid, d in self._pending.items()],
            "iteration": self.iteration,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        def dag(A: list, X: list) -> LabelledDAG:
            return LabelledDAG(np.array(A, dtype=np.uint8), tuple(X))

        self.rng.bit_generator.state = state["rng"]
        self.gen.set_state(state["gen"])
        self._seen = set(state["seen"])
        self._data = {cid: (dag(A, X), float(acc)) for cid, A, X, acc in state["data"]}
        self._queue = [self.space.from_str(s) for s in state["queue"]]
        self._pending = {cid: dag(A, X) for cid, A, X in state["pending"]}
        self.iteration = int(state["iteration"])


__all__ = ["EDGE_MODES", "LSTMController", "RNN", "RNNGraphPNAS", "conforms", "sample_valid", "skip_kl"]
