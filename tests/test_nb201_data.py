"""NB201 import and lookups: real shared tables, small files in each layout, and bad input."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from blackboxes.nb201 import readers as nb201_readers
from blackboxes.nb201 import table as nb201_table
from blackboxes.nb201.evaluator import NB201Benchmark
from harness.data.store import StoredTable, stored
from harness.errors import DataCorrupt, DataMissing, HarnessError
from spaces import nb201


def test_shared_import_gives_published_optimum(nb201_data_dir):
    info = nb201_table.verify(stored("nb201", nb201_data_dir))
    assert info["problems"] == []
    assert info["rows"] == nb201.N_CELLS
    ev = NB201Benchmark("cifar10-valid", nb201_data_dir)
    best = max(range(nb201.N_CELLS), key=lambda c: ev.lookup(nb201.arch_from_code(c), 200).val_acc)
    arch = nb201.arch_from_code(best)
    r = ev.lookup(arch, 200)
    assert round(r.val_acc, 2) == 91.61
    assert ev.index[ev.row_of[nb201.arch_code(arch)]] == 6111


def test_val_and_test_are_different_columns(nb201_data_dir, shared_data):
    raw = pd.read_csv(shared_data / "nb201" / "nas_landscapes_cifar10-valid_avg.csv")
    ev = NB201Benchmark("cifar10-valid", nb201_data_dir)
    for i in (0, 1, 6111, 15624):
        row = raw.loc[raw["index"] == i].iloc[0]
        r = ev.lookup(nb201.parse_arch_str(row["arch_str"]), 200)
        assert r.val_acc == pytest.approx(row["valid-accuracy"])
        assert r.test_acc == pytest.approx(row["test-accuracy"])
        assert r.val_acc != r.test_acc
        assert r.cost_s == pytest.approx(row["train-all-time"] + row["valid-per-time"])
        r12 = ev.lookup(nb201.parse_arch_str(row["arch_str"]), 12)
        assert r12.cost_s == pytest.approx(12 * row["train-per-time"] + row["valid-per-time"])


def test_other_datasets_and_fidelities(nb201_data_dir, shared_data):
    naslib = pd.read_csv(shared_data / "nb201" / "nb201_val_acc_200ep_naslib.csv").set_index("nb201_index")
    mini = pd.read_csv(shared_data / "nb201" / "nb201_12ep_mini_nasbench201.csv").set_index("nb201_index")
    ev = NB201Benchmark("cifar100", nb201_data_dir)
    assert ev.fidelities == (12, 200)
    arch = nb201.parse_arch_str(naslib.loc[42, "arch_str"])
    assert ev.lookup(arch, 200).val_acc == pytest.approx(naslib.loc[42, "cifar100_val_acc_200ep"])
    assert math.isnan(ev.lookup(arch, 200).test_acc)  # no 200-epoch cifar100 test in the shared data
    assert ev.lookup(arch, 12).val_acc == pytest.approx(mini.loc[42, "cifar100-val"])
    assert ev.lookup(arch, 12).test_acc == pytest.approx(mini.loc[42, "cifar100-test"])
    assert NB201Benchmark("ImageNet16-120", nb201_data_dir).describe()["has_test"] == {12: True, 200: False}


def test_more_seeds_win_a_shared_column(tmp_path, shared_data):
    # cifar10-valid/test@200 exists in both the 3-seed mean and NASLib's single seed: the mean wins
    files = [shared_data / "nb201" / "nb201_val_acc_200ep_naslib.csv",
             shared_data / "nb201" / "nas_landscapes_cifar10-valid_avg.csv"]
    table = nb201_table.import_files(files, tmp_path)
    prov = table.manifest()["columns_provenance"]["cifar10-valid/test@200"]
    assert prov["seeds"] == 3 and prov["source"].endswith("nas_landscapes_cifar10-valid_avg.csv")


def test_naslib_cifar10_values_are_test_accuracies(shared_data):
    """NASLib's cifar10-valid 'val_accuracy' lies on a 10,000-image grid: it is ori-test, not x-valid."""
    naslib = pd.read_csv(shared_data / "nb201" / "nb201_val_acc_200ep_naslib.csv")["cifar10-valid_val_acc_200ep"]
    on_10k_grid = np.isclose(np.round(naslib * 100) / 100, naslib, atol=1e-6).mean()
    on_25k_grid = np.isclose(np.round(naslib / 0.004) * 0.004, naslib, atol=1e-6).mean()
    assert on_10k_grid == 1.0 and on_25k_grid < 0.6
    table = nb201_readers._table_frame(shared_data / "nb201" / "nb201_val_acc_200ep_naslib.csv")
    assert "cifar10-valid/test@200" in table.df.columns and "cifar10-valid/val@200" not in table.df.columns


def _native(tmp_path, rows=3, **extra):
    archs = [nb201.arch_from_code(c) for c in range(rows)]
    df = pd.DataFrame({
        "index": list(range(rows)), "arch_str": [nb201.arch_str(a) for a in archs],
        "cifar10-valid/val@200": [80.0 + i for i in range(rows)],
        "cifar10-valid/test@200": [79.0 + i for i in range(rows)],
        "cifar10-valid/train_s@200": [100.0] * rows, "cifar10-valid/eval_s@200": [2.0] * rows,
    })
    for k, v in extra.items():
        df[k] = v
    path = tmp_path / "native.csv"
    df.to_csv(path, index=False)
    return path, archs


