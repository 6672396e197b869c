"""D-VAE's 6-layer ENAS macro table (Zhang et al. 2019): 20,015 architectures with the CIFAR-10
validation accuracy of a pretrained weight-sharing supernet. Importable and verifiable, with
lookups (``table.Enas6Evaluator``), but not searchable (see ``not_runnable``)."""
from __future__ import annotations

from blackboxes.entry import Benchmark

HOW_TO_GET = ("import it with `python -m harness data import enas6 final_structures6.txt` (D-VAE, "
              "github muhanzhang/D-VAE data/final_structures6.txt)")

BENCHMARK = Benchmark(
    name="enas6",
    description="ENAS macro, 6 layers: D-VAE's 20,015 architectures with supernet accuracy",
    space="spaces.enas:Enas6Space",
    evaluator="blackboxes.enas6.table:make_evaluator",
    datasets=("cifar10",),
    default_budget=100,
    budget_source="none: not searchable",
    default_fidelity=1,
    fidelities=(1,),
    table=True,
    importer="blackboxes.enas6.table",
    how_to_get=HOW_TO_GET,
    not_runnable="its table scores 20,015 of the space's 1.5e9 architectures (0.001 %), so a search would "
    "query unscored cells almost always; use `--space enas` (the 12-layer space with a supernet) to search, "
    "and this table to study predictors or generators offline",
)
