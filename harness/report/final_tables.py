"""The paper's after-the-search tables (GraphPNAS Tables 1, 2, 3, 6, 9), the figure of the final
samples' accuracies, and the exact-distribution table and figure, from ``seed=K.final.parquet`` /
``seed=K.exact.*`` (``harness.final``, ``harness.exact``).

Rows: a strategy's own proposals (``Strategy.recommend``: samples of its learned model, for ER/WS
the best setting found, i.e. ER-/WS-BEST; the best observed for strategies without a model) and,
where the final protocol asks for it, its best observed architectures (``-TopK`` / ``-Top1``).
Means and stds (population, as ``harness.report.tables``) pool every sample of every seed. A
strategy searched but without a final phase is listed with "—" in every column, never a stand-in.
The rows come verified from ``harness.report.load.load_after_search``: a seed whose final result (or
exact distribution) is missing or damaged is named there and flagged here (†), as a missing search
seed is in ``harness.report.tables``; a strategy whose every one is unusable shows "n/a †".
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.report.load import EXACT, FINAL, AfterSearch
from harness.report.plotting import NotDrawn, plt, save_figure, strategy_style
from harness.report.tables import ResultTable

NO_FINAL = "(no final phase)"
"""Placeholder column of a strategy without final rows: its table row then shows "—" everywhere."""


def _seeds(have: set, expected: set) -> str:
    """The flag of a strategy lacking some of the group's (dataset, seed) pairs ("" when none)."""
    missing = sorted(expected - have)
    if not missing:
        return ""
    several = len({d for d, _ in expected}) > 1
    return "missing seeds " + ",".join(f"{d} {s}" if several else str(s) for d, s in missing)


def _flags(have: dict[str, set], troubled: set[str], expected: set) -> dict[str, str]:
    """Per strategy with a (usable or damaged) result: which of the group's seeds it lacks."""
    return {s: f for s in sorted(set(have) | troubled) if (f := _seeds(have.get(s, set()), expected))}


def _notes(flags: dict[str, str], what: str) -> list[str]:
    return [f"† {s}: {f} (no usable {what} for them, the mean is over its other seeds; missing or damaged ones are "
            f"named under the skipped runs)" for s, f in sorted(flags.items())]


def _label(strategy: str, selection: str, top: str) -> str:
    if selection == "top":
        return f"{strategy}-{top}"
    return f"{strategy}-BEST" if strategy in ("er", "ws") else strategy


def _cell(rows: list, label: str, column: str, values, flag: str = "") -> None:
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    rows.append(dict(strategy=label, column=column, mean=float(v.mean()) if len(v) else np.nan,
                     std=float(v.std()) if len(v) else np.nan, n=len(v), flag=flag))


def _per_sample(df: pd.DataFrame, stage: str, metric: str) -> pd.Series:
    """One value per (strategy, seed, selection, sample): the mean over the stage's repeats."""
    d = df[(df["stage"] == stage) & (df["status"] == "ok")]
    return d.groupby(["strategy", "seed", "selection", "sample"])[metric].mean()


def _missing_rows(cells: list, searched: set[str], final: pd.DataFrame, flags: dict[str, str], cols: list[str]) -> None:
    """Strategies without final rows: "—" (no final phase), or "n/a †" in every column when they had
    results that were all unusable."""
    have = set(final["strategy"]) if len(final) else set()
    for s in sorted(searched - have):
        if s in flags:
            for c in cols:
                cells.append(dict(strategy=s, column=c, mean=np.nan, std=np.nan, n=0, flag=flags[s]))
        else:
            cells.append(dict(strategy=s, column=NO_FINAL, mean=np.nan, std=np.nan, n=0, flag=""))


def _frame(cells: list) -> pd.DataFrame:
    return pd.DataFrame(cells, columns=["strategy", "column", "mean", "std", "n", "flag"])


def table1(final: pd.DataFrame, searched: set[str], search_cost_h: dict[str, list[float]], caption: str,
           flags: dict[str, str]) -> ResultTable:
    cols = ["Low Data (Search) val", "Full Data (Final) val", "Full Data (Final) test", "search cost (h)"]
    cells: list = []
    for (strategy, selection), g in (final.groupby(["strategy", "selection"]) if len(final) else []):
        label = _label(strategy, selection, "TopK")
        _cell(cells, label, cols[0], _per_sample(g, "search", "val_acc"), flags.get(strategy, ""))
        _cell(cells, label, cols[1], _per_sample(g, "final", "val_acc"), flags.get(strategy, ""))
        _cell(cells, label, cols[2], _per_sample(g, "final", "test_acc"), flags.get(strategy, ""))
        _cell(cells, label, cols[3], search_cost_h.get(strategy, []), flags.get(strategy, ""))
    _missing_rows(cells, searched, final, flags, cols)
    no_search = sorted(set(final["strategy"]) - set(final.loc[final["stage"] == "search", "strategy"])) if len(final) else []
    why = (f" Low Data (Search) n/a for {', '.join(no_search)}: the search's evaluator cannot score new samples after the "
           f"search (a weight-sharing supernet whose final weights are not kept)." if no_search else "")
    return ResultTable("final_table1", "Table 1: samples after the search, low-data reward vs. full-data re-training",
                       caption + " Avg ± std over every sample of every seed; final = mean over its repeats; -TopK = "
                       "the best architectures found during the search, -BEST = samples of the best ER/WS setting; "
                       "search cost = simulated (table) or measured (trained) training hours of the search, "
                       "± over seeds." + why, _frame(cells), cols, _notes(flags, "final result"))


