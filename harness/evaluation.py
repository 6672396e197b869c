"""What an evaluation returns, and what a strategy is allowed to see of it.

``Result`` is the benchmark's full answer (test accuracy included) and only the runner and the
trajectory store hold it. ``Observation`` is built from a Result by dropping the test fields;
it has no attribute that could carry test accuracy, so ``Strategy.tell`` cannot reach it.
Accuracies are percentages (0-100) in every space; costs are simulated training seconds.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Sequence

from spaces.base import Arch

STATUSES = ("ok", "invalid", "failed", "duplicate")


@dataclass(frozen=True)
class Result:
    """The evaluator's answer for one architecture at one fidelity."""

    val_acc: float
    test_acc: float = math.nan
    cost_s: float = 0.0
    status: str = "ok"
    error: str = ""
    bench_seed: int = -1
    """Which benchmark repeat answered (-1 = mean over repeats)."""
    extra: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Observation:
    """A strategy's view of one query: no test accuracy, by construction."""

    arch: Arch
    arch_id: str
    val_acc: float
    cost_s: float
    fidelity: int
    status: str = "ok"
    info: tuple[tuple[str, float], ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "duplicate") and math.isfinite(self.val_acc)


@dataclass(frozen=True)
class Proposal:
    """What ``Strategy.ask`` may return instead of a bare architecture.

    ``fidelity`` asks for another fidelity than the run's (multi-fidelity strategies such as
    BOHB; it must be one of ``RunContext.fidelities``); ``info`` is logged in the trajectory's
    ``extra`` column (e.g. the ER/WS hyper-parameters that generated the sample).
    """

    arch: Arch
    fidelity: int | None = None
    info: tuple[tuple[str, float | int | str], ...] = ()


@dataclass(frozen=True)
class RunContext:
    """What a strategy may know about its run besides the space: budgets and fidelities."""

    fidelities: tuple[int, ...]
    fidelity: int
    budget: int | None
    time_budget: float | None
    batch_size: int = 1


class Evaluator(ABC):
    """A blackbox: architectures in, Results out. Tabular and trained evaluators share it."""

    fidelities: tuple[int, ...] = ()
    default_fidelity: int = 0
    dataset: str = ""
    journal_fsync: bool = True
    """fsync each journaled batch; tabular lookups (free to redo) set False, see harness.journal."""

    @abstractmethod
    def evaluate(
        self, archs: Sequence[Arch], fidelity: int, bench_seeds: Sequence[int]
    ) -> list[Result]:
        """One Result per architecture. ``bench_seeds[i]`` = -1 asks for the mean over repeats."""

    def report_values(self, archs: Sequence[Arch], dataset: str, fidelity: int, metric: str) -> list[float] | None:
        """``metric`` ('val' or 'test', mean over repeats) of ``archs`` on ``dataset`` at ``fidelity``,
        for report columns (never shown to the strategy); None when the data lacks it.

        The default answers for the evaluator's own dataset; tabular benchmarks override it to read
        other entries (e.g. NB201 cifar10 train+valid test for a cifar10-valid search)."""
        if dataset != self.dataset or fidelity not in self.fidelities:
            return None
        results = self.evaluate(archs, fidelity, [-1] * len(archs))
        return [r.val_acc if metric == "val" else r.test_acc for r in results]

    def report_missing(self, dataset: str, fidelity: int, metric: str) -> str | None:
        """Why ``report_values`` cannot answer (with the fix), or None when it can."""
        if dataset != self.dataset or fidelity not in self.fidelities:
            return f"{dataset} {metric} at {fidelity} epochs is not available from this evaluator"
        return None

    def n_repeats(self, fidelity: int) -> int:
        """How many benchmark repeats exist at ``fidelity`` (for per-query repeat draws)."""
        return 1

    def describe(self) -> dict:
        """Identifies the evaluator and its data (written to manifests)."""
        return {}
