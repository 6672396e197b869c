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

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from blackboxes.nb201.schema import NATIVE_COLUMN, unit_of
from harness import atomic
from harness.data import formats
from harness.data.values import FIX, PERCENT, SECONDS, check_column
from harness.errors import DataCorrupt, HarnessError
from spaces import nb201


@dataclass
class Frame:
    """One source read into harness columns: values, seeds averaged per column, provenance."""

    df: pd.DataFrame
    seeds: dict[str, int | None]
    source: dict
    notes: list[str]


_NAMES = {".csv": "csv", ".parquet": "parquet", ".pickle": "pickle", ".pkl": "pickle", ".tar": "tar",
          ".tar.gz": "tar", ".tgz": "tar"}
_UNKNOWN = ("an NB201 file this harness reads (the NATS-tss-v1_0-3ffb9-simple directory or its .tar, NASLib's "
            "nb201_<dataset>_full_training.pickle, or a .csv / .parquet table); name the file by its format")


def source_kind(path: Path) -> str:
    """``csv``, ``parquet``, ``pickle`` (NASLib) or ``tar`` (a NATS archive; also a directory), from the
    file's name and content together (``harness.data.formats``): a ``.csv`` that is really a pickle
    is refused, never unpickled."""
    if path.is_dir():
        return "tar"
    return formats.decide(path, names=_NAMES, readable={"csv", "parquet", "pickle", "tar"}, unknown=_UNKNOWN)


def _read_table(path: Path, kind: str) -> pd.DataFrame:
    try:
        if kind == "parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError, pa.ArrowInvalid) as exc:
        raise DataCorrupt(f"{path} is not a readable CSV/parquet table ({str(exc).splitlines()[0]})") from None


