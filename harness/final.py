"""The final phase of one finished run: ask the strategy for its proposals, judge them, store rows.

GraphPNAS's claim is about the *distribution* a strategy learned (Tables 1, 2, 3, 6, 9), so after
the search each run's strategy is rebuilt from its stored state (``seed=K.strategy.npz``; the
search is never repeated) and asked for ``samples`` architectures (``Strategy.recommend``, drawn
from the run's ``final`` seed stream). Each proposal then goes through up to three stages:

- ``search``: the run's own evaluator at the search fidelity, the "Low Data (Search)" column
  (skipped for a stateful evaluator: the weight-sharing supernet's final state is not kept);
- ``screen`` (optional): the final evaluator at ``screen_epochs``; the ``keep`` best go on
  (Table 3: 100-epoch short training, top 4);
- ``final``: the final evaluator at ``final_epochs``, ``repeats`` times with distinct training
  seeds (bench seed r trains seed r); tabular spaces read the run's report columns instead.

Storage mirrors ``harness.runner``: every evaluated stage batch is journaled (``harness.journal``)
before the next starts, so a killed command resumes where it stopped; the rows go to
``seed=K.final.parquet`` and ``seed=K.final.json`` (written last) marks the phase complete for
its *final id* (the search run, its stored files and the protocol), so the same command twice does
nothing the second time. Rows hold only reproducible values (trained costs are the training
seconds recorded with the cached answer), so an interrupted and resumed phase writes the same
bytes as an uninterrupted one.

A run's files are checked before they are used (``read_search_manifest``): the manifest's seal,
its shape, its identity against where it lies (folder = space/dataset/strategy, file name = seed,
run id = hash of the config) and the checksums of the trajectory and the strategy state it records.
Every strategy call (``__init__``, ``setup``, ``load_state_dict``, ``recommend``) goes through the
runner's guard (``harness.runner._guard``): an exception or ``--strategy-timeout`` is one line.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import time
import types
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pyarrow as pa

from harness import atomic, seeding, storage
from harness.config import RunConfig
from harness.contracts import Arch, Evaluator, EvaluatorOptions, LabelledDAG, Observation, Proposal, Result, RunContext
from harness.errors import DataCorrupt, HarnessError
from harness.final_protocols import FinalProtocol, final_evaluator_target
from harness.journal import Journal
from harness.locks import RunLock
from harness.query import Query
from harness.runner import _guard, safe_repr
from strategies.base import Strategy, best_observed
from strategies.registry import STRATEGIES

FINAL_SCHEMA_VERSION = 1
SELECTIONS = ("model", "top")
"""model: ``Strategy.recommend`` (samples of the learned distribution, or the best observed);
top: the best architectures observed during the search (``top_k_for`` strategies: ER/WS-TopK)."""
STAGES = ("search", "screen", "final")


_column = storage._column  # a column: its arrow type and doc, as the trajectory schema's


@dataclass(frozen=True)
class FinalRow:
    """One row of ``seed=K.final.parquet``: a proposal at one stage and repeat."""

    schema_version: int = _column(pa.int16())
    final_id: str = _column(pa.string(), "identity of this final phase (search run, stored files, protocol)")
    run_id: str = _column(pa.string(), "the search run it follows")
    final_protocol: str = _column(pa.string())
    space: str = _column(pa.string())
    dataset: str = _column(pa.string())
    strategy: str = _column(pa.string())
    seed: int = _column(pa.int32())
    selection: str = _column(pa.string(), "model | top (see harness.final.SELECTIONS)")
    sample: int = _column(pa.int32(), "index of the proposal within its selection")
    stage: str = _column(pa.string(), "search | screen | final")
    repeat: int = _column(pa.int32(), "training repeat (its own training seed); -1 = mean over the table's repeats")
    kept: bool = _column(pa.bool_(), "went on to the next stage (screen survivors; always true elsewhere)")
    arch: str = _column(pa.string())
    arch_id: str = _column(pa.string())
    status: str = _column(pa.string(), "ok | failed | invalid")
    fidelity: int = _column(pa.int32(), "epochs of this stage's training or table entry")
    val_acc: float = _column(pa.float64(), "percent; search stage: the low-data validation (the reward)")
    test_acc: float = _column(pa.float64(), "percent; final stage: the held-out test split / report test column")
    cost_s: float = _column(pa.float64(), "training seconds of this evaluation (recorded with a cached answer)")
    params: float = _column(pa.float64(), "parameters of the trained network (NaN when the evaluator has none)")
    flops: float = _column(pa.float64(), "multiply-adds per image (NaN when the evaluator has none)")
    path_mean: float = _column(pa.float64(), "mean input-output path length in edges (Table 9)")
    path_longest: float = _column(pa.float64(), "longest input-output path in edges (Table 9)")
    error: str = _column(pa.string())
    extra: str = _column(pa.string(), "JSON of the proposal's info (e.g. ER/WS-BEST hyper-parameters)")


FINAL_SCHEMA = pa.schema([(f.name, f.metadata["arrow"]) for f in fields(FinalRow)])


@dataclass(frozen=True)
class FinalPaths:
    parquet: Path
    manifest: Path
    journal: Path
    lock: Path

    @classmethod
    def of(cls, run: storage.RunPaths) -> "FinalPaths":
        base, stem = run.trajectory.parent, run.trajectory.name.removesuffix(".parquet")
        return cls(base / f"{stem}.final.parquet", base / f"{stem}.final.json", base / f"{stem}.final.journal.jsonl",
                   base / f".{stem}.final.lock")


def io_paths(dag: LabelledDAG) -> tuple[float, float]:
    """(mean, longest) length in edges over all paths from a node without inputs to a node without
    outputs (GraphPNAS Table 9's "path length from input to output"; the cell's own input and
    output nodes when the view has them). Counted by dynamic programming over the topological
    order, so exponentially many paths cost O(edges)."""
    A = np.asarray(dag.A, dtype=bool)
    n = len(A)
    if n == 0:
        return math.nan, math.nan
    has_in, has_out = A.any(axis=1), A.any(axis=0)
    count = np.zeros(n)
    total = np.zeros(n)
    longest = np.full(n, -np.inf)
    for i in range(n):
        preds = np.flatnonzero(A[i, :i])
        if not has_in[i]:
            count[i], total[i], longest[i] = 1.0, 0.0, 0.0
        for j in preds:
            count[i] += count[j]
            total[i] += total[j] + count[j]
            longest[i] = max(longest[i], longest[j] + 1)
    sinks = ~has_out
    paths = count[sinks].sum()
    return (float(total[sinks].sum() / paths), float(longest[sinks].max())) if paths else (math.nan, math.nan)


@dataclass
class Item:
    """One proposal: where it comes from and what each stage answered."""

    selection: str
    sample: int
    arch: Arch | None
    text: str
    arch_id: str
    info: tuple
    invalid: str = ""
    answers: dict[tuple[str, int], tuple[Result, float, float]] = field(default_factory=dict)
    """(stage, repeat) -> (result, val, test) ; val/test are the stage's reported accuracies."""
    kept: bool = True


