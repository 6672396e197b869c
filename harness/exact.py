"""Exact learned distributions where a space can be enumerated (NB201: 15,625 cells).

A generator's probability of *every* architecture is computed by teacher forcing
(``Strategy.dag_log_prob``) over the model's whole support: every labelled DAG its masks allow
(here all op assignments of the fixed topology). Mass on DAGs the space rejects is reported
separately, so "sum over valid cells + invalid mass = 1" checks the normalisation itself. With the
benchmark's values of every cell this answers "does the generator learn a distribution of good
architectures?" directly: expected validation/test accuracy under P, entropy and perplexity, the
mass on the 10 and the 1 % best cells (ranked by the report validation column, the search's
metric), and the rank of the modal cell. Stored per run as ``seed=K.exact.parquet`` (a row per
cell: log P, validation, test) and ``seed=K.exact.json`` (the summary).
"""
from __future__ import annotations

import functools
import itertools
import math
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from harness import atomic, storage
from harness.errors import HarnessError
from harness.contracts import EvaluatorOptions, LabelledDAG, SearchSpace
from strategies.base import Strategy
from strategies.registry import STRATEGIES
from harness.final import final_rng, read_search_manifest, rebuild_strategy, shared_evaluator, strategy_guard

MAX_SUPPORT = 200_000
"""Largest support enumerated (NB201 has 15,625)."""

EXACT_SCHEMA = pa.schema([("arch_id", pa.string()), ("log_p", pa.float64()), ("val_acc", pa.float64()),
                          ("test_acc", pa.float64())])


def support(space: SearchSpace) -> list[LabelledDAG] | None:
    """Every labelled DAG a generator respecting ``space.dag_constraints`` can write, when the
    topology is fixed (no free edge) and there are at most ``MAX_SUPPORT``; else None."""
    c = space.dag_constraints
    lower = np.tril(np.ones((c.n_nodes, c.n_nodes), dtype=bool), k=-1)
    mask = np.asarray(c.edge_mask)
    if ((mask == -1) & lower).any() or math.prod(len(a) for a in c.allowed_ops) > MAX_SUPPORT:
        return None
    A = ((mask == 1) & lower).astype(np.uint8)
    return [LabelledDAG(A, X) for X in itertools.product(*c.allowed_ops)]


@functools.lru_cache(maxsize=8)
def _support_of(space: str, dataset: str) -> tuple[SearchSpace, list[LabelledDAG] | None]:
    from blackboxes.registry import get_benchmark  # noqa: PLC0415 - the benchmark layer sits above the engine core

    sp = get_benchmark(space).make_space(dataset)
    return sp, support(sp)


@functools.lru_cache(maxsize=8)
def enumerated(space: str, dataset: str) -> tuple[SearchSpace, list[LabelledDAG], np.ndarray, list] | None:
    """(space, its support, which DAGs the space accepts, the accepted architectures in order), or
    None when the support cannot be enumerated: built once per process (~0.2 s on NB201), for the
    final phase's exact distributions and the search's learning-dynamics trace alike."""
    sp, dags = _support_of(space, dataset)
    if dags is None:
        return None
    archs = [sp.from_dag(d) for d in dags]
    return sp, dags, np.array([a is not None for a in archs]), [a for a in archs if a is not None]


def enumerable(space: str, dataset: str) -> bool:
    """Whether runs on (space, dataset) read a table and the space's support can be enumerated."""
    from blackboxes.registry import get_benchmark  # noqa: PLC0415

    return get_benchmark(space).uses_table(dataset) and _support_of(space, dataset)[1] is not None


def checked_log_p(log_p, n: int, strategy: str) -> np.ndarray:
    """``dag_log_prob``'s answer as float64 log-probabilities of the ``n`` DAGs asked, or a one-line
    error saying what it returned instead (a wrong answer must not become a distribution)."""
    try:
        out = np.asarray(log_p, dtype=np.float64)
    except (TypeError, ValueError):
        out = None
    if out is None or out.shape != (n,):
        shape = "no numbers" if out is None else f"shape {out.shape}"
        raise HarnessError(f"strategy {strategy!r} dag_log_prob() returned {shape} for {n} DAGs; it must return one "
                           f"log-probability per DAG (fix it and rerun the same command)")
    if np.isnan(out).any() or (out > 1e-9).any():
        raise HarnessError(f"strategy {strategy!r} dag_log_prob() returned NaN or positive log-probabilities; fix it "
                           f"and rerun the same command")
    return out


