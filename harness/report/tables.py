"""The paper's result tables (Table 4 NB101, Table 5 NB201, Table 1/3 layouts) from incumbents.

Each table is built as a long frame of cells (strategy x column x checkpoint: mean, std, n,
flags) and rendered to Markdown, LaTeX and CSV with fixed formatting, so the same results give
byte-identical files. Std is the population std over seeds (numpy's default, as naszilla and the
NATS-Bench scripts report). A strategy with missing seeds, or runs that stopped before a
checkpoint, is flagged in the cell (†) and in the notes, never silently averaged.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from harness.report.incumbent import at_checkpoint

DATASET_TITLES = {"cifar10-valid": "CIFAR-10", "cifar100": "CIFAR-100", "ImageNet16-120": "ImageNet-16-120",
                  "cifar10": "CIFAR-10"}


@dataclass
class ResultTable:
    name: str
    title: str
    caption: str
    cells: pd.DataFrame  # strategy, column, mean, std, n, flag
    columns: list[str]
    notes: list[str] = field(default_factory=list)

    def value(self, strategy: str, column: str) -> tuple[float, float, int]:
        c = self.cells[(self.cells["strategy"] == strategy) & (self.cells["column"] == column)].iloc[0]
        return float(c["mean"]), float(c["std"]), int(c["n"])


def _fmt(mean: float, std: float, decimals: int) -> str:
    if not np.isfinite(mean):
        return "n/a"
    return f"{mean:.{decimals}f} ± {std:.{decimals}f}"


def _cell(values: pd.Series) -> tuple[float, float, int]:
    v = values.dropna().to_numpy(float)
    if len(v) == 0:
        return float("nan"), float("nan"), 0
    return float(v.mean()), float(v.std()), len(v)


def _seed_flags(points: pd.DataFrame) -> dict[str, str]:
    """Per strategy: which seeds are missing compared with the union over strategies."""
    all_seeds = set(points["seed"])
    flags = {}
    for strategy, g in points.groupby("strategy"):
        missing = sorted(all_seeds - set(g["seed"]))
        if missing:
            flags[strategy] = "missing seeds " + ",".join(map(str, missing))
    return flags


def build_cells(inc: pd.DataFrame, specs: list[tuple[str, str, int | None, str, bool]]) -> tuple[pd.DataFrame, list[str]]:
    """specs: (column label, dataset, checkpoint or None=end, metric column, as_error)."""
    cells, notes = [], []
    for label, dataset, checkpoint, metric, as_error in specs:
        sub = inc[inc["dataset"] == dataset]
        if sub.empty:
            continue
        points = at_checkpoint(sub, checkpoint)
        seed_flags = _seed_flags(points)
        for strategy, g in points.groupby("strategy", sort=True):
            flags = []
            if strategy in seed_flags:
                flags.append(seed_flags[strategy])
            short = g[~g["reached"]]
            if len(short):
                flags.append(f"seeds {','.join(map(str, sorted(short['seed'])))} stopped before {checkpoint} queries")
            vals = g.loc[g["reached"], metric]
            if as_error:
                vals = 100.0 - vals
            mean, std, n = _cell(vals)
            cells.append(dict(strategy=strategy, column=label, mean=mean, std=std, n=n, flag="; ".join(flags)))
            for f in flags:
                notes.append(f"† {strategy}, {label}: {f} (excluded from the mean)" if "stopped" in f
                             else f"† {strategy}, {label}: {f}")
    return pd.DataFrame(cells, columns=["strategy", "column", "mean", "std", "n", "flag"]), notes


@dataclass(frozen=True)
class Checkpoints:
    """Where a group's tables are read: the protocol's checkpoints (None without a protocol), the most
    common query budget of the group's runs (None under time budgets), and the checkpoints the report uses."""

    protocol: tuple[int, ...] | None
    common_budget: int | None
    report: list


def nb101_table4(inc: pd.DataFrame, protocol_caption: str, checkpoints=(150, 300)) -> ResultTable:
    specs = [(f"test error % @{q}", "cifar10", q, "inc_report_test", True) for q in checkpoints]
    cells, notes = build_cells(inc, specs)
    caption = (f"NB101 (GraphPNAS Table 4 layout): mean ± std over seeds of the test error of the "
               f"best-by-validation cell after {' and '.join(map(str, checkpoints))} queries. {protocol_caption}")
    return ResultTable("table4_nb101", "NAS-Bench-101", caption, cells, [s[0] for s in specs], notes)


