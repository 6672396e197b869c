"""Readers of the official NB201 files: NATS-style API dicts, a real-format NATS archive, NASLib pickles."""
from __future__ import annotations

import bz2
import math
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blackboxes.nb201 import official as src
from harness.errors import DataCorrupt, HarnessError
from spaces import nb201

OFFICIAL = src.official_arch_strings()
SPLIT_CODE = {"x-valid": 1.0, "x-test": 2.0, "ori-test": 3.0}
DS_CODE = {"cifar10-valid": 0.1, "cifar10": 0.2, "cifar100": 0.3, "ImageNet16-120": 0.4}
SPLITS = {  # evaluation splits each NATS dataset has (nats_bench api_utils.py get_metrics docstring)
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": ("ori-test",),
    "cifar100": ("x-valid", "x-test", "ori-test"),
    "ImageNet16-120": ("x-valid", "x-test", "ori-test"),
}
# The exact key sets of NATStopology.get_more_info per dataset (nats_bench 1.8 api_topology.py l. 275-359).
TRAIN_KEYS = {"train-loss", "train-accuracy", "train-per-time", "train-all-time"}
SET_KEYS = {p: {f"{p}-loss", f"{p}-accuracy", f"{p}-per-time", f"{p}-all-time"} for p in ("valid", "test", "valtest")}
NATS_KEYSETS = {
    "cifar10-valid": TRAIN_KEYS | {"comment"} | SET_KEYS["valid"] | SET_KEYS["test"],
    "cifar10": TRAIN_KEYS | {"comment"} | SET_KEYS["test"],
    "cifar100": TRAIN_KEYS | SET_KEYS["valid"] | SET_KEYS["test"] | SET_KEYS["valtest"],
    "ImageNet16-120": TRAIN_KEYS | SET_KEYS["valid"] | SET_KEYS["test"] | SET_KEYS["valtest"],
}
PREFIX_SPLIT = {"valid": "x-valid", "valtest": "ori-test"}


def acc(cell: int, dataset: str, split: str, hp: str, seed: int = 0) -> float:
    """A distinct value per (cell, dataset, split, hp, seed), so a wrong mapping shows."""
    return 50 + 10 * cell + SPLIT_CODE[split] + DS_CODE[dataset] + (0.5 if hp == "200" else 0) + seed / 1000


def split_of(dataset: str, prefix: str) -> str:
    return PREFIX_SPLIT.get(prefix) or ("ori-test" if dataset in ("cifar10-valid", "cifar10") else "x-test")


# ----------------------------------------------------------------------------- official index order

def test_official_order_matches_autodl_asserts():
    # AutoDL-Projects exps/NAS-Bench-201/main.py generate_meta_info asserts these three cells
    assert OFFICIAL[0] == "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    assert OFFICIAL[9] == "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    assert OFFICIAL[123] == "|avg_pool_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"
    assert len(set(OFFICIAL)) == nb201.N_CELLS


def test_official_order_matches_shared_csv(shared_data):
    table = pd.read_csv(shared_data / "nb201" / "nas_landscapes_cifar10-valid_avg.csv", usecols=["index", "arch_str"])
    table = table.sort_values("index")
    assert table["index"].tolist() == list(range(nb201.N_CELLS))
    assert table["arch_str"].tolist() == list(OFFICIAL)


@given(st.integers(0, nb201.N_CELLS - 1))
def test_arch_index_inverts_the_order(i):
    assert src.arch_index(OFFICIAL[i]) == i


def test_arch_index_rejects_non_cells():
    with pytest.raises(ValueError, match="not an NB201 arch string"):
        src.arch_index("|conv~0|")


# ----------------------------------------------------------------------------- NATS-style API object

