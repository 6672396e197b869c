"""Read every complete run under a results dir into one long table, and say what is wrong."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from harness import atomic, storage
from harness.errors import HarnessError


@dataclass
class Loaded:
    rows: pd.DataFrame
    manifests: dict[tuple, dict]
    problems: list[str] = field(default_factory=list)


def load_results(results: Path, space: str | None = None, dataset: str | None = None) -> Loaded:
    """All complete runs (manifest says complete and the trajectory matches its checksum)."""
    results = Path(results)
    if not results.is_dir():
        raise HarnessError(f"no results directory {results}; run `python -m harness run ...` first or pass --results")
    frames, manifests, problems = [], {}, []
    pattern = f"{space or '*'}/{dataset or '*'}/*/seed=*.parquet"
    for path in sorted(results.glob(pattern)):
        if path.name.endswith(".timing.parquet"):
            continue
        manifest_path = path.with_name(path.name.replace(".parquet", ".run.json"))
        manifest = storage.read_manifest(manifest_path)
        rel = path.relative_to(results)
        if manifest is None or manifest.get("status") != "complete":
            problems.append(f"{rel}: no complete manifest (unfinished run) - skipped")
            continue
        if manifest.get("trajectory_sha256") != atomic.sha256_file(path):
            problems.append(f"{rel}: trajectory does not match its manifest checksum - skipped")
            continue
        table = storage.read_trajectory(path)
        frame = table.to_pandas()
        frame["run_fidelity"] = manifest.get("fidelity", frame["fidelity"].max())
        frames.append(frame)
        cfg = manifest["config"]
        manifests[(cfg["space"], cfg["dataset"], cfg.get("protocol", ""), cfg["strategy"], cfg["seed"])] = manifest
    if not frames:
        raise HarnessError(f"no complete runs under {results}" + (f" for {space}/{dataset}" if space or dataset else ""))
    rows = pd.concat(frames, ignore_index=True)
    return Loaded(rows, manifests, problems)
