"""NB201 table columns and facts of the benchmark shared by the readers, verify and the evaluator."""
from __future__ import annotations

import re

from harness.data.values import PERCENT, SECONDS

DATASETS = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")
FIDELITIES = (12, 200)
METRICS = ("val", "test", "train_s", "eval_s")
BENCHMARK = "nb201"
KNOWN_OPTIMUM = ("cifar10-valid/val@200", 6111, 91.61)
"""NB201 paper: best cifar10-valid validation accuracy 91.61 (mean of seeds), cell index 6111."""

NATIVE_COLUMN = re.compile(r"^(%s)/(%s)@(\d+)$" % ("|".join(map(re.escape, DATASETS)), "|".join(METRICS)))
UNITS = {"val": PERCENT, "test": PERCENT, "train_s": SECONDS, "eval_s": SECONDS}
"""Accuracies in percent, costs in seconds (``harness.data.values`` checks both)."""


def unit_of(column: str) -> str | None:
    """The unit of a harness column such as ``cifar100/val@200``; None for other columns."""
    m = NATIVE_COLUMN.match(column)
    return UNITS[m.group(2)] if m else None

HOW_TO_GET = (
    "import it with `python -m harness data import nb201 <NATS-tss-v1_0-3ffb9-simple dir | "
    "nb201_*_full_training.pickle | table.csv ...>`, `python -m harness data import nb201 --embedded` "
    "(the table shipped with the harness) or `python -m harness data fetch nb201`"
)
"""What to do when the NB201 table is missing (printed after "no nb201 table in <dir>; ")."""