class FakeNATS:
    """The NATS-tss API surface read_nats_api uses; get_more_info returns NATS's exact key sets."""

    def __init__(self, archs, *, same_val_test=False, missing=(), fail_at=None):
        self.meta_archs = list(archs)
        self.same_val_test, self.missing, self.fail_at = same_val_test, set(missing), fail_at

    def __len__(self):
        return len(self.meta_archs)

    def arch(self, i):
        return self.meta_archs[i]

    def get_more_info(self, index, dataset, iepoch=None, hp="12", is_random=True):
        assert is_random is False and iepoch is None
        if (index, hp) in self.missing:
            raise KeyError(hp)
        if index == self.fail_at:
            raise AssertionError("invalid data path : /x/000001.pickle.pbz2")
        epochs = int(hp)
        info = {"train-loss": 0.1, "train-accuracy": 99.0, "train-per-time": 7.0,
                "train-all-time": 7.0 * epochs + index}
        if "comment" in NATS_KEYSETS[dataset]:
            info["comment"] = "..."
        for prefix in ("valid", "test", "valtest"):
            if f"{prefix}-accuracy" not in NATS_KEYSETS[dataset]:
                continue
            split = "x-valid" if self.same_val_test else split_of(dataset, prefix)
            per = {"x-valid": 2.5, "x-test": 1.25, "ori-test": 1.0}[split]
            info.update({f"{prefix}-loss": 0.5, f"{prefix}-accuracy": acc(index, dataset, split, hp),
                         f"{prefix}-per-time": per, f"{prefix}-all-time": per * epochs})
        assert set(info) == NATS_KEYSETS[dataset]
        return info


def test_nats_api_mapping():
    df = src.read_nats_api(FakeNATS(OFFICIAL[:3], missing={(2, "12")}))
    assert df["index"].tolist() == [0, 1, 2] and df["arch_str"].tolist() == list(OFFICIAL[:3])
    assert df["index"].dtype == np.int32
    assert not [c for c in df.columns if c.startswith("cifar10/val") or c.startswith("cifar10/eval_s")]
    for i in range(3):
        for hp in ("12", "200"):
            row = df.iloc[i]
            if (i, hp) == (2, "12"):
                assert all(math.isnan(row[c]) for c in df.columns if c.endswith("@12"))
                continue
            assert row[f"cifar10-valid/val@{hp}"] == acc(i, "cifar10-valid", "x-valid", hp)
            assert row[f"cifar10-valid/test@{hp}"] == acc(i, "cifar10-valid", "ori-test", hp)
            assert row[f"cifar10/test@{hp}"] == acc(i, "cifar10", "ori-test", hp)
            for d in ("cifar100", "ImageNet16-120"):
                assert row[f"{d}/val@{hp}"] == acc(i, d, "x-valid", hp)
                assert row[f"{d}/test@{hp}"] == acc(i, d, "x-test", hp)  # x-test, not valtest (ori-test)
                assert row[f"{d}/eval_s@{hp}"] == 2.5  # valid-per-time: one x-valid pass
            assert row[f"cifar10/train_s@{hp}"] == 7.0 * int(hp) + i
    assert df.attrs["seeds"] == {}  # the fake API has no arch2infos_dict


def test_nats_api_refuses_val_equal_test():
    with pytest.raises(DataCorrupt, match="identical for every cell"):
        src.read_nats_api(FakeNATS(OFFICIAL[:3], same_val_test=True))


def test_nats_api_refuses_non_topology_cells():
    with pytest.raises(DataCorrupt, match="size \\(sss\\)"):
        src.read_nats_api(FakeNATS(["8:16:32:64:64", "8:8:8:8:8"]))
    with pytest.raises(DataCorrupt, match="cell 1 is"):
        src.read_nats_api(FakeNATS([OFFICIAL[0], OFFICIAL[2]]))


def test_nats_api_cell_failure_is_one_line():
    with pytest.raises(DataCorrupt, match="NATS cell 1 .* incomplete or corrupt") as err:
        src.read_nats_api(FakeNATS(OFFICIAL[:3], fail_at=1))
    assert "\n" not in str(err.value)


# ----------------------------------------------------------------------------- real on-disk NATS archive

SEEDS = (777, 888)


