"""Trajectory files: one parquet per run, a row per query, plus timing and a manifest.

Layout: ``<out>/<space>/<dataset>/<strategy>/seed=<k>.parquet`` (the trajectory),
``seed=<k>.timing.parquet`` (measured wall and strategy seconds) and ``seed=<k>.run.json``
(resolved config, versions, checksums). Measured times can never repeat exactly, so they live
in the timing file: the trajectory itself is byte-identical for the same seed. The manifest is
written last and marks the run complete. Incumbents are derived in reports, never stored.

Nothing read back is trusted: the manifest is sealed (``manifest_sha256`` over its canonical JSON,
``seal``/``seal_problem``), it carries the checksums of the trajectory and the strategy state, and
``read_trajectory`` range-checks every value a report or the final phase computes with.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from harness import atomic
from harness.errors import DataCorrupt, HarnessError

SCHEMA_VERSION = 1

def _column(arrow_type: pa.DataType, doc: str = ""):
    return field(metadata={"arrow": arrow_type, "doc": doc})


@dataclass(frozen=True)
class Row:
    """One trajectory row: a query as stored. ``TRAJECTORY_SCHEMA`` is derived from these fields."""

    schema_version: int = _column(pa.int16())
    run_id: str = _column(pa.string())
    protocol: str = _column(pa.string(), 'named protocol preset ("" = custom settings)')
    space: str = _column(pa.string())
    dataset: str = _column(pa.string())
    strategy: str = _column(pa.string())
    seed: int = _column(pa.int32())
    query: int = _column(pa.int32(), "0-based index of the query in the run (every row is a query)")
    batch: int = _column(pa.int32(), "which ask() call proposed it")
    arch: str = _column(pa.string(), 'SearchSpace.to_str; "" when the strategy\'s object was not an arch')
    arch_id: str = _column(pa.string(), "SearchSpace.canonical_id")
    status: str = _column(pa.string(), "ok | invalid | failed | duplicate")
    duplicate: bool = _column(pa.bool_(), "canonical id seen before in this run")
    charged: bool = _column(pa.bool_(), "counted against the budget (dedup policy)")
    queries_charged: int = _column(pa.int32(), "cumulative charged queries including this row")
    fidelity: int = _column(pa.int32(), "e.g. training epochs of the benchmark entry queried")
    bench_seed: int = _column(pa.int32(), "benchmark repeat answered; -1 = mean over repeats")
    val_acc: float = _column(pa.float64(), "percent; what the strategy was told")
    test_acc: float = _column(pa.float64(), "percent; never shown to the strategy")
    cost_s: float = _column(pa.float64(), "simulated training seconds of this query")
    cost_cum_s: float = _column(pa.float64(), "cumulative charged simulated seconds")
    report_val_acc: float = _column(pa.float64(), "percent; validation at the protocol's report fidelity/dataset")
    report_test_acc: float = _column(pa.float64(), "percent; test at the protocol's report fidelity/dataset")
    error: str = _column(pa.string())
    extra: str = _column(pa.string(), "JSON object of strategy/evaluator extras (sorted keys)")


TRAJECTORY_SCHEMA = pa.schema([(f.name, f.metadata["arrow"]) for f in fields(Row)])


TIMING_SCHEMA = pa.schema(
    [
        ("query", pa.int32()),
        ("wall_s", pa.float64()),  # wall seconds since the run started, at this query's end
        ("eval_s", pa.float64()),  # evaluator seconds attributed to this query
        ("strategy_s", pa.float64()),  # ask+tell seconds attributed to this query
    ]
)


@dataclass(frozen=True)
class RunPaths:
    trajectory: Path
    timing: Path
    manifest: Path
    journal: Path
    evaluator_state: Path
    strategy_state: Path
    """The strategy's final ``state_dict`` (``harness.statefile``): what the final phase samples from."""
    lock: Path
    """Held (``harness.locks``) by the one command writing this run."""

    def identity(self) -> tuple[str, str, str, int | None]:
        """(space, dataset, strategy, seed) as the files' location names them (seed None when the
        file name is not ``seed=<k>.parquet``): what the manifest inside must agree with."""
        space, dataset, strategy = self.trajectory.parts[-4:-1]
        digits = self.trajectory.name.removeprefix("seed=").removesuffix(".parquet")
        seed = int(digits) if digits.isdigit() and self.trajectory.name == f"seed={int(digits)}.parquet" else None
        return space, dataset, strategy, seed

    @classmethod
    def of(cls, out: Path, space: str, dataset: str, strategy: str, seed: int) -> "RunPaths":
        base = Path(out) / space / dataset / strategy
        return cls(base / f"seed={seed}.parquet", base / f"seed={seed}.timing.parquet", base / f"seed={seed}.run.json",
                   base / f"seed={seed}.journal.jsonl", base / f"seed={seed}.evaluator.npz",
                   base / f"seed={seed}.strategy.npz", base / f".seed={seed}.lock")


