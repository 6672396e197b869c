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
    default_batch_size: int = 1
    """Architectures per search step (ENAS's supernet scores ~100 per step)."""
    dataset_budgets: tuple[tuple[str, int], ...] = ()
    """Per-dataset default budgets overriding ``default_budget``."""
    space_for_dataset: str = ""
    """"module:function(dataset) -> SearchSpace" when the space's size depends on the dataset preset."""

    def make_space(self, dataset: str | None = None) -> SearchSpace:
        if dataset is not None and self.space_for_dataset:
            return _resolve(self.space_for_dataset)(dataset)
        return _resolve(self.space)()

    def budget_for(self, dataset: str) -> int:
        return dict(self.dataset_budgets).get(dataset, self.default_budget)

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
    "randwire": SpaceEntry(
        name="randwire",
        description="RandWire (Xie et al. 2019) cell graph shared by the last three stages, N = 32 nodes "
        "(8 on digits), ReLU-SepConv3x3-BN; low-data oracle trains every architecture",
        space="spaces.randwire:RandWireSpace",
        evaluator="spaces.randwire_oracle:make_low_data_oracle",
        benchmark="",
        datasets=("digits", "cifar10", "tiny-imagenet"),
        default_budget=320,
        dataset_budgets=(("digits", 4),),
        default_fidelity=0,
        fidelities=(),
        budget_source="GraphPNAS §4.1: ~320 oracle evaluations (40 steps x 8) on Tiny-ImageNet; digits: 4, sized "
        "so every strategy x 3 seeds finishes in minutes on 2 CPU cores (fidelity = training epochs, the "
        "evaluator's per-dataset default)",
        space_for_dataset="spaces.randwire_oracle:space_for_dataset",
    ),
    "enas": SpaceEntry(
        name="enas",
        description="ENAS macro (Pham et al. 2018): 12 layers, 6 ops, searched skips, 1.6e29 networks; "
        "weight-sharing supernet evaluator",
        space="spaces.enas:EnasSpace",
        evaluator="spaces.enas_supernet:make_evaluator",
        benchmark="",
        datasets=("digits", "cifar10"),
        default_budget=30_000,
        default_fidelity=5,
        fidelities=(1, 5),
        budget_source="GraphPNAS §4.2 / App. E: 300 search steps x ~100 architectures, strategy updated every "
        "5 supernet epochs (fidelity = supernet epochs per step)",
        default_batch_size=100,
    ),
}


def get_space_entry(name: str) -> SpaceEntry:
    try:
        return SPACES[name]
    except KeyError:
        raise HarnessError(f"unknown space {name!r}; valid: {', '.join(sorted(SPACES))}") from None
