"""BOHB (Falkner, Klein & Hutter, ICML 2018): Hyperband's successive halving over the benchmark's
fidelities, with new configurations proposed by BOHB's kernel-density (TPE-style) model.

Why our own implementation: the reference, hpbandster 0.7.4 (2018, unmaintained), runs its
master/worker loop over Pyro4 threads and draws from the global ``np.random``; its model needs
statsmodels. Optuna's TPE + Hyperband pruner is a different model (Parzen estimators with priors,
pruning inside one trial), syne-tune's KDE searcher pulls syne-tune and statsmodels and its own
scheduler, SMAC's multi-fidelity facade uses random forests, DEHB is differential evolution. None
gives BOHB's model under our ask/tell, seeded from our generator, without its own scheduler. On
categorical decisions the model is a product Aitchison-Aitken kernel: a few lines of numpy.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from harness.contracts import Observation, Proposal, RunContext, SearchSpace
from harness.errors import HarnessError
from strategies.base import Strategy
from strategies.dag_decisions import DagDecisions


def bracket_sizes(n_rungs: int, s: int, eta: float) -> list[int]:
    """Configurations per rung of the bracket with s promotions (hpbandster ``BOHB.get_next_iteration``)."""
    n0 = int(math.floor(n_rungs / (s + 1)) * eta**s)
    return [max(int(n0 * eta ** (-i)), 1) for i in range(s + 1)]


def promote(losses: Sequence[float], k: int) -> list[int]:
    """Indices (in their original order) of the ``k`` lowest losses, ties to the earlier one
    (hpbandster ``SuccessiveHalving._advance_to_next_stage``: ranks < k)."""
    order = np.argsort(np.asarray(losses, dtype=float), kind="stable")
    return sorted(int(i) for i in order[:k])


class CategoricalKDE:
    """statsmodels' ``KDEMultivariate`` with all variables unordered ('u'), as hpbandster fits it.

    Bandwidth per variable: the normal-reference rule ``1.06 * std * n ** (-1 / (4 + d))`` on the
    integer codes (statsmodels ``_normal_reference``; hpbandster uses ``bw='normal_reference'``),
    clipped below at ``min_bandwidth`` (hpbandster) and above at ``(c - 1) / c`` (ours: there the
    Aitchison-Aitken kernel is uniform; statsmodels leaves larger values, where the kernel favours
    *other* values than the data's or turns negative). Kernel: ``1 - bw`` on a match, ``bw / (c - 1)``
    otherwise; the density is the mean over data points of the product over variables.
    """

    def __init__(self, data: np.ndarray, n_choices: np.ndarray, min_bandwidth: float):
        self.data = np.asarray(data, dtype=np.int64)
        n, d = self.data.shape
        bw = 1.06 * self.data.std(axis=0) * n ** (-1.0 / (4 + d))
        self.bw = np.clip(bw, min_bandwidth, (n_choices - 1) / n_choices)
        self.log_match = np.log1p(-self.bw)
        self.log_miss = np.log(self.bw / (n_choices - 1))

    def log_pdf(self, x: np.ndarray) -> np.ndarray:
        match = np.asarray(x)[:, None, :] == self.data[None, :, :]
        per_point = np.where(match, self.log_match, self.log_miss).sum(axis=2)
        top = per_point.max(axis=1)
        return top + np.log(np.exp(per_point - top[:, None]).mean(axis=1))


class BOHB(Strategy):
    """Synchronous BOHB over ``RunContext.fidelities`` with hpbandster's defaults.

    Defaults (hpbandster ``optimizers/bohb.py`` and ``config_generators/bohb.py``, = the paper):
    eta 3, top_n_percent 15, num_samples 64, random_fraction 1/3, min_bandwidth 1e-3,
    min_points_in_model = d + 1 (d = number of decisions). AutoDL's NB201/NATS runs
    (``scripts-search/algos/BOHB.sh``: ``--n_iters 50 --num_samples 4 --random_fraction 0.0
    --bandwidth_factor 3``; ``exps/NATS-algos/run-all.sh`` the same without n_iters; argparse
    ``--min_bandwidth 0.3``) are the ``BOHBNB201`` preset. ``bandwidth_factor`` only widens
    *continuous* parameters in hpbandster's sampler; every decision here is categorical, so it
    has no counterpart. ``n_iters`` is replaced by the run's budget.

    The model (hpbandster's config generator): per fidelity, the observed decision vectors
    (``strategies.dag_decisions``: free node ops and free edges) with loss 100 - val_acc; a model
    exists for a fidelity once its best ``max(min_points, 15% N)`` ("good") and the next
    ``max(min_points, 85% N)`` ("bad") both hold more than d points; results at a fidelity below
    one that already has a model are not stored. A new configuration is uniform random when no
    model exists or with probability random_fraction; otherwise, with the model of the highest
    fidelity, num_samples candidates are drawn (a random good point, each variable kept w.p.
    1 - bandwidth, else uniform) and the one maximising l(x)/g(x) is taken (computed in log
    space; hpbandster clamps both densities at 1e-32).

    Hyperband: the rungs are the run's fidelities up to the run's own (the reward fidelity; NB201
    12 -> 200, NB101 4 -> 12 -> 36 -> 108; one fidelity = BO with random fraction, one config
    per bracket). Bracket s (s = R-1 .. 0, cycling) starts ``floor(R / (s+1)) * eta**s``
    configurations on rung R-1-s; after a rung's results are all in, the best 1/eta (hpbandster's
    counts) are re-evaluated on the next rung: ``ask`` returns ``Proposal(arch, fidelity=rung)``.
    With ``ask(n > 1)``, a bracket waiting for results lets the next bracket start, as hpbandster
    does with several workers. Each proposal logs ``bracket``, ``rung`` and ``model_based``.

    Deviations: NB201 has only fidelities 12 and 200 (ratio 16.7, not eta; AutoDL's NATS BOHB,
    ``min_budget=1, max_budget=12``, read epochs 1/4/12 of the 12-epoch schedule via
    ``iepoch=int(budget)-1``, which our tables do not hold; under the 'nats' protocol, whose reward
    is the 12-epoch accuracy, BOHB here therefore has one rung and is plain BO); candidates the
    space rejects (``from_dag`` None, e.g. NB101) are skipped, and if none is valid the
    configuration is random (hpbandster's fallback when sampling fails); a failed or invalid
    evaluation has loss +inf (hpbandster: crashed runs count as bad).

    Budgets: under a time budget every query costs its fidelity's simulated time, which is what
    BOHB is designed for. Under a query budget every evaluation counts as one query whatever its
    fidelity, and a promotion re-evaluates a configuration, so BOHB sees fewer distinct
    configurations than single-fidelity strategies: query budgets handicap it.
    """

    name = "bohb"

    def __init__(self, eta: float = 3, top_n_percent: int = 15, num_samples: int = 64,
                 random_fraction: float = 1 / 3, min_bandwidth: float = 1e-3,
                 min_points_in_model: int | None = None):
        self.eta = eta
        self.top_n_percent = top_n_percent
        self.num_samples = num_samples
        self.random_fraction = random_fraction
        self.min_bandwidth = min_bandwidth
        self.min_points_in_model = min_points_in_model

    def setup(self, space: SearchSpace, seed: np.random.SeedSequence, context: RunContext | None = None) -> None:
        super().setup(space, seed, context)
        self.decisions = DagDecisions.of(space)
        self.n_choices = self.decisions.n_choices
        d = len(self.decisions)
        self.min_points = d + 1 if self.min_points_in_model is None else int(self.min_points_in_model)
        if not (self.eta >= 2 and 0 < self.top_n_percent < 100 and self.num_samples >= 1
                and 0 <= self.random_fraction <= 1 and self.min_bandwidth > 0 and self.min_points > d):
            raise HarnessError(
                f"BOHB needs eta >= 2, 0 < top_n_percent < 100, num_samples >= 1, 0 <= random_fraction <= 1, "
                f"min_bandwidth > 0 and min_points_in_model > {d} (the number of decisions); got {self.params()}"
            )
        if context is None:
            self.ladder: tuple[int | None, ...] = (None,)
        else:
            self.ladder = tuple(sorted(f for f in context.fidelities if f <= context.fidelity)) or (context.fidelity,)
        self._data: list[list[tuple[list[int], float]]] = [[] for _ in self.ladder]
        self._brackets: list[dict[str, Any]] = []
        self._pending: list[tuple[int, int]] = []
        self._iteration = 0

    # -- Hyperband bookkeeping

    def _new_bracket(self) -> dict[str, Any]:
        R = len(self.ladder)
        s = R - 1 - self._iteration % R
        bracket = {"id": self._iteration, "rungs": list(range(R - 1 - s, R)),
                   "sizes": bracket_sizes(R, s, self.eta), "stage": 0, "configs": [], "losses": [], "issued": 0}
        self._iteration += 1
        self._brackets.append(bracket)
        return bracket

    def ask(self, n: int) -> list[Proposal]:
        out = []
        for _ in range(n):
            b = next((b for b in self._brackets if b["issued"] < b["sizes"][b["stage"]]), None) or self._new_bracket()
            slot = b["issued"]
            model_based = -1  # -1: a promoted configuration
            if b["stage"] == 0:
                codes, model_based = self._sample()
                b["configs"].append(codes)
                b["losses"].append(None)
            b["issued"] += 1
            self._pending.append((b["id"], slot))
            arch = self.decisions.to_arch(self.space, b["configs"][slot])
            rung = b["rungs"][b["stage"]]
            out.append(Proposal(arch, fidelity=self.ladder[rung],
                                info=(("bracket", b["id"]), ("rung", rung), ("model_based", model_based))))
        return out

    def tell(self, observations: Sequence[Observation]) -> None:
        if len(observations) > len(self._pending):
            raise HarnessError(f"BOHB was told {len(observations)} results for {len(self._pending)} proposals")
        for obs in observations:
            bid, slot = self._pending.pop(0)
            b = next(b for b in self._brackets if b["id"] == bid)
            loss = 100.0 - float(obs.val_acc) if obs.ok else math.inf
            b["losses"][slot] = loss
            self._record(b["rungs"][b["stage"]], b["configs"][slot], loss)
            if b["issued"] == b["sizes"][b["stage"]] and all(x is not None for x in b["losses"]):
                self._advance(b)

    def _advance(self, b: dict[str, Any]) -> None:
        if b["stage"] + 1 == len(b["sizes"]):
            self._brackets.remove(b)
            return
        keep = promote(b["losses"], b["sizes"][b["stage"] + 1])
        b["configs"] = [b["configs"][i] for i in keep]
        b["losses"] = [None] * len(keep)
        b["stage"] += 1
        b["issued"] = 0

    # -- the model

    def _record(self, rung: int, codes: list[int], loss: float) -> None:
        if any(self._split(r) is not None for r in range(rung + 1, len(self.ladder))):
            return
        self._data[rung].append((list(codes), loss))

    def _split(self, rung: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(good, bad) decision vectors of a rung, or None while it has too few points."""
        data = self._data[rung]
        n, d = len(data), len(self.decisions)
        n_good = max(self.min_points, self.top_n_percent * n // 100)
        n_bad = max(self.min_points, (100 - self.top_n_percent) * n // 100)
        if min(n_good, n) <= d or min(n_bad, n - n_good) <= d:
            return None
        order = np.argsort([loss for _, loss in data], kind="stable")
        codes = np.array([c for c, _ in data], dtype=np.int64)
        return codes[order[:n_good]], codes[order[n_good:n_good + n_bad]]

    def _sample(self) -> tuple[list[int], int]:
        """A new configuration and whether the model proposed it (1) or it is random (0)."""
        split = next((s for s in (self._split(r) for r in reversed(range(len(self.ladder)))) if s is not None), None)
        if split is not None and not self.rng.random() < self.random_fraction:
            good, bad = (CategoricalKDE(x, self.n_choices, self.min_bandwidth) for x in split)
            S, d = int(self.num_samples), len(self.decisions)
            base = good.data[self.rng.integers(len(good.data), size=S)]
            keep = self.rng.random((S, d)) < 1 - good.bw
            cand = np.where(keep, base, self.rng.integers(0, self.n_choices, size=(S, d)))
            score = good.log_pdf(cand) - bad.log_pdf(cand)
            for i in np.argsort(-score, kind="stable"):
                if self.decisions.to_arch(self.space, cand[i]) is not None:
                    return cand[i].tolist(), 1
        codes, _ = self.decisions.sample_uniform(self.space, self.rng)
        return codes.tolist(), 0

    # -- state

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "iteration": self._iteration,
            "brackets": [{**b, "configs": [list(c) for c in b["configs"]], "losses": list(b["losses"])}
                         for b in self._brackets],
            "pending": [list(p) for p in self._pending],
            "data": [[[list(c), loss] for c, loss in rung] for rung in self._data],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._iteration = int(state["iteration"])
        self._brackets = [{**b, "configs": [list(c) for c in b["configs"]], "losses": list(b["losses"]),
                           "rungs": list(b["rungs"]), "sizes": list(b["sizes"])} for b in state["brackets"]]
        self._pending = [(int(a), int(b)) for a, b in state["pending"]]
        self._data = [[(list(c), float(loss)) for c, loss in rung] for rung in state["data"]]


class BOHBNB201(BOHB):
    """BOHB with AutoDL's NAS-Bench-201 / NATS-Bench settings.

    ``num_samples 4, random_fraction 0.0`` (``scripts-search/algos/BOHB.sh``,
    ``exps/NATS-algos/run-all.sh``) and ``min_bandwidth 0.3`` (the argparse default of
    ``exps/NATS-algos/bohb.py`` and ``exps/algos/BOHB.py``); eta 3 and top 15 % as hpbandster;
    AutoDL's ``--bandwidth_factor 3`` is hpbandster's default and has no effect on categoricals.
    """

    name = "bohb_nb201"

    def __init__(self, eta: float = 3, top_n_percent: int = 15, num_samples: int = 4,
                 random_fraction: float = 0.0, min_bandwidth: float = 0.3,
                 min_points_in_model: int | None = None):
        super().__init__(eta, top_n_percent, num_samples, random_fraction, min_bandwidth, min_points_in_model)
