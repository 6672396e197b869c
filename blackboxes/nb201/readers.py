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

import pandas as pd
import pyarrow as pa

from blackboxes.nb201.schema import NATIVE_COLUMN
from harness import atomic
from harness.errors import DataCorrupt, HarnessError


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
    elif any(NATIVE_COLUMN.match(str(c)) for c in cols):
        _need(raw, path, ["index", "arch_str"], "harness-native NB201")
        source["kind"] = "harness-native"
        out["index"], out["arch_str"] = raw["index"], raw["arch_str"]
        for c in raw.columns:
            if NATIVE_COLUMN.match(str(c)):
                out[c] = raw[c].astype(float)
                seeds[c] = None
    else:
        raise DataCorrupt(
            f"{path}: unknown NB201 table layout (columns {', '.join(map(str, list(raw.columns)[:8]))}...); "
            f"see README 'Data' for the accepted layouts"
        )
    return Frame(out, seeds, source, notes)


def _official_frame(path: Path) -> Frame:
    from blackboxes.nb201 import official as nb201_sources  # noqa: PLC0415 - heavy, only for official files

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

