"""The Strategy protocol: ask for architectures, be told their validation results.

Optuna-style ask/tell, scikit-learn-style construction: ``__init__`` stores parameters unchanged,
``setup`` receives the space and a SeedSequence and builds every RNG from it. The runner owns
budgets, evaluation and storage; a strategy never sees a benchmark or a test accuracy
(``harness.evaluation.Observation`` has no such field).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Sequence

import numpy as np

from harness.evaluation import Observation
from spaces.base import Arch, SearchSpace


class Strategy(ABC):
    """Subclass, implement ``ask``/``tell`` and register it in ``strategies.registry``."""

    name: str = ""

    def setup(self, space: SearchSpace, seed: np.random.SeedSequence) -> None:
        """Bind to a space and seed. Subclasses extend this (call super) to build their state."""
        self.space = space
        self.rng = np.random.default_rng(seed)

    @abstractmethod
    def ask(self, n: int) -> list[Arch]:
        """Exactly ``n`` architectures to evaluate next."""

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