def _write_nats_archive(root: Path, n_cells: int = 2) -> None:
    """NATS-tss on-disk format: meta.pickle.pbz2 {'meta_archs'} + NNNNNN.pickle.pbz2 {hp: ArchResults state}."""
    from nats_bench import ArchResults, ResultsCount, pickle_save

    root.mkdir(parents=True)
    for cell in range(n_cells):
        per_hp = {}
        for hp in ("12", "200"):
            epochs = int(hp)
            arch = ArchResults(cell, OFFICIAL[cell])
            for d, splits in SPLITS.items():
                for seed in SEEDS:
                    config = {"name": "infer.tiny", "channel": 16, "num_cells": 5, "arch_str": OFFICIAL[cell],
                              "class_num": 10}
                    rc = ResultsCount(d, None, {e: 90.0 for e in range(epochs)}, {e: 0.1 for e in range(epochs)},
                                      0.1, 10.0, config, seed, epochs, [0.01])
                    rc.update_train_info({e: 90.0 for e in range(epochs)}, None, {e: 0.1 for e in range(epochs)},
                                         {e: 5.0 + seed / 1000 for e in range(epochs)})
                    keys = [f"{s}@{e}" for s in splits for e in range(epochs)]
                    rc.update_eval({k: acc(cell, d, k.split("@")[0], hp, seed) for k in keys},
                                   {k: 0.5 for k in keys},
                                   {k: 2.0 if k.startswith("x-valid") else 1.0 for k in keys})
                    arch.update(d, seed, rc)
            per_hp[hp] = arch.state_dict()
        pickle_save(per_hp, str(root / f"{cell:06d}.pickle"))
    pickle_save({"meta_archs": list(OFFICIAL[:n_cells])}, str(root / "meta.pickle"))


@pytest.fixture(scope="module")
def nats_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("nats") / "NATS-tss-v1_0-3ffb9-simple"
    _write_nats_archive(root)
    return root


def _check_archive_frame(df: pd.DataFrame) -> None:
    mean = lambda f: float(np.mean([f(s) for s in SEEDS]))  # noqa: E731 - NATS averages the seeds
    assert df["index"].tolist() == [0, 1]
    for cell in range(2):
        row = df.iloc[cell]
        for hp in ("12", "200"):
            assert row[f"cifar10-valid/val@{hp}"] == pytest.approx(mean(lambda s: acc(cell, "cifar10-valid", "x-valid", hp, s)))
            assert row[f"cifar10-valid/test@{hp}"] == pytest.approx(mean(lambda s: acc(cell, "cifar10-valid", "ori-test", hp, s)))
            assert row[f"cifar10/test@{hp}"] == pytest.approx(mean(lambda s: acc(cell, "cifar10", "ori-test", hp, s)))
            for d in ("cifar100", "ImageNet16-120"):
                assert row[f"{d}/val@{hp}"] == pytest.approx(mean(lambda s: acc(cell, d, "x-valid", hp, s)))
                assert row[f"{d}/test@{hp}"] == pytest.approx(mean(lambda s: acc(cell, d, "x-test", hp, s)))
            assert row[f"cifar100/train_s@{hp}"] == pytest.approx(int(hp) * mean(lambda s: 5.0 + s / 1000))
            assert row[f"cifar100/eval_s@{hp}"] == pytest.approx(2.0)
    assert "cifar10/val@200" not in df and "cifar10/eval_s@200" not in df
    assert set(df.attrs["seeds"].values()) == {len(SEEDS)}
    assert df.attrs["nats_version"] == "v1_0-3ffb9"


def test_real_nats_api_key_sets_match_the_fake(nats_dir):
    import nats_bench

    api = nats_bench.create(str(nats_dir), "tss", fast_mode=True, verbose=False)
    for d, keys in NATS_KEYSETS.items():
        assert set(api.get_more_info(0, d, hp="200", is_random=False)) == keys


def test_nats_archive_directory(nats_dir):
    _check_archive_frame(src.read_nats_archive(nats_dir, allow_pickle=True))


def test_nats_archive_tar(nats_dir, tmp_path):
    tar_path = tmp_path / "NATS-tss-v1_0-3ffb9-simple.tar"
    with tarfile.open(tar_path, "w") as tar:
        tar.add(nats_dir, arcname=nats_dir.name)
    _check_archive_frame(src.read_nats_archive(tar_path, allow_pickle=True))


def test_nats_archive_version_from_name():
    assert src.nats_archive_version("NATS-tss-v1_0-3ffb9-simple.tar") == "v1_0-3ffb9"
    assert src.nats_archive_version("my-copy") is None


def _one_line_corrupt(path, match):
    with pytest.raises(DataCorrupt, match=match) as err:
        src.read_nats_archive(path, allow_pickle=True)
    assert "\n" not in str(err.value)


