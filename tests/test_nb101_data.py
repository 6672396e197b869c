"""NB101 import and lookups: real-format files written here, the real shared files, and bad input."""
from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blackboxes.nb101 import codec as nb101_codec
from blackboxes.nb101 import evaluator as nb101_evaluator
from blackboxes.nb101 import readers as nb101_readers
from blackboxes.nb101 import table as nb101_table
from blackboxes.nb101 import tfrecord
from blackboxes.nb101.codec import EvaluationData, ModelMetrics
from blackboxes.nb101.evaluator import NB101Benchmark
from harness.data.store import stored, write_stored
from harness.errors import DataCorrupt, DataMissing, HarnessError
from spaces import nb101

OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")


# ---------------------------------------------------------------- helpers: cells in the official formats

def chain(*middle: str) -> tuple[str, str]:
    """(raw_adjacency, raw_operations) of input -> middle... -> output."""
    n = len(middle) + 2
    m = np.zeros((n, n), dtype=int)
    for i in range(n - 1):
        m[i, i + 1] = 1
    return "".join(map(str, m.ravel())), ",".join(("input",) + middle + ("output",))


def synthetic_stats(n_cells: int = 4) -> dict:
    """The nasbench API's statistics structure (JSON form) for small real cells, 3 repeats each."""
    stats = {}
    for k in range(n_cells):
        adjacency, operations = chain(*(OPS[(k + j) % 3] for j in range(1 + k % 4)))
        spec = nb101.spec_from_strings(adjacency, operations)
        runs = [{
            "halfway_training_time": 300.0 + k + r, "halfway_train_accuracy": 0.6,
            "halfway_validation_accuracy": 0.5 + 0.01 * r, "halfway_test_accuracy": 0.49,
            "final_training_time": 600.0 + 10 * k + r, "final_train_accuracy": 1.0,
            "final_validation_accuracy": 0.80 + 0.01 * k + 0.001 * r,
            "final_test_accuracy": 0.79 + 0.01 * k - 0.002 * r,
        } for r in range(3)]
        stats[nb101.module_hash(spec.matrix, spec.ops)] = {
            "module_adjacency": [list(row) for row in spec.matrix],
            "module_operations": list(spec.ops),
            "trainable_parameters": 1_000_000 + k,
            "computed": {"108": runs},
        }
    return stats


def run_metrics(run: dict, epochs: int, params: int, scale: float = 1.0) -> ModelMetrics:
    """A ModelMetrics as the official file holds it: step 0, halfway, end of training."""
    return ModelMetrics((
        EvaluationData(0.0, 0.0, 0.1, 0.1, 0.1, ""),
        EvaluationData(epochs / 2, run["halfway_training_time"], run["halfway_train_accuracy"],
                       run["halfway_validation_accuracy"], run["halfway_test_accuracy"], "/ckpt/model.ckpt-1"),
        EvaluationData(float(epochs), run["final_training_time"] * scale, run["final_train_accuracy"],
                       run["final_validation_accuracy"] * scale, run["final_test_accuracy"] * scale, ""),
    ), params, run["final_training_time"] * scale + 60.0)


def write_tfrecord(path, stats: dict, epochs=(108,)) -> None:
    records = []
    for h, cell in stats.items():
        adjacency = "".join(str(x) for row in cell["module_adjacency"] for x in row)
        operations = ",".join(cell["module_operations"])
        for e in epochs:
            for run in cell["computed"]["108"]:
                metrics = run_metrics(run, e, cell["trainable_parameters"], e / 108)
                records.append(nb101_codec.make_record(h, e, adjacency, operations, metrics))
    tfrecord.write_records(path, records)


def write_pickle(path, stats: dict) -> None:
    """NASLib's nasbench_only108.pkl structure: hash -> (fixed with a numpy matrix, {108: runs})."""
    obj = {h: ({"module_adjacency": np.array(c["module_adjacency"]), "module_operations": c["module_operations"],
                "trainable_parameters": c["trainable_parameters"]}, {108: c["computed"]["108"]})
           for h, c in stats.items()}
    path.write_bytes(pickle.dumps(obj))


def write_json(path, stats: dict) -> None:
    path.write_text(json.dumps(stats))


def spec_of(cell: dict) -> nb101.NB101Spec:
    return nb101.NB101Spec(tuple(tuple(r) for r in cell["module_adjacency"]), tuple(cell["module_operations"]))


