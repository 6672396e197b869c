"""The Strategy protocol: ask for architectures, be told their validation results.

Optuna-style ask/tell, scikit-learn-style construction: ``__init__`` stores its arguments
unchanged under their own names and does nothing else; ``setup`` receives the space and a
SeedSequence and builds every RNG from it (values resolved from the arguments, such as a device,
go under other names). ``params()`` is then derived from ``__init__``'s signature. The runner owns
budgets, evaluation and storage; a strategy never sees a benchmark or a test accuracy
(``harness.contracts.Observation`` has no such field).

``state_dict`` is what the runner stores as the run's final state (``seed=K.strategy.npz``, see
``harness.statefile``): everything needed to continue identically, so the final phase can ask a
finished strategy for more samples without repeating its search.

``recommend`` is that request: after the search, outside the budget, the architectures the
strategy stands behind (nevergrad's ``Optimizer.recommend``; GraphPNAS §4: "architectures sampled
from each generator"). It draws only from the generator it is given (the run's ``final`` stream,
``harness.seeding``), never from the search's own RNGs, so asking changes no search trajectory.
"""
from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from typing import Any, Callable, Sequence

import numpy as np

from harness.contracts import Arch, LabelledDAG, Observation, Proposal, RunContext, SearchSpace


class Strategy(ABC):
    """Subclass, implement ``ask``/``tell`` and register it in ``strategies.registry``."""

    name: str = ""

    def setup(self, space: SearchSpace, seed: np.random.SeedSequence, context: RunContext | None = None) -> None:
        """Bind to a space, seed and run context. Subclasses extend this (call super first)."""
        self.space = space
        self.context = context
        self.rng = np.random.default_rng(seed)

    @abstractmethod
    def ask(self, n: int) -> list[Arch | Proposal]:
        """Exactly ``n`` architectures (or ``Proposal``s carrying a fidelity / info) to evaluate next."""

    def tell(self, observations: Sequence[Observation]) -> None:
        """Results of the last ``ask``, in the same order (default: ignore)."""

    @classmethod
    def init_parameters(cls) -> list[inspect.Parameter]:
        """The ``__init__`` arguments, in order; a ``**kwargs`` argument is stored as a dict under its name."""
        if cls.__init__ is object.__init__:
            return []
        params = [p for name, p in inspect.signature(cls.__init__).parameters.items() if name != "self"]
        for p in params:
            if p.kind is inspect.Parameter.VAR_POSITIONAL:
                raise TypeError(f"{cls.__name__}.__init__ takes *{p.name}: strategies take named arguments only")
        return params

    def params(self) -> dict[str, Any]:
        """Constructor arguments as given, read back from the attributes of the same names (written
        to the run manifest); the entries of a ``**kwargs`` argument are merged in."""
        out: dict[str, Any] = {}
        for p in self.init_parameters():
            if p.kind is inspect.Parameter.VAR_KEYWORD:
                out.update(getattr(self, p.name))
            else:
                out[p.name] = getattr(self, p.name)
        return out

    def resolved(self) -> dict[str, Any]:
        """Values ``setup`` resolved from the arguments (e.g. ``device="auto"`` -> "cuda:0"), for the
        manifest; ``params()`` keeps the arguments as given."""
        return {}

    def recommend(self, n: int, rng: np.random.Generator, history: Sequence[Observation]) -> list[Arch | Proposal]:
        """At most ``n`` architectures to evaluate after the search (the final phase).

        ``history`` is what the strategy was told during the search (no test accuracy), in order;
        ``rng`` is the only randomness allowed (the search's RNGs and the strategy's state stay
        untouched, so calling this mid-search changes nothing). A strategy that learns a
        distribution overrides this to sample from it; the default, for strategies whose only
        product is what they found (random search, REA, local search, BANANAS, BOHB), is
        ``best_observed``."""
        return best_observed(history, n)

    def dag_log_prob(self, dags: Sequence[LabelledDAG], rng: np.random.Generator) -> np.ndarray | None:
        """log P of each labelled DAG under the generative model ``recommend`` samples from, teacher
        forced (exact, float64); None for a strategy without such a model (the default). ``rng`` is
        the same fresh ``final`` generator ``recommend`` gets, for a model built at recommend time."""
        return None

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue identically (plain data, numpy arrays, torch tensors)."""
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]


def serve(queue: list, n: int, refill: Callable[[], list]) -> list:
    """Pop ``n`` items from ``queue`` (in place), refilling it whenever it runs dry.

    For strategies that plan a batch of proposals at once (BANANAS, the RNN controller's
    top-K refits) but must answer ``ask(n)`` for any n."""
    out = []
    while len(out) < n:
        if not queue:
            queue.extend(refill())
        out.append(queue.pop(0))
    return out


def best_observed(history: Sequence[Observation], n: int) -> list[Arch]:
    """The ``n`` best distinct architectures of ``history`` (fewer when fewer were answered).

    Each architecture counts with its answers at the highest fidelity it was evaluated at (a
    multi-fidelity strategy's low-fidelity guess never outranks a full evaluation); ranked by that
    fidelity, then its best validation accuracy there, then first appearance."""
    best: dict[str, tuple[int, float, int, Arch]] = {}
    for order, obs in enumerate(history):
        if not (obs.ok and math.isfinite(obs.val_acc)):
            continue
        key = obs.arch_id or repr(obs.arch)
        old = best.get(key)
        if old is None or (obs.fidelity, obs.val_acc) > old[:2]:
            best[key] = (obs.fidelity, float(obs.val_acc), old[2] if old else order, obs.arch)
    ranked = sorted(best.values(), key=lambda v: (-v[0], -v[1], v[2]))
    return [v[3] for v in ranked[: max(int(n), 0)]]
