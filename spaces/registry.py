"""Every search space the harness knows, its datasets, benchmark data and default budget."""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from harness.errors import HarnessError
from harness.evaluation import Evaluator
from spaces.base import SearchSpace


def _resolve(target: str):
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class SpaceEntry:
    """A space, the evaluator factory for its data, and its defaults (with their sources)."""

    name: str
    description: str
    space: str  # "module:Class" of the pure SearchSpace
    evaluator: str  # "module:function(dataset, data_dir, space) -> Evaluator"
    benchmark: str  # data-table name in the data dir ("" for trained spaces)
    datasets: tuple[str, ...]
    default_budget: int
    default_fidelity: int
    fidelities: tuple[int, ...]
    budget_source: str

    def make_space(self) -> SearchSpace:
        return _resolve(self.space)()

    def make_evaluator(self, dataset: str, data_dir, space: SearchSpace) -> Evaluator:
        return _resolve(self.evaluator)(dataset, data_dir, space)

    def check_dataset(self, dataset: str) -> None:
        if dataset not in self.datasets:
            raise HarnessError(
                f"unknown dataset {dataset!r} for space {self.name}; valid: {', '.join(self.datasets)}"
            )


SPACES: dict[str, SpaceEntry] = {
    "nb201": SpaceEntry(
        name="nb201",
        description="NAS-Bench-201 / NATS-Bench topology: 15,625 cells, ops on 6 edges",
        space="spaces.nb201:NB201Space",
        evaluator="spaces.nb201_data:make_evaluator",
        benchmark="nb201",
        datasets=("cifar10-valid", "cifar100", "ImageNet16-120"),
        default_budget=150,
        default_fidelity=200,
        fidelities=(12, 200),
        budget_source="150 queries: White et al. 2021 (BANANAS) NB201 setting; GraphPNAS paper §4.3",
    ),
    "nb101": SpaceEntry(
        name="nb101",
        description="NAS-Bench-101: 423,624 cells of <= 7 nodes and <= 9 edges",
        space="spaces.nb101:NB101Space",
        evaluator="spaces.nb101_data:make_evaluator",
        benchmark="nb101",
        datasets=("cifar10",),
        default_budget=300,
        default_fidelity=108,
        fidelities=(4, 12, 36, 108),
        budget_source="300 queries: GraphPNAS paper Table 4; White et al. 2021 (BANANAS)",
    ),
}


def get_space_entry(name: str) -> SpaceEntry:
    try:
        return SPACES[name]
    except KeyError:
        raise HarnessError(f"unknown space {name!r}; valid: {', '.join(sorted(SPACES))}") from None
