"""REINFORCE with an independent categorical per DAG decision (NAS-Bench-201's RL baseline).

The policy is a table of logits, one row per decision of ``strategies.dag_decisions`` (free node
ops and free edges); on NB201 it is exactly the 6 x 5 edge-by-op table of Dong & Yang's baseline.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch

from harness import seeding
from harness.contracts import LabelledDAG, Observation, Proposal, RunContext, SearchSpace
from harness.errors import HarnessError
from strategies.adam import Adam
from strategies.base import Strategy
from strategies.dag_decisions import DagDecisions

TORCH_STREAM = 0x746F7263
"""Spawn-key word of the policy's torch stream ("torc"; 63-bit seeds)."""


class Reinforce(Strategy):
    """REINFORCE as in AutoDL-Projects ``exps/NATS-algos/reinforce.py`` (NAS-Bench-201 / NATS-Bench).

    Defaults and their sources:
    - logits ``1e-3 * randn(decisions, options)`` (``PolicyTopology.arch_parameters``), drawn from
      this run's ``torch.Generator``; options a decision does not have are masked out;
    - one architecture per step, reward = validation accuracy / 100 (AutoDL's reward is the
      benchmark's accuracy; we scale to [0, 1]), loss = ``-log_prob * (reward - baseline)``;
    - baseline: bias-corrected exponential moving average with momentum 0.9, updated with the
      reward *before* the advantage is taken (AutoDL's ``ExponentialMovingAverage``, ``--EMA_momentum
      0.9``); so the first step has zero advantage;
    - Adam (torch defaults) with ``lr=0.01``: NATS-Bench ``exps/NATS-algos/run-all.sh`` (``--learning_rate
      0.01``). The NAS-Bench-201 doc ran ``scripts-search/algos/REINFORCE.sh 0.5`` (lr 0.5) and an
      older script used 0.001: pass ``lr`` to reproduce those.

    Choices beyond the reference (which has no invalid cells and no batches):
    - Decision vectors the space rejects (``from_dag`` None, too many edges; e.g. NB101) are
      redrawn from the policy; the count is logged per proposal as ``rejected`` in the
      trajectory's ``extra`` column and in ``n_rejected``. Rejected draws get no update.
    - ``ask(n)`` draws n architectures from the current policy; ``tell`` then applies one
      baseline update and one Adam step per observation, in order, each with the log-probability
      under the policy as already updated by the previous ones (n = 1 is the reference).
    - A failed or invalid evaluation (no finite accuracy) is rewarded 0, the worst accuracy.
    """

    name = "reinforce"

    def __init__(self, lr: float = 0.01, ema_momentum: float = 0.9, init_std: float = 1e-3,
                 max_resample: int = 10_000):
        self.lr = lr
        self.ema_momentum = ema_momentum
        self.init_std = init_std
        self.max_resample = max_resample

    def setup(self, space: SearchSpace, seed: np.random.SeedSequence, context: RunContext | None = None) -> None:
        super().setup(space, seed, context)
        if not (self.lr > 0 and 0 <= self.ema_momentum < 1 and self.init_std >= 0 and self.max_resample >= 1):
            raise HarnessError(
                f"REINFORCE needs lr > 0, 0 <= ema_momentum < 1, init_std >= 0 and max_resample >= 1; got "
                f"{self.lr}, {self.ema_momentum}, {self.init_std}, {self.max_resample}"
            )
        if not isinstance(seed, np.random.SeedSequence):
            seed = np.random.SeedSequence(seed)
        self.decisions = DagDecisions.of(space)
        k = self.decisions.n_choices
        self.gen = seeding.torch_generator(seeding.torch_seed(seed, TORCH_STREAM, bits=63))
        self.allowed = torch.from_numpy(np.arange(int(k.max()))[None, :] < k[:, None])
        self.logits = torch.nn.Parameter(self.init_std * torch.randn(len(k), int(k.max()), generator=self.gen,
                                                                     dtype=torch.float64))
        self.optimizer = Adam([self.logits], lr=self.lr)  # torch.optim.Adam's update (strategies.adam)
        self.ema_num = 0.0
        self.ema_den = 0.0
        self.n_rejected = 0
        self._pending: list[list[int]] = []

    def _log_probs(self) -> torch.Tensor:
        # logits - logsumexp rather than torch.log_softmax: the latter's multi-threaded CPU kernel
        # costs ~20 ms per call on tiny tensors when torch has more than one thread.
        z = self.logits.masked_fill(~self.allowed, -math.inf)
        return z - torch.logsumexp(z, dim=-1, keepdim=True)

    def ask(self, n: int) -> list[Proposal]:
        with torch.no_grad():
            probs = self._log_probs().exp()
        out = []
        for _ in range(n):
            for rejected in range(self.max_resample):
                codes = torch.multinomial(probs, 1, generator=self.gen)[:, 0].tolist()
                arch = self.decisions.to_arch(self.space, codes)
                if arch is not None:
                    break
            else:
                raise HarnessError(
                    f"REINFORCE drew {self.max_resample} decision vectors in a row that {self.space.name} rejects; "
                    f"raise max_resample or lower lr"
                )
            self.n_rejected += rejected
            self._pending.append(codes)
            out.append(Proposal(arch, info=(("rejected", rejected),)))
        return out

    def recommend(self, n: int, rng: np.random.Generator, history: Sequence[Observation]) -> list[Proposal]:
        """``n`` samples of the learned policy (its architectures' distribution), drawn with a torch
        generator seeded from ``rng``; rejected decision vectors are redrawn, as in ``ask``."""
        gen = seeding.torch_generator(int(rng.integers(2**63)))
        with torch.no_grad():
            probs = self._log_probs().exp()
        out = []
        for _ in range(n):
            for rejected in range(self.max_resample):
                arch = self.decisions.to_arch(self.space, torch.multinomial(probs, 1, generator=gen)[:, 0].tolist())
                if arch is not None:
                    out.append(Proposal(arch, info=(("rejected", rejected),)))
                    break
        return out

    def dag_log_prob(self, dags: Sequence[LabelledDAG], rng: np.random.Generator) -> np.ndarray:
        """log P of each DAG under the policy: the sum of its decisions' log-probabilities."""
        with torch.no_grad():
            lp = self._log_probs().numpy()
        if not len(dags):
            return np.zeros(0)
        codes = np.stack([self.decisions.encode(d) for d in dags])
        return lp[np.arange(len(self.decisions))[None, :], codes].sum(axis=1)

    def tell(self, observations: Sequence[Observation]) -> None:
        if len(observations) > len(self._pending):
            raise HarnessError(f"REINFORCE was told {len(observations)} results for {len(self._pending)} proposals")
        rows = torch.arange(len(self.decisions))
        for obs in observations:
            codes = torch.tensor(self._pending.pop(0))
            reward = obs.val_acc / 100.0 if obs.ok else 0.0
            m = self.ema_momentum
            self.ema_num = m * self.ema_num + (1 - m) * reward
            self.ema_den = m * self.ema_den + (1 - m)
            advantage = reward - self.ema_num / self.ema_den
            loss = -self._log_probs()[rows, codes].sum() * advantage
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()

    def probabilities(self) -> np.ndarray:
        """The policy's option probabilities per decision (rows padded with zeros)."""
        with torch.no_grad():
            return self._log_probs().exp().numpy().copy()

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "gen": self.gen.get_state(),
            "logits": self.logits.detach().clone(),
            "optimizer": self.optimizer.state_dict(),
            "ema": [self.ema_num, self.ema_den],
            "n_rejected": self.n_rejected,
            "pending": [list(p) for p in self._pending],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.gen.set_state(state["gen"])
        with torch.no_grad():
            self.logits.copy_(state["logits"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.ema_num, self.ema_den = (float(x) for x in state["ema"])
        self.n_rejected = int(state["n_rejected"])
        self._pending = [list(p) for p in state["pending"]]
