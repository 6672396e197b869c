"""Data files are untrusted input (issue #13, points 2 and 5): no file runs code, and no impossible
value (NaN where a value is required, negative, infinite, above 100 %, fractions where percent is
expected, empty tables, duplicate cells) reaches a table; ``data verify`` reports such a table."""
from __future__ import annotations

import bz2
import io
import json
import math
import os
import pickle
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from test_fetch import server  # noqa: F401 - the local HTTP server fixture
from test_nb101_data import run_metrics, synthetic_stats, write_json, write_pickle, write_tfrecord

from blackboxes.enas6 import table as enas6_table
from blackboxes.nb101 import codec as nb101_codec
from blackboxes.nb101 import table as nb101_table
from blackboxes.nb101 import tfrecord
from blackboxes.nb201 import official as nb201_official
from blackboxes.nb201 import table as nb201_table
from harness import cli
from harness.data.download import verified_download
from harness.data.store import StoredTable, write_stored
from harness.errors import DataCorrupt, HarnessError

OFFICIAL = nb201_official.official_arch_strings()


def _one_line(exc: pytest.ExceptionInfo, *parts: str) -> str:
    msg = str(exc.value)
    assert msg and "\n" not in msg, msg
    for p in parts:
        assert p in msg, f"{p!r} not in {msg!r}"
    return msg


