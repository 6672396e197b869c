"""GraphPNAS: an exact generator under the space's masks, its learning, the loop, the presets."""
from __future__ import annotations

import itertools

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from harness import runner
from harness.config import RunConfig
from harness.contracts import (
    DagConstraints,
    LabelledDAG,
    Observation,
    RunContext,
    SearchSpace,
)
from harness.errors import HarnessError
from harness.testing import CHECKS, check_resume, drive
from spaces.nb201 import NB201Space
from strategies.graphpnas import presets
from strategies.graphpnas.loop import (
    GraphPNAS,
    GraphPNASCode,
    epsilon,
    explorer_dag,
    pruned_edge_count,
    reinforce_loss,
)
from strategies.graphpnas.model import GraphGenerator, step_graphs
from strategies.registry import STRATEGIES

TINY = dict(hidden=16, att_hidden=16, n_components=3, n_prop=2, pos_dim=4)
"""A small generator for exhaustive checks (the structure is the paper's, only the widths shrink)."""


class TinySpace(SearchSpace):
    """Every labelled DAG allowed by a given ``DagConstraints``; the arch is (edge bits, ops)."""

    name = "tiny"

    def __init__(self, constraints: DagConstraints):
        self.c = constraints
        n = constraints.n_nodes
        self.pairs = [(i, j) for i in range(n) for j in range(i)]

    def _dag(self, arch) -> LabelledDAG:
        bits, ops = arch
        A = np.zeros((self.c.n_nodes,) * 2, dtype=np.uint8)
        for (i, j), b in zip(self.pairs, bits):
            A[i, j] = b
        return LabelledDAG(A, ops)

    def is_valid(self, arch) -> bool:
        try:
            dag = self._dag(arch)
        except (TypeError, ValueError):
            return False
        mask = self.c.edge_mask
        ok_edges = all(mask[i, j] < 0 or dag.A[i, j] == mask[i, j] for i, j in self.pairs)
        ok_ops = all(x in allowed for x, allowed in zip(dag.X, self.c.allowed_ops))
        ok_count = self.c.max_edges is None or int(dag.A.sum()) <= self.c.max_edges
        return ok_edges and ok_ops and ok_count and len(dag.X) == self.c.n_nodes

    def to_dag(self, arch) -> LabelledDAG:
        return self._dag(arch)

    def from_dag(self, dag: LabelledDAG):
        arch = (tuple(int(dag.A[i, j]) for i, j in self.pairs), tuple(dag.X))
        return arch if self.is_valid(arch) else None

    def sample(self, rng):
        while True:
            arch = (tuple(int(b) for b in rng.integers(0, 2, len(self.pairs))),
                    tuple(int(rng.choice(a)) for a in self.c.allowed_ops))
            if self.is_valid(arch):
                return arch

    def mutate(self, arch, rng):
        return self.sample(rng)

    def neighbours(self, arch):
        return []

    def canonical_id(self, arch) -> str:
        return self.to_str(arch)

    def to_str(self, arch) -> str:
        return "".join(map(str, arch[0])) + ";" + ",".join(map(str, arch[1]))

    def from_str(self, text):
        bits, ops = text.split(";")
        return tuple(int(b) for b in bits), tuple(int(o) for o in ops.split(","))

    @property
    def dag_constraints(self) -> DagConstraints:
        return self.c

    def every_dag(self) -> list[tuple[np.ndarray, tuple]]:
        """Every DAG the masks allow (ignoring max_edges), for exact enumeration."""
        out = []
        for bits in itertools.product([0, 1], repeat=len(self.pairs)):
            for ops in itertools.product(*self.c.allowed_ops):
                dag = self._dag((bits, ops))
                mask = self.c.edge_mask
                if all(mask[i, j] < 0 or dag.A[i, j] == mask[i, j] for i, j in self.pairs):
                    out.append((np.asarray(dag.A), ops))
        return out


def constraints(n=4, n_ops=2, mask=None, allowed=None, max_edges=None) -> DagConstraints:
    mask = np.tril(np.full((n, n), -1, dtype=np.int8), k=-1) if mask is None else np.asarray(mask, dtype=np.int8)
    allowed = allowed or tuple(tuple(range(n_ops)) for _ in range(n))
    fixed = tuple(a[0] if len(a) == 1 else -1 for a in allowed)
    return DagConstraints(n_nodes=n, op_names=tuple("abcde"[:n_ops]), fixed_ops=fixed, edge_mask=mask,
                          max_edges=max_edges, allowed_ops=tuple(allowed))


