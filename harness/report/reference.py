"""Reproduction status: our numbers next to published ones (published.csv, each row cited, with a
note where our protocol differs from the one that produced the number)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.report.incumbent import at_checkpoint

PUBLISHED = Path(__file__).with_name("published.csv")


def published() -> pd.DataFrame:
    return pd.read_csv(PUBLISHED, dtype={"checkpoint": "Int64", "note": str}, keep_default_na=False,
                       na_values={"checkpoint": [""], "std": [""]})


def reproduction_status(inc: pd.DataFrame, space: str, protocol: str) -> pd.DataFrame:
    """One row per published number of this space and protocol: ours, difference, within published std."""
    pub = published()
    pub = pub[(pub["space"] == space) & (pub["protocol"] == protocol)]
    rows = []
    for _, p in pub.iterrows():
        sub = inc[(inc["dataset"] == p["dataset"]) & (inc["strategy"] == p["strategy"])]
        base = dict(dataset=p["dataset"], strategy=p["strategy"], column=p["column"],
                    checkpoint="end" if pd.isna(p["checkpoint"]) else int(p["checkpoint"]),
                    published_mean=p["mean"], published_std=p["std"], source=p["source"], note=p["note"])
        if sub.empty:
            rows.append({**base, "ours_mean": np.nan, "ours_std": np.nan, "n": 0, "diff": np.nan,
                         "status": "not run"})
            continue
        pts = at_checkpoint(sub, None if pd.isna(p["checkpoint"]) else int(p["checkpoint"]))
        pts = pts[pts["reached"]]
        metric = "inc_report_val" if p["column"] == "validation" else "inc_report_test"
        vals = pts[metric].to_numpy(float)
        if p["column"] == "test error":
            vals = 100.0 - vals
        finite = vals[np.isfinite(vals)]
        if len(finite) == 0:
            rows.append({**base, "ours_mean": np.nan, "ours_std": np.nan, "n": 0, "diff": np.nan,
                         "status": "cannot compare: our data lacks this column (see the run manifests' report.missing)"})
            continue
        mean, std = float(finite.mean()), float(finite.std())
        diff = mean - float(p["mean"])
        if pd.isna(p["std"]):
            status = "published without std"
        else:
            status = "within published std" if abs(diff) <= float(p["std"]) else "outside published std"
        rows.append({**base, "ours_mean": mean, "ours_std": std, "n": len(finite), "diff": diff, "status": status})
    cols = ["dataset", "strategy", "column", "checkpoint", "published_mean", "published_std", "ours_mean",
            "ours_std", "n", "diff", "status", "source", "note"]
    return pd.DataFrame(rows, columns=cols)
