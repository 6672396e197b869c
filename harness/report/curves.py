"""Fig. 2: best error vs queries (and vs simulated time), mean and 95 % band over seeds."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.report.incumbent import RUN_KEYS
from harness.report.plotting import NotDrawn, plt, save_figure


def curve_frame(inc: pd.DataFrame, x: str, grid: np.ndarray, metric: str) -> pd.DataFrame:
    """Each run's incumbent ``metric`` at every grid point of ``x`` (step function, NaN before the first)."""
    rows = []
    for key, run in inc.groupby(RUN_KEYS, sort=True):
        xs = run[x].to_numpy(float)
        vals = run[metric].to_numpy(float)
        idx = np.searchsorted(xs, grid, side="right") - 1
        y = np.where(idx >= 0, vals[np.clip(idx, 0, None)], np.nan)
        y = np.where(grid <= xs.max(), y, np.nan) if x == "queries_charged" else y
        rows.append(pd.DataFrame({"strategy": key[3], "seed": key[4], "x": grid, "y": y}))
    return pd.concat(rows, ignore_index=True)


def mean_band(frame: pd.DataFrame) -> pd.DataFrame:
    g = frame.groupby(["strategy", "x"], sort=True)["y"]
    out = g.agg(["mean", "std", "count"]).reset_index()
    sem = out["std"].fillna(0) / np.sqrt(out["count"].clip(lower=1))
    out["low"], out["high"] = out["mean"] - 1.96 * sem, out["mean"] + 1.96 * sem
    return out


def _finite(values: pd.Series) -> pd.Series:
    return values.where(np.isfinite(values.to_numpy(float)))


def plot_curves(inc: pd.DataFrame, title: str, out: Path, stem: str) -> list[Path]:
    """Two panels (search-reward error, test error of the incumbent) vs queries; and vs time.

    Infinite accuracies or costs are left out like missing ones (they have no place on an axis); a log
    axis is used only when every error drawn is positive (an accuracy of 100 % has error 0)."""
    written = []
    inc = inc.assign(**{c: _finite(inc[c]) for c in ("inc_val", "inc_report_test", "cost_cum_s")})
    panels = [("inc_val", "validation error of incumbent (%)"), ("inc_report_test", "test error of incumbent (%)")]
    panels = [(m, lab) for m, lab in panels if inc[m].notna().any()]
    if not panels:
        raise NotDrawn("no run has a finite validation or test accuracy")
    axes_specs = [("queries_charged", "queries", np.arange(1, int(inc["queries_charged"].max()) + 1), False)]
    if inc["cost_cum_s"].max() > 0:
        tmax = float(inc.groupby(RUN_KEYS)["cost_cum_s"].max().min())
        tmin = float(inc.loc[inc["cost_cum_s"] > 0, "cost_cum_s"].min())
        if tmax > tmin:
            axes_specs.append(("cost_cum_s", "simulated training time (s)", np.geomspace(tmin, tmax, 200), True))
    for x, xlabel, grid, logx in axes_specs:
        fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 2.8), squeeze=False)
        for ax, (metric, ylabel) in zip(axes[0], panels):
            band = mean_band(curve_frame(inc.assign(**{metric: 100.0 - inc[metric]}), x, grid, metric))
            band[["mean", "low", "high"]] = band[["mean", "low", "high"]].apply(_finite)  # overflowed means
            colours = plt.cm.tab20(np.linspace(0, 1, 20))
            for k, (strategy, b) in enumerate(band.groupby("strategy", sort=True)):
                line, = ax.plot(b["x"], b["mean"], label=strategy, linewidth=1.2, color=colours[(2 * k) % 20 + (k // 10) % 2],
                                linestyle=("-", "--", ":")[k % 3])
                ax.fill_between(b["x"], b["low"], b["high"], color=line.get_color(), alpha=0.12, linewidth=0)
            drawn = band["mean"].dropna()
            log = len(drawn) > 0 and bool((drawn > 0).all())
            late = band[band["x"] >= grid[len(grid) // 10]]["mean"].dropna()
            if len(late) and log:  # frame the part of the race that separates the strategies
                ax.set_ylim(late.min() * 0.97, late.max() * 1.08)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            if log:
                ax.set_yscale("log")
            if logx:
                ax.set_xscale("log")
            ax.grid(True, which="both", alpha=0.3)
        axes[0][-1].legend(fontsize=6, frameon=False, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        fig.suptitle(title, fontsize=8)
        fig.tight_layout()
        name = f"{stem}_vs_{'queries' if x == 'queries_charged' else 'time'}"
        written += save_figure(fig, out / name)
    return written
