"""The GraphPNAS generator: an auto-regressive GNN over labelled DAGs (paper §3.1.1, eqs. 1-10).

At generation step i the partial DAG (nodes 0..i-1 with their ops and edges) plus a new node i,
linked to every earlier node, goes through S rounds of attentive message passing (eqs. 7-10); the
new node's state gives its op distribution (eqs. 3, 5) and the differences h_i - h_j give a
K-component mixture of Bernoullis over its incoming row A[i, :i] (eqs. 2, 4, 6). Node numbering,
``A[i, j] = edge j -> i`` and op indices follow ``spaces.base.LabelledDAG``.

The space's fixed parts (``DagConstraints``) are masks: a fixed op or a forced/forbidden edge is
not a decision, has probability 1 and adds nothing to log P; disallowed ops get -inf logits. The
model is therefore a normalised distribution over exactly the DAGs that satisfy the masks
(``max_edges`` and the space's own validity are enforced outside, by rejection, see ``loop.py``).
A step without any free decision needs no GNN pass (every step recomputes node states from the
one-hot labels of its prefix), so it is skipped.

Speed: teacher forcing evaluates log P(G) of a batch of graphs in one pass by packing every
(graph, generation step) prefix into one big disconnected graph; message passing is one gather,
element-wise work per message and one ``index_add`` over the edge list. The matrix products run per
node, never per message, and are fused (see ``_PropLayer``): about 8 H^2 multiply-adds per node and
round (3 H^2 in round 0) instead of 9 H^2, and none of order H^2 per message. The cost is still
sum over steps of (i + 1) nodes x S rounds, inherent to re-running the GNN at every generation
step (paper §3.1.1); ``benchmarks/bench_graphpnas.py`` prints it and the machine's ceiling.
``tests/test_graphpnas.py`` checks the fused forward and its gradients against eqs. 7-10 written
literally, one message at a time.

Choices the paper leaves open (documented, not hidden):
- direction one-hot 1_ij (eq. 7) has 5 kinds: self, from a predecessor, from a successor, and the
  two directions of the new node's provisional links (so the GNN can tell decided edges from the
  "fully connected" links of the node being generated);
- attention a_ij (eq. 9) is one number per message, as eq. 10's sum_j a_ij m_ij reads (and it
  lets f's output layer run per node, not per edge); ``attention="vector"`` is the per-channel
  gate of GRAN and the authors' code (DSL-Lab/GraphPNAS model/misc/gnn.py). g has its own hidden
  width ``att_hidden`` (128 in the code);
- u_i (eq. 8) = [multi-hot of i's incoming neighbours, sinusoidal encoding of i]; the new node's
  neighbour part is zero (its row is not generated yet);
- h^0 = one-hot op label zero-padded to the hidden width (label D marks the new node);
- f, g, GRU are shared across the S rounds (the paper's eqs. carry no round index) unless
  ``separate_layers`` (the authors' code: 7 GNN layers with their own weights and a ReLU between).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from harness.contracts import DagConstraints

N_DIRECTIONS = 5
SELF, FROM_PRED, FROM_SUCC, NEW_FROM_OLD, OLD_FROM_NEW = range(N_DIRECTIONS)


def _mlp(d_in: int, d_hidden: int, d_out: int) -> nn.Sequential:
    """Two-layer ReLU MLP (the paper's MLP_alpha/beta/theta, f and g)."""
    return nn.Sequential(nn.Linear(d_in, d_hidden), nn.ReLU(), nn.Linear(d_hidden, d_out))


def sinusoidal(n: int, dim: int) -> torch.Tensor:
    """Transformer-style positional encoding of indices 0..n-1 (Vaswani et al. 2017)."""
    pos = torch.arange(n, dtype=torch.float64)[:, None]
    freq = torch.pow(10000.0, -torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    pe = torch.zeros(n, dim, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return pe.float()


class _PropLayer(nn.Module):
    """One round of eqs. 7-10: message f, attention g, GRU update.

    The parameters are the literal ones (f = Linear-ReLU-Linear on [h_i - h_j, 1_ij], g likewise on
    h~_i - h~_j, a GRU cell); ``forward`` evaluates the same function with fewer multiply-adds:
    - the first layers of f and g act on differences, so they run per node (W(h_r - h_s) =
      (Wh)_r - (Wh)_s); their u- and direction-terms are constant over the rounds (``prepare``);
    - with ``attention="scalar"`` a_ij is one number per message (eq. 10 reads sum_j a_ij m_ij),
      so f's output layer commutes with the sum (sum_j a_ij (W r_ij + b) = W sum_j a_ij r_ij +
      b sum_j a_ij) and folds into the GRU's input weights: W_ih (W x + b a + m_self) + b_ih =
      (W_ih W) x + (W_ih b) a + (W_ih m_self + b_ih), one matrix per forward, not per node;
    - the node-side maps (f/g first layers and the GRU's W_hh) are one matrix product per round,
      and round 0, whose states are one-hot labels, reads that product's columns.
    ``"vector"``: a per-channel gate as in the authors' code (model/misc/gnn.py), which needs f's
    output layer on every edge.
    """

    def __init__(self, hidden: int, att_hidden: int, u_dim: int, attention: str):
        super().__init__()
        if attention not in ("scalar", "vector"):
            raise ValueError(f"attention must be 'scalar' or 'vector', not {attention!r}")
        self.hidden, self.att_hidden, self.attention = hidden, att_hidden, attention
        # first layers of f and g applied to node states (no bias: they act on differences)
        self.node_proj = nn.Linear(hidden, hidden + att_hidden, bias=False)
        # first layer of f on the direction one-hot (its rows include f's first bias)
        self.dir_emb = nn.Embedding(N_DIRECTIONS, hidden)
        # first layer of g on the u-features of h~ = [h, u], plus g's first bias
        self.u_proj = nn.Linear(u_dim, att_hidden, bias=False)
        self.g_bias = nn.Parameter(torch.zeros(att_hidden))
        self.f_out = nn.Linear(hidden, hidden)
        self.g_out = nn.Linear(att_hidden, 1 if attention == "scalar" else hidden)
        self.gru = nn.GRUCell(hidden, hidden)

    def self_message(self) -> torch.Tensor:
        """a_ii * m_ii: the inputs h_i - h_i and u_i - u_i are zero, so it is one vector."""
        m = self.f_out(F.relu(self.dir_emb.weight[SELF]))
        return m * torch.sigmoid(self.g_out(F.relu(self.g_bias)))

    def weight_terms(self) -> dict[str, torch.Tensor]:
        """What depends on the parameters only: the node-side weight block and the GRU input map
        (fused with f's output layer and the self-message for scalar attention). Ancestral sampling
        computes them once per call, not once per generation step (the parameters do not change)."""
        node_w = torch.cat([self.node_proj.weight, self.gru.weight_hh], dim=0)
        w_ih, b_ih = self.gru.weight_ih, self.gru.bias_ih
        if self.attention == "scalar":
            # input to the GRU per node: [sum_j a_ij r_ij, sum_j a_ij] -> W_ih (f_out(.) + m_self) + b_ih
            in_w = torch.cat([w_ih @ self.f_out.weight, (w_ih @ self.f_out.bias)[:, None]], dim=1)
            in_b = w_ih @ self.self_message() + b_ih
        else:
            in_w, in_b = w_ih, w_ih @ self.self_message() + b_ih
        # the transposes the matrix products read, taken once per call rather than once per round
        return {"node_w_t": node_w.t(), "in_w_t": in_w.t(), "in_b": in_b}

    def prepare(self, u, direction, recv, send, weights: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """What does not change across the rounds of one forward: the per-edge constant terms of
        f's and g's first layers, plus ``weight_terms`` (computed here unless given)."""
        u_term = self.u_proj(u)
        edge_const = torch.cat([self.dir_emb(direction), u_term[recv] - u_term[send] + self.g_bias], dim=1)
        ends = torch.cat([recv, send])  # both ends of every message: one gather per round
        return {"edge_const": edge_const, "ends": ends, **(self.weight_terms() if weights is None else weights)}

    def node_maps(self, h: torch.Tensor, prepared) -> torch.Tensor:
        return h @ prepared["node_w_t"]

    def forward(self, h, node_maps, recv, send, prepared):
        """h: (V, H) states; node_maps: ``node_maps(h)`` (or its rows for one-hot h).

        Splits (``split_with_sizes``, the op ``Tensor.split`` dispatches to), not slices, and one
        gather for both ends of every message: a slice's backward allocates and fills a zero tensor
        of the whole input, a split's backward is one concat."""
        H, G, E = self.hidden, self.att_hidden, len(recv)
        q, gh = node_maps.split_with_sizes([H + G, 3 * H], dim=1)
        at_recv, at_send = q.index_select(0, prepared["ends"]).split_with_sizes([E, E])
        z = (at_recv - at_send).add_(prepared["edge_const"]).relu_()  # in place: two (E, H+G) buffers fewer
        rf, zg = z.split_with_sizes([H, G], dim=1)
        att = F.linear(zg, self.g_out.weight, self.g_out.bias).sigmoid_()
        if self.attention == "scalar":
            msg = torch.cat([att * rf, att], dim=1)
        else:
            msg = self.f_out(rf) * att
        agg = h.new_zeros(len(h), msg.shape[1]).index_add_(0, recv, msg)
        gi_rz, gi_n = torch.addmm(prepared["in_b"], agg, prepared["in_w_t"]).split_with_sizes([2 * H, H], dim=1)
        gh_rz, gh_n = (gh + self.gru.bias_hh).split_with_sizes([2 * H, H], dim=1)
        r, u = (gi_rz + gh_rz).sigmoid_().split_with_sizes([H, H], dim=1)
        n = (r * gh_n).add_(gi_n).tanh_()  # = tanh(gi_n + r * gh_n): float addition commutes
        return n + u * (h - n)


def step_graphs(A: np.ndarray, X: np.ndarray, i: int) -> dict[str, np.ndarray]:
    """The message-passing graphs of generation step ``i`` for a batch of (partial) DAGs.

    ``A`` is (B, N, N), ``X`` (B, N); only rows/labels < i are read. Nodes are numbered
    b * (i + 1) + v, node v = i being the new node. Returns node labels (``-1`` = new), the
    u-features' neighbour part, positions, the message edges (receiver, sender, direction) and
    the candidate pairs (new node, earlier node) whose differences feed eqs. 4 and 6.
    """
    B, N = X.shape
    V = i + 1
    node = np.arange(B * V, dtype=np.int64).reshape(B, V)
    label = np.full((B, V), -1, dtype=np.int64)
    label[:, :i] = X[:, :i]
    u_in = np.zeros((B, V, N), dtype=np.float32)
    u_in[:, :i, :] = A[:, :i, :]
    b, k, j = np.nonzero(A[:, :i, :i])
    pred, succ = node[b, j], node[b, k]
    new = np.repeat(node[:, i], i)
    old = node[:, :i].reshape(-1)
    recv = np.concatenate([succ, pred, new, old])
    send = np.concatenate([pred, succ, old, new])
    direction = np.concatenate([
        np.full(len(succ), FROM_PRED), np.full(len(pred), FROM_SUCC),
        np.full(len(new), NEW_FROM_OLD), np.full(len(old), OLD_FROM_NEW),
    ]).astype(np.int64)
    return {
        "label": label.reshape(-1), "u_in": u_in.reshape(B * V, N), "pos": np.tile(np.arange(V), B),
        "recv": recv, "send": send, "direction": direction,
        "new": node[:, i].copy(), "pair_new": new, "pair_old": old,
        "pair_sub": np.repeat(np.arange(B, dtype=np.int64), i), "pair_j": np.tile(np.arange(i), B),
    }


class GraphGenerator(nn.Module):
    """P(A, X) over the DAGs allowed by ``constraints``; exact log P, batched sampling."""

    def __init__(self, constraints: DagConstraints, hidden: int = 128, att_hidden: int = 128,
                 n_components: int = 10, n_prop: int = 7, pos_dim: int = 16,
                 separate_layers: bool = False, attention: str = "scalar"):
        super().__init__()
        c = constraints
        N, D = c.n_nodes, len(c.op_names)
        if D + 1 > hidden:
            raise ValueError(f"hidden width {hidden} cannot hold the one-hot of {D} ops plus the new-node label")
        self.n_nodes, self.n_ops, self.hidden = N, D, hidden
        self.n_components, self.n_prop, self.separate_layers = n_components, n_prop, separate_layers
        allowed = np.zeros((N, D), dtype=bool)
        for i, ops in enumerate(c.allowed_ops):
            allowed[i, list(ops)] = True
        mask = np.tril(np.asarray(c.edge_mask, dtype=np.int8), k=-1)
        lower = np.tril(np.ones((N, N), dtype=bool), k=-1)
        self.free_edge = lower & (mask == -1)
        self.forced_edge = lower & (mask == 1)
        self.op_free = allowed.sum(axis=1) > 1
        self.fixed_op = np.where(self.op_free, -1, allowed.argmax(axis=1))
        self.active = [i for i in range(N) if self.op_free[i] or self.free_edge[i].any()]
        self.n_free_edges, self.n_free_ops = int(self.free_edge.sum()), int(self.op_free.sum())
        self.register_buffer("allowed", torch.from_numpy(allowed), persistent=False)
        self.register_buffer("pos_enc", sinusoidal(N, pos_dim), persistent=False)
        u_dim = N + pos_dim
        n_layers = n_prop if separate_layers else 1
        self.layers = nn.ModuleList(_PropLayer(hidden, att_hidden, u_dim, attention) for _ in range(n_layers))
        self.mlp_alpha = _mlp(hidden, hidden, n_components)
        self.mlp_beta = _mlp(hidden, hidden, D)
        self.mlp_theta = _mlp(hidden, hidden, n_components)

    # ------------------------------------------------------------------ parameters
    @torch.no_grad()
    def reset_parameters(self, gen: torch.Generator) -> None:
        """PyTorch's default init ranges, drawn from ``gen`` (never the global RNG)."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.in_features)
                m.weight.uniform_(-bound, bound, generator=gen)
                if m.bias is not None:
                    m.bias.uniform_(-bound, bound, generator=gen)
            elif isinstance(m, nn.GRUCell):
                bound = 1.0 / math.sqrt(m.hidden_size)
                for p in m.parameters():
                    p.uniform_(-bound, bound, generator=gen)
            elif isinstance(m, nn.Embedding):
                m.weight.normal_(0.0, 1.0, generator=gen)
            elif isinstance(m, _PropLayer):
                bound = 1.0 / math.sqrt(m.hidden)
                m.g_bias.uniform_(-bound, bound, generator=gen)

    @property
    def device(self) -> torch.device:
        return self.mlp_beta[0].weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.mlp_beta[0].weight.dtype

    # ------------------------------------------------------------------ the network
    def _node_states(self, g: dict[str, torch.Tensor], weights: list[dict] | None = None) -> torch.Tensor:
        """Node states after S rounds; ``weights``: the layers' ``weight_terms`` when the caller
        reuses them across calls with unchanged parameters."""
        label = torch.where(g["label"] < 0, self.n_ops, g["label"])
        h = F.one_hot(label, self.hidden).to(self.dtype)
        u = torch.cat([g["u_in"], self.pos_enc.to(self.dtype)[g["pos"]]], dim=1)
        recv, send = g["recv"], g["send"]
        weights = weights or [None] * len(self.layers)
        prepared = [layer.prepare(u, g["direction"], recv, send, w) for layer, w in zip(self.layers, weights)]
        for s in range(self.n_prop):
            if self.separate_layers and s > 0:
                h = F.relu(h)
            k = s if self.separate_layers else 0
            layer = self.layers[k]
            # round 0: h is one-hot, so its node maps are columns of the weight block
            maps = prepared[k]["node_w_t"][label] if s == 0 else layer.node_maps(h, prepared[k])
            h = layer(h, maps, recv, send, prepared[k])
        return h

    def _heads(self, h, g, n_sub, edges: bool = True):
        """Op logits (eq. 5) per subgraph; alpha logits (eq. 4) per subgraph; theta logits (eq. 6) per
        pair (None, None for ``edges=False``: a sampling step without a free edge reads neither)."""
        beta = self.mlp_beta(h[g["new"]])
        if not edges:
            return beta, None, None
        d = h[g["pair_new"]] - h[g["pair_old"]]
        alpha = torch.zeros(n_sub, self.n_components, dtype=h.dtype, device=h.device)
        alpha = alpha.index_add_(0, g["pair_sub"], self.mlp_alpha(d))
        return beta, F.log_softmax(alpha, dim=1), self.mlp_theta(d)

    @staticmethod
    def _row_log_prob(log_alpha, theta, target, free, pair_sub, n_sub):
        """log sum_k alpha_k prod_{free j} Bernoulli(A_ij; theta_kij) per subgraph (eq. 2)."""
        ll = -F.softplus(torch.where(target[:, None] > 0, -theta, theta)) * free[:, None]
        per_k = torch.zeros_like(log_alpha).index_add_(0, pair_sub, ll)
        has_free = torch.zeros(n_sub, dtype=log_alpha.dtype, device=log_alpha.device).index_add_(0, pair_sub, free)
        return torch.logsumexp(log_alpha + per_k, dim=1) * (has_free > 0)

    def _to_torch(self, arrays: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        out = {}
        for k, v in arrays.items():
            t = torch.from_numpy(v)
            out[k] = t.to(self.device, self.dtype if t.is_floating_point() else None)
        return out

    # ------------------------------------------------------------------ teacher forcing
    def teacher_graph(self, A: np.ndarray, X: np.ndarray) -> dict[str, np.ndarray]:
        """Every active generation step of a batch of DAGs packed into one disconnected graph.

        Subgraph ``s * B + b`` is step ``active[s]`` of DAG b; targets are the DAGs' own rows/ops.
        """
        B = len(X)
        parts, n_nodes = [], 0
        for s, i in enumerate(self.active):
            g = step_graphs(A, X, i)
            for k in ("recv", "send", "new", "pair_new", "pair_old"):
                g[k] += n_nodes
            g["pair_target"] = A[g["pair_sub"], i, g["pair_j"]].astype(np.int64)
            g["pair_free"] = self.free_edge[i, g["pair_j"]].astype(np.float32)
            g["pair_sub"] += s * B
            g["op_target"] = X[:, i].astype(np.int64)
            g["op_step"] = np.full(B, i, dtype=np.int64)
            del g["pair_j"]
            n_nodes += B * (i + 1)
            parts.append(g)
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def log_prob_parts(self, dags: Sequence[tuple[np.ndarray, Sequence[int]]]) -> tuple[torch.Tensor, torch.Tensor]:
        """(edge part, op part) of log P(G) for each DAG, teacher-forced in one batched pass."""
        B = len(dags)
        zeros = torch.zeros(B, dtype=self.dtype, device=self.device)
        if not self.active or B == 0:
            return zeros, zeros.clone()
        A = np.stack([np.asarray(a, dtype=np.uint8) for a, _ in dags])
        X = np.stack([np.asarray(x, dtype=np.int64) for _, x in dags])
        g = self._to_torch(self.teacher_graph(A, X))
        n_sub = B * len(self.active)
        graph_of_sub = torch.arange(B, device=self.device).repeat(len(self.active))
        h = self._node_states(g)
        beta, log_alpha, theta = self._heads(h, g, n_sub, edges=self.n_free_edges > 0)
        allowed = self.allowed[g["op_step"]]
        op_lp = F.log_softmax(beta.masked_fill(~allowed, -math.inf), dim=1)
        op_lp = op_lp.gather(1, g["op_target"][:, None])[:, 0]
        op_free = torch.from_numpy(self.op_free).to(self.device)[g["op_step"]]
        op_lp = torch.where(op_free, op_lp, torch.zeros_like(op_lp))
        if not self.n_free_edges:  # every edge fixed: the edge part is 0 (see ``unreached_parameters``)
            return zeros.clone(), zeros.index_add(0, graph_of_sub, op_lp)
        edge_lp = self._row_log_prob(log_alpha, theta, g["pair_target"], g["pair_free"], g["pair_sub"], n_sub)
        return zeros.index_add(0, graph_of_sub, edge_lp), zeros.index_add(0, graph_of_sub, op_lp)

    def unreached_parameters(self) -> list[nn.Parameter]:
        """Parameters that teacher forcing leaves out of the graph: the edge heads (eqs. 4, 6) when
        no edge is free (NB201). Their gradient is exactly 0 (they feed a term multiplied by 0), so
        ``fit`` gives them zero gradients: gradient clipping and Adam then see the same parameters,
        and step them the same way, as when the zero term was computed."""
        if self.n_free_edges:
            return []
        return [*self.mlp_alpha.parameters(), *self.mlp_theta.parameters()]

    def op_log_probs(self, A: np.ndarray, X: np.ndarray, i: int, dtype: torch.dtype | None = None) -> torch.Tensor:
        """log P(op of node i | the prefix before i), (B, D), for a batch of partial DAGs (only rows
        and labels < i are read): eq. 5 at one generation step. Lets a caller that scores many DAGs
        sharing prefixes run each distinct prefix once. ``dtype``: the precision of the softmax (the
        logits are the model's own, as sampling computes them)."""
        g = self._to_torch(step_graphs(A, X, i))
        h = self._node_states(g)
        beta = self.mlp_beta(h[g["new"]])
        if dtype is not None:
            beta = beta.to(dtype)
        return F.log_softmax(beta.masked_fill(~self.allowed[i], -math.inf), dim=1)

    def log_prob(self, dags: Sequence[tuple[np.ndarray, Sequence[int]]]) -> torch.Tensor:
        edge, op = self.log_prob_parts(dags)
        return edge + op

    # ------------------------------------------------------------------ ancestral sampling
    @torch.inference_mode()  # no autograd bookkeeping at all: ~30% faster than no_grad at NB201's sizes
    def sample(self, n: int, gen: torch.Generator, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n`` DAGs by ancestral sampling: (A (n, N, N) uint8, X (n, N) int64, log P (n,))."""
        outs = [self._sample_chunk(min(chunk, n - s), gen) for s in range(0, n, chunk)]
        if not outs:
            N = self.n_nodes
            return np.zeros((0, N, N), np.uint8), np.zeros((0, N), np.int64), np.zeros(0)
        return tuple(np.concatenate(parts) for parts in zip(*outs))  # type: ignore[return-value]

    def _sample_chunk(self, n: int, gen: torch.Generator):
        N = self.n_nodes
        A = np.zeros((n, N, N), dtype=np.uint8)
        X = np.zeros((n, N), dtype=np.int64)
        logp = torch.zeros(n, dtype=self.dtype, device=self.device)
        active = set(self.active)
        weights = [layer.weight_terms() for layer in self.layers]
        for i in range(N):
            A[:, i, :i] = self.forced_edge[i, :i]
            X[:, i] = self.fixed_op[i]
            if i not in active:
                continue
            g = self._to_torch(step_graphs(A, X, i))
            h = self._node_states(g, weights)
            free = self.free_edge[i, :i]
            beta, log_alpha, theta = self._heads(h, g, n, edges=bool(free.any()))
            if self.op_free[i]:
                lp = F.log_softmax(beta.masked_fill(~self.allowed[i], -math.inf), dim=1)
                op = torch.multinomial(lp.exp(), 1, generator=gen)[:, 0]
                X[:, i] = op.cpu().numpy()
                logp += lp.gather(1, op[:, None])[:, 0]
            if free.any():
                k = torch.multinomial(log_alpha.exp(), 1, generator=gen)[:, 0]
                th = theta.view(n, i, self.n_components).gather(2, k.view(n, 1, 1).expand(n, i, 1))[:, :, 0]
                u = torch.rand(n, i, generator=gen, device=self.device, dtype=self.dtype)
                edges = (u < torch.sigmoid(th)).cpu().numpy() & free
                A[:, i, :i] = edges | self.forced_edge[i, :i]
                target = torch.from_numpy(A[:, i, :i].reshape(-1).astype(np.int64)).to(self.device)
                free_t = torch.from_numpy(np.tile(free, n).astype(np.float32)).to(self.device, self.dtype)
                logp += self._row_log_prob(log_alpha, theta, target, free_t, g["pair_sub"], n)
        return A, X, logp.cpu().numpy().astype(np.float64)