class _Evil:
    """Unpickling this runs ``touch <target>``: the file appearing means code ran."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def _hostile(path: Path, target: Path) -> Path:
    path.write_bytes(pickle.dumps({"0" * 32: _Evil(target)}))
    return path


# ---------------------------------------------------------------- code execution from data files

def test_hostile_pickles_never_run(tmp_path):
    pwned = tmp_path / "pwned"
    for name, importer in (("nasbench_only108.pkl", nb101_table), ("nb201_cifar10_full_training.pickle", nb201_table),
                           ("no_suffix", nb101_table), ("no_suffix", nb201_table)):
        with pytest.raises(DataCorrupt) as err:
            importer.import_files([_hostile(tmp_path / name, pwned)], tmp_path / "d")
        _one_line(err, "system", "could run code")
        assert not pwned.exists(), f"{importer.__name__} ran code from {name}"


def test_real_naslib_nb101_pickle_loads_with_the_allow_list(shared_data, tmp_path):
    """The allow-list holds what the real file needs (dicts, tuples, lists, numbers, numpy arrays)."""
    table = nb101_table.import_files([shared_data / "nb101" / "naslib_nb101_dummy_30.pkl"], tmp_path)
    assert table.manifest()["n_rows"] == 30


def test_name_and_content_must_agree(tmp_path):
    pwned = tmp_path / "pwned"
    for name in ("stats.csv", "stats.json", "stats.tfrecord"):
        with pytest.raises(DataCorrupt) as err:
            nb101_table.import_files([_hostile(tmp_path / name, pwned)], tmp_path / "d")
        _one_line(err, name, "looks like a pickle", "rename it to .pickle")
    for name in ("table.csv", "table.parquet"):
        with pytest.raises(DataCorrupt) as err:
            nb201_table.import_files([_hostile(tmp_path / name, pwned)], tmp_path / "d")
        _one_line(err, name, "looks like a pickle", "rename it to .pickle")
    assert not pwned.exists()
    frame = pd.DataFrame({"index": [0], "arch_str": [OFFICIAL[0]], "cifar10-valid/val@200": [80.0]})
    frame.to_parquet(tmp_path / "native.csv")
    with pytest.raises(DataCorrupt) as err:
        nb201_table.import_files([tmp_path / "native.csv"], tmp_path / "d")
    _one_line(err, "looks like a parquet file", "rename it to .parquet")
    (tmp_path / "notes.txt").write_text("index,arch_str\n")
    for importer in (nb101_table, nb201_table):  # unknown name, content proves nothing: refused
        with pytest.raises(DataCorrupt) as err:
            importer.import_files([tmp_path / "notes.txt"], tmp_path / "d")
        _one_line(err, "name the file by its format")


def _nats_dir_with_hostile_meta(root: Path, target: Path) -> Path:
    root.mkdir()
    (root / "meta.pickle.pbz2").write_bytes(bz2.compress(pickle.dumps({"meta_archs": _Evil(target)})))
    return root


def test_nats_archive_needs_the_opt_in(tmp_path):
    pwned = tmp_path / "pwned"
    nats = _nats_dir_with_hostile_meta(tmp_path / "NATS-tss-v1_0-3ffb9-simple", pwned)
    import tarfile

    tar_path = tmp_path / "NATS-tss-v1_0-3ffb9-simple.tar"
    with tarfile.open(tar_path, "w") as tar:
        tar.add(nats, arcname=nats.name)
    for path in (nats, tar_path):
        with pytest.raises(HarnessError) as err:
            nb201_table.import_files([path], tmp_path / "d")
        _one_line(err, "NATS-Bench archives are pickles", "--allow-pickle")
        assert not isinstance(err.value, DataCorrupt)
    assert not pwned.exists() and not (tmp_path / "d").exists()
    from harness.cli import main

    assert main(["data", "import", "nb201", str(nats), "--data-dir", str(tmp_path / "d")]) == 2  # the command line too
    assert not pwned.exists()
    empty = tmp_path / "empty-NATS"
    empty.mkdir()
    with pytest.raises(DataCorrupt, match="no meta.pickle.pbz2"):  # with the opt-in the archive is read
        nb201_table.import_files([empty], tmp_path / "d", allow_pickle=True)
    assert main(["data", "import", "nb201", str(empty), "--allow-pickle", "--data-dir", str(tmp_path / "d")]) == 2


def test_download_without_any_checksum_is_refused(server, tmp_path):  # noqa: F811 - the fixture
    server.files["/nasbench_mirror.tfrecord"] = b"anything"
    with pytest.raises(HarnessError) as err:
        verified_download("nb101", [], tmp_path, url=f"{server.url}/nasbench_mirror.tfrecord", progress=False)
    _one_line(err, "no published checksum", "--sha256", "data import nb101")
    assert server.requests == [] and not (tmp_path / "downloads" / "nasbench_mirror.tfrecord").exists()
    sha = __import__("hashlib").sha256(b"anything").hexdigest()
    path = verified_download("nb101", [], tmp_path, url=f"{server.url}/nasbench_mirror.tfrecord", sha256=sha,
                             progress=False)
    assert path.read_bytes() == b"anything"


def test_image_archive_without_checksum_still_fetches(server, tmp_path, monkeypatch):  # noqa: F811
    from blackboxes.training import fetch as fetch_mod

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("tiny-imagenet-200/wnids.txt", "n01\n")
    server.files["/tiny-imagenet-200.zip"] = buf.getvalue()
    src = fetch_mod.DATASET_SOURCES["tiny-imagenet"]
    assert src.md5 is None and src.sha256 is None
    monkeypatch.setitem(fetch_mod.DATASET_SOURCES, "tiny-imagenet", src.__class__(**{
        **src.__dict__, "url": f"{server.url}/tiny-imagenet-200.zip"}))
    target = fetch_mod.fetch_dataset("tiny-imagenet", tmp_path / "data", progress=False)
    assert (target / "tiny-imagenet-200" / "wnids.txt").read_text() == "n01\n"


# ---------------------------------------------------------------- impossible values: NB201 tables

def _landscapes(n: int = 6) -> pd.DataFrame:
    """NAS-Landscapes layout (percent accuracies, seconds), official cells 0..n-1."""
    return pd.DataFrame({
        "index": range(n), "arch_str": OFFICIAL[:n],
        "valid-accuracy": [80.0 + i for i in range(n)], "test-accuracy": [79.0 + i for i in range(n)],
        "train-all-time": [1800.0] * n, "train-per-time": [9.0] * n, "valid-per-time": [2.0] * n,
    })


def _bad_import(tmp_path, df: pd.DataFrame, *parts: str, name: str = "bad.csv") -> None:
    path = tmp_path / name
    df.to_csv(path, index=False)
    with pytest.raises(DataCorrupt) as err:
        nb201_table.import_files([path], tmp_path / "d")
    _one_line(err, str(path), *parts)
    assert not (tmp_path / "d").exists()


def _with(df: pd.DataFrame, row: int, col: str, value) -> pd.DataFrame:
    df = df.copy()
    df[col] = df[col].astype(object)
    df.loc[row, col] = value
    return df


def test_nb201_tables_reject_impossible_values(tmp_path):
    good = _landscapes()
    for col, value, reason in (
        ("valid-accuracy", math.nan, "NaN"), ("test-accuracy", -1.0, "negative accuracy"),
        ("valid-accuracy", 100.5, "above 100"), ("test-accuracy", math.inf, "infinite"),
        ("train-all-time", -3.0, "negative time"), ("train-per-time", math.inf, "infinite time"),
        ("valid-per-time", math.nan, "NaN"), ("index", 2.5, "not an NB201 index"),
        ("valid-accuracy", "high", "not a number"),
    ):
        _bad_import(tmp_path, _with(good, 3, col, value), "data row 4", f"column {col}", reason)
    fractions = good.assign(**{"valid-accuracy": good["valid-accuracy"] / 100})
    _bad_import(tmp_path, fractions, "column valid-accuracy", "fractions where percent is expected")
    _bad_import(tmp_path, good.iloc[:0], "no data rows")
    _bad_import(tmp_path, pd.concat([good, good.iloc[[1]]]), "data row 7", "duplicate NB201 cell", "data row 2")
    naslib = pd.DataFrame({"nb201_index": range(4), "arch_str": OFFICIAL[:4],
                           "cifar100_val_acc_200ep": [0.61, 0.62, 0.6, 0.7]})
    _bad_import(tmp_path, naslib, "column cifar100_val_acc_200ep", "fractions")
    mini = pd.DataFrame({"nb201_index": range(3), "arch_str": OFFICIAL[:3], **{
        c: [50.0, 51.0, 52.0] for c in ("cifar10-val", "cifar10-test", "cifar100-val", "cifar100-test",
                                       "imagenet-val", "imagenet-test")}})
    _bad_import(tmp_path, _with(mini, 0, "imagenet-test", 250.0), "data row 1", "column imagenet-test", "above 100")


def test_nb201_native_table_nan_is_absent_but_negative_is_corrupt(tmp_path):
    df = pd.DataFrame({"index": range(3), "arch_str": OFFICIAL[:3], "cifar100/val@200": [60.0, math.nan, 61.0],
                       "cifar100/train_s@200": [900.0, 901.0, math.nan]})
    df.to_csv(tmp_path / "native.csv", index=False)
    values = nb201_table.import_files([tmp_path / "native.csv"], tmp_path / "ok").read().to_pandas()
    assert values["cifar100/val@200"].isna().tolist() == [False, True, False]  # a partial merge written out
    _bad_import(tmp_path, _with(df, 2, "cifar100/train_s@200", -1.0), "data row 3", "negative time")


def _naslib_entry(final: float, train_time: float = 6.0, eval_time: float = 2.0, epochs: int = 200) -> dict:
    return {"eval_acc1es": [final - 0.5] * (epochs - 1) + [final], "train_times": [train_time] * epochs,
            "eval_times": [eval_time] * epochs, "epochs": epochs}


def test_nb201_naslib_pickle_rejects_impossible_values(tmp_path):
    for kwargs, parts in (
        ({"train_time": -6.0}, ("cell " + OFFICIAL[2], "train_times", "negative or infinite")),
        ({"eval_time": math.inf}, ("cell " + OFFICIAL[2], "eval_times", "negative or infinite")),
    ):
        data = {OFFICIAL[i]: {"cifar10-valid": _naslib_entry(80.0 + i, **(kwargs if i == 2 else {}))} for i in range(4)}
        path = tmp_path / "nb201_cifar10_full_training.pickle"
        path.write_bytes(pickle.dumps(data))
        with pytest.raises(DataCorrupt) as err:
            nb201_table.import_files([path], tmp_path / "d")
        _one_line(err, str(path), *parts)
    data = {OFFICIAL[i]: {"cifar10-valid": _naslib_entry(0.8 + i / 100)} for i in range(4)}
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(DataCorrupt) as err:
        nb201_table.import_files([path], tmp_path / "d")
    _one_line(err, "fractions where percent is expected")


class _NatsApi:
    """The NATS-tss API surface ``read_nats_api`` uses, with one cell's value replaced."""

    def __init__(self, n: int, key: str = "", value=None):
        self.n, self.key, self.value = n, key, value

    def __len__(self):
        return self.n

    def arch(self, i):
        return OFFICIAL[i]

    def get_more_info(self, i, dataset, hp="12", is_random=True):
        info = {"valid-accuracy": 70.0 + i, "test-accuracy": 69.0 + i, "train-all-time": 10.0 * int(hp),
                "valid-per-time": 1.5}
        if i == 1 and self.key:
            info[self.key] = self.value
        return info