def generator(c: DagConstraints, seed: int = 0, dtype=torch.float64, **kw) -> tuple[GraphGenerator, torch.Generator]:
    with torch.random.fork_rng(devices=[]):
        m = GraphGenerator(c, **{**TINY, **kw})
    gen = torch.Generator().manual_seed(seed)
    m.reset_parameters(gen)
    return m.to(dtype), gen


MASKED = dict(
    mask=[[0, 0, 0, 0], [1, 0, 0, 0], [-1, 0, 0, 0], [-1, 1, -1, 0]],  # 1<-0 forced, 2<-1 forbidden, 3<-1 forced
    allowed=((0,), (0, 1), (1,), (0, 1)),  # nodes 0 and 2 fixed
)


# ---------------------------------------------------------------------- exactness of P(G)
@pytest.mark.parametrize("kw", [
    dict(), dict(attention="vector", separate_layers=True), dict(**MASKED), dict(n_ops=3, **MASKED),
], ids=["free", "code-gnn", "masked", "masked-3ops"])
def test_probabilities_sum_to_one_and_samples_follow_them(kw):
    ckw = {k: v for k, v in kw.items() if k in ("mask", "allowed", "n_ops")}
    if "n_ops" in ckw:
        ckw["allowed"] = ((0,), (0, 1, 2), (1,), (0, 2))
    mkw = {k: v for k, v in kw.items() if k not in ckw}
    space = TinySpace(constraints(**ckw))
    model, gen = generator(space.c, **mkw)
    dags = space.every_dag()
    with torch.no_grad():
        p = model.log_prob(dags).exp().numpy()
    assert abs(p.sum() - 1.0) < 1e-5
    A, X, _ = model.sample(20_000, gen)
    index = {(a.tobytes(), tuple(x)): k for k, (a, x) in enumerate(dags)}
    counts = np.bincount([index[(a.tobytes(), tuple(int(v) for v in x))] for a, x in zip(A, X)], minlength=len(dags))
    assert chisquare(counts, p * counts.sum()).pvalue > 1e-3  # fixed seeds: p-values seen 0.04-0.9


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_masks_are_respected_and_p_stays_normalised(data):
    n = data.draw(st.integers(2, 4))
    n_ops = data.draw(st.integers(1, 3))
    mask = np.zeros((n, n), dtype=np.int8)
    for i in range(n):
        for j in range(i):
            mask[i, j] = data.draw(st.sampled_from([-1, -1, 0, 1]))
    allowed = tuple(tuple(sorted(data.draw(st.sets(st.integers(0, n_ops - 1), min_size=1)))) for _ in range(n))
    space = TinySpace(constraints(n, n_ops, mask, allowed))
    model, gen = generator(space.c, seed=data.draw(st.integers(0, 99)))
    with torch.no_grad():
        total = model.log_prob(space.every_dag()).exp().sum().item()
    assert abs(total - 1.0) < 1e-9
    A, X, logp = model.sample(64, gen)
    for a, x in zip(A, X):
        assert space.from_dag(LabelledDAG(a, tuple(int(v) for v in x))) is not None
    free = sum(mask[i, j] == -1 for i in range(n) for j in range(i)) + sum(len(a) > 1 for a in allowed)
    if free == 0:
        assert np.allclose(logp, 0.0)


def test_sampled_log_prob_equals_teacher_forced_log_prob():
    for c in (NB201Space().dag_constraints, constraints(n=7, n_ops=5)):
        with torch.random.fork_rng(devices=[]):
            model = GraphGenerator(c)  # the paper's sizes, float32
        gen = torch.Generator().manual_seed(3)
        model.reset_parameters(gen)
        A, X, logp = model.sample(32, gen)
        with torch.no_grad():
            tf = model.log_prob(list(zip(A, X))).numpy()
        assert np.allclose(logp, tf, atol=1e-4), np.abs(logp - tf).max()