@dataclass
class FinalOutcome:
    strategy: str
    seed: int
    skipped: bool
    n_rows: int = 0
    wall_s: float = 0.0
    paths: FinalPaths | None = None
    notes: list[str] = field(default_factory=list)
    failed: str = ""
    """Why this run's final phase (or its exact distribution) stopped: one line ("" = it did not)."""


def history_of(table: pa.Table, space, where: Path | None = None) -> list[Observation]:
    """What the strategy was told during the search, rebuilt from its trajectory (no test accuracy)."""
    cols = table.select(["arch", "arch_id", "status", "val_acc", "cost_s", "fidelity"]).to_pydict()
    out = []
    for q, (text, aid, status, val, cost, fid) in enumerate(zip(*cols.values())):
        if not text:
            continue
        try:
            arch = space.from_str(text)
        except Exception:  # noqa: BLE001 - any parse failure of a stored string is corruption
            raise DataCorrupt(f"{where}: row {q} holds {text[:80]!r}, not a {space.name} architecture; rerun that "
                              f"run with --force") from None
        answered = status in ("ok", "duplicate")
        out.append(Observation(arch, aid, float(val) if answered else math.nan, float(cost), int(fid), status))
    return out


def check_against_table(table: pa.Table, space, evaluator: Evaluator, where: Path) -> None:
    """A cheap, deterministic evaluator (a table: ``relookup_on_replay``) answers the trajectory's
    answered queries again; a stored validation accuracy that is not the table's (a plausible edit
    with every checksum fixed) is a one-line ``DataCorrupt``, never a history the strategy was not told."""
    if not evaluator.relookup_on_replay:
        return
    cols = table.select(["query", "arch", "status", "fidelity", "bench_seed", "val_acc"]).to_pydict()
    rows = [r for r in zip(*cols.values()) if r[2] in ("ok", "duplicate")]
    for fid in sorted({r[3] for r in rows}):
        group = [r for r in rows if r[3] == fid]
        answers = evaluator.evaluate([space.from_str(r[1]) for r in group], int(fid), [int(r[4]) for r in group])
        for r, res in zip(group, answers):
            if not (res.val_acc == r[5] or (math.isnan(res.val_acc) and math.isnan(r[5]))):
                raise DataCorrupt(f"{where}: query {r[0]} has val_acc {r[5]!r}, but the benchmark answers "
                                  f"{res.val_acc!r} (edited after the run?); rerun that run with --force")