def table2(final: pd.DataFrame, searched: set[str], caption: str, flags: dict[str, str]) -> ResultTable:
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
        _cell(cells, label, cols[0], params, flags.get(strategy, ""))
        _cell(cells, label, cols[1], tests, flags.get(strategy, ""))
        _cell(cells, label, cols[2], vals, flags.get(strategy, ""))
    _missing_rows(cells, searched, final, flags, cols)
    return ResultTable("final_table2", "Table 2: the best of the samples, re-trained (every repeat its own seed)",
                       caption + " Per seed the sample with the best mean final validation; ± over its repeats and "
                       "the seeds. Top-5 accuracy is not recorded by the harness's oracles (—).", _frame(cells), cols,
                       _notes(flags, "final result"))


def table3(final: pd.DataFrame, searched: set[str], caption: str, flags: dict[str, str]) -> ResultTable | None:
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
        _cell(cells, label, cols[0], params, flags.get(strategy, ""))
        _cell(cells, label, cols[1], best_err, flags.get(strategy, ""))
        _cell(cells, label, cols[2], 100.0 - _per_sample(g, "final", "val_acc"), flags.get(strategy, ""))
    _missing_rows(cells, searched, final, flags, cols)
    return ResultTable("final_table3", "Table 3: samples short-trained, the top ones fully trained (error %)",
                       caption + " Best error = the best final validation error of the screen survivors (per seed, "
                       "then ± over seeds); top samples = every survivor's final validation error.",
                       _frame(cells), cols, _notes(flags, "final result"))


def table6(final: pd.DataFrame, searched: set[str], caption: str, flags: dict[str, str]) -> ResultTable:
    cols = ["samples final val", "samples final test", "samples"]
    cells: list = []
    for (strategy, selection), g in (final.groupby(["strategy", "selection"]) if len(final) else []):
        label = _label(strategy, selection, "TopK")
        _cell(cells, label, cols[0], _per_sample(g, "final", "val_acc"), flags.get(strategy, ""))
        _cell(cells, label, cols[1], _per_sample(g, "final", "test_acc"), flags.get(strategy, ""))
        n = len(_per_sample(g, "final", "test_acc"))
        cells.append(dict(strategy=label, column=cols[2], mean=float(n), std=0.0, n=n, flag=flags.get(strategy, "")))
    _missing_rows(cells, searched, final, flags, cols)
    return ResultTable("final_table6", "Table 6: mean/std accuracy of the samples of the searched generator",
                       caption + " Every sample of every seed (final = mean over its repeats).", _frame(cells), cols,
                       _notes(flags, "final result"))


def table9(final: pd.DataFrame, searched: set[str], caption: str, flags: dict[str, str]) -> ResultTable:
    cols = ["final val", "average path", "longest path"]
    cells: list = []
    for (strategy, selection), g in (final.groupby(["strategy", "selection"]) if len(final) else []):
        label = _label(strategy, selection, "TopK")
        one = g.drop_duplicates(["seed", "selection", "sample"])
        _cell(cells, label, cols[0], _per_sample(g, "final", "val_acc"), flags.get(strategy, ""))
        _cell(cells, label, cols[1], one["path_mean"], flags.get(strategy, ""))
        _cell(cells, label, cols[2], one["path_longest"], flags.get(strategy, ""))
    _missing_rows(cells, searched, final, flags, cols)
    return ResultTable("final_table9", "Table 9: input-output path lengths of the samples",
                       caption + " Path lengths in edges of the space's DAG view, over every path from a node "
                       "without inputs to one without outputs; mean over paths and the longest, then ± over samples.",
                       _frame(cells), cols, _notes(flags, "final result"))


