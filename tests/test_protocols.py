"""Named protocols: they set reward fidelity, budget, dedup and report columns, and refuse conflicts."""
from __future__ import annotations


import pyarrow.parquet as pq
import pytest

from harness.cli import main
from harness.protocols import PROTOCOLS, get_protocol
from harness.errors import HarnessError
from spaces import nb201
from blackboxes.nb201.evaluator import NB201Benchmark


def _run(capsys, tmp_path, data_dir, *extra):
    code = main(["run", "--space", "nb201", "--strategies", "random", "--seeds", "1", "--out", str(tmp_path / "r"),
                 "--data-dir", str(data_dir), "--workers", "1", "--no-progress", *extra])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _rows(tmp_path, dataset="cifar10-valid"):
    return pq.read_table(tmp_path / "r" / "nb201" / dataset / "random" / "seed=0.parquet").to_pandas()


def test_every_protocol_resolves_for_its_datasets():
    for p in PROTOCOLS.values():
        assert p.citation and p.description
        for d in p.datasets:
            r = p.resolve(d)
            assert (r.budget is None) != (r.time_budget is None)
            assert r.dedup in ("per-call", "unique")


def test_nats_protocol(capsys, tmp_path, nb201_data_dir):
    code, out, err = _run(capsys, tmp_path, nb201_data_dir, "--protocol", "nats")
    assert code == 0, err
    df = _rows(tmp_path)
    assert (df["protocol"] == "nats").all() and (df["fidelity"] == 12).all()
    assert df["cost_cum_s"].iloc[-1] >= 20_000 > df["cost_cum_s"].iloc[-2]
    ev = NB201Benchmark("cifar10-valid", nb201_data_dir)
    for _, row in df.head(5).iterrows():
        arch = nb201.parse_arch_str(row["arch"])
        assert row["val_acc"] == ev.lookup(arch, 12).val_acc  # the reward: 12-epoch validation
        assert row["report_val_acc"] == ev.lookup(arch, 200).val_acc  # the table: 200-epoch validation
    assert df["report_test_acc"].isna().all()  # cifar10 train+valid test is not in the shared tables
    assert "cifar10/test@200" in err and "NATS-tss" in err
    manifest = (tmp_path / "r" / "nb201" / "cifar10-valid" / "random" / "seed=0.run.json").read_text()
    assert '"protocol": "nats"' in manifest and '"missing"' in manifest


def test_white_protocol_reports_the_same_dataset(capsys, tmp_path, nb201_data_dir):
    code, _, err = _run(capsys, tmp_path, nb201_data_dir, "--protocol", "white")
    assert code == 0, err
    df = _rows(tmp_path)
    assert df["charged"].sum() == 300 and (df["fidelity"] == 200).all()
    ok = df[df["status"] == "ok"]
    assert (ok["report_val_acc"] == ok["val_acc"]).all() and (ok["report_test_acc"] == ok["test_acc"]).all()
    assert not df.loc[df["status"] == "duplicate", "charged"].any()


def test_custom_runs_report_their_own_columns(capsys, tmp_path, nb201_data_dir):
    code, _, err = _run(capsys, tmp_path, nb201_data_dir, "--budget", "10")
    assert code == 0, err
    df = _rows(tmp_path)
    assert (df["protocol"] == "").all()
    assert (df["report_val_acc"] == df["val_acc"]).all() and (df["report_test_acc"] == df["test_acc"]).all()


def test_time_budget_without_train_times_names_the_fix(capsys, tmp_path, nb201_data_dir):
    code, _, err = _run(capsys, tmp_path, nb201_data_dir, "--protocol", "nats", "--dataset", "cifar100")
    assert code == 2 and "--time-budget needs simulated training times" in err


@pytest.mark.parametrize("extra, fragment", [
    (["--protocol", "nats", "--budget", "5"], "--budget conflicts with --protocol nats"),
    (["--protocol", "nats", "--dedup", "unique"], "--dedup conflicts"),
    (["--protocol", "nb101-table4"], "is for space nb101, not nb201"),
    (["--protocol", "fastest"], "unknown protocol 'fastest'"),
])
def test_protocol_errors(capsys, tmp_path, nb201_data_dir, extra, fragment):
    code, _, err = _run(capsys, tmp_path, nb201_data_dir, *extra)
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1


def test_protocol_dataset_check():
    with pytest.raises(HarnessError, match="not 'cifar10'"):
        get_protocol("nats", "nb201").resolve("cifar10")


def test_list_protocols(capsys):
    assert main(["list", "protocols"]) == 0
    out = capsys.readouterr().out
    for name in PROTOCOLS:
        assert name in out
