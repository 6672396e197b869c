"""The run loop of one (space, dataset, strategy, seed): propose, evaluate, account, tell, finish.

The runner alone owns the budget (``harness.budget``), the seeds, the dedup policy and what gets
stored; the strategy only proposes architectures and hears validation results. A ``Run`` is the
loop as an object: ``open`` resolves and resumes, then each step ``propose``s a batch of
``Query``s, ``evaluate``s it (or replays it from the journal), ``account``s it against the
budget and tells the strategy; ``finish`` writes the trajectory, its manifest and the
strategy's final state.
"""
from __future__ import annotations

import contextlib
import math
import os
import platform
import re
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

import harness
from harness import atomic, dynamics, seeding, storage
from harness.budget import Budget
from harness.config import BENCH_DRAW, RunConfig
from harness.contracts import Evaluator, EvaluatorOptions, Proposal, Result, RunContext
from harness.errors import HarnessError
from harness.fingerprint import code_fingerprint
from harness.journal import EvaluatorCheckpoint, Journal
from harness.locks import RunLock
from harness.query import Query
from strategies.registry import STRATEGIES


@dataclass
class RunOutcome:
    config: RunConfig
    skipped: bool
    n_rows: int = 0
    wall_s: float = 0.0
    best_val: float = math.nan
    paths: storage.RunPaths | None = None
    notes: list[str] = field(default_factory=list)
    n_answered: int = 0
    """Queries the benchmark answered (ok or duplicate); 0 with rows means nothing usable came back."""
    failed: str = ""
    """Why the run stopped without finishing ("" = it finished, or was skipped)."""


class StrategyTimeout(Exception):
    """A strategy's ask/tell ran past ``--strategy-timeout``."""


@contextlib.contextmanager
def _time_limit(seconds: float | None, what: str):
    """Raise ``StrategyTimeout`` in this (main) thread after ``seconds`` (SIGALRM); no limit elsewhere."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _expired(signum, frame):
        raise StrategyTimeout(f"{what} ran longer than --strategy-timeout {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def safe_repr(obj: object, limit: int = 200) -> str:
    """``repr`` for error messages and trajectories: never a memory address (which would differ
    between runs and break byte-identity), never longer than ``limit``."""
    try:
        text = repr(obj)
    except Exception:  # noqa: BLE001 - a user's object may break repr too
        text = ""
    if not text or _ADDRESS.search(text):
        text = f"<{type(obj).__module__}.{type(obj).__qualname__} object>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


def _guard(cfg: RunConfig, method: str, call, timeout_s: float | None = None):
    """Run a strategy method; its exceptions become one-line errors (the journal keeps the work done).
    ``timeout_s`` limits the call (``--strategy-timeout``): past it, ``StrategyTimeout``."""
    try:
        with _time_limit(timeout_s, f"strategy {cfg.strategy!r} {method}()"):
            return call()
    except (HarnessError, StrategyTimeout):
        raise
    except SystemExit as exc:
        raise HarnessError(
            f"strategy {cfg.strategy!r} called sys.exit({exc.code!r}) in {method}(); a strategy must return or raise, "
            f"never exit the harness (completed queries are kept)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - a user's strategy may raise anything
        msg = str(exc).splitlines()[0] if str(exc) else ""
        raise HarnessError(
            f"strategy {cfg.strategy!r} raised {type(exc).__name__} in {method}(): {msg}; fix it and rerun the "
            f"same command (completed queries are kept), --debug shows the traceback"
        ) from exc


def _same(a, b) -> bool:
    """Equal, with NaN equal to NaN (journaled and fresh answers compared field by field)."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, Result) and isinstance(b, Result):
        return _same(tuple(vars(a).values()), tuple(vars(b).values()))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def _evaluate(evaluator: Evaluator, archs: list, fidelity: int, seeds: list[int]) -> list[Result]:
    """Evaluate, turning a crash or a malformed answer into failed Results (the run goes on)."""
    if not archs:
        return []
    try:
        results = evaluator.evaluate(archs, fidelity, seeds)
        if len(results) != len(archs):
            raise RuntimeError(f"evaluator returned {len(results)} results for {len(archs)} architectures")
    except HarnessError:
        raise
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - recorded in the trajectory, not swallowed
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return [Result(math.nan, status="failed", error=msg, bench_seed=s) for s in seeds]
    out = []
    for r in results:
        if r.status == "ok" and not math.isfinite(r.val_acc):
            r = Result(math.nan, r.test_acc, r.cost_s, "failed", "evaluator returned a non-finite accuracy", r.bench_seed, r.extra)
        out.append(r)
    return out