def _literal_node_states(model: GraphGenerator, g: dict) -> torch.Tensor:
    """Eqs. 7-10 as written, one node and one message at a time, from the layers' parameters:
    m_rs = f([h_r - h_s, 1_rs]), a_rs = sigmoid(g(h~_r - h~_s)), h_r <- GRU(h_r, sum a_rs m_rs) over
    the neighbours and r itself (direction SELF); f, g two-layer ReLU MLPs."""
    H = model.hidden
    label = torch.where(g["label"] < 0, model.n_ops, g["label"])
    h = F.one_hot(label, H).to(model.dtype)
    u = torch.cat([g["u_in"], model.pos_enc.to(model.dtype)[g["pos"]]], dim=1)
    onehot = torch.eye(5, dtype=model.dtype)
    neighbours = {r: [(r, 0)] for r in range(len(h))}  # (sender, direction): the self-loop first
    for r, s_, d in zip(g["recv"].tolist(), g["send"].tolist(), g["direction"].tolist()):
        neighbours[r].append((s_, d))
    for s in range(model.n_prop):
        layer = model.layers[s if model.separate_layers else 0]
        if model.separate_layers and s > 0:
            h = F.relu(h)
        w_f1 = torch.cat([layer.node_proj.weight[:H], layer.dir_emb.weight.t()], dim=1)  # f's first layer
        w_g1 = torch.cat([layer.node_proj.weight[H:], layer.u_proj.weight], dim=1)  # g's, on [h, u]
        h_tilde = torch.cat([h, u], dim=1)
        new = []
        for r in range(len(h)):
            total = torch.zeros(H, dtype=h.dtype)
            for s_, d in neighbours[r]:
                m = layer.f_out(F.relu(w_f1 @ torch.cat([h[r] - h[s_], onehot[d]])))
                a = torch.sigmoid(layer.g_out(F.relu(w_g1 @ (h_tilde[r] - h_tilde[s_]) + layer.g_bias)))
                total = total + a * m
            new.append(layer.gru(total[None], h[r][None])[0])
        h = torch.stack(new)
    return h


@pytest.mark.parametrize("kw", [dict(), dict(attention="vector", separate_layers=True)], ids=["paper", "code-gnn"])
def test_fast_message_passing_equals_the_literal_equations(kw):
    c = constraints(n=6, n_ops=3)
    model, _ = generator(c, seed=5, **kw)
    rng = np.random.default_rng(0)
    A = np.tril(rng.integers(0, 2, (3, 6, 6)), k=-1).astype(np.uint8)
    X = rng.integers(0, 3, (3, 6))
    for step in (1, 3, 5):
        g = model._to_torch(step_graphs(A, X, step))
        with torch.no_grad():
            fast, literal = model._node_states(g), _literal_node_states(model, g)
        assert torch.allclose(fast, literal, atol=1e-12), (fast - literal).abs().max()
    # and the gradients of log P agree with the literal equations' (via the same heads)
    dags = list(zip(A, X))
    fast_grads = torch.autograd.grad(model.log_prob(dags).sum(), list(model.parameters()), allow_unused=True)
    original = model._node_states
    model._node_states = lambda g: _literal_node_states(model, g)
    try:
        slow_grads = torch.autograd.grad(model.log_prob(dags).sum(), list(model.parameters()), allow_unused=True)
    finally:
        model._node_states = original
    for a, b in zip(fast_grads, slow_grads):
        assert (a is None and b is None) or torch.allclose(a, b, atol=1e-10)


def test_sampling_is_deterministic_given_the_generator_and_uses_no_global_rng():
    c = constraints(n=5, n_ops=3)
    before = torch.random.get_rng_state()
    m1, g1 = generator(c, seed=7)
    m2, g2 = generator(c, seed=7)
    assert torch.equal(torch.random.get_rng_state(), before)
    a1, x1, _ = m1.sample(50, g1)
    a2, x2, _ = m2.sample(50, g2)
    assert np.array_equal(a1, a2) and np.array_equal(x1, x2)
    assert torch.equal(torch.random.get_rng_state(), before)


# ---------------------------------------------------------------------- learning
def test_reinforce_loss_raises_good_and_lowers_bad_samples():
    space = TinySpace(constraints(n=3))
    model, gen = generator(space.c)
    A, X, _ = model.sample(2, gen)
    dags = list(zip(A, X))
    for sign in (1.0, -1.0):
        m, _ = generator(space.c)
        before = m.log_prob(dags[:1]).item()
        opt = torch.optim.SGD(m.parameters(), lr=0.05)
        loss = reinforce_loss(m.log_prob(dags[:1]), torch.tensor([sign], dtype=torch.float64), beta=1.0)
        loss.backward()
        opt.step()
        after = m.log_prob(dags[:1]).item()
        assert (after - before) * sign > 0


