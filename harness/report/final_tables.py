"""The paper's after-the-search tables (GraphPNAS Tables 1, 2, 3, 6, 9), the figure of the final
samples' accuracies, and the exact-distribution table and figure, from ``seed=K.final.parquet`` /
``seed=K.exact.*`` (``harness.final``, ``harness.exact``).

Rows: a strategy's own proposals (``Strategy.recommend``: samples of its learned model, for ER/WS
the best setting found, i.e. ER-/WS-BEST; the best observed for strategies without a model) and,
where the final protocol asks for it, its best observed architectures (``-TopK`` / ``-Top1``).
Means and stds (population, as ``harness.report.tables``) pool every sample of every seed. A
strategy searched but without a final phase is listed with "—" in every column, never a stand-in.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness import atomic
from harness.report.plotting import NotDrawn, plt, save_figure, strategy_style
from harness.report.tables import ResultTable

NO_FINAL = "(no final phase)"
"""Placeholder column of a strategy without final rows: its table row then shows "—" everywhere."""


def load_final(results: Path, space: str, protocol: str, manifests: dict) -> pd.DataFrame:
    """Final rows of the group's complete runs whose final id matches their manifest (others are ignored)."""
    frames = []
    for (sp, ds, prot, strategy, seed), _ in sorted(manifests.items()):
        if sp != space or prot != protocol:
            continue
        base = Path(results) / sp / ds / strategy
        parquet, manifest = base / f"seed={seed}.final.parquet", base / f"seed={seed}.final.json"
        if not parquet.is_file() or not manifest.is_file():
            continue
        import json

        m = json.loads(manifest.read_text())
        if m.get("status") != "complete" or atomic.sha256_file(parquet) != m.get("parquet_sha256"):
            continue
        frames.append(atomic.read_parquet(parquet).to_pandas())
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _label(strategy: str, selection: str, top: str) -> str:
    if selection == "top":
        return f"{strategy}-{top}"
    return f"{strategy}-BEST" if strategy in ("er", "ws") else strategy


def _cell(rows: list, label: str, column: str, values) -> None:
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    rows.append(dict(strategy=label, column=column, mean=float(v.mean()) if len(v) else np.nan,
                     std=float(v.std()) if len(v) else np.nan, n=len(v), flag=""))


def _per_sample(df: pd.DataFrame, stage: str, metric: str) -> pd.Series:
    """One value per (strategy, seed, selection, sample): the mean over the stage's repeats."""
    d = df[(df["stage"] == stage) & (df["status"] == "ok")]
    return d.groupby(["strategy", "seed", "selection", "sample"])[metric].mean()


def _missing_rows(cells: list, searched: set[str], final: pd.DataFrame) -> None:
    have = set(final["strategy"]) if len(final) else set()
    for s in sorted(searched - have):
        cells.append(dict(strategy=s, column=NO_FINAL, mean=np.nan, std=np.nan, n=0, flag=""))


def _frame(cells: list) -> pd.DataFrame:
    return pd.DataFrame(cells, columns=["strategy", "column", "mean", "std", "n", "flag"])


def table1(final: pd.DataFrame, searched: set[str], search_cost_h: dict[str, list[float]], caption: str) -> ResultTable:
    cols = ["Low Data (Search) val", "Full Data (Final) val", "Full Data (Final) test", "search cost (h)"]
    cells: list = []
    for (strategy, selection), g in (final.groupby(["strategy", "selection"]) if len(final) else []):
        label = _label(strategy, selection, "TopK")
        _cell(cells, label, cols[0], _per_sample(g, "search", "val_acc"))
        _cell(cells, label, cols[1], _per_sample(g, "final", "val_acc"))
        _cell(cells, label, cols[2], _per_sample(g, "final", "test_acc"))
        _cell(cells, label, cols[3], search_cost_h.get(strategy, []))
    _missing_rows(cells, searched, final)
    no_search = sorted(set(final["strategy"]) - set(final.loc[final["stage"] == "search", "strategy"])) if len(final) else []
    why = (f" Low Data (Search) n/a for {', '.join(no_search)}: the search's evaluator cannot score new samples after the "
           f"search (a weight-sharing supernet whose final weights are not kept)." if no_search else "")
    return ResultTable("final_table1", "Table 1: samples after the search, low-data reward vs. full-data re-training",
                       caption + " Avg ± std over every sample of every seed; final = mean over its repeats; -TopK = "
                       "the best architectures found during the search, -BEST = samples of the best ER/WS setting; "
                       "search cost = simulated (table) or measured (trained) training hours of the search, "
                       "± over seeds." + why, _frame(cells), cols)