def test_nb201_nats_api_rejects_impossible_values():
    df = nb201_official.read_nats_api(_NatsApi(3, "test-accuracy", None))  # a value the cell lacks: NaN
    assert math.isnan(df.loc[1, "cifar10-valid/test@12"])
    for key, value, reason in (("train-all-time", -1.0, "negative time"), ("valid-accuracy", 101.0, "above 100"),
                               ("valid-per-time", math.inf, "infinite time")):
        with pytest.raises(DataCorrupt) as err:
            nb201_official.read_nats_api(_NatsApi(3, key, value), label="NATS-tss-test")
        _one_line(err, "NATS-tss-test", "cell " + OFFICIAL[1], reason)
    with pytest.raises(DataCorrupt, match="holds no cells"):
        nb201_official.read_nats_api(_NatsApi(0))


# ---------------------------------------------------------------- impossible values: NB101 files

def _first_run(stats: dict, key: str, value) -> dict:
    stats = json.loads(json.dumps(stats))
    next(iter(stats.values()))["computed"]["108"][0][key] = value
    return stats


def test_nb101_statistics_reject_impossible_values(tmp_path):
    cases = (("final_validation_accuracy", math.nan, "is not a fraction"),
             ("final_test_accuracy", math.inf, "is not a fraction"),
             ("final_test_accuracy", 93.1, "is not a fraction"),  # percent in a fractions file
             ("final_training_time", -2.0, "not a time in seconds"),
             ("final_training_time", math.inf, "not a time in seconds"))
    for key, value, reason in cases:
        stats = _first_run(synthetic_stats(), key, value)
        h = next(iter(stats))
        for writer, name, where in ((write_json, "s.json", f"cell {h!r}"), (write_pickle, "s.pkl", f"cell {h!r}"),
                                    (write_tfrecord, "s.tfrecord", "record 0")):
            writer(tmp_path / name, stats)
            with pytest.raises(DataCorrupt) as err:
                nb101_table.import_files([tmp_path / name], tmp_path / "d")
            _one_line(err, str(tmp_path / name), where, key, reason)
    stats = synthetic_stats()
    text = json.dumps(stats)
    first = next(iter(stats))
    (tmp_path / "twice.json").write_text(text[:-1] + ", " + json.dumps({first: stats[first]})[1:])
    with pytest.raises(DataCorrupt) as err:
        nb101_table.import_files([tmp_path / "twice.json"], tmp_path / "d")
    _one_line(err, first, "appears twice")
    assert not (tmp_path / "d").exists()


