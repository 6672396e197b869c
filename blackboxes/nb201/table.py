"""The harness's NB201 table: merge sources by cell, write it, install the embedded one, verify it."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

import harness
from blackboxes.nb201.readers import Frame, read_source
from blackboxes.nb201.schema import (
    BENCHMARK,
    DATASETS,
    KNOWN_OPTIMUM,
    METRICS,
    NATIVE_COLUMN,
    unit_of,
)
from harness import atomic
from harness.data.store import StoredTable, write_stored
from harness.data.values import column_problem
from harness.errors import DataCorrupt, HarnessError
from spaces import nb201


def _by_index(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(index=df["index"].astype(np.int32)).sort_values("index").reset_index(drop=True)


def merge(frames: list[Frame]) -> tuple[pd.DataFrame, dict]:
    """Merge sources by cell; index/arch_str must agree; per column keep the most-seeds source.

    Each frame is already checked by its reader (valid cells, each once, possible values)."""
    merged: pd.DataFrame | None = None
    provenance: dict[str, dict] = {}
    for fr in frames:
        df = _by_index(fr.df)
        if merged is None:
            merged = df[["index", "arch_str"]].copy()
        else:
            joined = merged.merge(df[["index", "arch_str"]], on="index", how="outer", suffixes=("", "_new"))
            both = joined["arch_str"].notna() & joined["arch_str_new"].notna()
            if (joined.loc[both, "arch_str"] != joined.loc[both, "arch_str_new"]).any():
                raise DataCorrupt(
                    f"{fr.source['path']}: index -> arch string differs from earlier files; wrong benchmark version"
                )
            joined["arch_str"] = joined["arch_str"].fillna(joined["arch_str_new"])
            merged = joined.drop(columns="arch_str_new").sort_values("index").reset_index(drop=True)
        for col in df.columns:
            if col in ("index", "arch_str"):
                continue
            new_seeds = fr.seeds.get(col) or 0
            if col in provenance and (provenance[col]["seeds"] or 0) >= new_seeds:
                continue
            values = merged[["index"]].merge(df[["index", col]], on="index", how="left")[col]
            merged[col] = values.to_numpy()
            provenance[col] = {"source": fr.source["path"], "seeds": fr.seeds.get(col)}
    assert merged is not None
    return merged, provenance


def _column_order(columns) -> list[str]:
    def key(c):
        m = NATIVE_COLUMN.match(c)
        return (DATASETS.index(m.group(1)), int(m.group(3)), METRICS.index(m.group(2)))

    return ["index", "arch_str"] + sorted((c for c in columns if NATIVE_COLUMN.match(c)), key=key)


def import_files(paths: Sequence[Path], data_dir=None, *, allow_pickle: bool = False) -> StoredTable:
    """Read every source, merge, check, and write the harness's NB201 table (atomically).

    ``allow_pickle`` opts in to reading NATS-Bench archives (full pickles, see ``read_source``);
    without it such a path is a one-line ``HarnessError`` naming ``--allow-pickle``."""
    if not paths:
        raise HarnessError("give at least one NB201 file to import")
    try:
        frames = [read_source(Path(p), allow_pickle=allow_pickle) for p in paths]
        merged, provenance = merge(frames)
    except (ValueError, TypeError, OverflowError) as exc:
        raise DataCorrupt(
            f"{', '.join(map(str, paths))}: a column holds values of the wrong type ({str(exc).splitlines()[0]}); "
            f"index must be whole numbers and metrics numbers"
        ) from None
    merged = merged[_column_order(merged.columns)]
    schema = pa.schema([("index", pa.int32()), ("arch_str", pa.string())]
                       + [(c, pa.float64()) for c in merged.columns[2:]])
    table = pa.Table.from_pandas(merged, schema=schema, preserve_index=False).replace_schema_metadata(None)
    manifest = {
        "harness_version": harness.__version__,
        "sources": [fr.source for fr in frames],
        "columns_provenance": provenance,
        "notes": [n for fr in frames for n in fr.notes],
        "partial": len(merged) < nb201.N_CELLS,
        "expected_rows": nb201.N_CELLS,
    }
    return write_stored(BENCHMARK, table, manifest, data_dir)


EMBEDDED_DIR = Path(__file__).resolve().parent / "embedded"
EMBEDDED_SOURCES = (
    "nas_landscapes_cifar10-valid_avg.csv",
    "nb201_val_acc_200ep_naslib.csv",
    "nb201_12ep_mini_nasbench201.csv",
)
"""The embedded default: public NB201 derivatives (MIT / Apache-2.0, see embedded/NOTICE)."""


def build_embedded(source_dir: Path, dest: Path = EMBEDDED_DIR) -> StoredTable:
    """Rebuild the embedded table in ``dest`` from the three public tables (tests check it is unchanged)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        built = import_files([Path(source_dir) / f for f in EMBEDDED_SOURCES], tmp)
        manifest = built.manifest()
        table = StoredTable(BENCHMARK, Path(dest))
        atomic.write_bytes(table.table_path, built.table_path.read_bytes())
    for src in manifest["sources"]:
        src["path"] = Path(src["path"]).name
    for prov in manifest["columns_provenance"].values():
        prov["source"] = Path(prov["source"]).name
    manifest["embedded"] = True
    atomic.write_json(table.manifest_path, manifest)
    return table


