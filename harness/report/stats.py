"""Statistics beyond the paper: bootstrap CIs, pairwise tests with Holm correction, ranks over budgets.

Seeds are the unit of replication: each run contributes one number (its incumbent at the budget).
The bootstrap uses a fixed SeedSequence so the same results give the same intervals.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import stats

BOOTSTRAP_SEED = 20_261_129
N_BOOTSTRAP = 10_000


def bootstrap_ci(values: np.ndarray, level: float = 0.95, n: int = N_BOOTSTRAP) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (deterministic)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan")
    if len(v) == 1:
        return float(v[0]), float(v[0])
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    means = v[rng.integers(0, len(v), size=(n, len(v)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone)."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p, kind="stable")
    m = len(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        adjusted[idx] = running
    return adjusted.tolist()


def summary_with_ci(points: pd.DataFrame, metric: str) -> pd.DataFrame:
    rows = []
    for strategy, g in points.groupby("strategy", sort=True):
        v = g[metric].to_numpy(float)
        v = v[np.isfinite(v)]  # the same values as the CI: n, mean and interval describe one sample
        lo, hi = bootstrap_ci(v)
        rows.append(dict(strategy=strategy, n=len(v), mean=float(v.mean()) if len(v) else float("nan"),
                         ci_low=lo, ci_high=hi))
    return pd.DataFrame(rows)


def pairwise_tests(points: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Two-sided Mann-Whitney U between every pair of strategies, Holm-corrected."""
    groups = {s: g[metric].to_numpy(float) for s, g in points.groupby("strategy", sort=True)}
    groups = {s: v[np.isfinite(v)] for s, v in groups.items()}
    rows = []
    for a, b in itertools.combinations(sorted(groups), 2):
        x, y = groups[a], groups[b]
        if len(x) < 2 or len(y) < 2:
            rows.append(dict(a=a, b=b, n_a=len(x), n_b=len(y), u=np.nan, p=np.nan))
            continue
        res = stats.mannwhitneyu(x, y, alternative="two-sided")
        rows.append(dict(a=a, b=b, n_a=len(x), n_b=len(y), u=float(res.statistic), p=float(res.pvalue)))
    df = pd.DataFrame(rows, columns=["a", "b", "n_a", "n_b", "u", "p"])
    finite = df["p"].notna()
    df["p_holm"] = np.nan
    if finite.any():
        df.loc[finite, "p_holm"] = holm(df.loc[finite, "p"].tolist())
    df["significant_5pct"] = df["p_holm"] < 0.05
    return df


def ranks_over_budget(inc: pd.DataFrame, metric: str, checkpoints: list[int]) -> pd.DataFrame:
    """Mean rank of each strategy (1 = best, higher metric better) over seeds, at each budget."""
    from harness.report.incumbent import at_checkpoint

    rows = []
    for q in checkpoints:
        pts = at_checkpoint(inc, q)
        pts = pts[pts["reached"]]
        wide = pts.pivot_table(index="seed", columns="strategy", values=metric)
        ranks = wide.rank(axis=1, ascending=False, method="average")
        for strategy, r in ranks.mean(axis=0).items():
            rows.append(dict(checkpoint=q, strategy=strategy, mean_rank=float(r)))
    return pd.DataFrame(rows)