def test_nats_archive_bad_inputs(nats_dir, tmp_path):
    with pytest.raises(HarnessError, match="does not exist"):
        src.read_nats_archive(tmp_path / "nope", allow_pickle=True)
    (tmp_path / "empty").mkdir()
    _one_line_corrupt(tmp_path / "empty", "no meta.pickle.pbz2")
    (tmp_path / "junk.tar").write_bytes(b"not a tar at all" * 100)
    _one_line_corrupt(tmp_path / "junk.tar", "neither a NATS-tss archive directory nor a tar")

    partial = tmp_path / "partial"
    _write_nats_archive(partial)
    (partial / "000001.pickle.pbz2").unlink()
    _one_line_corrupt(partial, "NATS cell 1 .* incomplete or corrupt")

    truncated = tmp_path / "truncated"
    _write_nats_archive(truncated)
    blob = (truncated / "000000.pickle.pbz2").read_bytes()
    (truncated / "000000.pickle.pbz2").write_bytes(blob[: len(blob) // 2])
    _one_line_corrupt(truncated, "NATS cell 0 .* incomplete or corrupt")

    bad_meta = tmp_path / "bad_meta"
    bad_meta.mkdir()
    (bad_meta / "meta.pickle.pbz2").write_bytes(bz2.compress(pickle.dumps({"archs": []})))
    _one_line_corrupt(bad_meta, "meta.pickle.pbz2 is unreadable")


def test_nats_tar_refuses_paths_outside(tmp_path):
    evil = tmp_path / "evil.tar"
    payload = tmp_path / "payload"
    payload.write_bytes(bz2.compress(pickle.dumps({"meta_archs": []})))
    with tarfile.open(evil, "w") as tar:
        tar.add(payload, arcname="../meta.pickle.pbz2")
    _one_line_corrupt(evil, "not a readable tar")
    assert not (Path(os.path.dirname(tmp_path)) / "meta.pickle.pbz2").exists()
    other = tmp_path / "other.tar"
    with tarfile.open(other, "w") as tar:
        tar.add(payload, arcname="readme.txt")
    _one_line_corrupt(other, "does not hold one NATS-tss archive")


# ----------------------------------------------------------------------------- NASLib pickles

def _grid_values(rng: np.random.Generator, n: int, images: int) -> np.ndarray:
    """Accuracies of single runs on `images` images (steps of 100/images %), stored as float32 like NASLib."""
    correct = rng.integers(int(0.6 * images), int(0.95 * images), size=n)
    if images == 25_000:  # keep every x-valid value off the 10,000-image grid
        correct += (correct % 5 == 0)
    return (100 * correct / images).astype(np.float32).astype(float)


def _naslib_entry(finals: list[float], epochs: int = 200) -> dict:
    """NASLib layout of one dataset: eval_acc1es = the curve(s) concatenated, last epoch = the final value."""
    curve = []
    for f in finals:
        curve += [f - 1.0] * (epochs - 1) + [f]
    return {"train_acc1es": [90.0] * epochs, "train_losses": [0.1] * epochs, "eval_acc1es": curve,
            "eval_losses": [0.5] * len(curve), "train_times": [6.0] * epochs, "eval_times": [2.0] * len(curve),
            "cost_info": {"flops": 10.0, "params": 0.1, "latency": 0.01, "train_time": 6.0},
            "flop": 10.0, "params": 0.1, "latency": 0.01, "epochs": epochs}


def _write(path: Path, obj) -> Path:
    path.write_bytes(pickle.dumps(obj))
    return path


def test_naslib_three_cells_val_only(tmp_path):
    data = {OFFICIAL[i]: {"cifar10-valid": _naslib_entry([80.0 + i])} for i in (5, 1, 3)}
    df, notes = src.read_naslib_pickle(_write(tmp_path / "nb201_cifar10_full_training.pickle", data))
    assert df["index"].tolist() == [1, 3, 5] and df["arch_str"].tolist() == [OFFICIAL[1], OFFICIAL[3], OFFICIAL[5]]
    assert sorted(df.columns[2:]) == ["cifar10-valid/eval_s@200", "cifar10-valid/train_s@200", "cifar10-valid/val@200"]
    assert df["cifar10-valid/val@200"].tolist() == [81.0, 83.0, 85.0]
    assert df["cifar10-valid/train_s@200"].tolist() == [1200.0] * 3
    assert df["cifar10-valid/eval_s@200"].tolist() == [2.0] * 3
    assert any("cannot tell val from test" in n and "val@200 only" in n for n in notes)


def test_naslib_single_curve_on_test_grid_is_test(tmp_path):
    # NASLib's cifar10 "val" (eval_acc1es[-1]) sits on the 10,000-image grid of ori-test: it is a test accuracy
    rng = np.random.default_rng(0)
    finals = _grid_values(rng, 40, 10_000)
    data = {OFFICIAL[i]: {"cifar10-valid": _naslib_entry([finals[i]])} for i in range(40)}
    df, notes = src.read_naslib_pickle(_write(tmp_path / "c10.pickle", data))
    assert "cifar10-valid/val@200" not in df and "cifar10-valid/eval_s@200" not in df
    assert df["cifar10-valid/test@200"].tolist() == list(finals)
    assert any("10000-image grid of ori-test" in n for n in notes)


def test_naslib_concatenated_curves_val_and_test(tmp_path):
    rng = np.random.default_rng(1)
    val, test = _grid_values(rng, 40, 25_000), _grid_values(rng, 40, 10_000)
    data = {OFFICIAL[i]: {"cifar10-valid": _naslib_entry([test[i], val[i]])} for i in range(40)}
    df, _ = src.read_naslib_pickle(_write(tmp_path / "c10.pickle", data))
    assert df["cifar10-valid/val@200"].tolist() == list(val)
    assert df["cifar10-valid/test@200"].tolist() == list(test)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), val_first=st.booleans(), n=st.integers(30, 60))
