"""Fig. 2: best error (or regret) vs queries and vs simulated time, mean and 95 % band over seeds; and
the mean rank of each strategy over the budget.

A strategy's mean is drawn only where every one of its seeds has a value: vs queries up to its shortest
run, vs time from its last seed's first result on (each run's incumbent carried forward, also after the
run ended: it is the best that run found within that much training time). A mean over the seeds that
happen to have started would rise whenever a slow seed enters it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from blackboxes.registry import get_benchmark
from harness.errors import HarnessError
from harness.report import stats
from harness.report.incumbent import RUN_KEYS
from harness.report.plotting import (NotDrawn, line_style, log_ticks, plain_linear, plain_ticks, plt, save_figure,
                                     strategy_panels, strategy_style)

METRICS = (("inc_val", "validation"), ("inc_report_test", "test"))


def curve_frame(inc: pd.DataFrame, x: str, grid: np.ndarray, metric: str) -> pd.DataFrame:
    """Each run's incumbent ``metric`` at every grid point of ``x`` (step function, NaN before the first;
    vs queries also NaN after the run's last query)."""
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
    """Mean and normal 95 % band over seeds, NaN wherever a seed of that strategy has no value."""
    seeds = frame.groupby("strategy")["seed"].nunique()
    g = frame.groupby(["strategy", "x"], sort=True)["y"]
    out = g.agg(["mean", "std", "count"]).reset_index()
    complete = out["count"].to_numpy() == out["strategy"].map(seeds).to_numpy()
    sem = out["std"].fillna(0) / np.sqrt(out["count"].clip(lower=1))
    out["low"], out["high"] = out["mean"] - 1.96 * sem, out["mean"] + 1.96 * sem
    out.loc[~complete, ["mean", "low", "high"]] = np.nan
    return out


def _finite(values: pd.Series) -> pd.Series:
    return values.where(np.isfinite(values.to_numpy(float)))


def featured_strategies(inc: pd.DataFrame) -> tuple[str, ...]:
    """The space's paper comparison (its benchmark's default strategies): the first panel of a crowded figure."""
    try:
        return get_benchmark(str(inc["space"].iloc[0])).default_strategies
    except HarnessError:
        return ()


def _frame_y(ax, band: pd.DataFrame, start: float, regret: bool) -> None:
    """Plain ticks framing the part of the race that separates the strategies (from ``start`` on)."""
    late = band.loc[band["x"] >= start, "mean"].dropna()
    late = late if len(late) else band["mean"].dropna()
    if regret:
        positive = band["mean"][band["mean"] > 0].dropna()
        floor = 10.0 ** np.floor(np.log10(positive.min())) if len(positive) else 0.01
        floor = float(np.clip(floor, 1e-3, 1.0))
        top = max(float(late.max()) * 1.6, floor * 2)
        ax.set_yscale("symlog", linthresh=floor, linscale=0.4)
        ax.set_ylim(0, top)
        plain_ticks(ax.yaxis, [0.0] + log_ticks(floor, top))
    else:
        lo, hi = float(late.min()), float(late.max())
        pad = (hi - lo) * 0.12 or 0.5
        ax.set_ylim(lo - pad, hi + pad)
        plain_linear(ax.yaxis)


def _bands(inc: pd.DataFrame, x: str, grid: np.ndarray, metric: str, optimum: float | None) -> tuple[pd.DataFrame, bool]:
    """Mean bands of error (100 - accuracy) or, with a known optimum every value respects, of regret."""
    values = inc[metric]
    regret = optimum is not None and bool((values.dropna() <= optimum + 1e-9).all())
    y = (optimum - values) if regret else (100.0 - values)
    band = mean_band(curve_frame(inc.assign(**{metric: y}), x, grid, metric))
    band[["mean", "low", "high"]] = band[["mean", "low", "high"]].apply(_finite)  # overflowed means
    if regret:
        band["low"] = band["low"].clip(lower=0)
    return band, regret