@pytest.fixture
def stats():
    return synthetic_stats()


# ---------------------------------------------------------------- ModelMetrics wire format

doubles = st.floats(allow_nan=False)
evaluations = st.builds(EvaluationData, doubles, doubles, doubles, doubles, doubles, st.text(max_size=20))
metrics_strategy = st.builds(ModelMetrics, st.lists(evaluations, max_size=4).map(tuple),
                             st.integers(-(2**31), 2**31 - 1), doubles)


@settings(max_examples=200, deadline=None)
@given(metrics_strategy)
def test_model_metrics_round_trip(m):
    buf = nb101_codec.encode_model_metrics(m)
    assert nb101_codec.decode_model_metrics(buf) == m
    if m.evaluation_data:
        assert nb101_codec.final_evaluation(buf) == (m.trainable_parameters, m.evaluation_data[-1])


def test_model_metrics_wire_details():
    # field 2 (int32 varint) = 300 -> key 0x10, varint ac 02; field 3 (double) -> key 0x19
    assert nb101_codec.decode_model_metrics(b"\x10\xac\x02").trainable_parameters == 300
    buf = b"\x19" + np.float64(1.5).tobytes()
    assert nb101_codec.decode_model_metrics(buf).total_time == 1.5
    # negative int32 is a 10-byte varint; proto2 defaults when unset; unknown fields are skipped
    neg = nb101_codec.encode_model_metrics(ModelMetrics((), -5, 0.0))
    assert nb101_codec.decode_model_metrics(neg).trainable_parameters == -5
    unknown = b"\x78\x05" + b"\x72\x02ab" + b"\x7d\x00\x00\x00\x00"  # fields 15 varint, 14 bytes, 15 fixed32
    assert nb101_codec.decode_model_metrics(unknown + b"\x10\x07") == ModelMetrics((), 7, 0.0)
    for bad in (b"\x10", b"\x19\x00\x00", b"\x0a\x05ab", b"\x10\x80", b"\x0b", b"\x11" + bytes(8), b"\x00\x01"):
        with pytest.raises(ValueError):
            nb101_codec.decode_model_metrics(bad)
    with pytest.raises(ValueError, match="no evaluation_data"):
        nb101_codec.final_evaluation(b"\x10\x07")


# ---------------------------------------------------------------- importing each kind of file

def test_tfrecord_pickle_and_json_give_the_same_table(tmp_path, stats):
    write_tfrecord(tmp_path / "nasbench_only108.tfrecord", stats)
    write_pickle(tmp_path / "nasbench_only108.pkl", stats)
    write_json(tmp_path / "stats.json", stats)
    tables = []
    for name in ("nasbench_only108.tfrecord", "nasbench_only108.pkl", "stats.json"):
        table = nb101_table.import_files([tmp_path / name], tmp_path / name.replace(".", "_"))
        tables.append(table.read())
        m = table.manifest()
        assert m["partial"] is True and m["expected_rows"] == nb101_table.N_CELLS and m["n_rows"] == len(stats)
        assert m["epochs"] == [108] and m["repeats"] == {"108": 3}
        (src,) = m["sources"]
        assert set(src) >= {"path", "sha256", "size", "kind"} and src["size"] == (tmp_path / name).stat().st_size
        assert "4/12/36-epoch budgets" in m["notes"][0]
    assert tables[0].equals(tables[1]) and tables[1].equals(tables[2])
    t = tables[0].to_pandas()
    assert list(t["module_hash"]) == sorted(stats)
    h = sorted(stats)[1]
    row = t.set_index("module_hash").loc[h]
    runs = stats[h]["computed"]["108"]
    for r in range(3):  # repeats in file order, percent, final (end of training) values
        assert row[f"val@108/r{r}"] == pytest.approx(100 * runs[r]["final_validation_accuracy"])
        assert row[f"test@108/r{r}"] == pytest.approx(100 * runs[r]["final_test_accuracy"])
        assert row[f"train_s@108/r{r}"] == runs[r]["final_training_time"]
    assert row["params"] == stats[h]["trainable_parameters"]
    assert row["adjacency"] == "".join(str(x) for r_ in stats[h]["module_adjacency"] for x in r_)