def test_naslib_val_and_test_never_share_a_split(tmp_path, seed, val_first, n):
    rng = np.random.default_rng(seed)
    val, test = _grid_values(rng, n, 25_000), _grid_values(rng, n, 10_000)
    finals = [[v, t] if val_first else [t, v] for v, t in zip(val, test)]
    data = {OFFICIAL[i]: {"cifar10-valid": _naslib_entry(finals[i])} for i in range(n)}
    df, _ = src.read_naslib_pickle(_write(tmp_path / "c10.pickle", data))
    assert df["cifar10-valid/val@200"].tolist() == list(val)
    assert df["cifar10-valid/test@200"].tolist() == list(test)


def test_naslib_halves_are_never_guessed(tmp_path):
    rng = np.random.default_rng(3)
    half, ori = _grid_values(rng, 40, 3_000), _grid_values(rng, 40, 6_000)
    data = {OFFICIAL[i]: {"ImageNet16-120": _naslib_entry([ori[i], half[i]])} for i in range(40)}
    df, notes = src.read_naslib_pickle(_write(tmp_path / "in16.pickle", data))
    # ori-test (6,000 images) is recognised and left out; the 3,000-image half may be x-valid or x-test
    assert [c for c in df.columns if "/" in c] == ["ImageNet16-120/train_s@200"]
    assert any("curve ori-test is not imported" in m for m in notes)
    assert any("cannot tell which split curve 1 is (x-test or x-valid)" in m for m in notes)


def test_naslib_lone_half_split_is_val_with_note(tmp_path):
    rng = np.random.default_rng(2)
    finals = _grid_values(rng, 40, 5_000)
    data = {OFFICIAL[i]: {"cifar100": _naslib_entry([finals[i]])} for i in range(40)}
    df, notes = src.read_naslib_pickle(_write(tmp_path / "nb201_cifar100_full_training.pickle", data))
    assert df["cifar100/val@200"].tolist() == list(finals) and "cifar100/test@200" not in df
    assert any("x-test or x-valid" in n and "val@200 only" in n for n in notes)


def test_naslib_nb201_keyed_dict_is_exact(tmp_path):
    entry = lambda i: {  # noqa: E731
        "eval_acc1es": {"x-valid@199": 70.0 + i, "x-test@199": 71.0 + i, "ori-test@199": 70.5 + i,
                        "x-valid@198": 0.0, "x-test@198": 0.0, "ori-test@198": 0.0},
        "eval_times": {f"{s}@{e}": 3.0 for s in ("x-valid", "x-test", "ori-test") for e in (198, 199)},
        "train_times": {e: 4.0 for e in range(200)}, "epochs": 200}
    data = {OFFICIAL[i]: {"cifar100": entry(i)} for i in range(3)}
    df, notes = src.read_naslib_pickle(_write(tmp_path / "x.pickle", data), dataset_hint="cifar100")
    assert df["cifar100/val@200"].tolist() == [70.0, 71.0, 72.0]
    assert df["cifar100/test@200"].tolist() == [71.0, 72.0, 73.0]
    assert df["cifar100/train_s@200"].tolist() == [800.0] * 3
    assert any("ori-test is not imported" in n or "curve ori-test is not imported" in n for n in notes)