def test_native_round_trip_and_partial_lookup(tmp_path):
    path, archs = _native(tmp_path)
    table = nb201_table.import_files([path], tmp_path / "d")
    assert table.manifest()["partial"] is True
    ev = NB201Benchmark("cifar10-valid", tmp_path / "d")
    got = ev.evaluate(archs, 200, [-1] * 3)
    assert [r.val_acc for r in got] == [80.0, 81.0, 82.0]
    assert [r.cost_s for r in got] == [102.0] * 3
    missing = ev.evaluate([nb201.arch_from_code(500)], 200, [-1])[0]
    assert missing.status == "failed" and "not in the imported" in missing.error
    assert ev.fidelities == (200,)
    parquet = tmp_path / "native.parquet"
    pd.read_csv(path).to_parquet(parquet)
    again = nb201_table.import_files([parquet], tmp_path / "d2")
    assert again.read().equals(table.read())


def test_import_is_deterministic(tmp_path):
    path, _ = _native(tmp_path)
    a = nb201_table.import_files([path], tmp_path / "a")
    b = nb201_table.import_files([path], tmp_path / "b")
    assert a.table_path.read_bytes() == b.table_path.read_bytes()


def test_bad_files_give_one_line_errors(tmp_path):
    junk = tmp_path / "junk.csv"
    junk.write_text("a,b\n1,2\n")
    with pytest.raises(DataCorrupt, match="unknown NB201 table layout"):
        nb201_table.import_files([junk], tmp_path / "d")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataCorrupt, match="not a readable"):
        nb201_table.import_files([broken], tmp_path / "d")
    path, _ = _native(tmp_path)
    df = pd.read_csv(path).drop(columns="index")
    df.to_csv(tmp_path / "noindex.csv", index=False)
    with pytest.raises(DataCorrupt, match="lacks columns index"):
        nb201_table.import_files([tmp_path / "noindex.csv"], tmp_path / "d")
    df = pd.read_csv(path)
    df.loc[0, "arch_str"] = "|bogus~0|"
    df.to_csv(tmp_path / "badarch.csv", index=False)
    with pytest.raises(DataCorrupt, match="not an NB201 arch string"):
        nb201_table.import_files([tmp_path / "badarch.csv"], tmp_path / "d")
    with pytest.raises(HarnessError, match="does not exist"):
        nb201_table.import_files([tmp_path / "nope.csv"], tmp_path / "d")
    assert not (tmp_path / "d" / "nb201").exists(), "nothing half-written"


def test_conflicting_sources_are_refused(tmp_path):
    path, _ = _native(tmp_path)
    df = pd.read_csv(path)
    df["arch_str"] = df["arch_str"].iloc[::-1].to_numpy()
    other = tmp_path / "other.csv"
    df.to_csv(other, index=False)
    with pytest.raises(DataCorrupt, match="wrong benchmark version"):
        nb201_table.import_files([path, other], tmp_path / "d")


def test_missing_table_names_the_command(data_dir):
    with pytest.raises(DataMissing, match=r"python -m harness data import nb201"):
        NB201Benchmark("cifar10-valid", data_dir)


def test_cifar10_has_no_validation_split(nb201_data_dir):
    with pytest.raises(HarnessError, match="cifar10-valid"):
        NB201Benchmark("cifar10", nb201_data_dir)


def test_verify_detects_tampering(tmp_path):
    path, _ = _native(tmp_path)
    table = nb201_table.import_files([path], tmp_path / "d")
    assert table.checksum_ok()
    data = bytearray(table.table_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    table.table_path.write_bytes(bytes(data))
    assert not table.checksum_ok()
    info = nb201_table.verify(table)
    assert any("checksum" in p for p in info["problems"])
    table.table_path.unlink()
    with pytest.raises(DataMissing):
        table.checksum_ok()


def test_lookup_matches_vectorised_numpy(nb201_data_dir):
    ev = NB201Benchmark("cifar10-valid", nb201_data_dir)
    rng = np.random.default_rng(0)
    codes = rng.integers(0, nb201.N_CELLS, 50)
    table = stored("nb201", nb201_data_dir).read().to_pandas().set_index("arch_str")
    for c in codes:
        a = nb201.arch_from_code(int(c))
        assert ev.lookup(a, 200).val_acc == table.loc[nb201.arch_str(a), "cifar10-valid/val@200"]


def test_embedded_table_is_exactly_the_public_tables(shared_data, tmp_path):
    rebuilt = nb201_table.build_embedded(shared_data / "nb201", tmp_path / "embedded" / "nb201")
    shipped = StoredTable("nb201", nb201_table.EMBEDDED_DIR)
    assert rebuilt.table_path.read_bytes() == shipped.table_path.read_bytes()
    assert rebuilt.manifest()["columns_provenance"] == shipped.manifest()["columns_provenance"]


def test_import_embedded(data_dir):
    table = nb201_table.import_embedded(data_dir)
    assert table.manifest()["embedded"] is True
    assert nb201_table.verify(table)["problems"] == []