def test_full_tfrecord_has_four_budgets(tmp_path, stats):
    write_tfrecord(tmp_path / "nasbench_full.tfrecord", stats, epochs=(4, 12, 36, 108))
    table = nb101_table.import_files([tmp_path / "nasbench_full.tfrecord"], tmp_path / "d")
    assert table.manifest()["epochs"] == [4, 12, 36, 108]
    ev = NB101Benchmark(tmp_path / "d")
    assert ev.fidelities == (4, 12, 36, 108) and ev.default_fidelity == 108
    h, cell = next(iter(stats.items()))
    spec = spec_of(cell)
    runs = cell["computed"]["108"]
    for e in (4, 12, 36, 108):
        assert ev.n_repeats(e) == 3
        r = ev.evaluate([spec], e, [2])[0]
        assert r.val_acc == pytest.approx(100 * runs[2]["final_validation_accuracy"] * e / 108)
        assert r.cost_s == pytest.approx(runs[2]["final_training_time"] * e / 108)


def test_kind_is_sniffed_from_content(tmp_path, stats):
    write_tfrecord(tmp_path / "a", stats)
    write_pickle(tmp_path / "b", stats)
    write_json(tmp_path / "c", stats)
    assert [nb101_readers.source_kind(tmp_path / n) for n in "abc"] == ["nasbench-tfrecord", "naslib-pickle", "naslib-json"]
    (tmp_path / "d.txt").write_text("hello")
    with pytest.raises(DataCorrupt, match="not an NB101 file"):
        nb101_table.import_files([tmp_path / "d.txt"], tmp_path / "data")


def small_csv(stats: dict, specs: bool = True) -> pd.DataFrame:
    rows = []
    for k, (h, cell) in enumerate(sorted(stats.items())):
        run = cell["computed"]["108"][0]
        rows.append({
            "module_hash": h, "val_acc_4ep": 0.3, "val_acc_12ep": 0.5, "val_acc_36ep": 0.7,
            "val_acc_108ep": run["final_validation_accuracy"], "final_training_time_108ep": run["final_training_time"],
            "trainable_parameters": cell["trainable_parameters"],
            "adjacency_pruned": "".join(str(x) for r in cell["module_adjacency"] for x in r) if specs and k else "",
            "operations_pruned": ",".join(cell["module_operations"]) if specs and k else "",
        })
    return pd.DataFrame(rows)


def test_csv_one_repeat_no_test(tmp_path, stats):
    small_csv(stats).to_csv(tmp_path / "t.csv", index=False)
    table = nb101_table.import_files([tmp_path / "t.csv"], tmp_path / "d")
    t = table.read().to_pandas()
    assert [c for c in t.columns if c.endswith("/r0") and c.startswith("val@")] == [
        "val@4/r0", "val@12/r0", "val@36/r0", "val@108/r0"]
    assert t["val@4/r0"].eq(30.0).all() and t["val@108/r1"].isna().all() and t["test@108/r0"].isna().all()
    assert t["train_s@4/r0"].isna().all() and t["train_s@108/r0"].notna().all()
    assert t["adjacency"].iloc[0] == "" and t["adjacency"].iloc[1] != ""
    notes = " ".join(table.manifest()["notes"])
    assert "only 1 of 3" in notes and "test accuracy at 4/12/36/108 epochs" in notes and "specs for 1 of 4" in notes
    ev = NB101Benchmark(tmp_path / "d")
    assert ev.n_repeats(108) == 1 and ev.fidelities == (4, 12, 36, 108)
    h = sorted(stats)[2]
    r = ev.lookup(h, 108, -1)
    assert r.val_acc == pytest.approx(100 * stats[h]["computed"]["108"][0]["final_validation_accuracy"])
    assert math.isnan(r.test_acc)
    assert ev.lookup(h, 108, 1).status == "failed"
    assert ev.report_values([spec_of(stats[h])], "cifar10", 108, "test") is None
    assert "no test accuracy" in ev.report_missing("cifar10", 108, "test")
    assert ev.report_values([spec_of(stats[h])], "cifar10", 108, "val") == [pytest.approx(r.val_acc)]


def test_csv_missing_columns_listed_in_one_line(tmp_path, stats):
    small_csv(stats).drop(columns=["val_acc_12ep", "trainable_parameters"]).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataCorrupt) as err:
        nb101_table.import_files([tmp_path / "t.csv"], tmp_path / "d")
    msg = str(err.value)
    assert "lacks columns val_acc_12ep, trainable_parameters" in msg and "\n" not in msg
    assert not stored("nb101", tmp_path / "d").exists()