def plot_curves(inc: pd.DataFrame, title: str, out: Path, stem: str, optima: dict[str, float] | None = None) -> list[Path]:
    """Search-reward and test error of the incumbent vs queries, and vs time: one column per metric, one
    row per panel of at most ``MAX_CURVES`` strategies (``strategy_panels``). With a known optimum
    (``optima``, percent, by metric) the y axis is regret on a log scale (linear near 0); otherwise the
    error on a linear scale. Infinite accuracies or costs are left out like missing ones."""
    optima = optima or {}
    written = []
    inc = inc.assign(**{c: _finite(inc[c]) for c in ("inc_val", "inc_report_test", "cost_cum_s")})
    metrics = [(m, lab) for m, lab in METRICS if inc[m].notna().any()]
    if not metrics:
        raise NotDrawn("no run has a finite validation or test accuracy")
    panels = strategy_panels(inc["strategy"].unique(), featured_strategies(inc))
    axes_specs = [("queries_charged", "queries", np.arange(1, int(inc["queries_charged"].max()) + 1), False)]
    positive = inc.loc[inc["cost_cum_s"] > 0, "cost_cum_s"]
    if len(positive):
        tmin, tmax = float(positive.min()), float(inc.groupby(RUN_KEYS)["cost_cum_s"].max().max())
        if tmax > tmin:
            axes_specs.append(("cost_cum_s", "simulated training time (s)", np.geomspace(tmin, tmax, 200), True))
    for x, xlabel, grid, logx in axes_specs:
        bands = {m: _bands(inc, x, grid, m, optima.get(m)) for m, _ in metrics}
        fig = plt.figure(layout="constrained", figsize=(3.0 * len(metrics) + 1.3, 0.4 + 2.3 * len(panels)))
        axes = fig.subplots(len(panels), len(metrics), squeeze=False, sharex=True)
        for row, names in zip(axes, panels):
            for ax, (metric, label) in zip(row, metrics):
                band, regret = bands[metric]
                for strategy in names:
                    b = band[band["strategy"] == strategy]
                    style = line_style(strategy)
                    ax.plot(b["x"], b["mean"], label=strategy, **style)
                    ax.fill_between(b["x"], b["low"], b["high"], color=style["color"], alpha=0.1, linewidth=0)
                # every strategy: the rows of a column share one scale; vs time (log) from its middle on
                _frame_y(ax, band, grid[len(grid) // (3 if logx else 10)], regret)
                ax.set_ylabel(f"{label} regret (%)" if regret else f"{label} error (%)")
                if logx:
                    ax.set_xscale("log")
                    plain_ticks(ax.xaxis, log_ticks(grid[0], grid[-1]))
                else:
                    plain_linear(ax.xaxis, integer=True)
                ax.grid(True, alpha=0.3)
            row[-1].legend(fontsize=6, frameon=False, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        for ax in axes[-1]:
            ax.set_xlabel(xlabel)
        for ax, (metric, label) in zip(axes[0], metrics):
            regret = bands[metric][1]
            ax.set_title(f"{label}: best in table ({optima[metric]:.2f} %) − incumbent" if regret
                         else f"{label} error of the incumbent", fontsize=7)
        fig.suptitle(title, fontsize=8)
        name = f"{stem}_vs_{'queries' if x == 'queries_charged' else 'time'}"
        written += save_figure(fig, out / name)
    return written


def plot_ranks(inc: pd.DataFrame, metric: str, out: Path, stem: str, title: str) -> list[Path]:
    """Mean rank over seeds (1 = best, among all strategies) at ten budgets, in panels of at most
    ``MAX_CURVES`` strategies with the legend beside the lines."""
    inc = inc.assign(**{metric: _finite(inc[metric])})
    top = int(inc["queries_charged"].max())
    checkpoints = sorted({max(1, int(round(x))) for x in np.linspace(top / 10, top, 10)})
    ranks = stats.ranks_over_budget(inc, metric, checkpoints)
    if ranks.empty or ranks["strategy"].nunique() < 2:
        return []
    n = ranks["strategy"].nunique()
    panels = strategy_panels(ranks["strategy"].unique(), featured_strategies(inc))
    fig = plt.figure(layout="constrained", figsize=(4.6, 0.4 + 2.2 * len(panels)))
    axes = fig.subplots(len(panels), 1, squeeze=False, sharex=True, sharey=True)[:, 0]
    for ax, names in zip(axes, panels):
        for strategy in names:
            r = ranks[ranks["strategy"] == strategy]
            ax.plot(r["checkpoint"], r["mean_rank"], markersize=3, label=strategy, **strategy_style(strategy))
        ax.set_ylabel(f"mean rank of {n} (1 = best)")
        ax.legend(fontsize=6, frameon=False, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        plain_ticks(ax.yaxis, range(1, n + 1, -(-n // 6)))
        ax.set_ylim(n + 0.5, 0.5)
    plain_linear(axes[-1].xaxis, integer=True)
    axes[-1].set_xlabel("queries")
    fig.suptitle(title, fontsize=8)
    return save_figure(fig, out / stem)
