"""Incumbents: the best-by-validation architecture so far and its report-fidelity accuracies.

The strategy is rewarded with ``val_acc``; the incumbent is the first row with the highest
``val_acc`` among ok/duplicate rows at the run's search fidelity so far (multi-fidelity strategies
such as BOHB also query cheaper fidelities, whose accuracies are not comparable), and tables show that row's ``report_val_acc`` and
``report_test_acc`` -- never the best test accuracy seen (which no searcher could pick).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

RUN_KEYS = ["space", "dataset", "protocol", "strategy", "seed"]


def incumbents(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per trajectory row with the incumbent's columns (``inc_*``) up to and including it."""
    out = []
    for _, run in rows.sort_values(RUN_KEYS + ["query"]).groupby(RUN_KEYS, sort=True):
        val = run["val_acc"].to_numpy(dtype=float)
        usable = run["status"].isin(["ok", "duplicate"]).to_numpy() & np.isfinite(val)
        if "run_fidelity" in run:
            usable &= (run["fidelity"] == run["run_fidelity"]).to_numpy()
        score = np.where(usable, val, -np.inf)
        best_idx = np.empty(len(score), dtype=np.int64)
        best, arg = -np.inf, -1
        for i, s in enumerate(score):
            if s > best:
                best, arg = s, i
            best_idx[i] = arg
        has = best_idx >= 0
        safe = np.where(has, best_idx, 0)
        frame = run[RUN_KEYS + ["query", "queries_charged", "cost_cum_s"]].copy()
        frame["inc_val"] = np.where(has, val[safe], np.nan)
        frame["inc_report_val"] = np.where(has, run["report_val_acc"].to_numpy(float)[safe], np.nan)
        frame["inc_report_test"] = np.where(has, run["report_test_acc"].to_numpy(float)[safe], np.nan)
        frame["inc_arch"] = np.where(has, run["arch"].to_numpy()[safe], "")
        out.append(frame)
    return pd.concat(out, ignore_index=True)


def at_checkpoint(inc: pd.DataFrame, queries: int | None) -> pd.DataFrame:
    """Each run's incumbent after ``queries`` charged queries (None: at the end of the run).

    A run that stopped before the checkpoint gets ``reached = False`` (it must be flagged)."""
    rows = []
    for key, run in inc.groupby(RUN_KEYS, sort=True):
        total = int(run["queries_charged"].max())
        sel = run if queries is None else run[run["queries_charged"] <= queries]
        last = sel.iloc[-1] if len(sel) else run.iloc[0]
        rows.append(dict(zip(RUN_KEYS, key), checkpoint=queries if queries is not None else total,
                         reached=queries is None or total >= queries, queries=total,
                         inc_val=last["inc_val"], inc_report_val=last["inc_report_val"],
                         inc_report_test=last["inc_report_test"], inc_arch=last["inc_arch"]))
    return pd.DataFrame(rows)
