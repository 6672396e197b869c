"""RandWire (Xie et al. 2019) cells trained from scratch by the GraphPNAS oracles (§4.1): ``model``
(the network around a cell graph, Table 7 presets), ``oracle`` (low-data search oracle and
full-data final oracle, per-dataset settings)."""
from __future__ import annotations

from blackboxes.entry import Benchmark

BENCHMARK = Benchmark(
    name="randwire",
    description="RandWire (Xie et al. 2019) cell graph shared by the last three stages, N = 32 nodes "
    "(8 on digits), ReLU-SepConv3x3-BN; low-data oracle trains every architecture",
    space="spaces.randwire:RandWireSpace",
    evaluator="blackboxes.randwire.oracle:make_low_data_oracle",
    datasets=("digits", "cifar10", "tiny-imagenet"),
    default_budget=320,
    dataset_budgets=(("digits", 4),),
    default_fidelity=0,
    fidelities=(),
    budget_source="GraphPNAS §4.1: ~320 oracle evaluations (40 steps x 8) on Tiny-ImageNet; digits: 4, sized "
    "so every strategy x 3 seeds finishes in minutes on 2 CPU cores (fidelity = training epochs, the "
    "evaluator's per-dataset default)",
    space_for_dataset="blackboxes.randwire.oracle:space_for_dataset",
    default_strategies=("er", "ws", "rnn", "graphpnas"),
    defaults_source="GraphPNAS Table 1 (ER and WS random search, the RNN generator, GraphPNAS)",
)