def test_csv_bad_values(tmp_path, stats):
    df = small_csv(stats)
    df.loc[1, "val_acc_108ep"] = 93.5  # percent where fractions are expected
    df.to_csv(tmp_path / "pct.csv", index=False)
    with pytest.raises(DataCorrupt, match="outside 0..1"):
        nb101_table.import_files([tmp_path / "pct.csv"], tmp_path / "d")
    df = small_csv(stats)
    df.loc[2, "operations_pruned"] = ""
    df.to_csv(tmp_path / "half.csv", index=False)
    with pytest.raises(DataCorrupt, match="but not both"):
        nb101_table.import_files([tmp_path / "half.csv"], tmp_path / "d")
    df = pd.concat([small_csv(stats), small_csv(stats).iloc[:1]])
    df.to_csv(tmp_path / "dup.csv", index=False)
    with pytest.raises(DataCorrupt, match="duplicate module_hash"):
        nb101_table.import_files([tmp_path / "dup.csv"], tmp_path / "d")


# ---------------------------------------------------------------- wrong, corrupt and truncated files

def wrong_hash_stats(stats: dict) -> dict:
    """The first cell's spec filed under the second cell's hash (both keys still 32-hex)."""
    keys = sorted(stats)
    bad = dict(stats)
    bad[keys[1]] = stats[keys[0]]
    return bad


@pytest.mark.parametrize("writer,suffix", [(write_tfrecord, ".tfrecord"), (write_pickle, ".pkl"), (write_json, ".json")])
def test_wrong_hash_is_wrong_version(tmp_path, stats, writer, suffix):
    path = tmp_path / f"bad{suffix}"
    writer(path, wrong_hash_stats(stats))
    with pytest.raises(DataCorrupt, match="wrong benchmark version or corrupt file"):
        nb101_table.import_files([path], tmp_path / "d")
    assert not stored("nb101", tmp_path / "d").exists()


def test_wrong_hash_in_csv(tmp_path, stats):
    df = small_csv(stats)
    df.loc[1, "adjacency_pruned"], df.loc[2, "adjacency_pruned"] = df.loc[2, "adjacency_pruned"], df.loc[1, "adjacency_pruned"]
    df.loc[1, "operations_pruned"], df.loc[2, "operations_pruned"] = df.loc[2, "operations_pruned"], df.loc[1, "operations_pruned"]
    df.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataCorrupt, match=r"data row 2 .*wrong benchmark version or corrupt file"):
        nb101_table.import_files([tmp_path / "t.csv"], tmp_path / "d")


def test_broken_tfrecords(tmp_path, stats):
    good = tmp_path / "good.tfrecord"
    write_tfrecord(good, stats)
    data = good.read_bytes()
    cases = {
        "truncated.tfrecord": (data[:-7], r"truncated in record 11"),
        "flipped.tfrecord": (data[:40] + bytes([data[40] ^ 1]) + data[41:], r"bad data checksum in record 0"),
        "notone.tfrecord": (b"module_hash,val\n" * 4, r"not a TFRecord file .*record 0"),
    }
    # a valid container whose 3rd record is not an NB101 payload
    records = list(tfrecord.read_records(good))
    records[2] = b'["abc", 108]'
    tfrecord.write_records(tmp_path / "payload.tfrecord", records)
    records[2] = json.dumps(["0" * 32, 108, *chain("maxpool3x3"), "!!notbase64"]).encode()
    tfrecord.write_records(tmp_path / "b64.tfrecord", records)
    records = list(tfrecord.read_records(good))
    records[5] = records[5].replace(b'", 108, "', b'", 100, "')
    tfrecord.write_records(tmp_path / "epochs.tfrecord", records)
    records = list(tfrecord.read_records(good))
    tfrecord.write_records(tmp_path / "four.tfrecord", records + records[:1])
    for name, (content, _) in cases.items():
        (tmp_path / name).write_bytes(content)
    cases.update({"payload.tfrecord": (None, r"record 2 is not a valid NB101 record \(payload is not a JSON list"),
                  "b64.tfrecord": (None, r"record 2 is not a valid NB101 record"),
                  "epochs.tfrecord": (None, r"record 5 .*100 epochs"),
                  "four.tfrecord": (None, r"record 12 .*more than 3 runs")})
    target = tmp_path / "d"
    nb101_table.import_files([tmp_path / "good.tfrecord"], target)
    before = stored("nb101", target).table_path.read_bytes()
    for name, (_, pattern) in cases.items():
        with pytest.raises(DataCorrupt, match=pattern) as err:
            nb101_table.import_files([tmp_path / name], target)
        assert str(tmp_path / name) in str(err.value) and "\n" not in str(err.value)
    assert stored("nb101", target).table_path.read_bytes() == before  # nothing half-written