def test_nb101_tfrecord_negative_time_names_the_record(tmp_path):
    stats = synthetic_stats(2)
    records = []
    for k, (h, cell) in enumerate(stats.items()):
        adjacency = "".join(str(x) for row in cell["module_adjacency"] for x in row)
        run = dict(cell["computed"]["108"][0], final_training_time=-1.0 if k else 600.0)
        metrics = run_metrics(run, 108, cell["trainable_parameters"])
        records.append(nb101_codec.make_record(h, 108, adjacency, ",".join(cell["module_operations"]), metrics))
    tfrecord.write_records(tmp_path / "t.tfrecord", records)
    with pytest.raises(DataCorrupt) as err:
        nb101_table.import_files([tmp_path / "t.tfrecord"], tmp_path / "d")
    _one_line(err, "record 1", "final_training_time = -1.0")


def _csv(stats: dict) -> pd.DataFrame:
    rows = [{"module_hash": h, "val_acc_4ep": 0.3, "val_acc_12ep": 0.5, "val_acc_36ep": 0.7,
             "val_acc_108ep": c["computed"]["108"][0]["final_validation_accuracy"],
             "final_training_time_108ep": 600.0, "trainable_parameters": c["trainable_parameters"],
             "adjacency_pruned": "", "operations_pruned": ""} for h, c in sorted(stats.items())]
    return pd.DataFrame(rows)


def test_nb101_csv_rejects_impossible_values(tmp_path):
    good = _csv(synthetic_stats())
    for col, value, reason in (("val_acc_108ep", math.nan, "outside 0..1"), ("val_acc_4ep", math.inf, "outside 0..1"),
                               ("final_training_time_108ep", -5.0, "negative time"),
                               ("final_training_time_108ep", math.inf, "infinite time"),
                               ("final_training_time_108ep", math.nan, "NaN"),
                               ("trainable_parameters", -3, "not a parameter count")):
        df = good.copy()
        df.loc[2, col] = value
        df.to_csv(tmp_path / "bad.csv", index=False)
        with pytest.raises(DataCorrupt) as err:
            nb101_table.import_files([tmp_path / "bad.csv"], tmp_path / "d")
        _one_line(err, str(tmp_path / "bad.csv"), "data row 3", f"column {col}", reason)
    good.iloc[:0].to_csv(tmp_path / "header.csv", index=False)
    with pytest.raises(DataCorrupt) as err:
        nb101_table.import_files([tmp_path / "header.csv"], tmp_path / "d")
    _one_line(err, "no data rows")


