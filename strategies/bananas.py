"""BANANAS: Bayesian optimisation with an ensemble of neural predictors (White et al. 2021).

Each iteration fits an ensemble of feed-forward nets to the (encoded architecture, validation
error) pairs seen so far, mutates the best architectures into candidates, and proposes the ``k``
candidates ranked best by independent Thompson sampling.
"""
from __future__ import annotations

import math
import time
from typing import Any, Collection, Sequence

import numpy as np

from harness.contracts import Arch, Observation, RunContext, SearchSpace
from strategies.base import Strategy, serve
from strategies.path_encoding import make_encoder


class MLPEnsemble:
    """``n_models`` dense ReLU nets trained together with MAE loss and Adam, in numpy.

    The models are stacked (weights ``(n_models, fan_in, fan_out)``) and each draws its own
    minibatch order, so the ensemble equals ``n_models`` independently trained nets. Backprop is
    written out (dense layers, ReLU, MAE: a few lines); at these sizes numpy's batched matmul
    costs ~4 us against ~12 us for torch's ``bmm``, which made a 150-query NB201 run ~3x faster.

    Defaults match naszilla ``meta_neural_net.py::MetaNeuralnet`` (Keras): Glorot-uniform weights,
    zero biases, linear output, ``Adam(lr, beta_1=0.9, beta_2=0.99)`` with Keras' epsilon 1e-7
    applied as ``lr_t * m / (sqrt(v) + eps)``, ``lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t)``,
    reshuffled minibatches each epoch (the last one partial), float32.
    """

    def __init__(self, n_models: int = 5, num_layers: int = 10, layer_width: int = 20,
                 epochs: int = 150, batch_size: int = 32, lr: float = 0.01,
                 betas: tuple[float, float] = (0.9, 0.99), eps: float = 1e-7):
        self.n_models, self.num_layers, self.layer_width = n_models, num_layers, layer_width
        self.epochs, self.batch_size, self.lr, self.betas, self.eps = epochs, batch_size, lr, betas, eps
        self.weights: list[np.ndarray] = []
        self.biases: list[np.ndarray] = []

    def fit(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> float:
        """Train from scratch on ``X`` (n, d) -> ``y`` (n,); returns the mean training MAE."""
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y, dtype=np.float32)
        n, d = X.shape
        E = self.n_models
        dims = [d] + [self.layer_width] * self.num_layers + [1]
        shapes = [s for a, b in zip(dims[:-1], dims[1:]) for s in ((E, a, b), (E, 1, b))]
        sizes = [math.prod(s) for s in shapes]
        flat = np.zeros(sum(sizes), dtype=np.float32)
        grad, m, v, tmp = (np.zeros_like(flat) for _ in range(4))
        offsets = np.cumsum([0] + sizes)
        params = [flat[o:o + k].reshape(s) for o, k, s in zip(offsets, sizes, shapes)]
        grads = [grad[o:o + k].reshape(s) for o, k, s in zip(offsets, sizes, shapes)]
        for layer, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            bound = math.sqrt(6.0 / (a + b))
            params[2 * layer][...] = rng.uniform(-bound, bound, size=(E, a, b))
        W, B, gW, gB = params[0::2], params[1::2], grads[0::2], grads[1::2]
        depth = len(W)
        b1, b2 = self.betas
        step = 0
        for _ in range(self.epochs):
            order = np.argsort(rng.random((E, n)), axis=1)
            for start in range(0, n, self.batch_size):
                idx = order[:, start:start + self.batch_size]
                acts = [X[idx]]
                for layer in range(depth):
                    h = np.matmul(acts[-1], W[layer])
                    h += B[layer]
                    if layer < depth - 1:
                        np.maximum(h, 0.0, out=h)
                    acts.append(h)
                dz = np.sign(acts[-1] - y[idx][..., None]) * np.float32(1.0 / idx.shape[1])
                for layer in range(depth - 1, -1, -1):
                    np.matmul(acts[layer].transpose(0, 2, 1), dz, out=gW[layer])
                    np.sum(dz, axis=1, keepdims=True, out=gB[layer])
                    if layer:
                        dz = np.matmul(dz, W[layer].transpose(0, 2, 1))
                        dz *= acts[layer] > 0
                step += 1
                m *= b1
                m += np.multiply(grad, 1.0 - b1, out=tmp)
                v *= b2
                np.multiply(grad, grad, out=tmp)
                tmp *= 1.0 - b2
                v += tmp
                np.sqrt(v, out=tmp)
                tmp += self.eps
                np.divide(m, tmp, out=tmp)
                tmp *= self.lr * math.sqrt(1.0 - b2**step) / (1.0 - b1**step)
                flat -= tmp
        self.weights, self.biases = W, B
        return float(np.mean(np.abs(self.predict(X) - y[None])))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions of every model, shape (n_models, n)."""
        h = np.asarray(X, dtype=np.float32)[None]
        for layer, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = np.matmul(h, w) + b
            if layer < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
        return h[..., 0]


class Bananas(Strategy):
    """BANANAS with naszilla's defaults (``naszilla/nas_algorithms.py::bananas``).

    Defaults and their sources:
    - ``num_init=10`` random architectures first, then ``k=10`` per iteration
      (``nas_algorithms.py``: ``DEFAULT_NUM_INIT``, ``DEFAULT_K``); the initial ones are distinct
      (``nas_benchmarks.py::generate_random_dataset``, up to 5 draws per architecture).
    - predictor: ensemble of 5 nets, 10 layers x 20 units, ReLU, MAE loss, Adam lr 0.01
      (betas 0.9/0.99), 150 epochs, batch 32 (``params.py::meta_neuralnet_params('standard')``,
      ``meta_neural_net.py``), trained on the validation error ``100 - val_acc`` (``val_loss``).
    - encoding: the path encoding truncated as naszilla's default ``predictor_encoding='trunc_path'``
      (NB101: 40 of 364 indices; NB201: 30 of 155), see ``strategies.path_encoding``; other
      spaces use the generic adjacency + one-hot-op encoding of their labelled DAG.
    - candidates: ``nas_benchmarks.py::get_candidates`` with ``acq_opt_type='mutation'``: for each
      of the best ``num_parents=5`` architectures (``num_arches_to_mutate * patience_factor``), in
      order, while fewer than ``num_candidates=100`` candidates exist, draw ``num_candidates``
      mutants (``space.mutate``) and keep those whose canonical id is new (never proposed, not
      already a candidate). Like naszilla the set may exceed 100 (it stops between parents).
    - acquisition: independent Thompson sampling (``acquisition_functions.py``, ``'its'``): one
      draw per candidate from N(mean, std) of the ensemble's predictions (population std), the
      ``k`` lowest predicted errors are proposed.

    Deviations: mutation is the space's own (``space.mutate``: on NB101 naszilla's ``adj_mutate``;
    on NB201 one op changed, where naszilla changes each op w.p. 1/4); when the mutants give fewer
    than ``k`` new candidates, random unseen architectures fill up (naszilla would propose fewer).
    Failed or invalid observations (NaN validation) are not trained on but never proposed again.

    Ask/tell: ``ask(n)`` serves the current batch of ``k`` and runs the next iteration (a refit
    on everything told so far) when the batch is used up. ``fit_seconds`` lists each iteration's
    predictor fit time (wall clock; diagnostics only, not part of the state).
    """

    name = "bananas"

    def __init__(self, num_init: int = 10, k: int = 10, num_ensemble: int = 5, num_layers: int = 10,
                 layer_width: int = 20, epochs: int = 150, batch_size: int = 32, lr: float = 0.01,
                 num_candidates: int = 100, num_parents: int = 5, encoding: str = "auto",
                 path_cutoff: int | None = None):
        self.num_init = num_init
        self.k = k
        self.num_ensemble = num_ensemble
        self.num_layers = num_layers
        self.layer_width = layer_width
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.num_candidates = num_candidates
        self.num_parents = num_parents
        self.encoding = encoding
        self.path_cutoff = path_cutoff

    def setup(self, space: SearchSpace, seed: np.random.SeedSequence, context: RunContext | None = None) -> None:
        super().setup(space, seed, context)
        self._encode = make_encoder(space, self.encoding, self.path_cutoff)
        self._proposed: set[str] = set()  # canonical ids ever proposed (naszilla's hash map)
        self._data: list[tuple[Arch, float]] = []  # (arch, validation error) of ok observations
        self._data_ids: set[str] = set()
        self._features: list[np.ndarray] = []
        self._queue: list[Arch] = []
        self.fit_seconds: list[float] = []

    # -- ask / tell

    def ask(self, n: int) -> list[Arch]:
        return serve(self._queue, n, self._next_batch)

    def tell(self, observations: Sequence[Observation]) -> None:
        for obs in observations:
            arch_id = self.space.canonical_id(obs.arch)
            self._proposed.add(arch_id)
            if obs.ok and math.isfinite(obs.val_acc) and arch_id not in self._data_ids:
                self._data_ids.add(arch_id)
                self._data.append((obs.arch, 100.0 - float(obs.val_acc)))
                self._features.append(self._encode(obs.arch))

    # -- one iteration

    def _next_batch(self) -> list[Arch]:
        if len(self._proposed) < self.num_init:
            return self._random_unseen(self.num_init - len(self._proposed))
        if len(self._data) < 2:
            return self._random_unseen(self.k)
        candidates = self._candidates()
        if len(candidates) < self.k:
            candidates += self._random_unseen(self.k - len(candidates), claim=False,
                                              exclude={self.space.canonical_id(c) for c in candidates})
        t0 = time.perf_counter()
        ensemble = MLPEnsemble(self.num_ensemble, self.num_layers, self.layer_width, self.epochs,
                               self.batch_size, self.lr)
        ensemble.fit(np.stack(self._features), np.array([e for _, e in self._data]), self.rng)
        pred = ensemble.predict(np.stack([self._encode(c) for c in candidates])).astype(np.float64)
        self.fit_seconds.append(time.perf_counter() - t0)
        draws = self.rng.normal(pred.mean(axis=0), pred.std(axis=0))
        chosen = [candidates[i] for i in np.argsort(draws, kind="stable")[: self.k]]
        self._proposed.update(self.space.canonical_id(c) for c in chosen)
        return chosen

    def _candidates(self) -> list[Arch]:
        order = sorted(range(len(self._data)), key=lambda i: self._data[i][1])
        seen = set(self._proposed)
        out: list[Arch] = []
        for i in order[: self.num_parents]:
            if len(out) >= self.num_candidates:
                break
            parent = self._data[i][0]
            for _ in range(self.num_candidates):
                child = self.space.mutate(parent, self.rng)
                cid = self.space.canonical_id(child)
                if cid not in seen:
                    seen.add(cid)
                    out.append(child)
        return out

    def _random_unseen(self, n: int, claim: bool = True, exclude: Collection[str] = ()) -> list[Arch]:
        """Up to ``n`` distinct never-proposed samples (5 draws each at most, as naszilla); at
        least one sample is always returned so that ``ask`` progresses even in an exhausted space."""
        out: list[Arch] = []
        ids = set(exclude)
        for _ in range(5 * n):
            if len(out) >= n:
                break
            arch = self.space.sample(self.rng)
            cid = self.space.canonical_id(arch)
            if cid not in self._proposed and cid not in ids:
                ids.add(cid)
                out.append(arch)
        if not out:
            out.append(self.space.sample(self.rng))
        if claim:
            self._proposed.update(self.space.canonical_id(a) for a in out)
        return out

    # -- state

    def state_dict(self) -> dict[str, Any]:
        to_str = self.space.to_str
        return {
            "rng": self.rng.bit_generator.state,
            "proposed": sorted(self._proposed),
            "data": [(to_str(a), e) for a, e in self._data],
            "queue": [to_str(a) for a in self._queue],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        from_str = self.space.from_str
        self.rng.bit_generator.state = state["rng"]
        self._proposed = set(state["proposed"])
        self._data = [(from_str(a), float(e)) for a, e in state["data"]]
        self._data_ids = {self.space.canonical_id(a) for a, _ in self._data}
        self._features = [self._encode(a) for a, _ in self._data]
        self._queue = [from_str(a) for a in state["queue"]]


__all__ = ["Bananas", "MLPEnsemble"]