def test_broken_pickles_and_json(tmp_path, stats):
    (tmp_path / "garbage.pkl").write_bytes(b"\x80\x04not really")
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2, 3]))
    cell = dict(next(iter(stats.values())))
    del cell["trainable_parameters"]
    (tmp_path / "noparams.json").write_text(json.dumps({next(iter(stats)): cell}))
    run_less = json.loads(json.dumps(stats))
    del next(iter(run_less.values()))["computed"]["108"][1]["final_test_accuracy"]
    (tmp_path / "nokey.json").write_text(json.dumps(run_less))
    (tmp_path / "bad.json").write_text("{not json")
    cases = {"garbage.pkl": "not a readable pickle", "list.pkl": "not an NB101 statistics file",
             "noparams.json": "fixed statistics lack trainable_parameters", "nokey.json": "lacks final_test_accuracy",
             "bad.json": "not valid JSON"}
    for name, pattern in cases.items():
        with pytest.raises(DataCorrupt, match=pattern) as err:
            nb101_table.import_files([tmp_path / name], tmp_path / "d")
        assert "\n" not in str(err.value)
    assert not stored("nb101", tmp_path / "d").exists()
    with pytest.raises(HarnessError, match="does not exist"):
        nb101_table.import_files([tmp_path / "nope.pkl"], tmp_path / "d")


# ---------------------------------------------------------------- merging several files

def test_merge_by_hash_and_conflicts(tmp_path, stats):
    more = synthetic_stats(6)
    extra = {h: more[h] for h in list(more)[4:]}
    write_json(tmp_path / "a.json", stats)
    write_pickle(tmp_path / "b.pkl", {**extra, **dict(list(stats.items())[:1])})  # overlaps one cell
    table = nb101_table.import_files([tmp_path / "a.json", tmp_path / "b.pkl"], tmp_path / "d")
    assert table.manifest()["n_rows"] == 6 and len(table.manifest()["sources"]) == 2
    conflicting = json.loads(json.dumps(stats))
    next(iter(conflicting.values()))["computed"]["108"][0]["final_test_accuracy"] = 0.5
    write_json(tmp_path / "c.json", conflicting)
    with pytest.raises(DataCorrupt, match=r"disagree on test@108/r0 of cell"):
        nb101_table.import_files([tmp_path / "a.json", tmp_path / "c.json"], tmp_path / "d")
    assert stored("nb101", tmp_path / "d").manifest()["n_rows"] == 6
    # the CSV fills 4/12/36 epochs; its r0 at 108 equals the JSON's r0, so the merge is consistent
    small_csv(stats, specs=False).to_csv(tmp_path / "e.csv", index=False)
    t = nb101_table.import_files([tmp_path / "e.csv", tmp_path / "a.json"], tmp_path / "m").read().to_pandas()
    assert (t["adjacency"] != "").all() and t["val@4/r0"].eq(30.0).all() and t["val@108/r2"].notna().all()


# ---------------------------------------------------------------- the evaluator