def test_learning_raises_reward_and_the_optimum_probability():
    """A synthetic reward that prefers a known DAG: the generator's samples improve, P(optimum) grows."""
    space = TinySpace(constraints(n=4, n_ops=2))
    target = ((1, 0, 1, 0, 0, 1), (0, 1, 1, 0))

    def reward(arch):
        diff = sum(a != b for a, b in zip(arch[0], target[0])) + sum(a != b for a, b in zip(arch[1], target[1]))
        return 100.0 - 10.0 * diff

    s = GraphPNAS(preset="nb201", **TINY, epochs=10, graph_batch=8, update_every=5, buffer_top=10,
                  eps_steps=10, lr=1e-2, reject="history")
    s.setup(space, np.random.SeedSequence(0), RunContext((200,), 200, None, None))
    target_dag = [(np.asarray(space.to_dag(target).A), target[1])]

    def quality():
        with torch.no_grad():
            A, X, _ = s.model.sample(400, s.torch_gen)
            mean = np.mean([reward(space.from_dag(LabelledDAG(a, tuple(int(v) for v in x)))) for a, x in zip(A, X)])
            return mean, s.model.log_prob(target_dag).exp().item()

    r0, p0 = quality()
    drive(s, space, reward, 60)
    r1, p1 = quality()
    assert s.n_updates == 12
    assert r1 > r0 + 10 and p1 > 5 * p0, (r0, r1, p0, p1)


def test_code_preset_fits_by_weighted_nll_from_scratch():
    space = TinySpace(constraints(n=4, n_ops=2))
    s = GraphPNASCode(**TINY, epochs=3, eps_steps=0)
    s.setup(space, np.random.SeedSequence(1), RunContext((200,), 200, None, None))
    assert s.preset_.name == "code-nb101" and s.preset_.reinit_each_update
    drive(s, space, lambda a: float(int(space.to_str(a).replace(";", "").replace(",", ""), 2)), 12)
    ids = s.buffer()
    assert len(ids) == 12 and s.n_updates == 1  # one fit per 10 evaluations; keep_top 15
    w = s.rewards(ids)
    assert np.allclose(np.sort(w), np.arange(1, 13) / 12)  # cdf ranks (i+1)/K
    assert w[0] == 1.0  # the best first


def test_code_preset_skips_fits_that_only_the_explorer_would_follow():
    space = TinySpace(constraints(n=4, n_ops=2))
    s = GraphPNASCode(preset="code-nb201", **TINY, epochs=1)  # a fit per query, explorer for 30 queries
    s.setup(space, np.random.SeedSequence(1), RunContext((200,), 200, None, None))
    props = [step.proposal for step in drive(s, space, lambda a: float(sum(a[0])), 32, full=True)]
    assert [dict(p.info)["source"] for p in props[:30]] == ["explorer"] * 30
    assert dict(props[30].info)["source"] == "generator" and s.n_updates == 3  # fits after queries 30, 31, 32


# ---------------------------------------------------------------------- the loop
def test_explorer_epsilon_schedules_follow_the_paper():
    nb201, nb101, enas, rw = (presets.PAPER[k] for k in ("nb201", "nb101", "enas", "randwire"))
    assert [epsilon(nb201, s) for s in (0, 9, 10, 100)] == [1.0, 1.0, 0.0, 0.0]  # App. B: first 10 steps
    assert epsilon(nb101, 29) == 1.0 and epsilon(nb101, 30) == 0.0  # App. F: 0 after 30 steps
    assert epsilon(enas, 0) == 1.0 and epsilon(enas, 50) == 0.5 and epsilon(enas, 100) == 0.0  # §4.2
    assert [round(epsilon(rw, s), 6) for s in (0, 9, 10, 20)] == [0.6, 0.6, 0.12, 0.024]  # §4.1


def test_explorer_respects_the_masks_and_logs_its_parameters():
    c = constraints(n=4, n_ops=2, **MASKED)
    rng = np.random.default_rng(0)
    for preset in (presets.PAPER["nb101"], presets.PAPER["randwire"]):
        for _ in range(50):
            dag, info = explorer_dag(preset, c, rng)
            assert TinySpace(c).from_dag(dag) is not None
            assert dict(info)["explorer"] == preset.explorer


def test_asks_are_valid_unique_and_reject_the_buffer_and_max_edges():
    c = constraints(n=4, n_ops=2, max_edges=2)
    space = TinySpace(c)
    s = GraphPNAS(preset="nb101", **TINY, epochs=2, update_every=4, eps_steps=4, buffer_top=6)
    s.setup(space, np.random.SeedSequence(2), RunContext((200,), 200, None, None))
    for _ in range(8):
        props = s.ask(5)
        ids = [space.canonical_id(p.arch) for p in props]
        assert len(set(ids)) == 5 and not set(ids) & set(s.buffer())
        assert all(space.is_valid(p.arch) and sum(p.arch[0]) <= 2 for p in props)
        assert {dict(p.info)["source"] for p in props} <= {"generator", "explorer"}
        s.tell([Observation(p.arch, i, float(sum(p.arch[1])), 1.0, 200) for p, i in zip(props, ids)])
    assert s.n_updates == 8 and dict(props[0].info)["source"] == "generator"


