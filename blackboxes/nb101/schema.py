"""NB101 table columns and facts of the benchmark that importers, verify and the evaluator share."""
from __future__ import annotations

import re

BENCHMARK = "nb101"
N_CELLS = 423_624
"""Unique cells of NAS-Bench-101 (Ying et al. 2019, §2.2)."""
EPOCHS = (4, 12, 36, 108)
REPEATS = 3
METRICS = ("val", "test", "train_s")
BEST_MEAN_TEST = 94.32
"""Best mean (over repeats) 108-epoch test accuracy of the full benchmark (FORMAT notes; PROVENANCE
cites an independent Pareto-front file: min test error 5.68%)."""
CSV_COLUMNS = (
    "module_hash", "val_acc_4ep", "val_acc_12ep", "val_acc_36ep", "val_acc_108ep",
    "final_training_time_108ep", "trainable_parameters", "adjacency_pruned", "operations_pruned",
)
FINAL_KEYS = ("final_validation_accuracy", "final_test_accuracy", "final_training_time")
"""The API's computed-statistics keys we import (``nasbench/api.py::NASBench.__init__``)."""

HASH_RE = re.compile(r"^[0-9a-f]{32}$")
COLUMN_RE = re.compile(r"^(val|test|train_s)@(\d+)/r(\d)$")


def column(metric: str, epochs: int, repeat: int) -> str:
    """Harness column name, e.g. ``val@108/r0``."""
    return f"{metric}@{epochs}/r{repeat}"

HOW_TO_GET = (
    "import it with `python -m harness data import nb101 <nasbench_only108.tfrecord | "
    "nasbench_only108.pkl>` or `python -m harness data fetch nb101` (or search trained cells without it: "
    "`--dataset digits`)"
)
"""What to do when the NB101 table is missing (printed after "no nb101 table in <dir>; ")."""