# ---------------------------------------------------------------- impossible values: ENAS6 (D-VAE fractions)

def test_enas6_rejects_impossible_values(tmp_path):
    arch = "[[0], [1, 0], [2, 0, 1], [3, 1, 0, 1], [4, 0, 0, 0, 1], [5, 1, 1, 1, 1, 0]]"
    for value in ("nan", "inf", "-0.1", "75.0"):
        (tmp_path / "f.txt").write_text(f"{arch}, 0.7\n{arch.replace('[5,', '[4,')}, {value}\n")
        with pytest.raises(DataCorrupt) as err:
            enas6_table.import_files([tmp_path / "f.txt"], tmp_path / "d")
        _one_line(err, "f.txt:2", "accuracy")
    (tmp_path / "f.txt").write_text("\n\n")
    with pytest.raises(DataCorrupt, match="no architecture lines"):
        enas6_table.import_files([tmp_path / "f.txt"], tmp_path / "d")


# ---------------------------------------------------------------- data verify on impossible tables

def _store(benchmark: str, columns: dict, data_dir: Path) -> None:
    write_stored(benchmark, pa.table(columns), {"partial": True}, data_dir)


def test_verify_reports_impossible_tables_instead_of_crashing(tmp_path, capsys):
    _store("nb201", {"index": pa.array([], pa.int32()), "arch_str": pa.array([], pa.string()),
                     "cifar10-valid/val@200": pa.array([], pa.float64())}, tmp_path / "empty")
    info = nb201_table.verify(StoredTable("nb201", tmp_path / "empty" / "nb201"))
    assert any("no rows" in p for p in info["problems"])
    assert cli.main(["data", "verify", "nb201", "--data-dir", str(tmp_path / "empty")]) == 1
    assert "Traceback" not in capsys.readouterr().err

    _store("nb201", {"index": pa.array([0, 1], pa.int32()), "arch_str": pa.array(OFFICIAL[:2]),
                     "cifar10-valid/val@200": pa.array([math.nan, math.nan]),
                     "cifar10-valid/test@200": pa.array([80.0, 120.0]),
                     "cifar10-valid/train_s@200": pa.array([-1.0, 5.0])}, tmp_path / "bad201")
    problems = " | ".join(nb201_table.verify(StoredTable("nb201", tmp_path / "bad201" / "nb201"))["problems"])
    assert "test@200: accuracy 120 % is above 100" in problems and "train_s@200: negative time" in problems
    assert "cifar10-valid/val@200 has no values" in problems

    h = sorted(synthetic_stats(2))
    _store("nb101", {"module_hash": pa.array(h), "adjacency": pa.array(["", ""]), "operations": pa.array(["", ""]),
                     "params": pa.array([1, 2], pa.int64()), "val@108/r0": pa.array([0.9, 0.8]),
                     "test@108/r0": pa.array([90.0, math.inf]), "train_s@108/r0": pa.array([5.0, -5.0])},
           tmp_path / "bad101")
    problems = " | ".join(nb101_table.verify(StoredTable("nb101", tmp_path / "bad101" / "nb101"))["problems"])
    assert "val@108/r0: every value lies in 0..1" in problems
    assert f"test@108/r0: infinite accuracy inf (cell {h[1]})" in problems and "train_s@108/r0: negative time" in problems

    _store("enas6", {"arch_str": pa.array(["a", "b"]), "val": pa.array([-2.0, 70.0])}, tmp_path / "bad_enas")
    problems = " | ".join(enas6_table.verify(StoredTable("enas6", tmp_path / "bad_enas" / "enas6"))["problems"])
    assert "val: negative accuracy -2 (a)" in problems
    _store("enas6", {"arch_str": pa.array(["a"])}, tmp_path / "no_val")
    problems = enas6_table.verify(StoredTable("enas6", tmp_path / "no_val" / "enas6"))["problems"]
    assert any("no val" in p for p in problems)
