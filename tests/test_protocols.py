"""Named protocols: they set reward fidelity, budget, dedup and report columns, and refuse conflicts."""
from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from blackboxes.nb201.evaluator import NB201Benchmark
from harness.cli import main
from harness.errors import HarnessError
from harness.protocols import PROTOCOLS, get_protocol
from spaces import nb201


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


# Resolved values of the protocols that existed before per-dataset budgets: their runs must not change.
_RESOLVED_BEFORE = {
    "nats": {"cifar10-valid": (12, None, 20_000.0, ()), "cifar100": (12, None, 20_000.0, ()),
             "ImageNet16-120": (12, None, 30_000.0, ())},
    "nats-runall": {"cifar10-valid": (12, None, 20_000.0, ()), "cifar100": (12, None, 40_000.0, ()),
                    "ImageNet16-120": (12, None, 120_000.0, ())},
    "white": {d: (200, 300, None, (150, 300)) for d in ("cifar10-valid", "cifar100", "ImageNet16-120")},
    "graphpnas-code": {"cifar10-valid": (12, 100, None, (100,)), "cifar100": (200, 100, None, (100,)),
                       "ImageNet16-120": (200, 100, None, (100,))},
    "nb101-table4": {"cifar10": (108, 300, None, (150, 300))},
}


def test_existing_protocols_resolve_as_before():
    for name, by_dataset in _RESOLVED_BEFORE.items():
        p = PROTOCOLS[name]
        assert p.datasets == tuple(by_dataset)
        for d, expected in by_dataset.items():
            r = p.resolve(d)
            assert (r.fidelity, r.budget, r.time_budget, r.checkpoints) == expected, (name, d)


def test_nats_queries_resolves_per_dataset():
    p, nats = get_protocol("nats-queries", "nb201"), PROTOCOLS["nats"]
    assert p.datasets == nats.datasets
    for d, queries in (("cifar10-valid", 150), ("cifar100", 80), ("ImageNet16-120", 40)):
        r, n = p.resolve(d), nats.resolve(d)
        assert (r.budget, r.time_budget, r.checkpoints) == (queries, None, (queries,))
        assert (r.fidelity, r.report_val, r.report_test, r.dedup) == (n.fidelity, n.report_val, n.report_test, n.dedup)
        assert r.report_val == (d, 200)
    assert "GraphPNAS paper App. B" in p.citation and "nats-runall" in p.deviations and "888" in p.deviations


@pytest.mark.parametrize("dataset, queries", [("cifar100", 80), ("ImageNet16-120", 40)])
def test_nats_queries_runs_where_nats_cannot(capsys, tmp_path, nb201_data_dir, dataset, queries):
    code, _, err = _run(capsys, tmp_path, nb201_data_dir, "--protocol", "nats-queries", "--dataset", dataset)
    assert code == 0, err
    df = _rows(tmp_path, dataset)
    assert (df["protocol"] == "nats-queries").all() and (df["fidelity"] == 12).all()
    assert df["charged"].sum() == queries
    ev = NB201Benchmark(dataset, nb201_data_dir)
    for _, row in df.head(5).iterrows():
        arch = nb201.parse_arch_str(row["arch"])
        assert row["val_acc"] == ev.lookup(arch, 12).val_acc
        assert row["report_val_acc"] == ev.lookup(arch, 200).val_acc
    assert df["report_test_acc"].isna().all() and f"{dataset}/test@200" in err


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
    (["--protocol", "nats-queries", "--budget", "5"], "--budget conflicts with --protocol nats-queries"),
    (["--protocol", "nats-queries", "--time-budget", "5"], "--time-budget conflicts with --protocol nats-queries"),
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


def test_list_protocols(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # one line per table row
    assert main(["list", "protocols"]) == 0
    out = capsys.readouterr().out
    for name in PROTOCOLS:
        assert name in out
    rows = {line.split("│")[1].strip(): line.split("│")[4].strip() for line in out.splitlines() if line.count("│") == 6}
    assert rows["nats"] == "20000 s, 20000 s, 30000 s" and rows["white"] == "300 queries"
    assert rows["nats-queries"] == "cifar10-valid 150, cifar100 80, ImageNet16-120 40 queries"
    assert "Deviation: a query count, not seconds" in " ".join(out.split())
