"""Read every complete run under a results dir into one long table, and say which runs were skipped and why.

A run is used only when its manifest is a JSON object of the shape the runner writes, says
"complete", has this harness's schema version, and its trajectory matches the manifest's checksum
and is readable. Anything else is skipped with a reason (listed in the report's index.md and, via
``skipped_lines``, on the console), never a traceback: a results folder is data, and data can be
edited, truncated or copied from another version.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from harness import atomic, storage
from harness.errors import HarnessError

UNFINISHED = "no complete manifest (unfinished run)"
BAD_MANIFEST = "manifest unreadable or of the wrong shape"
SCHEMA = "written by another schema version"
CHECKSUM = "trajectory does not match its manifest checksum"
BAD_TRAJECTORY = "trajectory unreadable"
EMPTY = "empty trajectory (no rows)"


@dataclass(frozen=True)
class Skipped:
    """One run left out of the report: its trajectory path (relative to the results dir) and why."""

    path: Path
    reason: str
    detail: str = ""

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
    manifest = storage.read_manifest(manifest_path)
    if manifest is None:
        if manifest_path.exists():
            return None, Skipped(rel, BAD_MANIFEST, "not a JSON object")
        return None, Skipped(rel, UNFINISHED)
    if manifest.get("status") != "complete":
        return None, Skipped(rel, UNFINISHED, f"status {manifest.get('status')!r}")
    if manifest.get("schema_version") != storage.SCHEMA_VERSION:
        return None, Skipped(rel, SCHEMA, f"manifest schema {manifest.get('schema_version')!r}, "
                                          f"this harness reads {storage.SCHEMA_VERSION}; rerun it with --force")
    problem = _shape_problem(manifest)
    if problem:
        return None, Skipped(rel, BAD_MANIFEST, problem)
    return manifest, None


def _read_trajectory(path: Path, rel: Path) -> tuple[pd.DataFrame | None, Skipped | None]:
    """The trajectory as a frame with every column the report reads, of its stored type, or why not."""
    try:
        table = storage.read_trajectory(path)
    except (HarnessError, KeyError) as exc:  # KeyError: a parquet file without the schema_version column
        return None, Skipped(rel, BAD_TRAJECTORY, str(exc).strip("'\""))
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
        digest = atomic.sha256_file(path)
    except OSError as exc:  # e.g. a folder named seed=0.parquet, or no permission
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
        if path.name.endswith((".timing.parquet", ".final.parquet", ".exact.parquet")):  # not trajectories
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
    """One console line per skipped run group (space/dataset/strategy) with its reasons, then the total."""
    groups: dict[str, list[Skipped]] = {}
    for p in problems:
        groups.setdefault("/".join(p.path.parts[:3]), []).append(p)
    lines = []
    for group, ps in sorted(groups.items()):
        seeds = ", ".join(p.path.name.removesuffix(".parquet") for p in ps)
        lines.append(f"skipped {len(ps)} run{'s' if len(ps) > 1 else ''} of {group} ({seeds}): {_counts(ps)}")
    if problems:
        lines.append(f"{len(problems)} run{'s' if len(problems) > 1 else ''} skipped in all (rerun unfinished ones with "
                     f"the same `run` command, corrupt ones with --force)")
    return lines