def run_code(cfg: RunConfig, evaluator: Evaluator | None = None) -> dict[str, str]:
    """The code fingerprint of ``cfg``'s run (``harness.fingerprint``): what a complete run's
    manifest must hold to count as current."""
    from blackboxes.registry import get_benchmark  # noqa: PLC0415

    entry = get_benchmark(cfg.space)
    space = entry.space_for_dataset or entry.space
    ev = entry.evaluator if evaluator is None else f"{type(evaluator).__module__}:{type(evaluator).__qualname__}"
    return code_fingerprint(STRATEGIES.target(cfg.strategy), space, ev)


class Run:
    """One configuration run to its budget; see the module docstring for the steps."""

    def __init__(self, cfg: RunConfig, out: Path, data_dir=None, *, force: bool = False,
                 progress: ProgressFn | None = None, evaluator: Evaluator | None = None,
                 options: EvaluatorOptions = EvaluatorOptions(), strategy_timeout_s: float | None = None,
                 stop: Callable[[], bool] | None = None, refuse_conflicts: bool = False,
                 trace_every: int | None = None):
        self.cfg, self.out, self.data_dir, self.force = cfg, Path(out), data_dir, force
        self.trace_every = dynamics.DEFAULT_EVERY if trace_every is None else trace_every
        """Queries between two points of the learning-dynamics trace (``harness.dynamics``; 0 = off)."""
        self.progress, self.evaluator, self.options = progress, evaluator, options
        self.strategy_timeout_s = strategy_timeout_s
        self.stop = stop
        """Polled between batches: True stops the run there (Ctrl-C of a study), its journal kept."""
        self.refuse_conflicts = refuse_conflicts
        """Refuse to replace a *different* complete run at this run's paths (the command line's policy)."""
        self.notes: list[str] = []
        self.lock = RunLock(self.paths_of(cfg, out).lock)
        self.run_id = cfg.run_id
        self.paths = self.paths_of(cfg, out)
        self.rows: list[storage.Row] = []
        self.timing: list[dict] = []
        self.batch_no = 0

    @property
    def dynamics_path(self) -> Path:
        """``seed=K.dynamics.parquet`` beside the trajectory (``harness.dynamics``)."""
        return self.paths.trajectory.with_name(self.paths.trajectory.name.replace(".parquet", ".dynamics.parquet"))

    @staticmethod
    def paths_of(cfg: RunConfig, out) -> storage.RunPaths:
        return cfg.paths(Path(out))

    # ------------------------------------------------------------------ open / resume
    def open(self) -> bool:
        """Take the run's lock, resolve the space, evaluator and strategy and load any journal;
        False when already complete."""
        cfg = self.cfg
        self.code = run_code(cfg, self.evaluator)
        if not self.force and storage.is_complete(self.paths, self.run_id, self.code):
            return False
        self.lock.acquire()
        if not self.force and storage.is_complete(self.paths, self.run_id, self.code):  # done by another command meanwhile
            return False
        if self.refuse_conflicts and not self.force:  # ... or another configuration written there meanwhile
            storage.refuse_conflict(self.paths, self.run_id, self.code)
        from blackboxes.registry import get_benchmark  # noqa: PLC0415 - the benchmark layer sits above the engine core

        entry = get_benchmark(cfg.space)
        self.space = space = entry.make_space(cfg.dataset)
        seq = seeding.run_seed_sequence(cfg.space, cfg.dataset, cfg.strategy, cfg.seed, cfg.root_seed)
        if self.evaluator is None:
            entry.check_runnable()
            self.evaluator = entry.make_evaluator(cfg.dataset, self.data_dir, space, self.options)
            self.evaluator.reseed(int(seeding.stream(seq, "evaluator").generate_state(1)[0]))
        ev = self.evaluator
        self.fidelity = fidelity = cfg.fidelity if cfg.fidelity is not None else ev.default_fidelity
        if fidelity not in ev.fidelities:
            raise HarnessError(
                f"fidelity {fidelity} not available for {cfg.space}/{cfg.dataset}; available: "
                f"{', '.join(map(str, ev.fidelities))}"
            )
        self.report_val = cfg.report_val or (cfg.dataset, fidelity)
        self.report_test = cfg.report_test or (cfg.dataset, fidelity)
        self.report_missing = [m for m in (ev.report_missing(*self.report_val, "val"),
                                           ev.report_missing(*self.report_test, "test")) if m]
        n_repeats = ev.n_repeats(fidelity)
        if cfg.bench_seed >= n_repeats:
            raise HarnessError(f"--bench-seed {cfg.bench_seed} out of range: {cfg.space} has {n_repeats} repeat(s) at fidelity {fidelity}")

        cls = STRATEGIES.get(cfg.strategy)
        self.strategy = strategy = _guard(cfg, "__init__", lambda: cls(**dict(cfg.strategy_params)))
        context = RunContext(fidelities=tuple(ev.fidelities), fidelity=fidelity, budget=cfg.budget,
                             time_budget=cfg.time_budget, batch_size=cfg.batch_size)
        _guard(cfg, "setup", lambda: strategy.setup(space, seeding.stream(seq, "strategy"), context))
        self.trace = dynamics.DynamicsTrace.maybe(self.trace_every, strategy, cfg.space, cfg.dataset, ev, self.report_val,
                                                   cfg.seed)
        self.bench_rng = np.random.default_rng(seeding.stream(seq, "benchmark"))
        self.budget = Budget(queries=cfg.budget, time_s=cfg.time_budget, dedup=cfg.dedup,
                             max_failures=cfg.max_failures, fidelity=fidelity, label=f"{cfg.space}/{cfg.dataset}",
                             strategy=cfg.strategy)
        self.header = dict(schema_version=storage.SCHEMA_VERSION, run_id=self.run_id, protocol=cfg.protocol,
                           space=cfg.space, dataset=cfg.dataset, strategy=cfg.strategy, seed=cfg.seed)

        if self.force:  # --force starts over: set an interrupted attempt's journal aside instead of replaying it
            for stale in (self.paths.journal, self.paths.evaluator_state):
                if stale.exists():
                    os.replace(stale, stale.with_name(stale.name + ".stale-forced"))
        self.journal = Journal(self.paths.journal, self.run_id, fsync=ev.journal_fsync)
        self.replay = self.journal.load()
        self.notes += self.journal.notes
        self.checkpoint = EvaluatorCheckpoint(self.paths.evaluator_state) if ev.stateful else None
        if self.checkpoint is not None:
            self.replay = self.checkpoint.restore(ev, self.replay, self.journal)
        self.start = time.perf_counter()
        if self.progress is not None:
            self.progress(0, cfg.budget if cfg.budget is not None else 0)
        return True

    # ------------------------------------------------------------------ one step
    def propose(self) -> list[Query]:
        """Ask the strategy for the next batch and check each proposal against the space."""
        cfg, space, ev = self.cfg, self.space, self.evaluator
        n = self.budget.next_ask(cfg.batch_size)
        t0 = time.perf_counter()
        asked = _guard(cfg, "ask", lambda: list(self.strategy.ask(n)), self.strategy_timeout_s)
        self.ask_s = time.perf_counter() - t0
        if len(asked) != n:
            raise HarnessError(f"strategy {cfg.strategy!r} returned {len(asked)} architectures for ask({n}); it must return exactly n")
        queries = []
        for a in asked:
            p = a if isinstance(a, Proposal) else Proposal(a)
            q = Query(self.batch_no, p, self.fidelity if p.fidelity is None else p.fidelity)
            try:
                valid = space.is_valid(p.arch)
            except Exception:  # noqa: BLE001 - a user's object may break is_valid; it is then invalid
                valid = False
            if not valid:
                q.invalid = f"not a valid {cfg.space} architecture: {safe_repr(p.arch)}"
            elif q.fidelity not in ev.fidelities:
                q.invalid = f"fidelity {q.fidelity} not available; available: {list(ev.fidelities)}"
            if valid:
                q.arch_id, q.text = space.canonical_id(p.arch), space.to_str(p.arch)
            queries.append(q)
        for q in queries:  # repeats drawn in proposal order, also when replaying (the stream must advance)
            if q.evaluated:
                q.bench_seed = (int(self.bench_rng.integers(0, ev.n_repeats(q.fidelity)))
                                if cfg.bench_seed == BENCH_DRAW else cfg.bench_seed)
        return queries

    def evaluate(self, queries: list[Query]) -> float:
        """Results and report columns of the batch (replayed from the journal when it has them);
        the evaluator seconds per query."""
        if self.batch_no < len(self.replay):
            eval_s = self.journal.restore(self.replay[self.batch_no], queries, self.cfg.strategy)
            if self.evaluator.relookup_on_replay:
                self._relookup(queries)
            return eval_s
        t1 = time.perf_counter()
        self._answer(queries)
        eval_s = (time.perf_counter() - t1) / max(len(queries), 1)
        self.journal.append(self.batch_no, queries, eval_s)
        if self.checkpoint is not None:
            self.checkpoint.save(self.evaluator, self.batch_no)
        return eval_s

    def _relookup(self, queries: list[Query]) -> None:
        """A cheap evaluator answers a replayed batch again; its answer, not the journal's copy, is used."""
        journaled = [(q.result, q.report_val, q.report_test) for q in queries]
        self._answer(queries)
        if any(q.evaluated and not _same((q.result, q.report_val, q.report_test), j) for q, j in zip(queries, journaled)):
            note = (f"{self.cfg.strategy} seed={self.cfg.seed}: the journal's copy of batch {self.batch_no} differs from "
                    f"the benchmark's answer (edited journal?); the benchmark's answer was used")
            if note not in self.notes:
                self.notes.append(note)

    def _answer(self, queries: list[Query]) -> None:
        """Evaluate the batch's valid queries, grouped by fidelity, and read their report columns."""
        ev = self.evaluator
        todo = [q for q in queries if q.evaluated]
        for q in todo:
            q.report_val = q.report_test = math.nan
        for fid in sorted({q.fidelity for q in todo}):
            group = [q for q in todo if q.fidelity == fid]
            for q, r in zip(group, _evaluate(ev, [q.arch for q in group], fid, [q.bench_seed for q in group])):
                q.result = r
        ok = [q for q in todo if q.result.status == "ok"]
        for metric, (r_ds, r_fid) in (("val", self.report_val), ("test", self.report_test)):
            values = ev.report_values([q.arch for q in ok], r_ds, r_fid, metric) if ok else None
            for q, v in zip(ok, values or ()):
                setattr(q, f"report_{metric}", v)

    def account(self, queries: list[Query], eval_s: float) -> None:
        """Charge the batch, record its rows, and tell the strategy what it may see."""
        for q in queries:
            if not q.evaluated:
                q.result = Result(math.nan, status="invalid", error=q.invalid[:300])
            self.budget.account(q)
            self.rows.append(q.row(self.header, len(self.rows)))
            self.timing.append({"query": len(self.timing), "wall_s": time.perf_counter() - self.start,
                                "eval_s": eval_s, "strategy_s": 0.0})
        t2 = time.perf_counter()
        _guard(self.cfg, "tell", lambda: self.strategy.tell([q.observation() for q in queries]), self.strategy_timeout_s)
        per_query = (self.ask_s + time.perf_counter() - t2) / len(queries)
        for t in self.timing[-len(queries):]:
            t["strategy_s"] = per_query
        self.batch_no += 1
        if self.trace is not None:
            _guard(self.cfg, "dag_log_prob", lambda: self.trace.after_tell(len(self.rows), self.budget.exhausted()),
                   self.strategy_timeout_s)
        if self.progress is not None:
            self.progress(self.budget.charged, self.cfg.budget if self.cfg.budget is not None else 0)
        self.budget.check_limits()

    # ------------------------------------------------------------------ finish
    def finish(self) -> RunOutcome:
        """Trajectory, timing, the strategy's final state, then the manifest (the completion mark)."""
        cfg, b = self.cfg, self.budget
        wall = time.perf_counter() - self.start
        manifest = {
            "schema_version": storage.SCHEMA_VERSION,
            "run_id": self.run_id,
            "status": "complete",
            "config": cfg.identity(),
            "fidelity": self.fidelity,
            "report": {"val": list(self.report_val), "test": list(self.report_test), "missing": self.report_missing},
            "space": self.space.describe(),
            "evaluator": self.evaluator.describe(),
            "evaluator_options": asdict(self.options),
            "strategy_params": self.strategy.params(),
            "strategy_resolved": self.strategy.resolved(),
            "code": self.code,
            "harness_version": harness.__version__,
            "git_commit": _git_commit(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "n_rows": len(self.rows),
            "n_charged": b.charged,
            "cost_cum_s": b.cost_cum,
            "wall_s": wall,
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "resumed_batches": len(self.replay),
        }
        state, why = self._final_state()
        if why:
            manifest["strategy_state"] = f"not stored: {why}"
            self.report_missing.append(f"{cfg.strategy} seed={cfg.seed}: final strategy state not stored ({why})")
        if self.trace is not None and self.trace.rows:
            atomic.write_parquet(self.dynamics_path, self.trace.table())
            manifest["dynamics_sha256"] = atomic.sha256_file(self.dynamics_path)
        timing = {name: [t[name] for t in self.timing] for name in storage.TIMING_SCHEMA.names}
        storage.write_run(self.paths, storage.rows_table(self.rows), storage.to_table(timing, storage.TIMING_SCHEMA),
                          manifest, strategy_state=state)
        self.journal.close(remove=True)
        if self.checkpoint is not None:
            self.checkpoint.remove()
        n_answered = sum(r.status in ("ok", "duplicate") for r in self.rows)
        if self.rows and not n_answered:
            first = next((r.error for r in self.rows if r.error), "")
            self.notes.append(f"{cfg.strategy} seed={cfg.seed}: none of its {len(self.rows)} queries was answered "
                              f"(all invalid or failed; first error: {first})")
        return RunOutcome(cfg, skipped=False, n_rows=len(self.rows), wall_s=wall,
                          best_val=b.best_val if b.best_val > -math.inf else math.nan, paths=self.paths,
                          notes=self.report_missing + self.notes, n_answered=n_answered)

    def _final_state(self) -> tuple[bytes | None, str]:
        """The strategy's ``state_dict`` as a state file (``harness.statefile``), or why it cannot be:
        the final phase reads it, so a failure is reported but never costs the finished trajectory."""
        try:
            return storage.pack_state(self.run_id, self.cfg.seed, self.strategy.state_dict()), ""
        except Exception as exc:  # noqa: BLE001 - a user's state may hold anything
            return None, f"{type(exc).__name__} in state_dict(): {str(exc).splitlines()[0] if str(exc) else ''}"

    def fail(self, why: str) -> RunOutcome:
        """Record a run that cannot finish (its strategy timed out): a manifest with status "failed",
        never "complete", so the next command runs it again; the journal stays for that rerun."""
        manifest = {"schema_version": storage.SCHEMA_VERSION, "run_id": self.run_id, "status": "failed",
                    "error": why, "config": self.cfg.identity(), "n_rows": len(self.rows),
                    "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        storage.write_failed(self.paths, manifest)
        self.journal.close()
        return RunOutcome(self.cfg, skipped=False, n_rows=len(self.rows), paths=self.paths, failed=why,
                          notes=self.notes)

    def execute(self) -> RunOutcome:
        try:
            if not self.open():
                return RunOutcome(self.cfg, skipped=True, paths=self.paths)
            try:
                while not self.budget.exhausted():
                    if self.stop is not None and self.stop():
                        raise KeyboardInterrupt
                    queries = self.propose()
                    self.account(queries, self.evaluate(queries))
            except StrategyTimeout as exc:
                return self.fail(str(exc))
            return self.finish()
        finally:
            if getattr(self, "journal", None) is not None:
                self.journal.close()
            self.lock.release()


def execute(cfg: RunConfig, out: Path, data_dir=None, *, force: bool = False,
            progress: ProgressFn | None = None, evaluator: Evaluator | None = None,
            options: EvaluatorOptions = EvaluatorOptions(), strategy_timeout_s: float | None = None,
            stop: Callable[[], bool] | None = None, refuse_conflicts: bool = False,
            trace_every: int | None = None) -> RunOutcome:
    """Run one configuration to its budget and write its files (skipped when already complete).

    ``evaluator`` replaces the space's benchmark (conformance tests use a synthetic one);
    ``trace_every``: queries between two learning-dynamics points (``harness.dynamics``; 0 = off).
    """
    return Run(cfg, out, data_dir, force=force, progress=progress, evaluator=evaluator, options=options,
               strategy_timeout_s=strategy_timeout_s, stop=stop, refuse_conflicts=refuse_conflicts,
               trace_every=trace_every).execute()
