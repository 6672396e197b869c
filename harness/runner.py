"""The run loop of one (space, dataset, strategy, seed): ask, evaluate, record, tell.

The runner alone owns the budget, the seeds, the dedup policy and what gets stored; the strategy
only proposes architectures and hears validation results.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

import harness
from harness import seeding, storage
from harness.errors import HarnessError
from harness.journal import EvaluatorCheckpoint, Journal
from harness.evaluation import Observation, Proposal, Result, RunContext
from spaces.registry import get_space_entry
from strategies.registry import STRATEGIES

DEDUP_POLICIES = ("per-call", "unique")
"""per-call: every query is charged (NATS-Bench's simulate_train_eval); unique: a canonical
architecture is charged once and repeats are free, but still logged (GraphPNAS authors' code)."""

BENCH_MEAN = -1
BENCH_DRAW = -2
"""bench_seed -1: mean over the benchmark's repeats (naszilla, GraphPNAS); -2: one repeat drawn
per query from the run's benchmark stream (the official nasbench ``query`` semantics)."""

MAX_FREE_ROWS = 10_000
"""Stop a run whose strategy keeps proposing only uncharged duplicates (it cannot progress)."""


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one run's trajectory (hashed into its run id)."""

    space: str
    dataset: str
    strategy: str
    seed: int
    budget: int | None
    time_budget: float | None = None
    fidelity: int | None = None
    bench_seed: int = BENCH_MEAN
    dedup: str = "per-call"
    batch_size: int = 1
    strategy_params: tuple[tuple[str, Any], ...] = ()
    root_seed: int = seeding.ROOT_ENTROPY
    data_sha256: str = ""
    """Checksum of the benchmark table the run reads (a new import means a new run id)."""
    protocol: str = ""
    """Name of the protocol preset that set these values ("" = custom settings)."""
    report_val: tuple[str, int] | None = None
    report_test: tuple[str, int] | None = None
    """(dataset, fidelity) of the report columns; None = the run's dataset at its search fidelity."""
    max_failures: int | None = None
    """Stop the run (keeping its journal) after this many failed evaluations; None = never stop.
    Failed evaluations are recorded with status 'failed' and their error, and charged."""

    def __post_init__(self) -> None:
        if self.budget is None and self.time_budget is None:
            raise HarnessError("a run needs --budget (queries) or --time-budget (simulated seconds)")
        if self.budget is not None and self.budget <= 0:
            raise HarnessError(f"--budget must be a positive number of queries, got {self.budget}")
        if self.time_budget is not None and not (self.time_budget > 0 and math.isfinite(self.time_budget)):
            raise HarnessError(f"--time-budget must be positive simulated seconds, got {self.time_budget}")
        if self.dedup not in DEDUP_POLICIES:
            raise HarnessError(f"unknown dedup policy {self.dedup!r}; valid: {', '.join(DEDUP_POLICIES)}")
        if self.batch_size <= 0:
            raise HarnessError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.seed < 0:
            raise HarnessError(f"seed indices must be >= 0, got {self.seed}")
        if self.max_failures is not None and self.max_failures < 0:
            raise HarnessError(f"--max-failures must be >= 0, got {self.max_failures}")
        if self.bench_seed < BENCH_DRAW:
            raise HarnessError(f"--bench-seed must be -1 (mean), -2 (draw per query) or a repeat index >= 0, got {self.bench_seed}")

    def identity(self) -> dict[str, Any]:
        d = asdict(self)
        d["strategy_params"] = {k: v for k, v in self.strategy_params}
        return d

    @property
    def run_id(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def paths(self, out: Path) -> storage.RunPaths:
        return storage.RunPaths.of(out, self.space, self.dataset, self.strategy, self.seed)


@dataclass
class RunOutcome:
    config: RunConfig
    skipped: bool
    n_rows: int = 0
    wall_s: float = 0.0
    best_val: float = math.nan
    paths: storage.RunPaths | None = None
    notes: list[str] = field(default_factory=list)


ProgressFn = Callable[[int, int], None]


def _git_commit() -> str:
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


class _Recorder:
    """Accumulates trajectory and timing columns in the schema's order."""

    def __init__(self, cfg: RunConfig, run_id: str):
        self.cfg, self.run_id = cfg, run_id
        self.rows: dict[str, list] = {name: [] for name in storage.TRAJECTORY_SCHEMA.names}
        self.timing: dict[str, list] = {name: [] for name in storage.TIMING_SCHEMA.names}

    def __len__(self) -> int:
        return len(self.rows["query"])

    def add(self, *, report_val: float, report_test: float, batch: int, arch: str, arch_id: str, status: str, duplicate: bool, charged: bool,
            queries_charged: int, fidelity: int, result: Result, cost_cum: float, extra: dict,
            wall_s: float, eval_s: float, strategy_s: float) -> None:
        q = len(self)
        values = dict(
            schema_version=storage.SCHEMA_VERSION, run_id=self.run_id, protocol=self.cfg.protocol, space=self.cfg.space,
            dataset=self.cfg.dataset, strategy=self.cfg.strategy, seed=self.cfg.seed, query=q, batch=batch,
            arch=arch, arch_id=arch_id, status=status, duplicate=duplicate, charged=charged,
            queries_charged=queries_charged, fidelity=fidelity, bench_seed=result.bench_seed,
            val_acc=float(result.val_acc), test_acc=float(result.test_acc), cost_s=float(result.cost_s),
            cost_cum_s=cost_cum, report_val_acc=float(report_val), report_test_acc=float(report_test), error=result.error,
            extra=json.dumps(extra, sort_keys=True, default=float) if extra else "",
        )
        for k, v in values.items():
            self.rows[k].append(v)
        for k, v in dict(query=q, wall_s=wall_s, eval_s=eval_s, strategy_s=strategy_s).items():
            self.timing[k].append(v)


def _guard(cfg: RunConfig, method: str, call):
    """Run a strategy method; its exceptions become one-line errors (the journal keeps the work done)."""
    try:
        return call()
    except HarnessError:
        raise
    except Exception as exc:  # noqa: BLE001 - a user's strategy may raise anything
        msg = str(exc).splitlines()[0] if str(exc) else ""
        raise HarnessError(
            f"strategy {cfg.strategy!r} raised {type(exc).__name__} in {method}(): {msg}; fix it and rerun the "
            f"same command (completed queries are kept), --debug shows the traceback"
        ) from exc


def _evaluate(evaluator, archs: list, fidelity: int, seeds: list[int]) -> list[Result]:
    """Evaluate, turning a crash or a malformed answer into failed Results (the run goes on)."""
    if not archs:
        return []
    try:
        results = evaluator.evaluate(archs, fidelity, seeds)
        if len(results) != len(archs):
            raise RuntimeError(f"evaluator returned {len(results)} results for {len(archs)} architectures")
    except HarnessError:
        raise
    except Exception as exc:  # noqa: BLE001 - recorded in the trajectory, not swallowed
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return [Result(math.nan, status="failed", error=msg, bench_seed=s) for s in seeds]
    out = []
    for r in results:
        if r.status == "ok" and not math.isfinite(r.val_acc):
            r = Result(math.nan, r.test_acc, r.cost_s, "failed", "evaluator returned a non-finite accuracy", r.bench_seed, r.extra)
        out.append(r)
    return out


def execute(cfg: RunConfig, out: Path, data_dir=None, *, force: bool = False,
            progress: ProgressFn | None = None, evaluator=None) -> RunOutcome:
    """Run one configuration to its budget and write its files (skipped when already complete).

    ``evaluator`` replaces the space's benchmark (conformance tests use a synthetic one).
    """
    out = Path(out)
    run_id = cfg.run_id
    paths = cfg.paths(out)
    if not force and storage.is_complete(paths, run_id):
        return RunOutcome(cfg, skipped=True, paths=paths)

    entry = get_space_entry(cfg.space)
    space = entry.make_space(cfg.dataset)
    seq = seeding.run_seed_sequence(cfg.space, cfg.dataset, cfg.strategy, cfg.seed, cfg.root_seed)
    if evaluator is None:
        evaluator = entry.make_evaluator(cfg.dataset, data_dir, space)
        if callable(getattr(evaluator, "reseed", None)):  # stateful evaluators start from the run's own seed
            evaluator.reseed(int(seeding.stream(seq, "evaluator").generate_state(1)[0]))
    fidelity = cfg.fidelity if cfg.fidelity is not None else evaluator.default_fidelity
    if fidelity not in evaluator.fidelities:
        raise HarnessError(
            f"fidelity {fidelity} not available for {cfg.space}/{cfg.dataset}; available: "
            f"{', '.join(map(str, evaluator.fidelities))}"
        )
    report_val = cfg.report_val or (cfg.dataset, fidelity)
    report_test = cfg.report_test or (cfg.dataset, fidelity)
    report_missing = [m for m in (evaluator.report_missing(*report_val, "val"), evaluator.report_missing(*report_test, "test")) if m]
    n_repeats = evaluator.n_repeats(fidelity)
    if cfg.bench_seed >= n_repeats:
        raise HarnessError(f"--bench-seed {cfg.bench_seed} out of range: {cfg.space} has {n_repeats} repeat(s) at fidelity {fidelity}")

    cls = STRATEGIES.get(cfg.strategy)
    strategy = _guard(cfg, "__init__", lambda: cls(**dict(cfg.strategy_params)))
    context = RunContext(fidelities=tuple(evaluator.fidelities), fidelity=fidelity, budget=cfg.budget,
                         time_budget=cfg.time_budget, batch_size=cfg.batch_size)
    _guard(cfg, "setup", lambda: strategy.setup(space, seeding.stream(seq, "strategy"), context))
    bench_rng = np.random.default_rng(seeding.stream(seq, "benchmark"))

    if force:  # --force starts over: set an interrupted attempt's journal aside instead of replaying it
        for stale in (paths.journal, paths.evaluator_state):
            if stale.exists():
                os.replace(stale, stale.with_name(stale.name + ".stale-forced"))
    journal = Journal(paths.journal, run_id, fsync=getattr(evaluator, "journal_fsync", True))
    replay = journal.load()
    checkpoint = EvaluatorCheckpoint(paths.evaluator_state) if EvaluatorCheckpoint.wanted(evaluator) else None
    if checkpoint is not None:
        replay = checkpoint.restore(evaluator, replay, journal)
    rec = _Recorder(cfg, run_id)
    seen: set[tuple[str, int]] = set()
    charged_total, cost_cum, free_streak, batch_no = 0, 0.0, 0, 0
    best_val = -math.inf
    total = cfg.budget if cfg.budget is not None else 0
    start = time.perf_counter()

    def exhausted() -> bool:
        if cfg.budget is not None and charged_total >= cfg.budget:
            return True
        return cfg.time_budget is not None and cost_cum >= cfg.time_budget

    while not exhausted():
        n = cfg.batch_size if cfg.budget is None else min(cfg.batch_size, cfg.budget - charged_total)
        t0 = time.perf_counter()
        archs = _guard(cfg, "ask", lambda: list(strategy.ask(n)))
        ask_s = time.perf_counter() - t0
        if len(archs) != n:
            raise HarnessError(f"strategy {cfg.strategy!r} returned {len(archs)} architectures for ask({n}); it must return exactly n")

        proposals = [a if isinstance(a, Proposal) else Proposal(a) for a in archs]
        archs = [p.arch for p in proposals]
        fids = [fidelity if p.fidelity is None else p.fidelity for p in proposals]
        valid_idx, ids, texts, reasons = [], [], [], {}
        for i, a in enumerate(archs):
            ok = False
            try:
                ok = space.is_valid(a)
            except Exception:  # noqa: BLE001 - a user's object may break is_valid; it is then invalid
                ok = False
            if ok and fids[i] not in evaluator.fidelities:
                ok = False
                reasons[i] = f"fidelity {fids[i]} not available; available: {list(evaluator.fidelities)}"
            if ok:
                valid_idx.append(i)
                ids.append(space.canonical_id(a))
                texts.append(space.to_str(a))
            else:
                ids.append(space.canonical_id(a) if i in reasons else "")
                texts.append(space.to_str(a) if i in reasons else "")
        if cfg.bench_seed == BENCH_DRAW:
            seeds = {i: int(bench_rng.integers(0, evaluator.n_repeats(fids[i]))) for i in valid_idx}
        else:
            seeds = {i: cfg.bench_seed for i in valid_idx}
        if batch_no < len(replay):
            by_index, report, eval_s = journal.restore(replay[batch_no], texts, valid_idx, cfg.strategy)
        else:
            t1 = time.perf_counter()
            by_index = {}
            for fid in sorted({fids[i] for i in valid_idx}):
                group = [i for i in valid_idx if fids[i] == fid]
                results = _evaluate(evaluator, [archs[i] for i in group], fid, [seeds[i] for i in group])
                by_index.update(zip(group, results))
            ok_idx = [i for i in valid_idx if by_index[i].status == "ok"]
            report = {"val": {}, "test": {}}
            for metric, (r_ds, r_fid) in (("val", report_val), ("test", report_test)):
                values = evaluator.report_values([archs[i] for i in ok_idx], r_ds, r_fid, metric) if ok_idx else None
                if values is not None:
                    report[metric] = dict(zip(ok_idx, values))
            eval_s = (time.perf_counter() - t1) / max(len(archs), 1)
            journal.append(batch_no, texts, by_index, report, eval_s)
            if checkpoint is not None:
                checkpoint.save(evaluator, batch_no)

        observations = []
        for i, a in enumerate(archs):
            arch_id = ids[i]
            if i in by_index:
                r = by_index[i]
                duplicate = (arch_id, fids[i]) in seen  # the same cell at another fidelity is new information
                seen.add((arch_id, fids[i]))
                status = r.status if r.status != "ok" else ("duplicate" if duplicate else "ok")
                charged = not (duplicate and cfg.dedup == "unique")
            else:
                reason = reasons.get(i, f"not a valid {cfg.space} architecture: {a!r}")
                r = Result(math.nan, status="invalid", error=reason[:300])
                duplicate, status, charged = False, "invalid", True
            if charged and cfg.time_budget is not None and status in ("ok", "duplicate") and not math.isfinite(r.cost_s):
                raise HarnessError(
                    f"--time-budget needs simulated training times, but {cfg.space}/{cfg.dataset} has none at "
                    f"fidelity {fidelity}; import a file with train times or use --budget (queries)"
                )
            cost = r.cost_s if charged and math.isfinite(r.cost_s) else 0.0
            if charged:
                charged_total += 1
                cost_cum += cost
                free_streak = 0
            else:
                free_streak += 1
            if status in ("ok", "duplicate") and fids[i] == fidelity and r.val_acc > best_val:
                best_val = r.val_acc
            observations.append(
                Observation(a, arch_id, r.val_acc if status in ("ok", "duplicate") else math.nan,
                            r.cost_s, fids[i], status, r.extra)
            )
            rec.add(report_val=report["val"].get(i, math.nan), report_test=report["test"].get(i, math.nan),
                    batch=batch_no, arch=texts[i], arch_id=arch_id, status=status, duplicate=duplicate,
                    charged=charged, queries_charged=charged_total, fidelity=fids[i], result=r,
                    cost_cum=cost_cum, extra={**dict(proposals[i].info), **dict(r.extra)},
                    wall_s=time.perf_counter() - start,
                    eval_s=eval_s, strategy_s=0.0)
        t2 = time.perf_counter()
        _guard(cfg, "tell", lambda: strategy.tell(observations))
        per_query = (ask_s + time.perf_counter() - t2) / len(archs)
        for k in range(len(rec) - len(archs), len(rec)):
            rec.timing["strategy_s"][k] = per_query
        batch_no += 1
        if progress is not None:
            progress(charged_total, total)
        n_failed = rec.rows["status"].count("failed")
        if cfg.max_failures is not None and n_failed > cfg.max_failures:
            last = next(e for st, e in zip(reversed(rec.rows["status"]), reversed(rec.rows["error"])) if st == "failed")
            raise HarnessError(
                f"{n_failed} evaluations failed (more than --max-failures {cfg.max_failures}); last error: {last}; "
                f"fix the cause and rerun the same command to continue"
            )
        if free_streak >= MAX_FREE_ROWS:
            raise HarnessError(
                f"strategy {cfg.strategy!r} proposed {MAX_FREE_ROWS} uncharged duplicates in a row under "
                f"dedup=unique; it has stopped exploring (use --dedup per-call or fix the strategy)"
            )

    wall = time.perf_counter() - start
    manifest = {
        "schema_version": storage.SCHEMA_VERSION,
        "run_id": run_id,
        "status": "complete",
        "config": cfg.identity(),
        "fidelity": fidelity,
        "report": {"val": list(report_val), "test": list(report_test), "missing": report_missing},
        "space": space.describe(),
        "evaluator": evaluator.describe(),
        "strategy_params": strategy.params(),
        "harness_version": harness.__version__,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "n_rows": len(rec),
        "n_charged": charged_total,
        "cost_cum_s": cost_cum,
        "wall_s": wall,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    manifest["resumed_batches"] = len(replay)
    storage.write_run(
        paths,
        storage.to_table(rec.rows, storage.TRAJECTORY_SCHEMA),
        storage.to_table(rec.timing, storage.TIMING_SCHEMA),
        manifest,
    )
    journal.close(remove=True)
    if checkpoint is not None:
        checkpoint.remove()
    return RunOutcome(cfg, skipped=False, n_rows=len(rec), wall_s=wall,
                      best_val=best_val if best_val > -math.inf else math.nan, paths=paths, notes=report_missing)