def test_max_edges_counts_edges_after_nb101_pruning():
    from spaces.nb101 import prune

    rng = np.random.default_rng(0)
    ops = ["input"] + ["conv3x3-bn-relu"] * 5 + ["output"]
    for _ in range(300):
        A = np.tril(rng.random((7, 7)) < 0.35, k=-1).astype(np.uint8)
        pruned = prune(A.T, ops)
        if pruned is not None:
            assert pruned_edge_count(A) == int(np.asarray(pruned[0]).sum())


def test_presets_cite_every_value_and_resolve_by_space_name():
    skip = {"name", "sources"}
    for p in (*presets.PAPER.values(), *presets.CODE.values()):
        missing = [f for f in p.__dataclass_fields__ if f not in skip and f not in presets.cite(p)]
        assert not missing, (p.name, missing)
    assert presets.resolve("auto", "nb201").name == "nb201"
    assert presets.resolve("auto", "enas6").name == "enas"
    assert presets.resolve("auto", "my-space").name == "generic"
    assert presets.resolve("code", "nb201").name == "code-nb201"
    with pytest.raises(Exception, match="unknown GraphPNAS preset"):
        presets.resolve("nope", "nb201")
    with pytest.raises(Exception, match="unknown GraphPNAS parameter"):
        presets.NB201.with_overrides({"epoch": 3})
    s = GraphPNAS(epochs=5)
    assert s.params() == {"preset": None, "device": "auto", "epochs": 5}  # the arguments as given
    s.setup(NB201Space(), np.random.SeedSequence(0))  # what they resolved to goes to the manifest too
    assert s.params() == {"preset": None, "device": "auto", "epochs": 5}
    assert s.resolved() == {"preset": s.preset_.name, "device": "cuda" if torch.cuda.is_available() else "cpu"}


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without a GPU")
def test_cuda_without_a_gpu_is_a_one_line_error():
    s = GraphPNAS(device="cuda")
    with pytest.raises(HarnessError, match="no CUDA device"):
        s.setup(NB201Space(), np.random.SeedSequence(0))


def test_state_round_trip_continues_identically():
    space = TinySpace(constraints(n=4, n_ops=2))
    kw = dict(**TINY, epochs=2, update_every=3, eps_steps=4)
    check_resume(lambda: GraphPNAS(preset="nb201", **kw), space, lambda a: float(sum(a[0]) + a[1][0]), 7, 8,
                 context=RunContext((200,), 200, None, None), seed=5)


class SmallGraphPNAS(GraphPNAS):
    """The paper's NB201 loop with a narrower, shallower generator, to keep the tests fast."""

    def __init__(self, preset=None, device="cpu", **overrides):
        super().__init__(preset, device, **{"hidden": 32, "att_hidden": 32, "n_prop": 3, **overrides})


@pytest.mark.parametrize("check", ["valid_and_budget", "deterministic", "blind_to_test", "state_round_trip"])
def test_contract_on_nb201(check, tmp_path):
    STRATEGIES.register("graphpnas-small", f"{__name__}:SmallGraphPNAS")
    CHECKS[check]("graphpnas-small", "nb201", tmp_path)


def test_beats_random_search_on_nb201(nb201_data_dir, tmp_path):
    """Real NB201 table, cifar10-valid, 200-epoch validation, 150 queries, 10 seeds (narrower GNN)."""
    STRATEGIES.register("graphpnas-small", f"{__name__}:SmallGraphPNAS")
    best = {}
    for name in ("graphpnas-small", "random"):
        best[name] = []
        for seed in range(10):
            cfg = RunConfig(space="nb201", dataset="cifar10-valid", strategy=name, seed=seed, budget=150, fidelity=200)
            out = runner.execute(cfg, tmp_path, nb201_data_dir)
            df = pq.read_table(out.paths.trajectory).to_pandas()
            best[name].append(df["val_acc"].max())
            if name != "random":
                src = df["extra"].str.contains('"generator"')
                assert not src[:10].any() and src[10:].mean() > 0.9  # App. B: explorer in the first 10 steps
    g, r = np.mean(best["graphpnas-small"]), np.mean(best["random"])
    print(f"\nNB201 cifar10-valid best val: graphpnas-small {g:.3f}, random {r:.3f}")
    assert g > r
