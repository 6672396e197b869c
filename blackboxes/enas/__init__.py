"""ENAS macro search (Pham et al. 2018) with a weight-sharing supernet evaluator: ``model`` (the
supernet's layers), ``supernet`` (the stateful evaluator that trains it between search steps)."""
from __future__ import annotations

from blackboxes.entry import Benchmark

BENCHMARK = Benchmark(
    name="enas",
    description="ENAS macro (Pham et al. 2018): 12 layers, 6 ops, searched skips, 1.6e29 networks; "
    "weight-sharing supernet evaluator",
    space="spaces.enas:EnasSpace",
    evaluator="blackboxes.enas.supernet:make_evaluator",
    datasets=("digits", "cifar10"),
    default_budget=30_000,
    default_fidelity=5,
    fidelities=(1, 5),
    budget_source="GraphPNAS §4.2 / App. E: 300 search steps x ~100 architectures, strategy updated every "
    "5 supernet epochs (fidelity = supernet epochs per step)",
    default_batch_size=100,
    default_strategies=("rnn", "graphpnas"),
    defaults_source="GraphPNAS Table 3, ENAS macro block (the ENAS RNN controller and GraphPNAS)",
)