def test_naslib_op_tuple_keys(tmp_path, shared_data):
    table = pd.read_csv(shared_data / "nb201" / "nb201_val_acc_200ep_naslib.csv", nrows=50)
    data = {tuple(int(x) for x in t.strip("()").split(",")): {"cifar10-valid": _naslib_entry([80.0])}
            for t in table["naslib_op_indices"]}
    df, _ = src.read_naslib_pickle(_write(tmp_path / "x.pickle", data))
    assert df["index"].tolist() == sorted(table["nb201_index"])
    assert dict(zip(df["index"], df["arch_str"])) == dict(zip(table["nb201_index"], table["arch_str"]))


def test_naslib_dataset_from_file_name(tmp_path):
    data = {OFFICIAL[i]: {"cifar10-valid": _naslib_entry([80.0]), "cifar100": _naslib_entry([60.0])} for i in range(3)}
    df, _ = src.read_naslib_pickle(_write(tmp_path / "nb201_cifar100_full_training.pickle", data))
    assert [c for c in df.columns if "/" in c] and all(c.startswith("cifar100/") for c in df.columns if "/" in c)
    df, _ = src.read_naslib_pickle(_write(tmp_path / "any.pickle", data))
    assert {c.split("/")[0] for c in df.columns if "/" in c} == {"cifar10-valid", "cifar100"}
    with pytest.raises(DataCorrupt, match="no NB201 dataset ImageNet16-120"):
        src.read_naslib_pickle(tmp_path / "any.pickle", dataset_hint="ImageNet16")
    with pytest.raises(HarnessError, match="unknown NB201 dataset"):
        src.read_naslib_pickle(tmp_path / "any.pickle", dataset_hint="svhn")


class _Evil:
    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def _naslib_corrupt(path: Path, match: str, exc=DataCorrupt):
    with pytest.raises(exc, match=match) as err:
        src.read_naslib_pickle(path)
    assert "\n" not in str(err.value)


def test_naslib_bad_inputs(tmp_path):
    _naslib_corrupt(tmp_path / "missing.pickle", "does not exist", HarnessError)
    _naslib_corrupt(_write(tmp_path / "evil.pickle", {"x": _Evil(tmp_path / "pwned")}), "os.system|posix.system")
    assert not (tmp_path / "pwned").exists()
    good = pickle.dumps({OFFICIAL[0]: {"cifar10-valid": _naslib_entry([80.0])}})
    (tmp_path / "trunc.pickle").write_bytes(good[: len(good) // 2])
    _naslib_corrupt(tmp_path / "trunc.pickle", "not a readable NASLib pickle")
    (tmp_path / "random.pickle").write_bytes(bytes(range(256)) * 4)
    _naslib_corrupt(tmp_path / "random.pickle", "not a readable NASLib pickle")
    (tmp_path / "nats.pickle.pbz2").write_bytes(bz2.compress(good))
    _naslib_corrupt(tmp_path / "nats.pickle.pbz2", "bzip2 .* NATS-tss")
    _naslib_corrupt(_write(tmp_path / "list.pickle", [1, 2, 3]), "expected NASLib's dict")
    _naslib_corrupt(_write(tmp_path / "key.pickle", {"|conv~0|": {}}), "not an NB201 arch string")
    _naslib_corrupt(_write(tmp_path / "entry.pickle", {OFFICIAL[0]: {"cifar10-valid": [1.0]}}), "expected a dict with eval_acc1es")
    odd = _naslib_entry([80.0])
    odd["eval_acc1es"] = odd["eval_acc1es"][:-1]
    _naslib_corrupt(_write(tmp_path / "odd.pickle", {OFFICIAL[0]: {"cifar10-valid": odd}}), "do not split into 200-epoch")
    frac = _naslib_entry([80.0])
    frac["eval_acc1es"] = [x + 100 for x in frac["eval_acc1es"]]
    _naslib_corrupt(_write(tmp_path / "frac.pickle", {OFFICIAL[0]: {"cifar10-valid": frac}}), "outside 0-100")
