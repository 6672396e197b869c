"""Learning dynamics: a generator's exact distribution, traced while it searches (issue #23).

Where a space can be enumerated (NB201: 15,625 cells, ``harness.exact.support``) a generative
strategy's probability of every cell is computable (``Strategy.dag_log_prob``). Every ``every``
queries, and once more when the run ends, the runner asks for it and keeps a few numbers of it —
entropy, mass on the 10 and the 1 % best cells, expected validation accuracy, rank and value of the
modal cell (``harness.exact.summarise``, cells ranked by the run's report validation column, as
the final phase ranks them) — as one row of ``seed=K.dynamics.parquet``. The report draws them per
seed (``harness.report.dynamics``), so a seed whose generator collapses onto a poor region is seen
as it happens, not guessed from its final number.

The trace is an instrument, not part of the experiment: it reads the table (which the strategy
never sees), it does not touch the strategy's random streams (``dag_log_prob`` is a pure function
of the model; tests/test_dynamics.py checks the trajectory is byte-identical with and without it),
its seconds are not charged to the strategy, and ``--trace-every`` is not in the run id.
"""
from __future__ import annotations

import math
import time

import numpy as np
import pyarrow as pa

from harness.contracts import Evaluator

DEFAULT_EVERY = 50
"""Queries between two traced points by default: 3 points in a 150-query NB201 run (50, 100, 150),
enough to tell a seed that collapsed from a healthy one; GraphPNAS's exact distribution costs ~0.6-1.2
CPU s a point here (the reference study: 1.2 s with two workers), against ~10 s for its whole
run. ``--trace-every 5`` for a close look at one seed."""

TRACE_SCHEMA = pa.schema([
    pa.field("query", pa.int32(), metadata={"doc": "queries told to the strategy when the point was taken"}),
    pa.field("entropy_nats", pa.float64()),
    pa.field("mass_top10", pa.float64(), metadata={"doc": "P(one of the 10 best cells by report validation)"}),
    pa.field("mass_top1pct", pa.float64()),
    pa.field("expected_val", pa.float64(), metadata={"doc": "E_P[report validation accuracy] (%)"}),
    pa.field("modal_rank", pa.int32()),
    pa.field("modal_val", pa.float64()),
    pa.field("invalid_mass", pa.float64()),
    pa.field("trace_s", pa.float64(), metadata={"doc": "seconds this point took (not charged to the strategy)"}),
])
FIELDS = ("entropy_nats", "mass_top10", "mass_top1pct", "expected_val", "modal_rank", "modal_val", "invalid_mass")


class DynamicsTrace:
    """The traced points of one run; ``maybe`` returns None where nothing can be traced."""

    def __init__(self, every: int, strategy, dags: list, valid: np.ndarray, val: np.ndarray, seed: int):
        self.every, self.strategy, self.dags, self.valid, self.val = every, strategy, dags, valid, val
        self.rng = np.random.default_rng(seed)  # dag_log_prob's argument; the tabular paths draw nothing
        self.rows: list[dict] = []

    @classmethod
    def maybe(cls, every: int | None, strategy, space: str, dataset: str, evaluator: Evaluator,
              report_val: tuple[str, int], seed: int) -> "DynamicsTrace | None":
        """A trace when ``every`` > 0, the strategy has a generative model and the space is
        enumerable (``harness.exact.enumerated``) by a table that knows every cell's report
        validation value."""
        from harness.exact import enumerated  # noqa: PLC0415 - imports the final phase, which imports the runner
        from strategies.base import Strategy  # noqa: PLC0415

        if not every or type(strategy).dag_log_prob is Strategy.dag_log_prob:
            return None
        support = enumerated(space, dataset)
        if support is None:
            return None
        _, dags, valid, cells = support
        try:
            val = np.asarray(evaluator.report_values(cells, report_val[0], int(report_val[1]), "val"), dtype=np.float64)
        except Exception:  # noqa: BLE001 - an evaluator that cannot look up every cell (trained spaces) is not traced
            return None
        if val.shape != (len(cells),) or not np.isfinite(val).all():
            return None
        return cls(every, strategy, dags, valid, val, seed)

    def after_tell(self, n_told: int, last: bool) -> None:
        """Take a point every ``every`` queries and at the run's end (each query count once)."""
        if not (n_told % self.every == 0 or last) or (self.rows and self.rows[-1]["query"] == n_told):
            return
        from harness.exact import summarise  # noqa: PLC0415

        t0 = time.perf_counter()
        log_p = self.strategy.dag_log_prob(self.dags, self.rng)
        if log_p is None:
            return
        s = summarise(np.asarray(log_p, dtype=np.float64), self.valid, self.val, self.val)
        row = {k: s[k] for k in FIELDS}
        row["query"], row["trace_s"] = n_told, time.perf_counter() - t0
        self.rows.append(row)

    def table(self) -> pa.Table:
        return pa.Table.from_pylist(self.rows, schema=TRACE_SCHEMA)


def check_table(table: pa.Table) -> str | None:
    """Why a stored trace cannot be believed (wrong columns, impossible values), or None."""
    if not set(TRACE_SCHEMA.names) <= set(table.column_names):
        return f"columns {sorted(set(TRACE_SCHEMA.names) - set(table.column_names))} missing"
    d = table.to_pydict()
    for name, lo, hi in (("mass_top10", 0, 1 + 1e-9), ("mass_top1pct", 0, 1 + 1e-9), ("invalid_mass", 0, 1 + 1e-9),
                         ("expected_val", 0, 100), ("modal_val", 0, 100), ("entropy_nats", 0, math.inf)):
        bad = [v for v in d[name] if v is None or not (lo <= v <= hi)]
        if bad:
            return f"{name} = {bad[0]} out of [{lo}, {hi}]"
    q = d["query"]
    if any(b <= a for a, b in zip(q, q[1:])) or any(v is None or v < 0 for v in q):
        return "query counts not increasing"
    return None