def nb201_table5(inc: pd.DataFrame, protocol_caption: str, checkpoint: int | None = None) -> ResultTable:
    specs = []
    for d in ("cifar10-valid", "cifar100", "ImageNet16-120"):
        if (inc["dataset"] == d).any():
            title = DATASET_TITLES[d]
            specs += [(f"{title} validation", d, checkpoint, "inc_report_val", False),
                      (f"{title} test", d, checkpoint, "inc_report_test", False)]
    cells, notes = build_cells(inc, specs)
    at = f"after {checkpoint} queries" if checkpoint else "at the end of the budget"
    caption = (f"NB201 (GraphPNAS Table 5 layout): mean ± std over seeds of the validation and test accuracy (%) "
               f"of the best-by-reward cell {at}. {protocol_caption}")
    return ResultTable("table5_nb201" + (f"_at{checkpoint}" if checkpoint else ""), "NAS-Bench-201", caption,
                       cells, [s[0] for s in specs], notes)


def final_table(inc: pd.DataFrame, space: str, dataset: str, protocol_caption: str) -> ResultTable:
    """Table 1 / Table 3 layout: search reward and final accuracy of the best-by-reward architecture."""
    specs = [("search reward (best val %)", dataset, None, "inc_val", False),
             ("final accuracy %", dataset, None, "inc_report_test", False)]
    cells, notes = build_cells(inc, specs)
    caption = (f"{space} / {dataset} (GraphPNAS Table 1/3 layout): search reward = best validation accuracy "
               f"found; final = report-fidelity test accuracy of that architecture. {protocol_caption}")
    return ResultTable(f"table_{space}_{dataset}", f"{space} {dataset}", caption, cells, [s[0] for s in specs], notes)


def nb101_tables(inc: pd.DataFrame, space: str, caption: str, cp: Checkpoints) -> list[ResultTable]:
    """Table 4: test error at the protocol's checkpoints (150 and 300 queries by default) reached by the runs."""
    wanted = (150, 300) if cp.protocol is None else cp.protocol
    cps = [q for q in wanted if q <= inc["queries_charged"].max()] or [cp.common_budget]
    return [nb101_table4(inc, caption, tuple(cps))]


def nb201_tables(inc: pd.DataFrame, space: str, caption: str, cp: Checkpoints) -> list[ResultTable]:
    """Table 5: validation and test per dataset, one table per report checkpoint."""
    return [nb201_table5(inc, caption, q) for q in cp.report]


def search_tables(inc: pd.DataFrame, space: str, caption: str, cp: Checkpoints) -> list[ResultTable]:
    """Trained spaces: search reward and report-fidelity accuracy of the incumbent, one table per dataset."""
    return [final_table(inc[inc["dataset"] == d], space, d, caption) for d in sorted(inc["dataset"].unique())]


LAYOUTS = {"nb101": nb101_tables, "nb201": nb201_tables}
"""Space -> the paper's table layout for it; spaces not listed get ``search_tables``."""


def _grid(t: ResultTable, decimals: int) -> tuple[list[str], list[list[str]]]:
    strategies = sorted(t.cells["strategy"].unique())
    rows = []
    for s in strategies:
        row = [s]
        for c in t.columns:
            m = t.cells[(t.cells["strategy"] == s) & (t.cells["column"] == c)]
            if m.empty:
                row.append("—")
                continue
            r = m.iloc[0]
            row.append(_fmt(r["mean"], r["std"], decimals) + (" †" if r["flag"] else ""))
        rows.append(row)
    return ["strategy"] + t.columns, rows


def to_markdown(t: ResultTable, decimals: int = 2) -> str:
    head, rows = _grid(t, decimals)
    lines = [f"**{t.title}**", "", "| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", t.caption]
    lines += [f"- {n}" for n in t.notes]
    return "\n".join(lines) + "\n"


def _tex_escape(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
                 ("±", r"$\pm$"), ("†", r"$^\dagger$"), ("—", "--"), ("@", "@")):
        s = s.replace(a, b)
    return s


def to_latex(t: ResultTable, decimals: int = 2) -> str:
    head, rows = _grid(t, decimals)
    out = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{l" + "c" * (len(head) - 1) + "}", r"\toprule",
           " & ".join(_tex_escape(h) for h in head) + r" \\", r"\midrule"]
    out += [" & ".join(_tex_escape(c) for c in r) + r" \\" for r in rows]
    out += [r"\bottomrule", r"\end{tabular}", r"\caption{" + _tex_escape(t.caption) + "}", r"\end{table}"]
    return "\n".join(out) + "\n"


def to_csv(t: ResultTable) -> str:
    df = t.cells.sort_values(["column", "strategy"]).copy()
    df.insert(0, "table", t.name)
    return df.to_csv(index=False, float_format="%.6f", lineterminator="\n")