def test_evaluator_mean_and_repeats(tmp_path, stats):
    write_pickle(tmp_path / "s.pkl", stats)
    nb101_table.import_files([tmp_path / "s.pkl"], tmp_path / "d")
    ev = NB101Benchmark(tmp_path / "d")
    assert ev.fidelities == (108,) and ev.n_repeats(108) == 3 and ev.dataset == "cifar10"
    specs = [spec_of(c) for c in stats.values()]
    runs = [c["computed"]["108"] for c in stats.values()]
    means = ev.evaluate(specs, 108, [-1] * len(specs))
    for r, cell_runs in zip(means, runs):
        assert r.status == "ok" and r.bench_seed == -1
        assert r.val_acc == pytest.approx(np.mean([100 * x["final_validation_accuracy"] for x in cell_runs]))
        assert r.test_acc == pytest.approx(np.mean([100 * x["final_test_accuracy"] for x in cell_runs]))
        assert r.cost_s == pytest.approx(np.mean([x["final_training_time"] for x in cell_runs]))
    each = ev.evaluate(specs[:1] * 3, 108, [0, 1, 2])
    assert [r.val_acc for r in each] == pytest.approx([100 * x["final_validation_accuracy"] for x in runs[0]])
    assert [r.bench_seed for r in each] == [0, 1, 2]
    absent = nb101.spec_from_strings(*chain("maxpool3x3", "maxpool3x3", "maxpool3x3", "maxpool3x3", "maxpool3x3"))
    (miss,) = ev.evaluate([absent], 108, [-1])
    assert miss.status == "failed" and miss.error == "not in the imported NB101 table (partial import: 4 cells)"
    h = sorted(stats)[0]
    assert ev.lookup(h, 108, 1) == ev.lookup(h.encode(), 108, 1)
    assert ev.lookup("f" * 32).status == "failed" and ev.lookup("short").status == "failed"
    d = ev.describe()
    assert d["benchmark"] == "nb101" and d["partial"] is True and d["n_rows"] == 4
    assert d["table_sha256"] == stored("nb101", tmp_path / "d").manifest()["table_sha256"]
    with pytest.raises(HarnessError, match="not 36"):
        ev.evaluate(specs, 36, [-1] * len(specs))
    with pytest.raises(HarnessError, match="repeat 0..2"):
        ev.evaluate(specs[:1], 108, [3])
    with pytest.raises(HarnessError, match="no trained NB101 setting"):
        nb101_evaluator.make_evaluator("cifar100", tmp_path / "d", None)
    assert isinstance(nb101_evaluator.make_evaluator("cifar10", tmp_path / "d", nb101.NB101Space()), NB101Benchmark)


def test_unpruned_spec_finds_its_pruned_cell(tmp_path, stats):
    write_json(tmp_path / "s.json", stats)
    nb101_table.import_files([tmp_path / "s.json"], tmp_path / "d")
    ev = NB101Benchmark(tmp_path / "d", nb101.NB101Space())
    h, cell = next((h, c) for h, c in stats.items() if len(c["module_operations"]) == 3)
    # input -> v1 -> output plus a dangling vertex 2 (pruned away by the benchmark)
    dangling = nb101.NB101Spec(((0, 1, 1, 0), (0, 0, 0, 1), (0, 0, 0, 0), (0, 0, 0, 0)),
                               ("input", cell["module_operations"][1], "maxpool3x3", "output"))
    assert ev.evaluate([dangling], 108, [-1]) == [ev.lookup(h)]


def test_missing_table(tmp_path):
    with pytest.raises(DataMissing, match="no nb101 table"):
        NB101Benchmark(tmp_path / "empty")


def test_unsorted_table_is_corrupt(tmp_path):
    cols = {"module_hash": ["b" * 32, "a" * 32], "val@108/r0": [1.0, 2.0]}
    write_stored("nb101", pa.table(cols), {"partial": True}, tmp_path)
    with pytest.raises(DataCorrupt, match="not sorted"):
        NB101Benchmark(tmp_path)


# ---------------------------------------------------------------- verify

def test_verify_partial_and_tampered(tmp_path, stats):
    write_json(tmp_path / "s.json", stats)
    table = nb101_table.import_files([tmp_path / "s.json"], tmp_path / "d")
    info = nb101_table.verify(table)
    assert info["rows"] == 4 and info["partial"] is True and info["checksum_ok"] is True
    assert info["problems"] == [f"4 of {nb101_table.N_CELLS} cells (partial import)"]
    best = max(np.mean([100 * r["final_test_accuracy"] for r in c["computed"]["108"]]) for c in stats.values())
    assert info["best_mean_test"] == pytest.approx(best)
    with open(table.table_path, "ab") as fh:
        fh.write(b"x")
    info = nb101_table.verify(table)
    assert info["checksum_ok"] is False and "checksum" in info["problems"][0]


def full_sized_table(data_dir, best_test: float) -> None:
    """423,624 rows (random hashes) whose best mean test accuracy is ``best_test``."""
    n = nb101_table.N_CELLS
    rng = np.random.default_rng(0)
    hashes = np.unique(rng.integers(0, 2**63, size=n + 1000))[:n]
    cols = {"module_hash": pa.array([f"{x:032x}" for x in hashes])}
    for r in range(3):
        cols[f"val@108/r{r}"] = rng.uniform(80, 95, n)
        test = rng.uniform(80, 90, n)
        test[123] = best_test + (r - 1) * 0.1
        cols[f"test@108/r{r}"] = test
    write_stored("nb101", pa.table(cols), {"partial": False, "expected_rows": n}, data_dir)