def _sha(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _guarded(evaluator: Evaluator, archs: list, fidelity: int, seeds: list[int]) -> list[Result]:
    """Evaluate; a crash or malformed answer becomes failed Results (the phase goes on)."""
    try:
        results = evaluator.evaluate(archs, fidelity, seeds)
        if len(results) != len(archs):
            raise RuntimeError(f"evaluator returned {len(results)} results for {len(archs)} architectures")
        return results
    except HarnessError:
        raise
    except Exception as exc:  # noqa: BLE001 - recorded in the row, not swallowed
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return [Result(math.nan, status="failed", error=msg, bench_seed=s) for s in seeds]


def final_rng(manifest: dict) -> np.random.Generator:
    """A fresh generator on the run's ``final`` stream (``harness.seeding``): the same draws every time."""
    cfg = manifest["config"]
    seq = seeding.run_seed_sequence(cfg["space"], cfg["dataset"], cfg["strategy"], cfg["seed"], cfg["root_seed"])
    return np.random.default_rng(seeding.stream(seq, "final"))


def strategy_guard(name: str, timeout_s: float | None = None):
    """``guard(method, call)``: the runner's guard of a strategy call (``harness.runner._guard``, one
    line for an exception, ``StrategyTimeout`` past ``timeout_s``), for the strategy ``name``."""
    who = types.SimpleNamespace(strategy=name)
    return lambda method, call: _guard(who, method, call, timeout_s)


def rebuild_strategy(run_paths: storage.RunPaths, manifest: dict, space, evaluator: Evaluator,
                     notes: list[str], timeout_s: float | None = None) -> Strategy | None:
    """The run's strategy set up as the runner set it up and loaded with its stored final state
    (which must be there, matching its checksum, wherever the manifest records one); None, with a
    note, when the run could not store its state and the strategy's proposals need it (the default
    ``recommend`` needs only the trajectory)."""
    cfg = manifest["config"]
    guard = strategy_guard(cfg["strategy"], timeout_s)
    cls = STRATEGIES.get(cfg["strategy"])
    strategy = guard("__init__", lambda: cls(**dict(cfg.get("strategy_params") or {})))
    seq = seeding.run_seed_sequence(cfg["space"], cfg["dataset"], cfg["strategy"], cfg["seed"], cfg["root_seed"])
    ctx = RunContext(fidelities=tuple(evaluator.fidelities), fidelity=int(manifest["fidelity"]),
                     budget=cfg.get("budget"), time_budget=cfg.get("time_budget"),
                     batch_size=int(cfg.get("batch_size") or 1))
    guard("setup", lambda: strategy.setup(space, seeding.stream(seq, "strategy"), ctx))
    path, sha = run_paths.strategy_state, manifest.get("strategy_state_sha256")
    if sha is not None:
        if not path.is_file():
            raise DataCorrupt(f"{path} is missing (deleted or moved?) though {run_paths.manifest.name} records it; "
                              f"put it back or rerun the search with --force")
        if atomic.sha256_file(path) != sha:
            raise DataCorrupt(f"{path} does not match its manifest's checksum; rerun that run with --force")
        state = storage.unpack_state(path, manifest["run_id"], cfg["seed"])
        guard("load_state_dict", lambda: strategy.load_state_dict(state))
    elif type(strategy).recommend is not Strategy.recommend:
        notes.append(f"{cfg['strategy']} seed={cfg['seed']}: no stored strategy state "
                     f"({manifest.get('strategy_state', 'none recorded')}); its model cannot be sampled, rerun the "
                     f"search with --force")
        return None
    return strategy


def shared_evaluator(cache: dict, entry, cfg: dict, space, data_dir, options: EvaluatorOptions) -> Evaluator:
    """The run's search evaluator, reseeded from its ``evaluator`` stream as the runner does; a
    stateless one is kept in ``cache`` for the next run of the same (space, dataset)."""
    key = (cfg["space"], cfg["dataset"])
    ev = cache.get(key)
    if ev is None:
        ev = entry.make_evaluator(cfg["dataset"], data_dir, space, options)
        seq = seeding.run_seed_sequence(cfg["space"], cfg["dataset"], cfg["strategy"], cfg["seed"], cfg["root_seed"])
        ev.reseed(int(seeding.stream(seq, "evaluator").generate_state(1)[0]))
        if not ev.stateful:
            cache[key] = ev
    return ev


def read_search_manifest(run_paths: storage.RunPaths) -> dict:
    """The manifest of a complete run, checked (else a one-line error naming the file): its seal
    (``storage.seal_problem``), its shape, that it is the run its location names
    (``identity_problem``), and the trajectory's checksum."""
    m = storage.read_manifest(run_paths.manifest)
    if not m or m.get("status") != "complete":
        raise HarnessError(f"{run_paths.trajectory} is not a complete run; finish it with `python -m harness "
                           f"run` before its final phase")
    why = storage.seal_problem(m) or shape_problem(m) or identity_problem(run_paths, m)
    if why:
        raise DataCorrupt(f"{run_paths.manifest} {why}")
    if not run_paths.trajectory.is_file():
        raise DataCorrupt(f"{run_paths.trajectory} is missing (deleted or moved?) though its manifest is there; "
                          f"rerun that run with --force")
    if atomic.sha256_file(run_paths.trajectory) != m.get("trajectory_sha256"):
        raise DataCorrupt(f"{run_paths.trajectory} does not match its manifest's checksum; rerun that run "
                          f"with --force")
    return m


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def shape_problem(m: dict) -> str:
    """What the final phase cannot read in a manifest ("" when nothing)."""
    fix = "; rerun that run with --force"
    cfg = m.get("config")
    if not isinstance(cfg, dict):
        return f"has no 'config' object{fix}"
    for key in ("space", "dataset", "strategy"):
        if not isinstance(cfg.get(key), str):
            return f"has no text config.{key}{fix}"
    for key in ("seed", "root_seed"):
        if not _is_int(cfg.get(key)):
            return f"has config.{key} {cfg.get(key)!r}, not a whole number{fix}"
    if not isinstance(cfg.get("strategy_params", {}), dict):
        return f"has config.strategy_params {safe_repr(cfg.get('strategy_params'))}, not an object{fix}"
    if not isinstance(m.get("run_id"), str):
        return f"has no run_id{fix}"
    if not _is_int(m.get("fidelity")):
        return f"has fidelity {safe_repr(m.get('fidelity'))}, not a whole number of epochs{fix}"
    report = m.get("report")
    if not (isinstance(report, dict) and all(
            isinstance(report.get(k), list) and len(report[k]) == 2 and isinstance(report[k][0], str)
            and _is_int(report[k][1]) for k in ("val", "test"))):
        return f"has no report {{val, test}} [dataset, fidelity] pairs{fix}"
    return ""


def identity_problem(run_paths: storage.RunPaths, m: dict) -> str:
    """Whether the manifest is of the run its location names: folder ``<space>/<dataset>/<strategy>``
    and file ``seed=<k>`` against its config, and its run id against the hash of that config
    (``RunConfig.run_id``). A copied, moved or edited run is refused, never evaluated as another."""
    cfg = m["config"]
    fix = "; a run is only valid where it was written: rerun it there with --force"
    for key, where in zip(("space", "dataset", "strategy", "seed"), run_paths.identity()):
        if cfg[key] != where:
            return f"has config.{key} {cfg[key]!r}, but lies at {key} {where!r} (moved, copied or edited){fix}"
    fields_ = dict(cfg)
    fields_["strategy_params"] = tuple(fields_.get("strategy_params", {}).items())
    for key in ("report_val", "report_test"):
        if isinstance(fields_.get(key), list):
            fields_[key] = tuple(fields_[key])
    try:
        run_id = RunConfig(**fields_).run_id
    except HarnessError as exc:
        return f"has an invalid config ({exc}){fix}"
    except (TypeError, ValueError) as exc:
        return f"has a malformed config ({str(exc).splitlines()[0]}){fix}"
    if run_id != m["run_id"]:
        return f"has run_id {m['run_id']!r}, but its config hashes to {run_id!r} (edited){fix}"
    fidelity = cfg.get("fidelity")
    if fidelity is not None and m["fidelity"] != fidelity:
        return f"has fidelity {m['fidelity']!r}, but its config says {fidelity!r} (edited){fix}"
    for key in ("val", "test"):  # the report columns the runner read: the config's, or the search fidelity's
        want = list(cfg.get(f"report_{key}") or (cfg["dataset"], m["fidelity"]))
        if m["report"][key] != want:
            return f"has report.{key} {m['report'][key]!r}, but its config makes it {want!r} (edited){fix}"
    return ""


class FinalRun:
    """The final phase of one complete search run; ``execute`` is the whole of it."""

    def __init__(self, run_paths: storage.RunPaths, protocol: FinalProtocol, data_dir=None, *,
                 options: EvaluatorOptions = EvaluatorOptions(), force: bool = False,
                 evaluators: dict | None = None, strategy_timeout_s: float | None = None):
        self.run_paths, self.protocol, self.data_dir = run_paths, protocol, data_dir
        self.strategy_timeout_s = strategy_timeout_s
        """Seconds one strategy call may take (``--strategy-timeout``); past it, ``StrategyTimeout``."""
        self.evaluators = {} if evaluators is None else evaluators
        """Stateless evaluators by (space, dataset), shared by the runs of one command (a table loads once)."""
        self.options, self.force = options, force
        self.paths = FinalPaths.of(run_paths)
        self.notes: list[str] = []

    # ------------------------------------------------------------------ identity
    def final_id(self, manifest: dict) -> str:
        return _sha({"run_id": manifest["run_id"], "trajectory": manifest.get("trajectory_sha256"),
                     "state": manifest.get("strategy_state_sha256"), "protocol": self.protocol.identity(),
                     "schema": FINAL_SCHEMA_VERSION})

    def is_complete(self, final_id: str) -> bool:
        m = storage.read_manifest(self.paths.manifest)
        return bool(m and m.get("final_id") == final_id and m.get("status") == "complete"
                    and self.paths.parquet.is_file()
                    and atomic.sha256_file(self.paths.parquet) == m.get("parquet_sha256"))

    def _items(self, strategy: Strategy | None, history: list[Observation], space, manifest: dict) -> list[Item]:
        n = self.protocol.samples
        name = manifest["config"]["strategy"]
        chosen: list[tuple[str, list]] = []
        if strategy is not None:
            chosen.append(("model", self._recommend(strategy, n, final_rng(manifest), history)))
        if name in self.protocol.top_k_for:
            chosen.append(("top", best_observed(history, n)))
        items = []
        for selection, proposals in chosen:
            for k, p in enumerate(proposals[:n]):
                p = p if isinstance(p, Proposal) else Proposal(p)
                try:
                    info = tuple((str(key), value) for key, value in p.info)
                    json.dumps(dict(info), default=float)
                except Exception:  # noqa: BLE001 - a user's info may be anything
                    items.append(Item(selection, k, None, "", "", (), invalid="the proposal's info is not (name, "
                                      "number or text) pairs"))
                    continue
                try:
                    valid = bool(space.is_valid(p.arch))
                    ident = (space.to_str(p.arch), space.canonical_id(p.arch)) if valid else None
                except Exception:  # noqa: BLE001 - a user's object may break is_valid
                    ident = None
                if ident is not None:
                    items.append(Item(selection, k, p.arch, *ident, info))
                else:
                    items.append(Item(selection, k, None, "", "", info,
                                      invalid=f"not a valid {space.name} architecture"))
        return items

    def _recommend(self, strategy: Strategy, n: int, rng: np.random.Generator, history: list[Observation]) -> list:
        """``strategy.recommend``'s proposals as a list, through the runner's guard; a one-line error
        when it returns no collection of proposals."""
        guard = strategy_guard(self.strategy_name, self.strategy_timeout_s)
        got = guard("recommend", lambda: strategy.recommend(n, rng, history))
        if got is None or isinstance(got, (str, bytes, dict)) or not hasattr(got, "__iter__"):
            raise HarnessError(f"strategy {self.strategy_name!r} recommend() returned {safe_repr(got, 60)}, not a list "
                               f"of architectures; fix it and rerun the same command")
        return guard("recommend", lambda: list(itertools.islice(got, n)))

    # ------------------------------------------------------------------ stages
    def _stage(self, b: int, stage: str, repeat: int, items: list[Item], fidelity: int, answer) -> None:
        """Journal batch ``b``: the distinct architectures of ``items`` answered by ``answer(archs)``
        (replayed from the journal when it holds the batch)."""
        todo = [it for it in items if it.arch is not None]
        distinct: dict[str, Item] = {}
        for it in todo:
            distinct.setdefault(it.arch_id, it)
        queries = [Query(b, Proposal(it.arch), fidelity, text=it.text, arch_id=it.arch_id, bench_seed=repeat)
                   for it in distinct.values()]
        if b < len(self.replay):
            self.journal.restore(self.replay[b], queries, self.strategy_name)
        else:
            t0 = time.perf_counter()
            if queries:
                results, vals, tests = answer([q.arch for q in queries], fidelity, repeat)
                for q, r, v, t in zip(queries, results, vals, tests):
                    q.result, q.report_val, q.report_test = r, v, t
            self.journal.append(b, queries, (time.perf_counter() - t0) / max(len(queries), 1))
        by_id = {q.arch_id: q for q in queries}
        for it in todo:
            q = by_id[it.arch_id]
            it.answers[(stage, repeat)] = (q.result, q.report_val, q.report_test)

    def _trained(self, evaluator: Evaluator):
        def answer(archs, fidelity, repeat):
            results = _guarded(evaluator, archs, fidelity, [repeat] * len(archs))
            return results, [r.val_acc for r in results], [r.test_acc for r in results]
        return answer

    def _tabular(self, evaluator: Evaluator, report: dict):
        """The run's report columns (val and test at the report dataset/fidelity), cost and extras of
        the table entry at the report fidelity when the evaluator has it."""
        (v_ds, v_fid), (t_ds, t_fid) = report["val"], report["test"]

        def answer(archs, fidelity, repeat):
            vals = evaluator.report_values(archs, v_ds, int(v_fid), "val")
            tests = evaluator.report_values(archs, t_ds, int(t_fid), "test")
            if vals is None or tests is None:
                raise HarnessError(f"the report columns ({v_ds} {v_fid} / {t_ds} {t_fid}) are not available from this "
                                   f"evaluator; import the table that has them")
            base = (_guarded(evaluator, archs, fidelity, [-1] * len(archs)) if fidelity in evaluator.fidelities
                    else [Result(math.nan) for _ in archs])
            return base, [float(v) for v in vals], [float(t) for t in tests]
        return answer

    # ------------------------------------------------------------------ rows
    def _rows(self, items: list[Item], header: dict, space) -> list[FinalRow]:
        rows = []
        for it in items:
            paths = io_paths(space.to_dag(it.arch)) if it.arch is not None else (math.nan, math.nan)
            extra = json.dumps(dict(it.info), sort_keys=True, default=float) if it.info else ""
            common = dict(header, selection=it.selection, sample=it.sample, arch=it.text, arch_id=it.arch_id,
                          path_mean=paths[0], path_longest=paths[1], extra=extra)
            if it.invalid:
                rows.append(FinalRow(**common, stage="final", repeat=-1, kept=False, status="invalid", fidelity=0,
                                     val_acc=math.nan, test_acc=math.nan, cost_s=math.nan, params=math.nan,
                                     flops=math.nan, error=it.invalid))
                continue
            for (stage, repeat), (r, val, test) in sorted(it.answers.items(), key=lambda kv: (STAGES.index(kv[0][0]), kv[0][1])):
                ex = dict(r.extra)
                cost = float(ex.get("train_s", r.cost_s))
                kept = it.kept if stage == "screen" else True
                ok = r.status == "ok" and math.isfinite(val)
                rows.append(FinalRow(**common, stage=stage, repeat=repeat, kept=kept,
                                     status="ok" if ok else (r.status if r.status != "ok" else "failed"),
                                     fidelity=self.fidelities[stage], val_acc=float(val), test_acc=float(test),
                                     cost_s=cost, params=float(ex.get("params", math.nan)),
                                     flops=float(ex.get("flops", math.nan)), error=r.error))
        return rows

    # ------------------------------------------------------------------ the phase
    def execute(self) -> FinalOutcome:
        from blackboxes.entry import resolve  # noqa: PLC0415 - the benchmark layer sits above the engine core
        from blackboxes.registry import get_benchmark  # noqa: PLC0415

        manifest = read_search_manifest(self.run_paths)
        cfg = manifest["config"]
        self.strategy_name = name = cfg["strategy"]
        outcome = FinalOutcome(name, int(cfg["seed"]), skipped=True, paths=self.paths)
        fid = self.final_id(manifest)
        if not self.force and self.is_complete(fid):
            return outcome
        lock = RunLock(self.paths.lock)
        lock.acquire()
        self.journal = None
        try:
            if not self.force and self.is_complete(fid):
                return outcome
            start = time.perf_counter()
            entry = get_benchmark(cfg["space"])
            space = entry.make_space(cfg["dataset"])
            evaluator = shared_evaluator(self.evaluators, entry, cfg, space, self.data_dir, self.options)
            trajectory = storage.read_trajectory(self.run_paths.trajectory)
            history = history_of(trajectory, space, self.run_paths.trajectory)
            check_against_table(trajectory, space, evaluator, self.run_paths.trajectory)
            strategy = rebuild_strategy(self.run_paths, manifest, space, evaluator, self.notes, self.strategy_timeout_s)
            items = self._items(strategy, history, space, manifest)

            target = final_evaluator_target(cfg["space"], cfg["dataset"])
            p = self.protocol
            if target is None:
                final_ev, answer = evaluator, self._tabular(evaluator, manifest["report"])
                final_fid, repeats = int(manifest["report"]["val"][1]), [-1]
                if p.screen_epochs is not None or p.repeats > 1:
                    self.notes.append(f"{cfg['space']}/{cfg['dataset']} is tabular: the final answer is its report "
                                      f"column; --screen-epochs and --repeats do not apply")
                screen = None
            else:
                final_ev = resolve(target)(cfg["dataset"], self.data_dir, space, self.options)
                answer = self._trained(final_ev)
                final_fid = p.final_epochs or final_ev.default_fidelity
                repeats = list(range(p.repeats))
                screen = p.screen_epochs
            self.fidelities = {"search": int(manifest["fidelity"]), "screen": screen or 0, "final": final_fid}

            if self.force:
                for stale in (self.paths.journal,):
                    if stale.exists():
                        stale.rename(stale.with_name(stale.name + ".stale-forced"))
            self.journal = Journal(self.paths.journal, fid, fsync=final_ev.journal_fsync or evaluator.journal_fsync)
            self.replay = self.journal.load()
            self.notes += self.journal.notes
            b = 0
            if not evaluator.stateful:
                self._stage(b, "search", -1, items, self.fidelities["search"], self._trained(evaluator))
                b += 1
            else:
                self.notes.append(f"{name} seed={cfg['seed']}: the search evaluator is stateful (a supernet whose final "
                                  f"state is not kept); no Low Data (Search) stage")
            survivors = [it for it in items if it.arch is not None]
            if screen:
                self._stage(b, "screen", 0, survivors, screen, answer)
                b += 1
                survivors = self._keep(survivors)
            for r in repeats:
                self._stage(b, "final", r, survivors, final_fid, answer)
                b += 1

            header = dict(schema_version=FINAL_SCHEMA_VERSION, final_id=fid, run_id=manifest["run_id"],
                          final_protocol=p.name, space=cfg["space"], dataset=cfg["dataset"], strategy=name,
                          seed=int(cfg["seed"]))
            rows = self._rows(items, header, space)
            table = pa.Table.from_pydict({n: [getattr(r, n) for r in rows] for n in FINAL_SCHEMA.names},
                                         schema=FINAL_SCHEMA)
            atomic.write_parquet(self.paths.parquet, table)
            wall = time.perf_counter() - start
            atomic.write_json(self.paths.manifest, storage._json_safe({
                "final_id": fid, "status": "complete", "schema_version": FINAL_SCHEMA_VERSION,
                "run_id": manifest["run_id"], "protocol": {"name": p.name, "description": p.description,
                                                           **p.identity()},
                "final_evaluator": target or "tabular: the run's report columns", "final_fidelity": final_fid,
                "evaluator": final_ev.describe(), "n_rows": len(rows), "wall_s": wall,
                "parquet_sha256": atomic.sha256_file(self.paths.parquet), "resumed_batches": len(self.replay),
                "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }))
            self.journal.close(remove=True)
            outcome.skipped, outcome.n_rows, outcome.wall_s, outcome.notes = False, len(rows), wall, self.notes
            return outcome
        finally:
            if self.journal is not None:
                self.journal.close()
            lock.release()

    def _keep(self, items: list[Item]) -> list[Item]:
        """The ``keep`` best of each selection by screen validation (ties: sample order); the rest are
        marked not kept."""
        k = self.protocol.keep
        if k is None:
            return items
        out = []
        for selection in SELECTIONS:
            group = [it for it in items if it.selection == selection]
            score = {id(it): it.answers[("screen", 0)][1] for it in group}
            ranked = sorted(group, key=lambda it: (-(score[id(it)] if math.isfinite(score[id(it)]) else -math.inf),
                                                   it.sample))
            for it in ranked[k:]:
                it.kept = False
            out += [it for it in group if it.kept]
        return out


def find_runs(results: Path, space: str | None = None, dataset: str | None = None,
              strategies: Sequence[str] | None = None, seeds: Sequence[int] | None = None) -> list[storage.RunPaths]:
    """Every stored run under ``results`` (``<space>/<dataset>/<strategy>/seed=K.run.json``), filtered."""
    out = []
    for m in sorted(Path(results).glob("*/*/*/seed=*.run.json")):
        sp, ds, st = m.parts[-4], m.parts[-3], m.parts[-2]
        digits = m.name.removeprefix("seed=").removesuffix(".run.json")
        if not digits.isdigit() or m.name != f"seed={int(digits)}.run.json":  # not a name the runner writes
            continue
        seed = int(digits)
        if (space and sp != space) or (dataset and ds != dataset) or (strategies and st not in strategies) \
                or (seeds is not None and seed not in seeds):
            continue
        out.append(storage.RunPaths.of(Path(results), sp, ds, st, seed))
    return out
