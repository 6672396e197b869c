"""The learning-dynamics figure: how each seed's generator distribution moves during the search.

Reads the runs' ``seed=K.dynamics.parquet`` traces (``harness.dynamics``: the exact distribution over
an enumerable space every few queries) and draws, per traced strategy, entropy, the mass on the 10
best cells and the expected validation accuracy against queries, one line per seed. Each line is
coloured by the seed's final result (the report validation accuracy of its best-by-reward cell), so a
seed whose distribution collapsed onto a poor region stands out from the healthy ones. A trace is
believed only when it is a regular file whose sha256 is the one its run's manifest recorded and its
values are possible (``harness.dynamics.check_table``); the report says each other one in a line
(``harness.report.build``) and the caption counts them.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from harness import atomic
from harness.dynamics import check_table
from harness.report.plotting import NotDrawn, plain_linear, plt, save_figure

MAX_TRACE_BYTES = 16 << 20
"""A trace has a few dozen rows; anything larger is not one."""

PANELS = (("entropy_nats", "entropy of P (nats)"), ("mass_top10", "P(one of the 10 best cells)"),
          ("expected_val", "E_P[validation accuracy] (%)"))


def traced(manifests: dict, space: str, dataset: str, protocol: str) -> bool:
    """Whether any run of the table recorded a trace (the report draws the figure only then)."""
    return any(k[:3] == (space, dataset, protocol) and "dynamics_sha256" in m for k, m in manifests.items())


def _trace_path(results: Path, key: tuple) -> Path:
    space, dataset, _protocol, strategy, seed = key
    return Path(results) / space / dataset / strategy / f"seed={seed}.dynamics.parquet"



def load_traces(results: Path, manifests: dict, space: str, dataset: str, protocol: str) -> tuple[pd.DataFrame, list[str]]:
    """(one row per traced point: strategy, seed, query and the trace's columns; problems, one line each)."""
    frames, problems = [], []
    for key, m in sorted(manifests.items(), key=lambda kv: tuple(map(str, kv[0]))):
        if key[:3] != (space, dataset, protocol) or "dynamics_sha256" not in m:
            continue
        path = _trace_path(results, key)
        name = f"{key[3]} seed={key[4]}"
        try:
            st = os.lstat(path)
        except OSError:
            problems.append(f"{name}: trace missing")
            continue
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_TRACE_BYTES:
            problems.append(f"{name}: trace is not a regular file of at most {MAX_TRACE_BYTES >> 20} MiB")
            continue
        if atomic.sha256_file(path) != m["dynamics_sha256"]:
            problems.append(f"{name}: trace does not match its manifest's sha256")
            continue
        try:
            table = pq.read_table(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a damaged file
            problems.append(f"{name}: trace unreadable ({type(exc).__name__})")
            continue
        why = check_table(table)
        if why:
            problems.append(f"{name}: trace {why}")
            continue
        df = table.to_pandas()
        df.insert(0, "seed", key[4])
        df.insert(0, "strategy", key[3])
        frames.append(df)
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), problems


def worst_seeds(traces: pd.DataFrame, colour_of: dict, strategy: str, k: int = 2) -> list[int]:
    """The ``k`` seeds of ``strategy`` with the lowest final result, when they are below the
    strategy's median by more than 0.1 point (a table's grid of values; otherwise none stands out)."""
    finals = pd.Series({seed: colour_of.get((strategy, seed), np.nan) for seed in traces["seed"].unique()}).dropna()
    if len(finals) < 3:
        return []
    low = finals[finals < finals.median() - 0.1].sort_values()
    return [int(s) for s in low.index[:k]]


def plot_dynamics(traces: pd.DataFrame, final: pd.DataFrame, problems: list[str], title: str, out: Path,
                  stem: str) -> list[Path]:
    """One row of panels per traced strategy; ``final``: strategy, seed, inc_report_val (the colour)."""
    if traces.empty:
        raise NotDrawn("no run of this table has a learning-dynamics trace"
                       + (f" ({problems[0]}{' and more' if len(problems) > 1 else ''})" if problems else ""))
    strategies = sorted(traces["strategy"].unique())
    colour_of = {(r.strategy, r.seed): r.inc_report_val for r in final.itertuples()}
    values = np.array([v for v in colour_of.values() if np.isfinite(v)])
    lo, hi = (values.min(), values.max()) if len(values) else (0.0, 1.0)
    if hi - lo < 0.5:  # a scale of at least half a point, so near-equal seeds do not get opposite colours
        lo, hi = (lo + hi) / 2 - 0.25, (lo + hi) / 2 + 0.25
    norm = plt.Normalize(lo, hi)
    cmap = plt.get_cmap("viridis")
    fig, axes = plt.subplots(len(strategies), len(PANELS), figsize=(9, 2.3 * len(strategies) + 0.6),
                             squeeze=False, layout="constrained")
    for r, strategy in enumerate(strategies):
        s = traces[traces["strategy"] == strategy]
        for c, (column, label) in enumerate(PANELS):
            ax = axes[r][c]
            for seed, g in s.groupby("seed", sort=True):
                v = colour_of.get((strategy, seed), np.nan)
                ax.plot(g["query"], g[column], lw=1.0, alpha=0.85, marker=".", ms=3,
                        color=cmap(norm(v)) if np.isfinite(v) else "#999999")
            if column == "mass_top10":
                ax.set_ylim(-0.02, 1.02)
            if column == "expected_val":  # name the seeds that ended worst: the ones to look at
                for seed in worst_seeds(s, colour_of, strategy):
                    last = s[s["seed"] == seed].iloc[-1]
                    ax.annotate(f"seed {seed}", (last["query"], last[column]), fontsize=6, xytext=(2, 0),
                                textcoords="offset points", va="center")
            ax.set_title(f"{strategy}: {label}", fontsize=8)
            ax.set_xlabel("queries")
            plain_linear(ax.xaxis, integer=True)
    bar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, shrink=0.8,
                       label="seed's final validation accuracy (%)")
    plain_linear(bar.ax.yaxis)
    n_seeds = traces.groupby("strategy")["seed"].nunique()
    caption = f"{title}: exact distribution during the search, one line per seed (" + \
        ", ".join(f"{k} {v}" for k, v in n_seeds.items()) + ")"
    if problems:
        caption += f"; {len(problems)} trace(s) left out"
    fig.suptitle(caption, fontsize=8)
    return save_figure(fig, out / stem)
