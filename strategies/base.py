"""The Strategy protocol: ask for architectures, be told their validation results.

Optuna-style ask/tell, scikit-learn-style construction: ``__init__`` stores parameters unchanged,
``setup`` receives the space and a SeedSequence and builds every RNG from it. The runner owns
budgets, evaluation and storage; a strategy never sees a benchmark or a test accuracy
(``harness.evaluation.Observation`` has no such field).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable, Sequence

import numpy as np

from harness.evaluation import Observation, Proposal, RunContext
from spaces.base import Arch, SearchSpace


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

    def params(self) -> dict[str, Any]:
        """Constructor parameters, written to the run manifest (override when there are any)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue identically (JSON-able plain data)."""
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