def to_table(rows: dict[str, list], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pydict({name: rows[name] for name in schema.names}, schema=schema)


def rows_table(rows: list[Row]) -> pa.Table:
    """The trajectory table of ``rows``, in the schema's column order."""
    return to_table({name: [getattr(r, name) for r in rows] for name in TRAJECTORY_SCHEMA.names}, TRAJECTORY_SCHEMA)


def write_run(paths: RunPaths, trajectory: pa.Table, timing: pa.Table, manifest: dict[str, Any],
              strategy_state: bytes | None = None) -> None:
    """Trajectory, timing, the strategy's final state, then the manifest (the completion marker),
    each written atomically; the manifest carries the checksums of the others."""
    try:
        atomic.write_parquet(paths.trajectory, trajectory)
        atomic.write_parquet(paths.timing, timing)
        manifest = dict(manifest, trajectory_sha256=atomic.sha256_file(paths.trajectory))
        if strategy_state is not None:
            atomic.write_bytes(paths.strategy_state, strategy_state)
            manifest["strategy_state_sha256"] = atomic.sha256_file(paths.strategy_state)
        atomic.write_json(paths.manifest, seal(manifest))
    except PermissionError as exc:
        raise HarnessError(f"cannot write results to {paths.trajectory.parent} ({exc.strerror}); pass a writable --out") from None
    except OSError as exc:
        raise HarnessError(f"writing results to {paths.trajectory.parent} failed ({exc.strerror}); free space or pass another --out") from None


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


SEAL = "manifest_sha256"


def _digest(manifest: dict) -> str:
    """sha256 of the manifest's canonical JSON, its seal left out."""
    body = {k: v for k, v in manifest.items() if k != SEAL}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()).hexdigest()


