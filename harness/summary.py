"""The answer to "which strategy won?" after `run`: a ranked table read back from the stored runs.

It is computed from the trajectories on disk (also of runs skipped as already complete), with the
report's own incumbent rule (``harness.report.incumbent``): per run, the first row with the best
reward so far, then that row's report-fidelity validation accuracy -- the protocol's report
metric. Differences to the best strategy carry a two-sided Mann-Whitney U test, Holm-corrected
over the comparisons, the same test the report's pairwise tables use. With few seeds no rank test
can reach p < 0.05 whatever the numbers; the summary says so instead of printing marks that
cannot appear.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from math import comb
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from harness import storage
from harness.config import RunConfig
from harness.report.incumbent import at_checkpoint, incumbents

ALPHA = 0.05


@dataclass(frozen=True)
class StrategyLine:
    strategy: str
    n: int
    """Complete runs whose value is finite (seeds)."""
    runs: int
    """Runs of the study for this strategy (complete or not)."""
    mean: float
    std: float
    rank: int
    diff: float
    """Mean minus the best strategy's mean (0 for the best)."""
    p_holm: float
    """Holm-corrected p of the difference to the best (NaN for the best or when untestable)."""


@dataclass(frozen=True)
class Summary:
    metric: str
    """What the numbers are, in words."""
    lines: tuple[StrategyLine, ...]
    min_p: float
    """The smallest p-value any comparison to the best can reach with these sample sizes."""

    @property
    def tests_can_separate(self) -> bool:
        return self.min_p < ALPHA


def metric_label(manifest: dict) -> str:
    """The report metric of a run in words, from its manifest."""
    cfg = manifest.get("config", {})
    report = manifest.get("report", {})
    val = report.get("val") or [cfg.get("dataset"), cfg.get("fidelity")]
    search = f"{cfg.get('fidelity')}-epoch reward" if cfg.get("fidelity") else "search reward"
    what = f"{val[1]}-epoch {val[0]} validation accuracy (%)" if val[1] else f"{val[0]} validation accuracy (%)"
    budget = f"{cfg['budget']} queries" if cfg.get("budget") else f"{cfg.get('time_budget')} s simulated"
    protocol = f"protocol {cfg['protocol']}" if cfg.get("protocol") else "custom settings"
    return f"{what} of the architecture with the best {search} after {budget} ({protocol})"


def _read(cfg: RunConfig, out: Path) -> tuple[pd.DataFrame | None, dict | None]:
    paths = cfg.paths(out)
    manifest = storage.read_manifest(paths.manifest)
    if not manifest or manifest.get("status") != "complete" or not paths.trajectory.is_file():
        return None, manifest
    frame = storage.read_trajectory(paths.trajectory).to_pandas()
    frame["run_fidelity"] = manifest.get("fidelity", frame["fidelity"].max())
    return frame, manifest


def _min_two_sided_p(n_a: int, n_b: int) -> float:
    """Mann-Whitney U's smallest two-sided p for samples of these sizes (complete separation)."""
    if n_a < 1 or n_b < 1:
        return 1.0
    return min(1.0, 2.0 / comb(n_a + n_b, n_a))


def min_p_with(seeds: int, strategies: int) -> float:
    """The smallest Holm-corrected p a comparison to the best can reach with ``seeds`` per strategy."""
    return min(1.0, _min_two_sided_p(seeds, seeds) * max(1, strategies - 1))


def summarize(runs: Iterable[RunConfig], out: Path) -> Summary | None:
    """The ranked summary of ``runs`` as stored under ``out`` (None when no run is complete)."""
    runs = list(runs)
    frames, label = [], ""
    for cfg in runs:
        frame, manifest = _read(cfg, Path(out))
        if frame is not None:
            frames.append(frame)
            label = label or metric_label(manifest)
    if not frames:
        return None
    final = at_checkpoint(incumbents(pd.concat(frames, ignore_index=True)), None)
    metric = "inc_report_val" if np.isfinite(final["inc_report_val"].to_numpy(float)).any() else "inc_val"
    if metric == "inc_val":
        label = "search reward (%) of the best architecture (no report column in the data)"
    values = {s: g[metric].to_numpy(float) for s, g in final.groupby("strategy")}
    values = {s: v[np.isfinite(v)] for s, v in values.items()}
    n_runs = {s: sum(c.strategy == s for c in runs) for s in {c.strategy for c in runs}}
    means = {s: float(v.mean()) if len(v) else math.nan for s, v in values.items()}
    order = sorted(values, key=lambda s: (-(means[s]) if not math.isnan(means[s]) else math.inf, s))
    best = order[0]
    from scipy import stats as sps  # noqa: PLC0415 - scipy costs seconds to import; only here is it needed

    from harness.report.stats import holm  # noqa: PLC0415
    others = [s for s in order[1:] if len(values[s]) >= 2 and len(values[best]) >= 2]
    raw = [float(sps.mannwhitneyu(values[best], values[s], alternative="two-sided").pvalue) for s in others]
    adjusted = dict(zip(others, holm(raw))) if raw else {}
    min_p = min((_min_two_sided_p(len(values[best]), len(values[s])) for s in order[1:]), default=1.0)
    min_p = min(1.0, min_p * max(1, len(order) - 1))  # Holm multiplies the smallest p by the comparisons
    lines = []
    for rank, s in enumerate(order, start=1):
        v = values[s]
        lines.append(StrategyLine(
            strategy=s, n=len(v), runs=n_runs.get(s, len(v)), mean=means[s],
            std=float(v.std(ddof=1)) if len(v) > 1 else math.nan, rank=rank,
            diff=means[s] - means[best], p_holm=adjusted.get(s, math.nan)))
    return Summary(metric=label, lines=tuple(lines), min_p=min_p)