def table2(final: pd.DataFrame, searched: set[str], caption: str) -> ResultTable:
    cols = ["params (M)", "top-1 final test", "top-1 final val"]
    cells: list = []
    for (strategy, selection), g in (final.groupby(["strategy", "selection"]) if len(final) else []):
        label = _label(strategy, selection, "Top1")
        fin = g[(g["stage"] == "final") & (g["status"] == "ok")]
        if fin.empty:
            continue
        params, tests, vals = [], [], []
        for _, s in fin.groupby("seed"):
            best = s.groupby("sample")["val_acc"].mean().idxmax()
            b = s[s["sample"] == best]
            params.append(b["params"].iloc[0] / 1e6)
            tests += list(b["test_acc"])
            vals += list(b["val_acc"])
        _cell(cells, label, cols[0], params)
        _cell(cells, label, cols[1], tests)
        _cell(cells, label, cols[2], vals)
    _missing_rows(cells, searched, final)
    return ResultTable("final_table2", "Table 2: the best of the samples, re-trained (every repeat its own seed)",
                       caption + " Per seed the sample with the best mean final validation; ± over its repeats and "
                       "the seeds. Top-5 accuracy is not recorded by the harness's oracles (—).", _frame(cells), cols)


def table3(final: pd.DataFrame, searched: set[str], caption: str) -> ResultTable | None:
    if final.empty or not (final["stage"] == "screen").any():
        return None
    cols = ["params (M)", "best error", "top samples error"]
    cells: list = []
    for (strategy, selection), g in final.groupby(["strategy", "selection"]):
        label = _label(strategy, selection, "TopK")
        fin = g[(g["stage"] == "final") & (g["status"] == "ok")]
        if fin.empty:
            continue
        best_err, params = [], []
        for _, s in fin.groupby("seed"):
            per = s.groupby("sample")["val_acc"].mean()
            best_err.append(100.0 - per.max())
            params.append(s[s["sample"] == per.idxmax()]["params"].iloc[0] / 1e6)
        _cell(cells, label, cols[0], params)
        _cell(cells, label, cols[1], best_err)
        _cell(cells, label, cols[2], 100.0 - _per_sample(g, "final", "val_acc"))
    _missing_rows(cells, searched, final)
    return ResultTable("final_table3", "Table 3: samples short-trained, the top ones fully trained (error %)",
                       caption + " Best error = the best final validation error of the screen survivors (per seed, "
                       "then ± over seeds); top samples = every survivor's final validation error.",
                       _frame(cells), cols)


def table6(final: pd.DataFrame, searched: set[str], caption: str) -> ResultTable:
    cols = ["samples final val", "samples final test", "samples"]
    cells: list = []
    for (strategy, selection), g in (final.groupby(["strategy", "selection"]) if len(final) else []):
        label = _label(strategy, selection, "TopK")
        _cell(cells, label, cols[0], _per_sample(g, "final", "val_acc"))
        _cell(cells, label, cols[1], _per_sample(g, "final", "test_acc"))
        n = len(_per_sample(g, "final", "test_acc"))
        cells.append(dict(strategy=label, column=cols[2], mean=float(n), std=0.0, n=n, flag=""))
    _missing_rows(cells, searched, final)
    return ResultTable("final_table6", "Table 6: mean/std accuracy of the samples of the searched generator",
                       caption + " Every sample of every seed (final = mean over its repeats).", _frame(cells), cols)


def table9(final: pd.DataFrame, searched: set[str], caption: str) -> ResultTable:
    cols = ["final val", "average path", "longest path"]
    cells: list = []
    for (strategy, selection), g in (final.groupby(["strategy", "selection"]) if len(final) else []):
        label = _label(strategy, selection, "TopK")
        one = g.drop_duplicates(["seed", "selection", "sample"])
        _cell(cells, label, cols[0], _per_sample(g, "final", "val_acc"))
        _cell(cells, label, cols[1], one["path_mean"])
        _cell(cells, label, cols[2], one["path_longest"])
    _missing_rows(cells, searched, final)
    return ResultTable("final_table9", "Table 9: input-output path lengths of the samples",
                       caption + " Path lengths in edges of the space's DAG view, over every path from a node "
                       "without inputs to one without outputs; mean over paths and the longest, then ± over samples.",
                       _frame(cells), cols)


