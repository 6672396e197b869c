"""GraphPNAS hyper-parameters per search space, each value cited to the paper or the authors' code.

Paper = Li et al., "GraphPNAS: Learning Distribution of Good Neural Architectures via Deep Graph
Generative Models" (/work/shared/seed/graphpnas-paper.txt). Code = DSL-Lab/GraphPNAS (MIT),
commit 2646ab0b. ``PAPER`` holds one preset per space of the paper (chosen by space name) plus a
generic fallback; ``CODE`` holds the authors' code's behaviour, which differs from the paper
(see /work/shared/docs/reference-notes.md, "GraphPNAS authors' code versus the paper").

Units. A *search step* is one round of sampling (``evals_per_step`` evaluations); the explorer's
epsilon schedule counts search steps. ``update_every`` counts evaluations between two fits of the
generator on the replay buffer, ``epochs`` the passes over the buffer per fit.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from harness.errors import HarnessError


@dataclass(frozen=True)
class Preset:
    """Everything that defines one GraphPNAS configuration (see ``sources`` for citations)."""

    name: str
    # generator (paper §3.1.1, §4)
    hidden: int = 128
    att_hidden: int = 128
    n_components: int = 10
    n_prop: int = 7
    pos_dim: int = 16
    attention: str = "scalar"
    separate_layers: bool = False
    # learning (paper §3.2, Table 8)
    objective: str = "reinforce"
    reweight_beta: float = 0.05
    lr: float = 1e-4
    grad_clip: float | None = 1.0
    graph_batch: int = 16
    epochs: int = 70
    update_every: int = 10
    reinit_each_update: bool = False
    # replay buffer
    buffer_top: int | None = 30
    buffer_frac: tuple[float, float] | None = None
    buffer_frac_horizon: int = 320
    # random explorer (epsilon-greedy)
    explorer: str = "er"
    er_p: float = 0.25
    ws_k: tuple[int, int] = (2, 6)
    ws_p: tuple[float, float] = (0.2, 0.8)
    eps_kind: str = "step"
    eps_start: float = 1.0
    eps_steps: int = 30
    eps_factor: float = 0.0
    evals_per_step: int = 1
    reject: str = "buffer"
    sample_tries: int = 20
    sources: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        checks = {
            "attention": ("scalar", "vector"), "objective": ("reinforce", "weighted_nll"),
            "explorer": ("er", "ws"), "eps_kind": ("step", "linear", "decay"), "reject": ("buffer", "history"),
        }
        for name, allowed in checks.items():
            if getattr(self, name) not in allowed:
                raise HarnessError(f"GraphPNAS {name}={getattr(self, name)!r} is not one of {', '.join(allowed)}")
        if (self.buffer_top is None) == (self.buffer_frac is None):
            raise HarnessError("GraphPNAS needs exactly one of buffer_top (a count) or buffer_frac (a fraction range)")
        for name in ("graph_batch", "epochs", "update_every", "evals_per_step", "sample_tries", "hidden", "n_prop"):
            if getattr(self, name) < 1:
                raise HarnessError(f"GraphPNAS {name} must be >= 1, got {getattr(self, name)}")

    def with_overrides(self, overrides: dict) -> "Preset":
        """A copy with some fields replaced (unknown names are an error, with the valid list)."""
        names = {f.name for f in fields(self)} - {"name", "sources"}
        unknown = sorted(set(overrides) - names)
        if unknown:
            valid = ", ".join(sorted(names))
            raise HarnessError(f"unknown GraphPNAS parameter(s) {', '.join(unknown)}; valid: {valid}")
        tuples = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
        note = tuple((k, "user override") for k in sorted(overrides))
        return replace(self, **tuples, sources=self.sources + note) if overrides else self


_GENERATOR = (
    ("hidden", "paper §4: hidden sizes of node representations and messages 128"),
    ("att_hidden", "paper §4 gives 128 for the hidden sizes; g's width taken equal"),
    ("n_components", "paper §4: K = 10 Bernoulli mixture components"),
    ("n_prop", "paper §4: S = 7 message-passing steps"),
    ("pos_dim", "paper §3.1.1 names a positional encoding of the node index, width unstated: 16"),
    ("attention", "paper eqs. 9-10: sum_j a_ij m_ij with a_ij = Sigmoid(g(.)), read as one weight per message"),
    ("separate_layers", "paper eqs. 7-10 carry no step index on f, g, GRU: shared across the S steps"),
    ("objective", "paper §3.2: REINFORCE with a control variate (eq. 11) and the reweighted log-likelihood (eq. 12)"),
    ("reweight_beta", "paper §4.1: beta = 0.05 (the only value the paper gives; used for every space)"),
    ("reinit_each_update", "paper §3.1/§3.2: one generator improved by the loop (no re-initialisation is described)"),
    ("sample_tries", "paper §4.1 rejects duplicates; retry rounds with growing batches as in the authors' "
                     "model/generators/gran.py::sample (20 tries, batch n*(5t+1)), then the explorer"),
)

_UNUSED_FRAC = (
    ("buffer_frac", "unused: the buffer is a count (buffer_top)"),
    ("buffer_frac_horizon", "unused: the buffer is a count (buffer_top)"),
)
_UNUSED_WS = (("ws_k", "unused: ER explorer"), ("ws_p", "unused: ER explorer"))
_UNUSED_DECAY = (("eps_factor", "unused: no multiplicative epsilon decay"),)

_TABLE8 = (
    ("lr", "paper Table 8: generator learning rate 1e-4"),
    ("grad_clip", "paper Table 8: generator gradient clip 1.0"),
    ("graph_batch", "paper Table 8: graph batch size 16"),
    ("epochs", "paper Table 8: replay buffer fitting epochs 2000 (read as per fit)"),
)

_APPENDIX_F = (
    ("lr", "paper App. F: learning rate 1e-3 on NAS-Bench-101"),
    ("grad_clip", "paper Table 8: generator gradient clip 1.0 (App. F does not change it)"),
    ("graph_batch", "paper App. F: batch size 2 on NAS-Bench-101"),
    ("epochs", "paper App. F: 70 epochs on the replay buffer at each update"),
    ("update_every", "paper App. F: updated every 10 model evaluations"),
)

NB101 = Preset(
    name="nb101", lr=1e-3, grad_clip=1.0, graph_batch=2, epochs=70, update_every=10,
    buffer_top=30, explorer="er", er_p=0.25, eps_kind="step", eps_start=1.0, eps_steps=30, evals_per_step=1,
    reject="buffer",
    sources=_GENERATOR + _APPENDIX_F + _UNUSED_FRAC + _UNUSED_WS + _UNUSED_DECAY + (
        ("buffer_top", "paper App. F: keep the top 30 architectures"),
        ("explorer", "paper App. F: Erdos-Renyi explorer"),
        ("er_p", "paper App. F: p = 0.25"),
        ("eps_kind", "paper App. F: epsilon 1 at the start, 0 after 30 search steps (a switch, as the code's "
                     "explore_method 'three' x 10 samples = 30 evaluations)"),
        ("eps_start", "paper App. F: epsilon set to 1 in the beginning"),
        ("eps_steps", "paper App. F: 0 after 30 search steps"),
        ("evals_per_step", "paper App. F counts search steps in evaluations (update every 10 evaluations; "
                           "30 explorer steps = the code's 3 rounds of 10)"),
        ("reject", "paper §4.1: reject samples that already appear in the replay buffer"),
    ),
)

NB201 = replace(
    NB101, name="nb201", lr=1e-3, grad_clip=1.0, graph_batch=16, epochs=1, update_every=1, buffer_top=15,
    eps_steps=10,
    sources=_GENERATOR + _UNUSED_FRAC + _UNUSED_WS + _UNUSED_DECAY + (
        ("buffer_top", "paper App. B: keep the top 15 architectures in the replay buffer"),
        ("update_every", "paper App. B: 1 sample evaluated per step; §3.1: each step improves the generator "
                         "from the replay buffer"),
        ("graph_batch", "paper Table 8: graph batch size 16 (App. B does not change it): one gradient step "
                        "per pass over the 15-graph buffer"),
        ("grad_clip", "paper Table 8: generator gradient clip 1.0"),
        ("lr", "paper silent for NB201: App. F's 1e-3, the paper's other tabular benchmark (Table 8's 1e-4 "
               "with one step per evaluation barely moves the generator in 140 steps)"),
        ("epochs", "paper silent for NB201 (Table 8's 2000 passes per step is ~4M graph passes per run): one "
                   "pass per step, so a 150-query run takes seconds on one CPU core; override to compare"),
        ("explorer", "paper App. B: random explorer (NB201's DAG view fixes every edge, so ER only draws ops "
                     "uniformly)"),
        ("er_p", "unused on NB201 (no free edges); App. F's 0.25 kept"),
        ("eps_kind", "paper App. B: random explorer in the first 10 steps (then none)"),
        ("eps_start", "paper App. B: explorer in the first 10 steps"),
        ("eps_steps", "paper App. B: first 10 steps"),
        ("evals_per_step", "paper App. B: 1 sample evaluated per step"),
        ("reject", "paper §4.1: reject samples that already appear in the replay buffer"),
    ),
)

ENAS = Preset(
    name="enas", lr=1e-4, grad_clip=1.0, graph_batch=32, epochs=2000, update_every=100,
    buffer_top=None, buffer_frac=(0.2, 0.2), explorer="er", er_p=0.4, eps_kind="linear", eps_start=1.0,
    eps_steps=100, evals_per_step=100, reject="buffer",
    sources=_GENERATOR + _TABLE8 + _UNUSED_WS + _UNUSED_DECAY + (
        ("buffer_top", "unused: the buffer is a fraction (buffer_frac)"),
        ("buffer_frac_horizon", "unused: the ENAS fraction is constant"),
        ("graph_batch", "paper App. E: Table 8 with graph batch size 32"),
        ("update_every", "paper App. E: 100 architectures evaluated per step, then the generator is updated"),
        ("buffer_frac", "paper App. E: the top 20% of architectures is kept"),
        ("explorer", "paper §4.2: ER explorer"),
        ("er_p", "paper §4.2: p = 0.4"),
        ("eps_kind", "paper §4.2: epsilon decays from 1 to 0 in the first 100 search steps (linear)"),
        ("eps_start", "paper §4.2: epsilon decays from 1"),
        ("eps_steps", "paper §4.2: first 100 search steps"),
        ("evals_per_step", "paper App. E: 100 architectures per step"),
        ("reject", "paper §4.1: reject samples that already appear in the replay buffer"),
    ),
)

RANDWIRE = Preset(
    name="randwire", lr=1e-4, grad_clip=1.0, graph_batch=16, epochs=2000, update_every=8,
    buffer_top=None, buffer_frac=(0.3, 0.1), buffer_frac_horizon=320, explorer="ws", ws_k=(2, 6),
    ws_p=(0.2, 0.8), eps_kind="decay", eps_start=0.6, eps_steps=10, eps_factor=0.2, evals_per_step=8,
    reject="buffer",
    sources=_GENERATOR + _TABLE8 + (
        ("buffer_top", "unused: the buffer is a fraction (buffer_frac)"),
        ("er_p", "unused: WS explorer"),
        ("update_every", "paper §4.1: 8 samples evaluated per search step"),
        ("buffer_frac", "paper §4.1: buffer shrinks from the top 30% to the top 10%"),
        ("buffer_frac_horizon", "paper §4.1: about 320 evaluations (the run's budget replaces it when known)"),
        ("explorer", "paper §4.1: WS model as the prior, on G's N nodes (the randwire DAG view, as its sample)"),
        ("ws_k", "paper §4.1: 2 <= k <= 6 (even k, as WS needs)"),
        ("ws_p", "paper §4.1: 0.2 <= p <= 0.8"),
        ("eps_kind", "paper §4.1: epsilon 0.6 decayed by a factor 0.2 every 10 search steps"),
        ("eps_start", "paper §4.1: epsilon = 0.6 in the beginning"),
        ("eps_steps", "paper §4.1: every 10 search steps"),
        ("eps_factor", "paper §4.1: factor 0.2"),
        ("evals_per_step", "paper §4.1: 40 search steps, 8 samples evaluated per step"),
        ("reject", "paper §4.1: reject samples that already appear in the replay buffer"),
    ),
)

GENERIC = replace(
    NB101, name="generic",
    sources=NB101.sources + (("name", "space not in the paper: App. F's NB-101 protocol, the paper's only "
                                      "complete query-based one"),),
)

PAPER: dict[str, Preset] = {p.name: p for p in (NB101, NB201, ENAS, RANDWIRE, GENERIC)}

_CODE_COMMON = (
    ("hidden", "code config/nb101.yaml: generator.hidden_dim 24"),
    ("att_hidden", "code model/misc/gnn.py: att_hidden_dim 128"),
    ("n_components", "code config: num_mix_component 10"),
    ("n_prop", "code config: num_GNN_layers 7, num_GNN_prop 1"),
    ("attention", "code model/misc/gnn.py: per-channel sigmoid gate on messages"),
    ("separate_layers", "code model/misc/gnn.py: one weight set per GNN layer, ReLU between layers"),
    ("objective", "code model/generators/gran.py::mixture_bernoulli_loss: reward-weighted NLL normalised by "
                  "the number of edge decisions, plus 0.5 x node-label NLL per node; no baseline (nas.baseline false)"),
    ("reinit_each_update", "code model/nas.py::gen_target: generator re-created at every 'train' message"),
    ("lr", "code config train.lr 1e-3 (Adam, no decay, wd 0)"),
    ("grad_clip", "code model/nas.py: no gradient clipping"),
    ("graph_batch", "code config train.batch_size 2"),
    ("epochs", "code config train.max_epoch 70"),
    ("reject", "code dataset/nas_data.py::__contains__: every evaluated graph is rejected (data_dict)"),
    ("sample_tries", "code model/generators/gran.py::sample: 20 tries, batch n*(5t+1), then the explorer"),
    ("explorer", "code config explorer.cls ErdosRenyi"),
    ("er_p", "code config generator.erdos_renyi_p 0.25"),
    ("eps_kind", "code utils/nas_helper.py::calculate_explore_p: explore with p = 1 for the first rounds"),
    ("eps_start", "code config nas.explore_p 1.0"),
    ("pos_dim", "the code has no positional encoding (node-id one-hots instead); the paper model's 16 kept"),
    ("reweight_beta", "unused by the weighted NLL objective"),
)

CODE_NB101 = Preset(
    name="code-nb101", hidden=24, att_hidden=128, attention="vector", separate_layers=True,
    objective="weighted_nll", reinit_each_update=True, lr=1e-3, grad_clip=None, graph_batch=2, epochs=70,
    update_every=10, buffer_top=15, explorer="er", er_p=0.25, eps_kind="step", eps_start=1.0, eps_steps=3,
    evals_per_step=10, reject="history",
    sources=_CODE_COMMON + _UNUSED_FRAC + _UNUSED_WS + _UNUSED_DECAY + (
        ("update_every", "code config/nb101.yaml: nas.sample_batch_size 10 (one fit per 10 samples)"),
        ("buffer_top", "code config/nb101.yaml: nas.keep_top 15, rewards as cdf ranks (i+1)/K"),
        ("eps_steps", "code config/nb101.yaml: explore_method 'three' (3 rounds of 10 samples)"),
        ("evals_per_step", "code config/nb101.yaml: sample_batch_size 10"),
    ),
)

CODE_NB201 = replace(
    CODE_NB101, name="code-nb201", update_every=1, buffer_top=15, eps_steps=30, evals_per_step=1,
    sources=_CODE_COMMON + _UNUSED_FRAC + _UNUSED_WS + _UNUSED_DECAY + (
        ("update_every", "code ARCHIVE/nb201_cifar10/config.yaml: nas.sample_batch_size 1 (a fit per sample)"),
        ("buffer_top", "code ARCHIVE/nb201_cifar10/config.yaml: nas.keep_top 15, cdf rewards"),
        ("eps_steps", "code ARCHIVE/nb201_cifar10/config.yaml: explore_method '30'"),
        ("evals_per_step", "code ARCHIVE/nb201_cifar10/config.yaml: sample_batch_size 1"),
    ),
)

CODE: dict[str, Preset] = {"nb101": CODE_NB101, "nb201": CODE_NB201}


SPACE_PRESETS: dict[str, Preset] = {"nb101": NB101, "nb201": NB201, "enas": ENAS, "enas6": ENAS, "randwire": RANDWIRE}
"""Space name -> paper preset ("enas6" is the ENAS macro space with 6 layers: same protocol)."""


def resolve(preset: str, space_name: str) -> Preset:
    """``auto`` -> the paper preset of the space (generic fallback); ``code`` -> the code's."""
    if preset == "auto":
        return SPACE_PRESETS.get(space_name, GENERIC)
    if preset == "code":
        return CODE.get(space_name, CODE_NB101)
    for p in (*PAPER.values(), *CODE.values()):
        if p.name == preset:
            return p
    names = ["auto", "code", *PAPER, *(p.name for p in CODE.values())]
    raise HarnessError(f"unknown GraphPNAS preset {preset!r}; valid: {', '.join(names)}")


def cite(preset: Preset) -> dict[str, str]:
    """Field name -> where its value comes from."""
    return dict(preset.sources)
