"""The harness's NB101 table: merge sources by module hash, write it, verify it, read it in batches."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pyarrow as pa

import harness
from blackboxes.nb101.readers import Frame, epochs_of, read_source
from blackboxes.nb101.schema import (
    BENCHMARK,
    BEST_MEAN_TEST,
    COLUMN_RE,
    METRICS,
    N_CELLS,
    REPEATS,
    column,
)
from harness.data.store import StoredTable, write_stored
from harness.data.values import PERCENT, SECONDS, column_problem
from harness.errors import DataCorrupt, HarnessError

# ---------------------------------------------------------------- merging and writing

def merge(frames: Sequence[Frame]):
    """Union of the sources by module_hash; any value two sources both have must agree."""
    merged = frames[0].df.set_index("module_hash")
    for fr in frames[1:]:
        df = fr.df.set_index("module_hash")
        common = merged.index.intersection(df.index)
        for col in ["params"] + [c for c in df.columns if COLUMN_RE.match(c) and c in merged.columns]:
            a = merged.loc[common, col].to_numpy(dtype=np.float64)
            b = df.loc[common, col].to_numpy(dtype=np.float64)
            bad = np.isfinite(a) & np.isfinite(b) & ~np.isclose(a, b, rtol=1e-9, atol=0.0)
            if bad.any():
                i = int(np.argmax(bad))
                raise DataCorrupt(
                    f"{fr.source['path']} and an earlier file disagree on {col} of cell {common[i]} "
                    f"({b[i]} vs {a[i]}); they are different benchmark versions or one is corrupt"
                )
        union = merged.index.union(df.index)
        merged, df = merged.reindex(union), df.reindex(union)
        no_spec = merged["adjacency"].isna() | (merged["adjacency"] == "")
        for col in ("adjacency", "operations"):
            merged[col] = merged[col].where(~no_spec, df[col])
        for col in df.columns:
            if col not in ("adjacency", "operations"):
                merged[col] = merged[col].fillna(df[col]) if col in merged.columns else df[col]
    return merged.sort_index()


def to_table(merged) -> pa.Table:
    """The harness schema: hash, spec strings, params, then every (epochs, metric, repeat) column."""
    epochs = epochs_of(merged.columns)
    n = len(merged)
    params = merged["params"].to_numpy(dtype=np.float64)
    unknown = ~np.isfinite(params)
    cols: dict[str, pa.Array] = {
        "module_hash": pa.array(merged.index.astype(str).tolist(), pa.string()),
        "adjacency": pa.array(merged["adjacency"].fillna("").astype(str).tolist(), pa.string()),
        "operations": pa.array(merged["operations"].fillna("").astype(str).tolist(), pa.string()),
        "params": pa.array(np.where(unknown, 0, params).astype(np.int64), pa.int64(), mask=unknown),
    }
    for e in epochs:
        for m in METRICS:
            for r in range(REPEATS):
                name = column(m, e, r)
                values = merged[name].to_numpy(dtype=np.float64) if name in merged.columns else np.full(n, np.nan)
                cols[name] = pa.array(values, pa.float64())
    return pa.table(cols)


def import_files(paths: Sequence[Path], data_dir=None) -> StoredTable:
    """Read every file (kind sniffed), merge by hash, and write the NB101 table; nothing is written
    unless every file reads cleanly and agrees with the others."""
    if not paths:
        raise HarnessError("give at least one NB101 file to import")
    frames = [read_source(Path(p)) for p in paths]
    merged = merge(frames)
    table = to_table(merged)
    epochs = epochs_of(table.column_names)
    manifest = {
        "harness_version": harness.__version__,
        "sources": [fr.source for fr in frames],
        "notes": [n for fr in frames for n in fr.notes],
        "partial": table.num_rows < N_CELLS,
        "expected_rows": N_CELLS,
        "epochs": epochs,
        "repeats": {str(e): _repeats_present(table, e) for e in epochs},
        "units": "accuracies in percent, train_s in seconds (final values, end of training)",
    }
    return write_stored(BENCHMARK, table, manifest, data_dir)


def _repeats_present(table: pa.Table, epochs: int) -> int:
    return sum(bool(np.isfinite(table.column(column("val", epochs, r)).to_numpy()).any()) for r in range(REPEATS))


# ---------------------------------------------------------------- checking a stored table

def mean_over_repeats(a: np.ndarray) -> np.ndarray:
    """Row means of the finite entries of an (n, k) array; NaN where a row has none."""
    finite = np.isfinite(a)
    count = finite.sum(axis=1)
    total = np.where(finite, a, 0.0).sum(axis=1)
    return np.divide(total, count, out=np.full(len(a), np.nan), where=count > 0)


def _value_problems(table: StoredTable, names: list[str], hashes: np.ndarray) -> list[str]:
    """Impossible values (``harness.data.values``), one metric column at a time (a full table is
    423k rows x 36 columns). NaN is a run the sources lack, never a problem here."""
    problems = []
    for name in names:
        m = COLUMN_RE.match(name)
        if not m:
            continue
        values = table.read([name]).column(0).to_numpy(zero_copy_only=False).astype(np.float64)
        problem = column_problem(values, SECONDS if m.group(1) == "train_s" else PERCENT)
        if problem is not None:
            i, reason = problem
            at = "" if i is None else f" (cell {hashes[i].decode()})"
            problems.append(f"{name}: {reason}{at}: re-import nb101")
    return problems


def verify(table: StoredTable) -> dict:
    """Checksum, row count, hash order, possible values and the known optimum (best mean test
    94.32 at 108 epochs); every finding is a problem in the answer, never an exception."""
    manifest = table.manifest()
    problems: list[str] = []
    info: dict[str, Any] = {"rows": manifest.get("n_rows"), "partial": manifest.get("partial")}
    if not table.checksum_ok():
        problems.append("table checksum differs from its manifest (modified or corrupt): re-import nb101")
        info.update(checksum_ok=False, problems=problems)
        return info
    info["checksum_ok"] = True
    info["problems"] = problems
    names = table.column_names()
    if "module_hash" not in names:
        problems.append("the table has no module_hash column: re-import nb101")
        return info
    wanted = [c for c in names if c.startswith(("val@108/", "test@108/"))]
    data = table.read(["module_hash"] + wanted)
    rows = data.num_rows
    info["rows"] = rows
    if rows != manifest.get("n_rows"):
        problems.append(f"{rows} rows but the manifest says {manifest.get('n_rows')}")
    if rows == 0:
        problems.append("the table has no rows: re-import nb101")
        return info
    hashes = hash_array(data.column("module_hash"), table).copy()
    if rows > 1 and not (hashes[1:] > hashes[:-1]).all():
        problems.append("module_hash is not sorted and unique: re-import nb101")
    partial = rows < N_CELLS
    if bool(manifest.get("partial")) != partial:
        problems.append(f"the manifest says partial={manifest.get('partial')} but the table has {rows} rows")
    if partial:
        problems.append(f"{rows} of {N_CELLS} cells (partial import)")
    problems += _value_problems(table, names, hashes)
    found = []
    for metric, key in (("test", "best_mean_test"), ("val", "best_mean_val")):
        cols = [c for c in wanted if c.startswith(f"{metric}@")]
        if not cols:
            info[key] = None
            continue
        mean = mean_over_repeats(np.column_stack([data.column(c).to_numpy(zero_copy_only=False) for c in cols]))
        if not np.isfinite(mean).any():
            info[key] = None
            continue
        best = int(np.nanargmax(mean))
        info[key] = float(mean[best])
        found.append(f"best mean {metric}@108 {mean[best]:.3f} ({hashes[best].decode()})")
    if found:
        info["optimum"] = "; ".join(found)
    best_test = info.get("best_mean_test")
    if not partial and best_test is not None and abs(best_test - BEST_MEAN_TEST) > 0.01:
        problems.append(f"best mean test accuracy is {best_test:.3f}, expected {BEST_MEAN_TEST} "
                        f"(wrong benchmark version or corrupt import)")
    return info


# ---------------------------------------------------------------- the evaluator

def hash_array(col: pa.Array | pa.ChunkedArray, table: StoredTable) -> np.ndarray:
    """A string column of 32-hex hashes as a numpy 'S32' array, straight from Arrow's buffers."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    n = len(arr)
    if n == 0:
        return np.empty(0, dtype="S32")
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32, count=n + 1, offset=arr.offset * 4)
    if arr.null_count or not (np.diff(offsets) == 32).all():
        raise DataCorrupt(f"{table.table_path}: module_hash holds values that are not 32-hex hashes; re-import nb101")
    return np.frombuffer(arr.buffers()[2], dtype="S32", count=n, offset=int(offsets[0]))


