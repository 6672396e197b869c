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
)
from harness import atomic
from harness.data.store import StoredTable, write_stored
from harness.errors import DataCorrupt, HarnessError
from spaces import nb201


def _check_cells(df: pd.DataFrame, label: str) -> pd.DataFrame:
    try:
        codes = df["arch_str"].map(lambda s: nb201.arch_code(nb201.parse_arch_str(str(s))))
    except ValueError as exc:
        raise DataCorrupt(f"{label}: {exc}") from None
    if df["index"].duplicated().any() or codes.duplicated().any():
        raise DataCorrupt(f"{label}: duplicate NB201 cells; wrong file or corrupt table")
    if df["index"].min() < 0 or df["index"].max() >= nb201.N_CELLS:
        raise DataCorrupt(f"{label}: NB201 index out of range 0..{nb201.N_CELLS - 1}")
    return df.assign(index=df["index"].astype(np.int32)).sort_values("index").reset_index(drop=True)


def merge(frames: list[Frame]) -> tuple[pd.DataFrame, dict]:
    """Merge sources by cell; index/arch_str must agree; per column keep the most-seeds source."""
    merged: pd.DataFrame | None = None
    provenance: dict[str, dict] = {}
    for fr in frames:
        df = _check_cells(fr.df, fr.source["path"])
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


def import_files(paths: Sequence[Path], data_dir=None) -> StoredTable:
    """Read every source, merge, check, and write the harness's NB201 table (atomically)."""
    if not paths:
        raise HarnessError("give at least one NB201 file to import")
    try:
        frames = [read_source(Path(p)) for p in paths]
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
    """Checksum, row count, cell set and the known optimum (NB201 paper)."""
    manifest = table.manifest()
    problems: list[str] = []
    if not table.checksum_ok():
        problems.append("table checksum differs from its manifest (modified or corrupt): re-import")
        return {"rows": manifest.get("n_rows"), "problems": problems}
    data = table.read().to_pandas()
    if len(data) != manifest.get("n_rows"):
        problems.append(f"{len(data)} rows but the manifest says {manifest.get('n_rows')}")
    if len(data) != nb201.N_CELLS:
        problems.append(f"{len(data)} of {nb201.N_CELLS} cells (partial import)")
    info = {"rows": len(data), "columns": [c for c in data.columns if "/" in c]}
    col, idx, value = KNOWN_OPTIMUM
    if col in data.columns:
        best = data.loc[data[col].idxmax()]
        info["optimum"] = f"{col} max {best[col]:.3f} at index {int(best['index'])}"
        if int(best["index"]) != idx or round(float(best[col]), 2) != value:
            problems.append(f"{col} optimum is {best[col]:.3f} at {int(best['index'])}, expected {value} at {idx}")
    info["problems"] = problems
    return info

