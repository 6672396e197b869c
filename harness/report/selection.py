"""The paper's selection variants for random graph models (Table 1): TopK and BEST.

TopK: the K = 4 best architectures (by validation) that a graph model found during search, over
all its seeds; we report their mean/std validation and final (report-fidelity test) accuracy.
BEST: the graph-model hyper-parameter setting (ER p, WS (k, p), binned to 0.05) whose samples have
the highest mean validation accuracy (at least 2 samples); we report its samples' mean/std. The
hyper-parameters come from each row's ``extra`` column, recorded by the ER/WS strategies.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

GRAPH_MODEL_STRATEGIES = ("er", "ws")


def _params(extra: str) -> dict:
    try:
        return json.loads(extra) if extra else {}
    except ValueError:
        return {}


def _setting(p: dict) -> str | None:
    if "p" not in p:
        return None
    prob = round(round(float(p["p"]) / 0.05) * 0.05, 2)
    return f"k={int(p['k'])},p={prob:.2f}" if "k" in p else f"p={prob:.2f}"


def selection_variants(rows: pd.DataFrame, k: int = 4) -> pd.DataFrame:
    out = []
    ok = rows[rows["status"].isin(["ok"]) & rows["strategy"].isin(GRAPH_MODEL_STRATEGIES)]
    for strategy, g in ok.groupby("strategy", sort=True):
        top = g.sort_values(["val_acc", "seed", "query"], ascending=[False, True, True]).head(k)
        out.append(dict(variant=f"{strategy.upper()}-TopK", setting=f"top {k}", n=len(top),
                        val_mean=top["val_acc"].mean(), val_std=top["val_acc"].std(ddof=0),
                        final_mean=top["report_test_acc"].mean(), final_std=top["report_test_acc"].std(ddof=0)))
        settings = g["extra"].map(lambda e: _setting(_params(e)))
        g = g.assign(setting=settings).dropna(subset=["setting"])
        if g.empty:
            continue
        stats = g.groupby("setting")["val_acc"].agg(["mean", "count"])
        stats = stats[stats["count"] >= 2]
        if stats.empty:
            continue
        best = stats.sort_values(["mean"], ascending=False, kind="stable").index[0]
        s = g[g["setting"] == best]
        out.append(dict(variant=f"{strategy.upper()}-BEST", setting=best, n=len(s),
                        val_mean=s["val_acc"].mean(), val_std=s["val_acc"].std(ddof=0),
                        final_mean=s["report_test_acc"].mean(), final_std=s["report_test_acc"].std(ddof=0)))
    cols = ["variant", "setting", "n", "val_mean", "val_std", "final_mean", "final_std"]
    return pd.DataFrame(out, columns=cols).replace({np.nan: None}) if out else pd.DataFrame(columns=cols)
