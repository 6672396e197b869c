"""NB201 benchmark data: import official files and tables into one table, and query it fast.

Column mapping of the plain tables we read (documented in README "Data"; see each source's
PROVENANCE in ../shared/data/nb201):

=====================================  ==========================================  ==========
source column                          harness column                              seeds
=====================================  ==========================================  ==========
NAS-Landscapes ``valid-accuracy``      ``cifar10-valid/val@200`` (x-valid)         mean of 3
NAS-Landscapes ``test-accuracy``       ``cifar10-valid/test@200`` (ori-test)       mean of 3
NAS-Landscapes ``train-all-time``      ``cifar10-valid/train_s@200``               mean of 3
NAS-Landscapes ``train-per-time``×12   ``cifar10-valid/train_s@12`` (derived)      mean of 3
NAS-Landscapes ``valid-per-time``      ``cifar10-valid/eval_s@{12,200}``           mean of 3
NASLib ``cifar10-valid_val_acc_200ep`` ``cifar10-valid/test@200`` (ori-test!)     1
NASLib ``<d>_val_acc_200ep`` (C100/IN) ``<d>/val@200`` (x-valid or x-test, see below) 1
mini-NB201 ``cifar10-val``             ``cifar10-valid/val@12`` (x-valid)          mean
mini-NB201 ``cifar10-test``            ``cifar10/test@12`` (ori-test, train+valid) mean
mini-NB201 ``cifar100-val`` / -test    ``cifar100/val@12`` / ``cifar100/test@12``  mean
mini-NB201 ``imagenet-val`` / -test    ``ImageNet16-120/val@12`` / ``/test@12``    mean
harness-native ``<d>/<metric>@<f>``    the same                                    as stated
=====================================  ==========================================  ==========

NASLib's "val_accuracy" comes from NB201's ``eval_acc1es`` and is not the validation split for
cifar10-valid: every value lies on the 0.01 % grid of a 10,000-image set (x-valid has 25,000
images, a 0.004 % grid) and the values track the 3-seed ``test-accuracy`` more closely than
``valid-accuracy`` (mean absolute difference 0.25 vs 0.43), so it is imported as the ori-test
accuracy. For cifar100 / ImageNet16-120 the values lie on the 5,000 / 3,000-image grids of x-valid
and x-test alike, so they are imported as validation with that caveat in the manifest.

The 12-epoch cost is 12 × the per-epoch training time of the 200-epoch run plus one validation
pass, as NATS-Bench's ``simulate_train_eval`` charges ``train-all-time + valid-per-time`` of the
12-epoch run (its per-epoch time is the same network's). When several sources carry the same
column, the one averaged over more training seeds wins; ties keep the first file given.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

import harness
from harness import atomic
from harness.data.store import StoredTable, stored, write_stored
from harness.errors import DataCorrupt, DataMissing, HarnessError
from harness.evaluation import Evaluator, Result
from spaces import nb201

DATASETS = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")
FIDELITIES = (12, 200)
METRICS = ("val", "test", "train_s", "eval_s")
BENCHMARK = "nb201"
KNOWN_OPTIMUM = ("cifar10-valid/val@200", 6111, 91.61)
"""NB201 paper: best cifar10-valid validation accuracy 91.61 (mean of seeds), cell index 6111."""

_NATIVE_COL = re.compile(r"^(%s)/(%s)@(\d+)$" % ("|".join(map(re.escape, DATASETS)), "|".join(METRICS)))


@dataclass
class Frame:
    """One source read into harness columns: values, seeds averaged per column, provenance."""

    df: pd.DataFrame
    seeds: dict[str, int | None]
    source: dict
    notes: list[str]


def _read_csv_or_parquet(path: Path) -> pd.DataFrame:
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError, pa.ArrowInvalid) as exc:
        raise DataCorrupt(f"{path} is not a readable CSV/parquet table ({str(exc).splitlines()[0]})") from None


def _need(df: pd.DataFrame, path: Path, cols: Sequence[str], layout: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataCorrupt(f"{path} looks like a {layout} table but lacks columns {', '.join(missing)}")


def _table_frame(path: Path) -> Frame:
    raw = _read_csv_or_parquet(path)
    source = {"path": str(path), "sha256": atomic.sha256_file(path), "size": path.stat().st_size}
    cols = set(raw.columns)
    out = pd.DataFrame()
    seeds: dict[str, int | None] = {}
    notes: list[str] = []
    if {"valid-accuracy", "train-per-time"} <= cols:
        _need(raw, path, ["index", "arch_str", "valid-accuracy", "test-accuracy", "train-all-time",
                          "train-per-time", "valid-per-time"], "NAS-Landscapes (NATS get_more_info, cifar10-valid, hp=200)")
        source["kind"] = "nas-landscapes-cifar10-valid-avg"
        out["index"], out["arch_str"] = raw["index"], raw["arch_str"]
        mapping = {
            "cifar10-valid/val@200": raw["valid-accuracy"],
            "cifar10-valid/test@200": raw["test-accuracy"],
            "cifar10-valid/train_s@200": raw["train-all-time"],
            "cifar10-valid/eval_s@200": raw["valid-per-time"],
            "cifar10-valid/train_s@12": 12.0 * raw["train-per-time"],
            "cifar10-valid/eval_s@12": raw["valid-per-time"],
        }
        notes.append("cifar10-valid/train_s@12 derived as 12 x train-per-time of the 200-epoch run")
        for k, v in mapping.items():
            out[k] = v.astype(float)
            seeds[k] = 3
    elif any(c.endswith("_val_acc_200ep") for c in cols):
        _need(raw, path, ["nb201_index", "arch_str"], "NASLib-derived 200-epoch validation")
        source["kind"] = "naslib-val-200ep"
        out["index"], out["arch_str"] = raw["nb201_index"], raw["arch_str"]
        target = {"cifar10-valid": "cifar10-valid/test@200", "cifar100": "cifar100/val@200",
                  "ImageNet16-120": "ImageNet16-120/val@200"}
        for d, col in target.items():
            if f"{d}_val_acc_200ep" in cols:
                out[col] = raw[f"{d}_val_acc_200ep"].astype(float)
                seeds[col] = 1
        notes.append("NASLib 200-epoch accuracies are from one training seed; its cifar10-valid 'val_accuracy' "
                     "is the ori-test accuracy (10,000-image grid), imported as cifar10-valid/test@200")
        notes.append("NASLib cifar100 / ImageNet16-120 'val_accuracy' is x-valid or x-test (NASLib's eval_acc1es "
                     "does not say which); imported as validation")
    elif {"cifar10-val", "cifar100-val", "imagenet-val"} <= cols:
        _need(raw, path, ["nb201_index", "arch_str", "cifar10-test", "cifar100-test", "imagenet-test"],
              "mini-NAS-Bench-201 (12-epoch)")
        source["kind"] = "mini-nb201-12ep"
        out["index"], out["arch_str"] = raw["nb201_index"], raw["arch_str"]
        mapping = {
            "cifar10-valid/val@12": "cifar10-val", "cifar10/test@12": "cifar10-test",
            "cifar100/val@12": "cifar100-val", "cifar100/test@12": "cifar100-test",
            "ImageNet16-120/val@12": "imagenet-val", "ImageNet16-120/test@12": "imagenet-test",
        }
        for k, v in mapping.items():
            out[k] = raw[v].astype(float)
            seeds[k] = None
    elif any(_NATIVE_COL.match(str(c)) for c in cols):
        _need(raw, path, ["index", "arch_str"], "harness-native NB201")
        source["kind"] = "harness-native"
        out["index"], out["arch_str"] = raw["index"], raw["arch_str"]
        for c in raw.columns:
            if _NATIVE_COL.match(str(c)):
                out[c] = raw[c].astype(float)
                seeds[c] = None
    else:
        raise DataCorrupt(
            f"{path}: unknown NB201 table layout (columns {', '.join(map(str, list(raw.columns)[:8]))}...); "
            f"see README 'Data' for the accepted layouts"
        )
    return Frame(out, seeds, source, notes)


def _official_frame(path: Path) -> Frame:
    from spaces import nb201_sources  # noqa: PLC0415 - heavy, only for official files

    source = {"path": str(path)}
    if path.is_dir() or path.name.endswith((".tar", ".tar.gz")):
        df = nb201_sources.read_nats_archive(path)
        notes = ["NATS-Bench topology archive: metrics averaged over the seeds of each run"]
        notes += list(df.attrs.get("notes", []))
        source["kind"] = "nats-tss-archive"
        source["nats_version"] = df.attrs.get("nats_version")
        seeds = {c: df.attrs.get("seeds", {}).get(c) for c in df.columns if "/" in c}
    else:
        df, notes = nb201_sources.read_naslib_pickle(path)
        source["kind"] = "naslib-pickle"
        seeds = {c: 1 for c in df.columns if "/" in c}
    if path.is_file():
        source.update(sha256=atomic.sha256_file(path), size=path.stat().st_size)
    return Frame(df, seeds, source, list(notes))


def read_source(path: Path) -> Frame:
    path = Path(path)
    if not path.exists():
        raise HarnessError(f"{path} does not exist; pass the path of a downloaded NB201 file")
    if path.suffix in (".csv", ".parquet"):
        return _table_frame(path)
    return _official_frame(path)


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
        m = _NATIVE_COL.match(c)
        return (DATASETS.index(m.group(1)), int(m.group(3)), METRICS.index(m.group(2)))

    return ["index", "arch_str"] + sorted((c for c in columns if _NATIVE_COL.match(c)), key=key)


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


EMBEDDED_DIR = Path(__file__).resolve().parent / "embedded" / "nb201"
EMBEDDED_SOURCES = (
    "nas_landscapes_cifar10-valid_avg.csv",
    "nb201_val_acc_200ep_naslib.csv",
    "nb201_12ep_mini_nasbench201.csv",
)
"""The embedded default: public NB201 derivatives (MIT / Apache-2.0, see embedded/nb201/NOTICE)."""


def build_embedded(source_dir: Path, dest: Path = EMBEDDED_DIR) -> StoredTable:
    """Rebuild the embedded table from the three public tables (tests check it is unchanged)."""
    table = import_files([Path(source_dir) / f for f in EMBEDDED_SOURCES], dest.parent)
    manifest = table.manifest()
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


class NB201Benchmark(Evaluator):
    """Vectorised lookups into the NB201 table for one dataset; O(1) per query via a code array."""

    journal_fsync = False  # a lookup is cheaper to redo than an fsync

    def __init__(self, dataset: str, data_dir=None, space: nb201.NB201Space | None = None):
        if dataset not in DATASETS:
            raise HarnessError(f"unknown NB201 dataset {dataset!r}; valid: {', '.join(DATASETS)}")
        if dataset == "cifar10":
            raise HarnessError(
                "NB201 'cifar10' is trained on train+valid and has no validation split; search on "
                "cifar10-valid (its test column is the one to report), as NATS-Bench advises"
            )
        self.dataset = dataset
        self.table = stored(BENCHMARK, data_dir)
        names = self.table.column_names()
        wanted = [c for c in names if c.startswith(dataset + "/")]
        data = self.table.read(["index", "arch_str"] + wanted)
        self.fidelities = tuple(f for f in FIDELITIES if f"{dataset}/val@{f}" in wanted)
        if not self.fidelities:
            raise DataMissing(
                f"the nb201 table has no {dataset} validation accuracies; import a file that has them "
                f"(e.g. the NATS-tss archive: `python -m harness data import nb201 <dir>`)"
            )
        self.default_fidelity = 200 if 200 in self.fidelities else self.fidelities[-1]
        codes = np.fromiter((nb201.arch_code(nb201.parse_arch_str(s)) for s in data.column("arch_str").to_pylist()),
                            dtype=np.int64, count=data.num_rows)
        self.row_of = np.full(nb201.N_CELLS, -1, dtype=np.int64)
        self.row_of[codes] = np.arange(data.num_rows)
        self.index = data.column("index").to_numpy()
        self._cols: dict[tuple[str, int], np.ndarray] = {}
        n = data.num_rows
        for m in METRICS:
            for f in FIDELITIES:
                name = f"{dataset}/{m}@{f}"
                arr = data.column(name).to_numpy(zero_copy_only=False) if name in wanted else np.full(n, np.nan)
                self._cols[(m, f)] = np.ascontiguousarray(arr, dtype=np.float64)
        self._manifest = self.table.manifest()
        self._other: dict[str, np.ndarray | None] = {}

    def lookup(self, arch: tuple[int, ...], fidelity: int) -> Result:
        row = self.row_of[nb201.arch_code(arch)]
        if row < 0:
            return Result(math.nan, status="failed", error="cell not in the imported NB201 table (partial import)")
        c = self._cols
        cost = c[("train_s", fidelity)][row] + c[("eval_s", fidelity)][row]
        return Result(c[("val", fidelity)][row], c[("test", fidelity)][row], cost, "ok", "", -1)

    def evaluate(self, archs, fidelity, bench_seeds) -> list[Result]:
        if fidelity not in self.fidelities:
            raise HarnessError(f"NB201 {self.dataset} has fidelities {self.fidelities}, not {fidelity}")
        return [self.lookup(a, fidelity) for a in archs]

    def _report_column(self, dataset: str, fidelity: int, metric: str) -> np.ndarray | None:
        if dataset == self.dataset:
            arr = self._cols.get((metric, fidelity))
        else:
            name = f"{dataset}/{metric}@{fidelity}"
            if name not in self._other:
                names = self.table.column_names()
                self._other[name] = (
                    self.table.read([name]).column(0).to_numpy(zero_copy_only=False).astype(np.float64)
                    if name in names else None
                )
            arr = self._other[name]
        if arr is None or not np.isfinite(arr).any():
            return None
        return arr

    def report_values(self, archs, dataset, fidelity, metric):
        col = self._report_column(dataset, fidelity, metric)
        if col is None:
            return None
        rows = self.row_of[[nb201.arch_code(a) for a in archs]]
        return [float(col[r]) if r >= 0 else math.nan for r in rows]

    def report_missing(self, dataset, fidelity, metric):
        if self._report_column(dataset, fidelity, metric) is not None:
            return None
        return (
            f"the nb201 table has no {dataset}/{metric}@{fidelity} column; import the official NATS-tss "
            f"archive (`python -m harness data import nb201 NATS-tss-v1_0-3ffb9-simple/`) to get it"
        )

    def n_repeats(self, fidelity: int) -> int:
        """One: the imported NB201 table holds means over training seeds."""
        return 1

    def describe(self) -> dict:
        return {
            "benchmark": BENCHMARK,
            "dataset": self.dataset,
            "table_sha256": self._manifest.get("table_sha256"),
            "partial": self._manifest.get("partial"),
            "fidelities": list(self.fidelities),
            "has_test": {f: bool(np.isfinite(self._cols[("test", f)]).any()) for f in self.fidelities},
            "has_cost": {f: bool(np.isfinite(self._cols[("train_s", f)]).any()) for f in self.fidelities},
        }


def make_evaluator(dataset: str, data_dir, space) -> NB201Benchmark:
    return NB201Benchmark(dataset, data_dir, space)