def test_verify_full_table_checks_the_published_optimum(tmp_path):
    full_sized_table(tmp_path / "ok", 94.317)
    info = nb101_table.verify(stored("nb101", tmp_path / "ok"))
    assert info["problems"] == [] and info["rows"] == nb101_table.N_CELLS and "94.317" in info["optimum"]
    full_sized_table(tmp_path / "bad", 93.0)
    (problem,) = nb101_table.verify(stored("nb101", tmp_path / "bad"))["problems"]
    assert "expected 94.32" in problem


# ---------------------------------------------------------------- the real shared files

@pytest.fixture(scope="module")
def nb101_files(shared_data):
    return shared_data / "nb101"


def test_shared_pickle_and_json_agree(nb101_files, tmp_path):
    a = nb101_table.import_files([nb101_files / "naslib_nb101_dummy_30.pkl"], tmp_path / "a").read()
    b = nb101_table.import_files([nb101_files / "nb101_30_full_stats.json"], tmp_path / "b").read()
    assert a.num_rows == 30 and a.equals(b)


def test_shared_json_as_tfrecord_round_trip(nb101_files, tmp_path):
    """The 30 real cells written in the official tfrecord format import to the same table."""
    real = json.loads((nb101_files / "nb101_30_full_stats.json").read_text())
    write_tfrecord(tmp_path / "nasbench_only108.tfrecord", real)
    a = nb101_table.import_files([tmp_path / "nasbench_only108.tfrecord"], tmp_path / "a").read()
    b = nb101_table.import_files([nb101_files / "nb101_30_full_stats.json"], tmp_path / "b").read()
    assert a.equals(b)


def test_shared_evaluator_against_hand_computed_values(nb101_files, tmp_path):
    real = json.loads((nb101_files / "nb101_30_full_stats.json").read_text())
    nb101_table.import_files([nb101_files / "nb101_30_full_stats.json"], tmp_path)
    ev = NB101Benchmark(tmp_path)
    h = "ff92c322c5d9d3d587d9c146a63d0807"
    runs = real[h]["computed"]["108"]
    # by hand from the file: (0.9255809187889099 + 0.9279847741127014 + 0.9246794581413269) / 3 * 100
    assert ev.lookup(h).val_acc == pytest.approx(92.60817170143127, abs=1e-9)
    assert ev.lookup(h, 108, 1).test_acc == pytest.approx(91.92708134651184, abs=1e-9)
    (r,) = ev.evaluate([spec_of(real[h])], 108, [-1])
    assert r.test_acc == pytest.approx(100 * sum(x["final_test_accuracy"] for x in runs) / 3)
    assert r.cost_s == pytest.approx(sum(x["final_training_time"] for x in runs) / 3)
    for k in range(3):
        (r,) = ev.evaluate([spec_of(real[h])], 108, [k])
        assert (r.val_acc, r.test_acc, r.cost_s) == pytest.approx(
            (100 * runs[k]["final_validation_accuracy"], 100 * runs[k]["final_test_accuracy"], runs[k]["final_training_time"]))
    info = nb101_table.verify(stored("nb101", tmp_path))
    assert info["best_mean_test"] == pytest.approx(92.96875198682149)  # PROVENANCE: max test over the 30 is 0.9297


def test_shared_20k_csv(nb101_files, tmp_path):
    table = nb101_table.import_files([nb101_files / "nb101_20k_val_acc_by_hash.csv"], tmp_path)
    t = table.read(["module_hash", "adjacency", "val@108/r0", "test@108/r0", "params"]).to_pandas()
    assert len(t) == 20_001 and (t["adjacency"] != "").sum() == 521
    assert t["test@108/r0"].isna().all()
    assert t["val@108/r0"].max() == pytest.approx(94.91, abs=0.01)  # PROVENANCE: 108-ep val max 0.9491
    raw = pd.read_csv(nb101_files / "nb101_20k_val_acc_by_hash.csv", nrows=1)
    ev = NB101Benchmark(tmp_path)
    r = ev.lookup(raw["module_hash"][0], 36)
    assert r.val_acc == pytest.approx(100 * raw["val_acc_36ep"][0]) and math.isnan(r.cost_s)
    assert ev.lookup(raw["module_hash"][0]).cost_s == raw["final_training_time_108ep"][0]
    assert table.manifest()["partial"] is True
