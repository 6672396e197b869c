"""Values no benchmark can hold, found the same way by every importer and every ``data verify``.

Accuracies are percent (0-100) and costs seconds everywhere in the harness. An imported NaN,
infinity, negative value, accuracy above 100 %, or a whole accuracy column within 0..1 (fractions
where percent is expected) would not stop a run: it would give wrong numbers, or every query
failing, with exit 0. Importers raise a one-line ``DataCorrupt`` naming the file, the row and the
column; ``verify`` lists the same findings as problems.

NaN is "absent" or "impossible" depending on the source: a merged or partial table has no value
for some cells, while a source that documents a value for every cell (e.g. NAS-Landscapes'
``valid-accuracy``) never holds NaN; the caller says which with ``required``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from harness.errors import DataCorrupt

PERCENT = "percent"
SECONDS = "seconds"
_WHAT = {PERCENT: "accuracy", SECONDS: "time"}
FIX = "the file is corrupt or not the documented layout; fix it or download it again"


def first_impossible(values, unit: str, *, required: bool = False) -> tuple[int, str] | None:
    """(position, reason) of the first value a ``unit`` column cannot hold, in row order; None if none."""
    x = np.asarray(values, dtype=np.float64)
    what = _WHAT[unit]
    bad = np.isinf(x) | (x < 0)
    if unit == PERCENT:
        bad |= x > 100
    if required:
        bad |= np.isnan(x)
    if not bad.any():
        return None
    i = int(np.argmax(bad))
    v = float(x[i])
    if np.isnan(v):
        return i, f"no {what} (NaN) where the source always has one"
    if np.isinf(v):
        return i, f"infinite {what} {v}"
    if v < 0:
        return i, f"negative {what} {v:g}"
    return i, f"accuracy {v:g} % is above 100"


def looks_like_fractions(values) -> bool:
    """Whether every known value of an accuracy column lies in 0..1: fractions, not percent.

    Real percent columns never do (NB201's lowest, ImageNet16-120, still peaks above 40 %).
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    return len(x) > 0 and bool(((x >= 0) & (x <= 1)).all())


def column_problem(values, unit: str, *, required: bool = False) -> tuple[int | None, str] | None:
    """The first problem of one column: (row position or None for the whole column, reason)."""
    found = first_impossible(values, unit, required=required)
    if found is not None:
        return found
    if unit == PERCENT and looks_like_fractions(values):
        return None, "every value lies in 0..1: fractions where percent is expected"
    return None


def check_column(values, unit: str, *, file: str, column: str, where: Callable[[int], str],
                 required: bool = False) -> None:
    """Raise a one-line ``DataCorrupt`` for the first problem of a column read from ``file``.

    ``where(i)`` names row position ``i`` as the user finds it: ``data row 7`` or ``cell <key>``.
    """
    problem = column_problem(values, unit, required=required)
    if problem is None:
        return
    i, reason = problem
    at = f"column {column}" if i is None else f"{where(i)}, column {column}"
    raise DataCorrupt(f"{file}: {at}: {reason}; {FIX}")