def summarise(log_p: np.ndarray, valid: np.ndarray, val: np.ndarray, test: np.ndarray) -> dict[str, float]:
    """The distribution's numbers (see the module docstring); ``val``/``test`` per valid cell."""
    p_all = np.exp(log_p)
    p = p_all[valid]
    mass = float(p.sum())
    nz = p[p > 0]
    entropy = float(-(nz * np.log(nz)).sum())
    order = np.argsort(-val, kind="stable")
    top1 = max(1, math.ceil(0.01 * len(val)))
    modal = int(np.argmax(p))
    rank = int(np.flatnonzero(order == modal)[0]) + 1
    return {
        "n_cells": int(len(p)), "sum_p_valid": mass, "invalid_mass": float(p_all[~valid].sum()),
        "total_mass": float(p_all.sum()),
        "expected_val": float((p * val).sum() / mass), "expected_test": float((p * test).sum() / mass),
        "entropy_nats": entropy, "perplexity": math.exp(entropy),
        "mass_top10": float(p[order[:10]].sum()), "mass_top1pct": float(p[order[:top1]].sum()),
        "n_top1pct": top1, "modal_p": float(p[modal]), "modal_rank": rank,
        "modal_val": float(val[modal]), "modal_test": float(test[modal]),
        "uniform_expected_val": float(val.mean()), "uniform_expected_test": float(test.mean()),
    }


class ExactRun:
    """The exact distribution of one run's stored strategy; ``execute`` returns its summary, or
    None when the strategy has no generative model."""

    def __init__(self, run_paths: storage.RunPaths, data_dir=None, *, force: bool = False,
                 evaluators: dict | None = None, strategy_timeout_s: float | None = None):
        self.run_paths, self.data_dir, self.force = run_paths, data_dir, force
        self.strategy_timeout_s = strategy_timeout_s
        """Seconds ``dag_log_prob`` may take (``--strategy-timeout``); past it, ``StrategyTimeout``."""
        self.evaluators = {} if evaluators is None else evaluators
        stem = run_paths.trajectory.name.removesuffix(".parquet")
        self.parquet = run_paths.trajectory.with_name(f"{stem}.exact.parquet")
        self.summary = run_paths.trajectory.with_name(f"{stem}.exact.json")

    def execute(self) -> dict | None:
        from blackboxes.registry import get_benchmark  # noqa: PLC0415

        manifest = read_search_manifest(self.run_paths)
        cfg = manifest["config"]
        ident = {"run_id": manifest["run_id"], "state": manifest.get("strategy_state_sha256")}
        done = storage.read_manifest(self.summary)
        if not self.force and done and done.get("identity") == ident and self.parquet.is_file() \
                and atomic.sha256_file(self.parquet) == done.get("parquet_sha256"):
            return done
        if STRATEGIES.get(cfg["strategy"]).dag_log_prob is Strategy.dag_log_prob:
            return None
        start = time.perf_counter()
        entry = get_benchmark(cfg["space"])
        space, dags = _support_of(cfg["space"], cfg["dataset"])
        evaluator = shared_evaluator(self.evaluators, entry, cfg, space, self.data_dir, EvaluatorOptions())
        notes: list[str] = []
        strategy = rebuild_strategy(self.run_paths, manifest, space, evaluator, notes, self.strategy_timeout_s)
        if strategy is None or dags is None:
            return None
        guard = strategy_guard(cfg["strategy"], self.strategy_timeout_s)
        log_p = guard("dag_log_prob", lambda: strategy.dag_log_prob(dags, final_rng(manifest)))
        if log_p is None:
            return None
        log_p = checked_log_p(log_p, len(dags), cfg["strategy"])
        _, _, valid, cells = enumerated(cfg["space"], cfg["dataset"])
        (v_ds, v_fid), (t_ds, t_fid) = manifest["report"]["val"], manifest["report"]["test"]
        val = np.asarray(evaluator.report_values(cells, v_ds, int(v_fid), "val"), dtype=np.float64)
        test = np.asarray(evaluator.report_values(cells, t_ds, int(t_fid), "test"), dtype=np.float64)
        table = pa.Table.from_pydict({"arch_id": [space.canonical_id(a) for a in cells], "log_p": log_p[valid],
                                      "val_acc": val, "test_acc": test}, schema=EXACT_SCHEMA)
        atomic.write_parquet(self.parquet, table)
        summary = {"identity": ident, "space": cfg["space"], "dataset": cfg["dataset"], "strategy": cfg["strategy"],
                   "seed": cfg["seed"], "report": manifest["report"], **summarise(log_p, valid, val, test),
                   "parquet_sha256": atomic.sha256_file(self.parquet), "wall_s": time.perf_counter() - start}
        atomic.write_json(self.summary, storage._json_safe(summary))
        return summary


def load_summaries(results: Path) -> list[dict]:
    """Every stored exact-distribution summary under ``results``."""
    out = []
    for path in sorted(Path(results).glob("*/*/*/seed=*.exact.json")):
        m = storage.read_manifest(path)
        if m:
            out.append(m)
    return out