def import_embedded(data_dir=None) -> StoredTable:
    """Install the embedded NB201 table into the data dir (no download needed)."""
    src = StoredTable(BENCHMARK, EMBEDDED_DIR)
    manifest = src.manifest()
    if not src.checksum_ok():
        raise DataCorrupt(f"the embedded NB201 table {src.table_path} fails its checksum; reinstall the harness")
    return write_stored(BENCHMARK, src.read(), {k: v for k, v in manifest.items() if k != "table_sha256"}, data_dir)


def verify(table: StoredTable) -> dict:
    """Checksum, row count, cell set, possible values (``harness.data.values``) and the known
    optimum (NB201 paper); every finding is a problem in the answer, never an exception."""
    manifest = table.manifest()
    problems: list[str] = []
    if not table.checksum_ok():
        problems.append("table checksum differs from its manifest (modified or corrupt): re-import")
        return {"rows": manifest.get("n_rows"), "problems": problems}
    data = table.read().to_pandas()
    info: dict = {"rows": len(data), "columns": [c for c in data.columns if "/" in c], "problems": problems}
    if len(data) != manifest.get("n_rows"):
        problems.append(f"{len(data)} rows but the manifest says {manifest.get('n_rows')}")
    lacking = [c for c in ("index", "arch_str") if c not in data.columns]
    if lacking or data.empty:
        problems.append(f"the table {'lacks ' + ', '.join(lacking) if lacking else 'has no rows'}: re-import nb201")
        return info
    if len(data) != nb201.N_CELLS:
        problems.append(f"{len(data)} of {nb201.N_CELLS} cells (partial import)")
    for c in info["columns"]:
        unit = unit_of(c)
        problem = column_problem(data[c].to_numpy(dtype=np.float64), unit) if unit else None
        if problem is not None:
            i, reason = problem
            at = "" if i is None else f" (index {int(data['index'].iloc[i])}, {data['arch_str'].iloc[i]})"
            problems.append(f"{c}: {reason}{at}: re-import nb201")
    col, idx, value = KNOWN_OPTIMUM
    if col in data.columns:
        values = data[col].to_numpy(dtype=np.float64)
        finite = np.isfinite(values)
        if not finite.any():
            problems.append(f"{col} has no values")
            return info
        best = int(np.argmax(np.where(finite, values, -np.inf)))
        at = int(data["index"].iloc[best])
        info["optimum"] = f"{col} max {values[best]:.3f} at index {at}"
        if at != idx or round(float(values[best]), 2) != value:
            problems.append(f"{col} optimum is {values[best]:.3f} at {at}, expected {value} at {idx}")
    return info