def exact_table(exact: pd.DataFrame, troubled: set[str], expected: set, caption: str) -> ResultTable | None:
    """The exact distributions (``harness.exact``), ± over seeds; ``exact``: the group's verified
    summaries, ``troubled``: strategies with one left out, ``expected``: the group's (dataset, seed)s."""
    shown = sorted((set(exact["strategy"]) if len(exact) else set()) | troubled)
    if not shown:
        return None
    have = {s: set(zip(g["dataset"], g["seed"])) for s, g in exact.groupby("strategy")} if len(exact) else {}
    flags = _flags(have, troubled, expected)
    cols = ["ΣP valid + invalid", "E_P[val]", "E_P[test]", "entropy (nats)", "perplexity", "P(top-10)", "P(top-1%)",
            "modal cell rank"]
    keys = ["total_mass", "expected_val", "expected_test", "entropy_nats", "perplexity", "mass_top10", "mass_top1pct",
            "modal_rank"]
    cells: list = []
    for strategy in shown:
        g = exact[exact["strategy"] == strategy] if len(exact) else pd.DataFrame(columns=keys)
        for c, k in zip(cols, keys):
            _cell(cells, strategy, c, g[k], flags.get(strategy, ""))
    text = caption + " P of all cells by teacher forcing; ± over seeds."
    if len(exact):
        first = exact.iloc[0]
        text = (caption + f" P of all {int(first['n_cells']):,} cells by teacher forcing; ± over seeds. Uniform "
                f"prior: E[val] {first['uniform_expected_val']:.2f}, E[test] {first['uniform_expected_test']:.2f}, "
                f"entropy {np.log(first['n_cells']):.2f} nats; top cells ranked by the report validation.")
    return ResultTable("exact_distribution", "Exact learned distributions over every cell", text, _frame(cells), cols,
                       _notes(flags, "exact distribution"))


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


def plot_exact(cells: dict[tuple, pd.DataFrame], out_dir: Path, stem: str) -> list[Path]:
    """P(cell) against the cell's validation accuracy, one panel per strategy (seed 0); ``cells``:
    (space, dataset, strategy) -> the verified per-cell table (``AfterSearch.exact_cells``)."""
    if not cells:
        raise NotDrawn("no exact distribution stored")
    fig, axes = plt.subplots(1, len(cells), figsize=(2.6 * len(cells), 2.4), sharey=True, squeeze=False)
    for ax, ((_, _, name), t) in zip(axes[0], sorted(cells.items(), key=lambda kv: kv[0])):
        ax.scatter(t["val_acc"], np.exp(t["log_p"]), s=2, alpha=0.4, color=strategy_style(name)["color"], linewidths=0)
        ax.set_yscale("log")
        ax.set_xlabel("validation accuracy (%)")
        ax.set_title(name, fontsize=8)
    axes[0][0].set_ylabel("P(cell)")
    return save_figure(fig, out_dir / stem)


def final_report(after: AfterSearch, manifests: dict, space: str, protocol: str, caption: str, fig_dir: Path
                 ) -> tuple[list[ResultTable], list[Path]]:
    """Every after-the-search table and figure of one report group (empty without any final phase)."""
    group = [k for k in manifests if k[0] == space and k[2] == protocol]
    runs = {(k[0], k[1], k[3], k[4]) for k in group}

    def of_group(df: pd.DataFrame) -> pd.DataFrame:
        if df.empty:
            return df
        return df[[k in runs for k in zip(df["space"], df["dataset"], df["strategy"], df["seed"])]]

    def troubled(kind: str) -> set[str]:
        return {p.path.parts[2] for p in after.problems if p.kind == kind and len(p.path.parts) == 4
                and (p.path.parts[0], p.path.parts[1], p.path.parts[2], _seed_of(p.path)) in runs}

    final, exact_rows = of_group(after.final), of_group(after.exact)
    expected = {(k[1], k[4]) for k in group}  # as the search tables: the union over strategies
    exact = exact_table(exact_rows, troubled(EXACT), expected, caption)
    bad_final = troubled(FINAL)
    if final.empty and exact is None and not bad_final:
        return [], []
    searched = {k[3] for k in group}
    have = {s: set(zip(g["dataset"], g["seed"])) for s, g in final.groupby("strategy")} if len(final) else {}
    flags = _flags(have, bad_final, expected)
    cost: dict[str, list[float]] = {}
    for k in group:
        cost.setdefault(k[3], []).append(float(manifests[k].get("cost_cum_s") or np.nan) / 3600)
    out = [table1(final, searched, cost, caption, flags), table2(final, searched, caption, flags),
           table3(final, searched, caption, flags), table6(final, searched, caption, flags),
           table9(final, searched, caption, flags), exact]
    figs: list[Path] = []
    cells = {k: t for k, t in after.exact_cells.items() if (*k, 0) in runs}
    for draw in (lambda: plot_samples(final, f"{space}: final samples", fig_dir, "final_samples"),
                 lambda: plot_exact(cells, fig_dir, "exact_p_vs_accuracy")):
        try:
            figs += draw()
        except NotDrawn:
            pass
    return [t for t in out if t is not None], figs


def _seed_of(path: Path) -> int | None:
    """K of ``seed=K.<kind>.parquet``."""
    try:
        return int(path.name.removeprefix("seed=").split(".")[0])
    except ValueError:
        return None
