"""Read every complete run under a results dir into one long table, and say which runs were skipped and why.

A run is used only when its manifest is a JSON object of the shape the runner writes, says
"complete", has this harness's schema version, and its trajectory matches the manifest's checksum
and is readable. Anything else is skipped with a reason (listed in the report's index.md and, via
``skipped_lines``, on the console), never a traceback: a results folder is data, and data can be
edited, truncated or copied from another version.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd
import pyarrow as pa

from harness import atomic, storage
from harness.errors import HarnessError

UNFINISHED = "no complete manifest (unfinished run)"
BAD_MANIFEST = "manifest unreadable or of the wrong shape"
SCHEMA = "written by another schema version"
CHECKSUM = "trajectory does not match its manifest checksum"
BAD_TRAJECTORY = "trajectory unreadable"
EMPTY = "empty trajectory (no rows)"

MAX_JSON_BYTES = 16 << 20
"""Largest manifest the report parses (a runner's is a few KiB): a bigger one is damaged, not read."""
MAX_TABLE_BYTES = 1 << 30
"""Largest trajectory, final or exact parquet the report reads."""


class Refused(Exception):
    """A file the report does not open: not a regular file (a FIFO, a device, a folder) or too large."""


def check_regular(path: Path, limit: int) -> None:
    """Refuse ``path`` unless it is a regular file (symlinks followed) of at most ``limit`` bytes, so a
    link to /dev/zero or a FIFO is never hashed or read and nothing waits for a writer."""
    st = os.stat(path)  # FileNotFoundError when absent
    if not stat.S_ISREG(st.st_mode):
        raise Refused(f"{Path(path).name} is not a regular file")
    if st.st_size > limit:
        raise Refused(f"{Path(path).name} is larger than {limit >> 20} MiB")


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (``check_regular``), read once through a
    descriptor that is checked again, so what is verified is what is parsed."""
    check_regular(path, limit)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # replaced since the check
            raise Refused(f"{Path(path).name} is not a regular file")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise Refused(f"{Path(path).name} is larger than {limit >> 20} MiB")
    return data


def read_json_object(path: Path) -> dict | None:
    """The JSON object in ``path`` (bounded, regular files only); None when it is not a JSON object.
    Raises FileNotFoundError when absent and ``Refused`` for a special or oversized file."""
    try:
        value = json.loads(read_bounded(path, MAX_JSON_BYTES))
    except ValueError:  # JSONDecodeError, or bytes that are not UTF-8
        return None
    return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class Skipped:
    """One run (or, ``kind``, one run's final result or exact distribution) left out of the report: its
    parquet path (relative to the results dir) and why."""

    path: Path
    reason: str
    detail: str = ""
    kind: str = "run"

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}{f' ({self.detail})' if self.detail else ''} - skipped"


@dataclass
class Loaded:
    rows: pd.DataFrame
    manifests: dict[tuple, dict]
    problems: list[Skipped] = field(default_factory=list)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _shape_problem(manifest: dict) -> str | None:
    """What in a complete manifest the report cannot use (None: nothing), e.g. "config" a string."""
    cfg = manifest.get("config")
    if not isinstance(cfg, dict):
        return "'config' is not an object"
    for key in ("space", "dataset", "strategy"):
        if not isinstance(cfg.get(key), str):
            return f"config.{key} is not a string"
    checks = (("seed", _is_int, False), ("protocol", lambda v: isinstance(v, str), True),
              ("budget", _is_int, True), ("time_budget", _is_number, True), ("dedup", lambda v: isinstance(v, str), True))
    for key, ok, optional in checks:
        value = cfg.get(key)
        if not (ok(value) or (optional and value is None)):
            return f"config.{key} has the wrong type"
    if not (manifest.get("fidelity") is None or _is_int(manifest["fidelity"])):
        return "fidelity is not an integer"
    if "report" in manifest:
        report = manifest["report"]
        if not isinstance(report, dict):
            return "'report' is not an object"
        for key in ("val", "test"):
            pair = report.get(key)
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, (str, int)) for x in pair)):
                return f"report.{key} is not a [dataset, fidelity] pair"
        missing = report.get("missing", [])
        if not (isinstance(missing, list) and all(isinstance(m, str) for m in missing)):
            return "report.missing is not a list of strings"
    return None


def _check_manifest(manifest_path: Path, rel: Path) -> tuple[dict | None, Skipped | None]:
    """The manifest of a usable run, or why the run at ``rel`` is skipped."""
    try:
        manifest = read_json_object(manifest_path)
    except FileNotFoundError:
        return None, Skipped(rel, UNFINISHED)
    except Refused as exc:
        return None, Skipped(rel, BAD_MANIFEST, str(exc))
    except OSError as exc:  # e.g. no permission
        return None, Skipped(rel, BAD_MANIFEST, exc.strerror or str(exc))
    if manifest is None:
        return None, Skipped(rel, BAD_MANIFEST, "not a JSON object")
    if manifest.get("status") != "complete":
        return None, Skipped(rel, UNFINISHED, f"status {manifest.get('status')!r}")
    if manifest.get("schema_version") != storage.SCHEMA_VERSION:
        return None, Skipped(rel, SCHEMA, f"manifest schema {manifest.get('schema_version')!r}, "
                                          f"this harness reads {storage.SCHEMA_VERSION}; rerun it with --force")
    problem = _shape_problem(manifest) or storage.seal_problem(manifest)
    if problem:
        return None, Skipped(rel, BAD_MANIFEST, problem)
    return manifest, None


def _read_trajectory(path: Path, rel: Path) -> tuple[pd.DataFrame | None, Skipped | None]:
    """The trajectory as a frame with every column the report reads, of its stored type, or why not."""
    try:
        table = storage.read_trajectory(path)  # DataCorrupt (a HarnessError) for values out of range
    except (HarnessError, KeyError, pa.ArrowException, ValueError) as exc:  # KeyError: no schema_version column
        detail = str(exc).splitlines()[0].strip("'\"") if str(exc) else type(exc).__name__
        return None, Skipped(rel, BAD_TRAJECTORY, detail)
    wrong = [f.name for f in storage.TRAJECTORY_SCHEMA
             if f.name not in table.schema.names or table.schema.field(f.name).type != f.type]
    if wrong:
        return None, Skipped(rel, BAD_TRAJECTORY, f"missing or mistyped columns: {', '.join(wrong)}")
    if table.num_rows == 0:
        return None, Skipped(rel, EMPTY)
    return table.to_pandas(), None


def _load_run(path: Path, rel: Path) -> tuple[dict | None, pd.DataFrame | None, Skipped | None]:
    manifest, problem = _check_manifest(path.with_name(path.name.replace(".parquet", ".run.json")), rel)
    if problem is not None:
        return None, None, problem
    try:
        check_regular(path, MAX_TABLE_BYTES)
        digest = atomic.sha256_file(path)
    except Refused as exc:  # e.g. a link to /dev/zero, a FIFO or a folder named seed=0.parquet
        return None, None, Skipped(rel, BAD_TRAJECTORY, str(exc))
    except OSError as exc:  # e.g. no permission
        return None, None, Skipped(rel, BAD_TRAJECTORY, exc.strerror or str(exc))
    if manifest.get("trajectory_sha256") != digest:
        return None, None, Skipped(rel, CHECKSUM, "rerun it with --force")
    frame, problem = _read_trajectory(path, rel)
    return manifest, frame, problem


def load_results(results: Path, space: str | None = None, dataset: str | None = None,
                 say: Callable[[str], None] | None = None) -> Loaded:
    """All complete runs (manifest says complete and the trajectory matches its checksum); ``say`` gets
    one line per group of skipped runs (``skipped_lines``), also when no run is left."""
    results = Path(results)
    if not results.is_dir():
        raise HarnessError(f"no results directory {results}; run `python -m harness run ...` first or pass --results")
    frames, manifests, problems = [], {}, []
    pattern = f"{space or '*'}/{dataset or '*'}/*/seed=*.parquet"
    for path in sorted(results.glob(pattern)):
        if "." in path.name.removesuffix(".parquet"):  # seed=K.<kind>.parquet: timing, final, exact, dynamics...
            continue
        rel = path.relative_to(results)
        manifest, frame, problem = _load_run(path, rel)
        if problem is not None:
            problems.append(problem)
            continue
        frame["run_fidelity"] = manifest.get("fidelity", frame["fidelity"].max())
        frames.append(frame)
        cfg = manifest["config"]
        manifests[(cfg["space"], cfg["dataset"], cfg.get("protocol", ""), cfg["strategy"], cfg["seed"])] = manifest
    for line in skipped_lines(problems) if say else ():
        say(line)
    if not frames:
        where = f" for {space or '*'}/{dataset or '*'}" if space or dataset else ""
        if problems:
            raise HarnessError(f"no complete runs under {results}{where}: {len(problems)} skipped ({_counts(problems)}); "
                               f"rerun them with `python -m harness run ...` (--force for corrupt ones)")
        raise HarnessError(f"no runs under {results}{where} (it holds no <space>/<dataset>/<strategy>/seed=*.parquet); "
                           f"run `python -m harness run ...` first or pass --results")
    rows = pd.concat(frames, ignore_index=True)
    return Loaded(rows, manifests, problems)


def _counts(problems: list[Skipped]) -> str:
    counts = Counter(p.reason for p in problems)
    return ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def skipped_lines(problems: list[Skipped]) -> list[str]:
    """One console line per skipped group (space/dataset/strategy, and whether runs, final results or
    exact distributions) with its reasons, then the totals."""
    groups: dict[tuple[str, str], list[Skipped]] = {}
    for p in problems:
        groups.setdefault(("/".join(p.path.parts[:3]), p.kind), []).append(p)
    lines = []
    for (group, kind), ps in sorted(groups.items(), key=lambda kv: (kv[0][1] != "run", kv[0])):
        seeds = ", ".join(p.path.name.removesuffix(".parquet") for p in ps)
        lines.append(f"skipped {len(ps)} {kind}{'s' if len(ps) > 1 else ''} of {group} ({seeds}): {_counts(ps)}")
    runs = sum(p.kind == "run" for p in problems)
    if runs:
        lines.append(f"{runs} run{'s' if runs > 1 else ''} skipped in all (rerun unfinished ones with "
                     f"the same `run` command, corrupt ones with --force)")
    if len(problems) > runs:
        n = len(problems) - runs
        lines.append(f"{n} final result{'s' if n > 1 else ''} or exact distribution{'s' if n > 1 else ''} left out "
                     f"of the after-the-search tables, their strategies flagged (†); rerun `python -m harness final` "
                     f"(--force for corrupt ones)")
    return lines


# ---------------------------------------------------------------------------------------------- after the search
FINAL, EXACT = "final result", "exact distribution"
NO_RESULT = "none stored (other seeds of this strategy have one)"
UNFINISHED_PHASE = "no complete manifest (unfinished or deleted)"
BAD_JSON = "manifest unreadable or of the wrong shape"
OTHER_SEARCH = "belongs to another search run (stale)"
PARQUET_CHECKSUM = "parquet does not match its manifest checksum"
BAD_PARQUET = "parquet unreadable, of the wrong schema or with values out of range"


@dataclass
class AfterSearch:
    """The verified final rows and exact distributions of a results dir's usable search runs, and
    which were left out (``problems``): a missing or damaged one is never averaged over silently."""

    final: pd.DataFrame
    exact: pd.DataFrame
    """One row per usable exact summary (``harness.exact.summarise``'s keys, space/dataset/strategy/seed)."""
    exact_cells: dict[tuple, pd.DataFrame]
    """(space, dataset, strategy) -> seed 0's per-cell table (log_p, val_acc, test_acc), for the figure."""
    problems: list[Skipped] = field(default_factory=list)


class _Bad(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason, self.detail = reason, detail


def _read_pair(parquet: Path, summary: Path, check: Callable[[dict], None]) -> tuple[dict, pa.Table]:
    """The manifest at ``summary`` (accepted by ``check``) and the table at ``parquet`` (read once,
    checked against the manifest's ``parquet_sha256``), or ``_Bad``."""
    try:
        m = read_json_object(summary)
    except FileNotFoundError:
        raise _Bad(UNFINISHED_PHASE, f"{summary.name} missing") from None
    except (Refused, OSError) as exc:
        raise _Bad(BAD_JSON, str(exc) if isinstance(exc, Refused) else (exc.strerror or str(exc))) from None
    if m is None:
        raise _Bad(BAD_JSON, f"{summary.name} is not a JSON object")
    check(m)
    try:
        data = read_bounded(parquet, MAX_TABLE_BYTES)
    except FileNotFoundError:
        raise _Bad(BAD_PARQUET, f"{parquet.name} missing") from None
    except (Refused, OSError) as exc:
        raise _Bad(BAD_PARQUET, str(exc) if isinstance(exc, Refused) else (exc.strerror or str(exc))) from None
    if m.get("parquet_sha256") != hashlib.sha256(data).hexdigest():
        raise _Bad(PARQUET_CHECKSUM)
    try:
        return m, atomic.read_parquet(pa.BufferReader(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _Bad(BAD_PARQUET, str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None


def _schema(table: pa.Table, schema: pa.Schema) -> None:
    wrong = [f.name for f in schema if f.name not in table.schema.names or table.schema.field(f.name).type != f.type]
    if wrong:
        raise _Bad(BAD_PARQUET, f"missing or mistyped columns: {', '.join(wrong)}")


def _in_range(df: pd.DataFrame, column: str, low: float, high: float, nan_ok: bool = True) -> None:
    v = df[column].to_numpy(float)
    bad = ~((v >= low) & (v <= high)) & ~(pd.isna(v) if nan_ok else False)
    if bad.any():
        raise _Bad(BAD_PARQUET, f"{column} {float(v[bad][0])!r} outside [{low:g}, {high:g}]")


def _all_equal(df: pd.DataFrame, column: str, value) -> None:
    if len(df) and not (df[column] == value).all():
        raise _Bad(OTHER_SEARCH, f"its rows' {column} is not {value!r}")


def _final_rows(results: Path, key: tuple, manifest: dict) -> pd.DataFrame:
    """The verified rows of one run's ``seed=K.final.parquet``: a complete manifest (``harness.final``)
    of this search run (run id and final id recomputed), the parquet's checksum, schema and values."""
    from harness.final import FINAL_SCHEMA, FINAL_SCHEMA_VERSION, SELECTIONS, STAGES, FinalRun  # noqa: PLC0415
    from harness.final_protocols import FinalProtocol  # noqa: PLC0415

    space, dataset, _, strategy, seed = key
    run_paths = storage.RunPaths.of(results, space, dataset, strategy, seed)
    base = run_paths.trajectory.with_suffix("")

    def expect(m: dict) -> None:
        if m.get("status") != "complete":
            raise _Bad(UNFINISHED_PHASE, f"status {m.get('status')!r}")
        if m.get("schema_version") != FINAL_SCHEMA_VERSION:
            raise _Bad(BAD_JSON, f"final schema {m.get('schema_version')!r}, this harness reads {FINAL_SCHEMA_VERSION}")
        if m.get("run_id") != manifest.get("run_id"):
            raise _Bad(OTHER_SEARCH, f"run_id {m.get('run_id')!r}, the search run's is {manifest.get('run_id')!r}")
        proto = m.get("protocol")
        try:
            protocol = FinalProtocol(**{k: tuple(v) if k == "top_k_for" else v for k, v in proto.items()})
            expected = FinalRun(run_paths, protocol).final_id(manifest)
        except (AttributeError, TypeError, ValueError, HarnessError):
            raise _Bad(BAD_JSON, "'protocol' is not a final protocol") from None
        if m.get("final_id") != expected:
            raise _Bad(OTHER_SEARCH, "final_id differs from the search run's trajectory and state")

    m, table = _read_pair(Path(f"{base}.final.parquet"), Path(f"{base}.final.json"), expect)
    _schema(table, FINAL_SCHEMA)
    df = table.select(FINAL_SCHEMA.names).to_pandas()
    if m.get("n_rows") != len(df):
        raise _Bad(BAD_PARQUET, f"{len(df)} rows, its manifest says {m.get('n_rows')!r}")
    for column, value in (("schema_version", FINAL_SCHEMA_VERSION), ("final_id", m["final_id"]),
                          ("run_id", manifest["run_id"]), ("space", space), ("dataset", dataset),
                          ("strategy", strategy), ("seed", seed)):
        _all_equal(df, column, value)
    for column, allowed in (("stage", STAGES), ("selection", SELECTIONS)):
        if not df[column].isin(allowed).all():
            raise _Bad(BAD_PARQUET, f"{column} not one of {', '.join(allowed)}")
    for column in ("val_acc", "test_acc"):
        _in_range(df, column, 0.0, 100.0)
    for column in ("cost_s", "params", "flops", "path_mean", "path_longest"):
        _in_range(df, column, 0.0, float("inf"))
    _in_range(df, "sample", 0, float("inf"), nan_ok=False)
    _in_range(df, "repeat", -1, float("inf"), nan_ok=False)
    if df.loc[df["status"] == "ok", "val_acc"].isna().any():
        raise _Bad(BAD_PARQUET, "a row of status ok without a validation accuracy")
    return df


SUMMARY_KEYS = ("n_cells", "sum_p_valid", "expected_val", "expected_test", "entropy_nats", "perplexity", "mass_top10",
                "mass_top1pct", "n_top1pct", "modal_p", "modal_rank", "modal_val", "modal_test",
                "uniform_expected_val", "uniform_expected_test")
"""The summary numbers recomputed from the per-cell table and compared with ``seed=K.exact.json``."""


def _number(m: dict, key: str) -> float:
    v = m.get(key)
    if v is None:  # harness.storage._json_safe writes NaN as null
        return float("nan")
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        raise _Bad(BAD_JSON, f"{key} is not a number")
    return float(v)


def _exact_summary(results: Path, key: tuple, manifest: dict) -> tuple[dict, pd.DataFrame]:
    """The verified summary and per-cell table of one run's exact distribution (``harness.exact``):
    identity of this search run, the parquet's checksum, schema and values, and every summary number
    recomputed from the cells."""
    import numpy as np  # noqa: PLC0415

    from harness.exact import EXACT_SCHEMA, summarise  # noqa: PLC0415

    space, dataset, _, strategy, seed = key
    base = storage.RunPaths.of(results, space, dataset, strategy, seed).trajectory.with_suffix("")
    ident = {"run_id": manifest.get("run_id"), "state": manifest.get("strategy_state_sha256")}

    def expect(m: dict) -> None:
        if m.get("identity") != ident:
            raise _Bad(OTHER_SEARCH, "its identity is not the search run's run_id and strategy state")
        for k, v in (("space", space), ("dataset", dataset), ("strategy", strategy), ("seed", seed)):
            if m.get(k) != v:
                raise _Bad(OTHER_SEARCH, f"{k} {m.get(k)!r}, expected {v!r}")

    m, table = _read_pair(Path(f"{base}.exact.parquet"), Path(f"{base}.exact.json"), expect)
    _schema(table, EXACT_SCHEMA)
    cells = table.select(EXACT_SCHEMA.names).to_pandas()
    if cells.empty:
        raise _Bad(BAD_PARQUET, "no cells")
    log_p = cells["log_p"].to_numpy(float)
    if np.isnan(log_p).any() or (log_p > 1e-9).any():
        raise _Bad(BAD_PARQUET, "log_p NaN or above 0")
    for column in ("val_acc", "test_acc"):
        _in_range(cells, column, 0.0, 100.0)
    val, test = cells["val_acc"].to_numpy(float), cells["test_acc"].to_numpy(float)
    with np.errstate(all="ignore"):
        recomputed = summarise(log_p, np.ones(len(cells), dtype=bool), val, test)
    stored = {k: _number(m, k) for k in (*SUMMARY_KEYS, "invalid_mass", "total_mass")}
    for k in SUMMARY_KEYS:
        a, b = stored[k], float(recomputed[k])
        if not (np.isclose(a, b, rtol=1e-9, atol=1e-12) or (np.isnan(a) and np.isnan(b))):
            raise _Bad(BAD_JSON, f"{k} {a!r} is not what its cells give ({b!r})")
    if not (0.0 <= stored["invalid_mass"] <= 1.0
            and np.isclose(stored["total_mass"], stored["sum_p_valid"] + stored["invalid_mass"], rtol=1e-9)):
        raise _Bad(BAD_JSON, "invalid_mass or total_mass out of range")
    summary = {**stored, "space": space, "dataset": dataset, "strategy": strategy, "seed": seed}
    return summary, cells


def load_after_search(results: Path, manifests: dict, say: Callable[[str], None] | None = None) -> AfterSearch:
    """The final rows and exact distributions of the usable search runs (``manifests``), each verified
    against its manifest and its search run; ``say`` gets ``skipped_lines`` of those left out. A run
    without a final result (or exact distribution) is left out, and named, when other seeds of its
    strategy have one; a strategy without any is shown as such by the tables ("—")."""
    results = Path(results)
    finals, exacts, cells, problems = [], [], {}, []
    by_strategy: dict[tuple, list[tuple]] = {}
    for key in sorted(manifests):
        by_strategy.setdefault(key[:4], []).append(key)
    for keys in by_strategy.values():
        for kind, suffix, load in ((FINAL, "final", _final_rows), (EXACT, "exact", _exact_summary)):
            stored = [k for k in keys if _stored(results, k, suffix)]
            for key in keys if stored else ():
                rel = storage.RunPaths.of(Path(), key[0], key[1], key[3], key[4]).trajectory.with_suffix("")
                rel = Path(f"{rel}.{suffix}.parquet")
                if key not in stored:
                    problems.append(Skipped(rel, NO_RESULT, "run `python -m harness final` for it", kind))
                    continue
                try:
                    value = load(results, key, manifests[key])
                except _Bad as bad:
                    problems.append(Skipped(rel, bad.reason, bad.detail, kind))
                    continue
                if kind == FINAL:
                    finals.append(value)
                else:
                    exacts.append(value[0])
                    if key[4] == 0:
                        cells[(key[0], key[1], key[3])] = value[1]
    for line in skipped_lines(problems) if say else ():
        say(line)
    final = pd.concat(finals, ignore_index=True) if finals else pd.DataFrame()
    return AfterSearch(final, pd.DataFrame(exacts), cells, problems)


def _stored(results: Path, key: tuple, suffix: str) -> bool:
    """Whether any file of the run's ``suffix`` (final / exact) result exists (a dangling link included)."""
    base = storage.RunPaths.of(results, key[0], key[1], key[3], key[4]).trajectory.with_suffix("")
    return any(os.path.lexists(f"{base}.{suffix}.{ext}") for ext in ("parquet", "json"))