def _need(df: pd.DataFrame, path: Path, cols: Sequence[str], layout: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataCorrupt(f"{path} looks like a {layout} table but lacks columns {', '.join(missing)}")


def _row(i: int) -> str:
    return f"data row {i + 1}"


def _shown(value) -> str:
    """A cell as the user wrote it: text quoted, numbers plain (not ``np.float64(3.5)``)."""
    return repr(value) if isinstance(value, str) else str(value)


def _numbers(raw: pd.DataFrame, col: str, path: Path) -> np.ndarray:
    """Column ``col`` as float64; a cell that is not a number is a ``DataCorrupt`` naming its row."""
    series = raw[col]
    try:
        values = pd.to_numeric(series, errors="coerce")
    except (TypeError, ValueError):  # lists or dicts in a parquet cell
        raise DataCorrupt(f"{path}: column {col} holds {series.dtype} values, not numbers; {FIX}") from None
    bad = (values.isna() & series.notna()).to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise DataCorrupt(f"{path}: {_row(i)}, column {col}: {_shown(series.iloc[i])} is not a number; {FIX}")
    return values.to_numpy(dtype=np.float64)


def _metric(raw: pd.DataFrame, col: str, path: Path, unit: str, required: bool) -> np.ndarray:
    """A metric column, checked against its unit (``harness.data.values``) before any scaling."""
    values = _numbers(raw, col, path)
    check_column(values, unit, file=str(path), column=col, where=_row, required=required)
    return values


def _index(raw: pd.DataFrame, col: str, path: Path) -> np.ndarray:
    x = _numbers(raw, col, path)
    bad = ~np.isfinite(x) | (x != np.round(x)) | (x < 0) | (x >= nb201.N_CELLS)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataCorrupt(f"{path}: {_row(i)}, column {col}: {_shown(raw[col].iloc[i])} is not an NB201 index "
                          f"(a whole number 0..{nb201.N_CELLS - 1}); {FIX}")
    return x.astype(np.int32)


def _check_cells(out: pd.DataFrame, path: Path, index_col: str) -> None:
    """Every row a valid NB201 cell, and no cell (by index or by arch string) twice."""
    codes = []
    for i, a in enumerate(out["arch_str"]):
        try:
            if not isinstance(a, str):
                raise ValueError(f"no arch string (got {a!r})")
            codes.append(nb201.arch_code(nb201.parse_arch_str(a)))
        except ValueError as exc:
            raise DataCorrupt(f"{path}: {_row(i)}, column arch_str: {exc}") from None
    for col, keys in ((index_col, out["index"]), ("arch_str", pd.Series(codes))):
        dup = keys.duplicated().to_numpy()
        if dup.any():
            j = int(np.argmax(dup))
            i = int(np.argmax((keys == keys.iloc[j]).to_numpy()))
            raise DataCorrupt(f"{path}: {_row(j)}: duplicate NB201 cell (same {col} as {_row(i)}); a table "
                              f"holds each cell once")


def _table_frame(path: Path, kind: str = "csv") -> Frame:
    """A plain table in one of the layouts of the module docstring. The three published layouts
    have a value in every cell of every column they map (NaN there is corrupt); the harness-native
    layout may lack values (a partial merge written out), so NaN there means absent."""
    raw = _read_table(path, kind)
    source = {"path": str(path), "sha256": atomic.sha256_file(path), "size": path.stat().st_size}
    if raw.empty:
        raise DataCorrupt(f"{path} has no data rows (a header only?); pass the whole table")
    cols = set(raw.columns)
    out = pd.DataFrame()
    seeds: dict[str, int | None] = {}
    notes: list[str] = []
    if {"valid-accuracy", "train-per-time"} <= cols:
        _need(raw, path, ["index", "arch_str", "valid-accuracy", "test-accuracy", "train-all-time",
                          "train-per-time", "valid-per-time"], "NAS-Landscapes (NATS get_more_info, cifar10-valid, hp=200)")
        source["kind"] = "nas-landscapes-cifar10-valid-avg"
        index_col = "index"
        out["index"], out["arch_str"] = _index(raw, index_col, path), raw["arch_str"]
        got = {c: _metric(raw, c, path, unit, True) for c, unit in (
            ("valid-accuracy", PERCENT), ("test-accuracy", PERCENT), ("train-all-time", SECONDS),
            ("valid-per-time", SECONDS), ("train-per-time", SECONDS))}
        mapping = {
            "cifar10-valid/val@200": got["valid-accuracy"],
            "cifar10-valid/test@200": got["test-accuracy"],
            "cifar10-valid/train_s@200": got["train-all-time"],
            "cifar10-valid/eval_s@200": got["valid-per-time"],
            "cifar10-valid/train_s@12": 12.0 * got["train-per-time"],
            "cifar10-valid/eval_s@12": got["valid-per-time"],
        }
        notes.append("cifar10-valid/train_s@12 derived as 12 x train-per-time of the 200-epoch run")
        for k, v in mapping.items():
            out[k] = v
            seeds[k] = 3
    elif any(c.endswith("_val_acc_200ep") for c in cols):
        _need(raw, path, ["nb201_index", "arch_str"], "NASLib-derived 200-epoch validation")
        source["kind"] = "naslib-val-200ep"
        index_col = "nb201_index"
        out["index"], out["arch_str"] = _index(raw, index_col, path), raw["arch_str"]
        target = {"cifar10-valid": "cifar10-valid/test@200", "cifar100": "cifar100/val@200",
                  "ImageNet16-120": "ImageNet16-120/val@200"}
        for d, col in target.items():
            if f"{d}_val_acc_200ep" in cols:
                out[col] = _metric(raw, f"{d}_val_acc_200ep", path, PERCENT, True)
                seeds[col] = 1
        notes.append("NASLib 200-epoch accuracies are from one training seed; its cifar10-valid 'val_accuracy' "
                     "is the ori-test accuracy (10,000-image grid), imported as cifar10-valid/test@200")
        notes.append("NASLib cifar100 / ImageNet16-120 'val_accuracy' is x-valid or x-test (NASLib's eval_acc1es "
                     "does not say which); imported as validation")
    elif {"cifar10-val", "cifar100-val", "imagenet-val"} <= cols:
        _need(raw, path, ["nb201_index", "arch_str", "cifar10-test", "cifar100-test", "imagenet-test"],
              "mini-NAS-Bench-201 (12-epoch)")
        source["kind"] = "mini-nb201-12ep"
        index_col = "nb201_index"
        out["index"], out["arch_str"] = _index(raw, index_col, path), raw["arch_str"]
        mapping = {
            "cifar10-valid/val@12": "cifar10-val", "cifar10/test@12": "cifar10-test",
            "cifar100/val@12": "cifar100-val", "cifar100/test@12": "cifar100-test",
            "ImageNet16-120/val@12": "imagenet-val", "ImageNet16-120/test@12": "imagenet-test",
        }
        for k, v in mapping.items():
            out[k] = _metric(raw, v, path, PERCENT, True)
            seeds[k] = None
    elif any(NATIVE_COLUMN.match(str(c)) for c in cols):
        _need(raw, path, ["index", "arch_str"], "harness-native NB201")
        source["kind"] = "harness-native"
        index_col = "index"
        out["index"], out["arch_str"] = _index(raw, index_col, path), raw["arch_str"]
        for c in raw.columns:
            unit = unit_of(str(c))
            if unit is not None:
                out[c] = _metric(raw, c, path, unit, False)
                seeds[c] = None
    else:
        raise DataCorrupt(
            f"{path}: unknown NB201 table layout (columns {', '.join(map(str, list(raw.columns)[:8]))}...); "
            f"see README 'Data' for the accepted layouts"
        )
    _check_cells(out, path, index_col)
    return Frame(out, seeds, source, notes)


def _official_frame(path: Path, kind: str, allow_pickle: bool) -> Frame:
    from blackboxes.nb201 import official as nb201_sources  # noqa: PLC0415 - heavy, only for official files

    source = {"path": str(path)}
    if kind == "tar":
        df = nb201_sources.read_nats_archive(path, allow_pickle=allow_pickle)
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


def read_source(path: Path, *, allow_pickle: bool = False) -> Frame:
    """One NB201 file or NATS directory as a checked ``Frame``; the format is decided by name and
    content (``source_kind``). ``allow_pickle`` opts in to the NATS archive, which nats_bench reads
    with full pickle (it can run code); NASLib pickles go through ``harness.safe_pickle`` and need
    no opt-in."""
    path = Path(path)
    if not path.exists():
        raise HarnessError(f"{path} does not exist; pass the path of a downloaded NB201 file")
    kind = source_kind(path)
    if kind in ("csv", "parquet"):
        return _table_frame(path, kind)
    return _official_frame(path, kind, allow_pickle)