def seal(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest as stored (JSON-safe), with ``manifest_sha256`` over everything else in it."""
    safe = _json_safe({k: v for k, v in manifest.items() if k != SEAL})
    return dict(safe, **{SEAL: _digest(safe)})


def seal_problem(manifest: dict) -> str:
    """Why a manifest's seal does not vouch for it ("" when it does).

    A manifest without a seal (written by harness code older than the seal) is *refused*, not
    accepted with a warning: a check that deleting one key switches off checks nothing, and every
    run is deterministic, so rerunning it with ``--force`` rewrites the same trajectory, sealed."""
    if SEAL not in manifest:
        return "has no manifest_sha256 seal (written by an older harness); rerun that run with --force"
    try:
        ok = manifest[SEAL] == _digest(manifest)
    except (TypeError, ValueError):  # a NaN or an object JSON cannot write
        ok = False
    return "" if ok else ("does not match its manifest_sha256 seal (edited after the run wrote it?); rerun that "
                          "run with --force")


def pack_state(run_id: str, seed: int, state: Any) -> bytes:
    """A strategy's final ``state_dict`` as its state file, bound to its run: the run id and seed are
    stored inside, so a state file copied from another run (even with the manifest's checksum fixed
    and the manifest resealed) is recognised as that run's (``unpack_state``)."""
    from harness import statefile  # noqa: PLC0415 - core module, imported where state files are written

    return statefile.dumps({"run_id": run_id, "seed": seed, "state": state})


def unpack_state(path: Path, run_id: str, seed: int) -> Any:
    """The ``state_dict`` in the state file of run ``run_id`` (seed ``seed``), or a one-line ``DataCorrupt``
    when the file is of another run or not a bound state file."""
    from harness import statefile  # noqa: PLC0415

    bound = statefile.load(path)
    if not (isinstance(bound, dict) and set(bound) == {"run_id", "seed", "state"}):
        raise DataCorrupt(f"{path} is not a state file of this harness (written by an older one?); rerun that run "
                          f"with --force")
    if bound["run_id"] != run_id or bound["seed"] != seed:
        raise DataCorrupt(f"{path} holds the state of run {bound['run_id']!r} seed {bound['seed']!r}, not of this "
                          f"run {run_id!r} seed {seed} (copied from another run?); rerun that run with --force")
    return bound["state"]


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest, or None when absent or unreadable (the run is then treated as not done)."""
    try:
        manifest = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None  # valid JSON of another shape is no manifest


def is_complete(paths: RunPaths, run_id: str, code: dict | None = None) -> bool:
    """A finished run with the same identity whose trajectory and final strategy state still match
    their checksums -- and, given the current ``code`` fingerprint, produced by that code."""
    manifest = read_manifest(paths.manifest)
    if not manifest or manifest.get("run_id") != run_id or manifest.get("status") != "complete":
        return False
    if manifest.get("schema_version") != SCHEMA_VERSION or not paths.trajectory.is_file():
        return False
    if code is not None and stale_because(manifest, code):
        return False
    if seal_problem(manifest):
        return False
    state_sha = manifest.get("strategy_state_sha256")  # absent when the state could not be stored
    if state_sha is not None and not (paths.strategy_state.is_file()
                                      and atomic.sha256_file(paths.strategy_state) == state_sha):
        return False
    return atomic.sha256_file(paths.trajectory) == manifest.get("trajectory_sha256")


def write_failed(paths: RunPaths, manifest: dict[str, Any]) -> None:
    """The manifest of a run that stopped without finishing (status "failed"): rerun, never skipped."""
    try:
        atomic.write_json(paths.manifest, seal(manifest))
    except OSError as exc:
        raise HarnessError(f"writing {paths.manifest} failed ({exc.strerror}); free space or pass another --out") from None


def refuse_conflict(paths: RunPaths, run_id: str, code: dict | None = None) -> None:
    """A one-line refusal when ``paths`` hold a complete run that ours would replace: another
    configuration, or ours produced by other code (``code`` is the current fingerprint)."""
    manifest = read_manifest(paths.manifest)
    if not manifest or manifest.get("status") != "complete":
        return
    if manifest.get("run_id") != run_id:
        c = manifest.get("config", {}) if isinstance(manifest.get("config"), dict) else {}
        raise HarnessError(
            f"{paths.trajectory} holds a different complete run (protocol "
            f"{c.get('protocol') or 'custom'!r}, budget {c.get('budget')}, time budget {c.get('time_budget')}); "
            f"use another --out (e.g. results/<protocol>) or --force to replace it"
        )
    if code is not None and (why := stale_because(manifest, code)):
        raise HarnessError(f"{paths.trajectory} was produced by other code ({why}); rerun it with --force or "
                           f"use another --out")


def stale_because(manifest: dict, code: dict) -> str:
    """Why a complete run of the same configuration is not current ("" when it is)."""
    from harness.fingerprint import changed_parts  # noqa: PLC0415

    parts = changed_parts(manifest.get("code"), code)
    return f"changed since: {', '.join(parts)}" if parts else ""


def conflicting_run(paths: RunPaths, run_id: str) -> dict | None:
    """The manifest of a *different* complete run stored at these paths (it would be overwritten)."""
    manifest = read_manifest(paths.manifest)
    if manifest and manifest.get("status") == "complete" and manifest.get("run_id") != run_id:
        return manifest
    return None


STATUSES = ("ok", "invalid", "failed", "duplicate")
ACCURACIES = ("val_acc", "test_acc", "report_val_acc", "report_test_acc")
COSTS = ("cost_s", "cost_cum_s")


def read_trajectory(path: Path) -> pa.Table:
    """The trajectory at ``path``, its schema and values checked (``trajectory_problem``); a
    one-line ``DataCorrupt`` naming the file otherwise."""
    try:
        table = atomic.read_parquet(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataCorrupt(f"cannot read trajectory {path} ({str(exc).splitlines()[0]}); rerun that run "
                          f"with --force") from None
    if "schema_version" not in table.schema.names:
        raise DataCorrupt(f"{path} is no trajectory (no schema_version column); rerun that run with --force")
    version = table.column("schema_version")[0].as_py() if table.num_rows else SCHEMA_VERSION
    if version != SCHEMA_VERSION:
        raise HarnessError(
            f"{path} has trajectory schema {version}, this harness reads {SCHEMA_VERSION}; rerun with --force"
        )
    problem = trajectory_problem(table)
    if problem:
        raise DataCorrupt(f"{path}: {problem}; rerun that run with --force")
    return table


def trajectory_problem(table: pa.Table) -> str:
    """What is wrong with a trajectory's columns or values ("" when nothing): every column of
    ``TRAJECTORY_SCHEMA`` of its type; statuses from ``STATUSES``; accuracies percent (NaN or in
    [0, 100], finite validation on an ok row); costs non-negative and finite, or NaN (unknown: NB201's
    cifar100 entries at 200 epochs have no training time)."""
    wrong = [f.name for f in TRAJECTORY_SCHEMA
             if f.name not in table.schema.names or table.schema.field(f.name).type != f.type]
    if wrong:
        return f"missing or mistyped columns: {', '.join(wrong)}"
    col = {name: table.column(name).to_numpy(zero_copy_only=False) for name in ("status", *ACCURACIES, *COSTS)}
    status = col["status"].astype(object)
    bad = [s for s in dict.fromkeys(status.tolist()) if s not in STATUSES]
    if bad:
        return f"unknown status {bad[0]!r} (valid: {', '.join(STATUSES)})"
    ok = status == "ok"
    for name in ACCURACIES:
        v = col[name].astype(np.float64)
        out = ~np.isnan(v) & ((v < 0) | (v > 100))
        if name == "val_acc":
            out |= ok & ~np.isfinite(v)
        if out.any():
            q = int(np.flatnonzero(out)[0])
            return f"row {q} has {name} {float(v[q])!r}, not a percentage in [0, 100]"
    for name in COSTS:
        v = col[name].astype(np.float64)
        out = (v < 0) | np.isinf(v)
        if out.any():
            q = int(np.flatnonzero(out)[0])
            return f"row {q} has {name} {float(v[q])!r}, not a non-negative number of seconds"
    return ""