def exact_table(results: Path, space: str, caption: str) -> ResultTable | None:
    """The exact distributions (``harness.exact``), ± over seeds."""
    from harness.exact import load_summaries

    sums = [s for s in load_summaries(results) if s.get("space") == space]
    if not sums:
        return None
    df = pd.DataFrame(sums)
    cols = ["ΣP valid + invalid", "E_P[val]", "E_P[test]", "entropy (nats)", "perplexity", "P(top-10)", "P(top-1%)",
            "modal cell rank"]
    keys = ["total_mass", "expected_val", "expected_test", "entropy_nats", "perplexity", "mass_top10", "mass_top1pct",
            "modal_rank"]
    cells: list = []
    for strategy, g in df.groupby("strategy"):
        for c, k in zip(cols, keys):
            _cell(cells, strategy, c, g[k])
    first = sums[0]
    return ResultTable("exact_distribution", "Exact learned distributions over every cell",
                       caption + f" P of all {first['n_cells']:,} cells by teacher forcing; ± over seeds. Uniform "
                       f"prior: E[val] {first['uniform_expected_val']:.2f}, E[test] {first['uniform_expected_test']:.2f}, "
                       f"entropy {np.log(first['n_cells']):.2f} nats; top cells ranked by the report validation.",
                       _frame(cells), cols)


def plot_samples(final: pd.DataFrame, title: str, out_dir: Path, stem: str) -> list[Path]:
    """Strip plot of every final sample's test accuracy (mean over repeats), one column per strategy."""
    if final.empty:
        raise NotDrawn("no final phase in this group")
    per = _per_sample(final[final["selection"] == "model"], "final", "test_acc").reset_index()
    per = per[np.isfinite(per["test_acc"])]
    if per.empty:
        raise NotDrawn("no finite final test accuracy")
    names = sorted(per["strategy"].unique())
    fig, ax = plt.subplots(figsize=(max(3.0, 0.9 * len(names) + 1), 2.8))
    rng = np.random.default_rng(0)
    for k, name in enumerate(names):
        v = per.loc[per["strategy"] == name, "test_acc"].to_numpy(float)
        style = strategy_style(name)
        ax.scatter(k + rng.uniform(-0.25, 0.25, len(v)), v, s=10, alpha=0.6, color=style["color"],
                   marker=style["marker"], linewidths=0)
        ax.hlines(v.mean(), k - 0.35, k + 0.35, color=style["color"], linewidth=2)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_ylabel("final test accuracy (%)")
    ax.set_title(title, fontsize=8)
    return save_figure(fig, out_dir / stem)


def plot_exact(results: Path, space: str, out_dir: Path, stem: str) -> list[Path]:
    """P(cell) against the cell's validation accuracy, one panel per strategy (seed 0)."""
    files = sorted(Path(results).glob(f"{space}/*/*/seed=0.exact.parquet"))
    if not files:
        raise NotDrawn("no exact distribution stored")
    fig, axes = plt.subplots(1, len(files), figsize=(2.6 * len(files), 2.4), sharey=True, squeeze=False)
    for ax, f in zip(axes[0], files):
        t = atomic.read_parquet(f).to_pandas()
        name = f.parts[-2]
        ax.scatter(t["val_acc"], np.exp(t["log_p"]), s=2, alpha=0.4, color=strategy_style(name)["color"], linewidths=0)
        ax.set_yscale("log")
        ax.set_xlabel("validation accuracy (%)")
        ax.set_title(name, fontsize=8)
    axes[0][0].set_ylabel("P(cell)")
    return save_figure(fig, out_dir / stem)


def final_report(results: Path, manifests: dict, space: str, protocol: str, caption: str, fig_dir: Path
                 ) -> tuple[list[ResultTable], list[Path]]:
    """Every after-the-search table and figure of one report group (empty without any final phase)."""
    final = load_final(results, space, protocol, manifests)
    exact = exact_table(results, space, caption)
    if final.empty and exact is None:
        return [], []
    searched = {k[3] for k in manifests if k[0] == space and k[2] == protocol}
    cost: dict[str, list[float]] = {}
    for k, m in manifests.items():
        if k[0] == space and k[2] == protocol:
            cost.setdefault(k[3], []).append(float(m.get("cost_cum_s") or np.nan) / 3600)
    out = [table1(final, searched, cost, caption), table2(final, searched, caption), table3(final, searched, caption),
           table6(final, searched, caption), table9(final, searched, caption), exact]
    figs: list[Path] = []
    for draw in (lambda: plot_samples(final, f"{space}: final samples", fig_dir, "final_samples"),
                 lambda: plot_exact(results, space, fig_dir, "exact_p_vs_accuracy")):
        try:
            figs += draw()
        except NotDrawn:
            pass
    return [t for t in out if t is not None], figs