def open_parquet(table: StoredTable):
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(table.table_path, buffer_size=1 << 16, pre_buffer=False)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataCorrupt(f"{table.table_path} cannot be read ({str(exc).splitlines()[0]}); re-import nb101") from None


def _batches(table: StoredTable, columns: list[str]) -> Iterator[tuple[int, pa.RecordBatch]]:
    """(first row, batch) over ``columns``, streamed in small batches: reading a 423k-row table
    whole peaks at several times its size in Arrow's decode buffers, streaming at about 1x."""
    start = 0
    try:
        for batch in open_parquet(table).iter_batches(batch_size=1 << 14, columns=columns, use_threads=False):
            yield start, batch
            start += batch.num_rows
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataCorrupt(f"{table.table_path} cannot be read ({str(exc).splitlines()[0]}); re-import nb101") from None


def read_hashes(table: StoredTable, n: int) -> np.ndarray:
    out = np.empty(n, dtype="S32")
    for start, batch in _batches(table, ["module_hash"]):
        out[start:start + batch.num_rows] = hash_array(batch.column(0), table)
    return out


def read_runs(table: StoredTable, names: list[str | None], n: int) -> np.ndarray:
    """An (n, len(names)) float64 array of the named columns (None or absent -> NaN)."""
    out = np.full((n, len(names)), np.nan)
    present = [c for c in names if c is not None]
    if present:
        for start, batch in _batches(table, present):
            for c in present:
                out[start:start + batch.num_rows, names.index(c)] = batch.column(c).to_numpy(zero_copy_only=False)
    return out

