"""blackboxes.training: dataset loaders on tiny official-format files, splits, augmentation, the
train loop's determinism, the evaluation cache and the job runner."""
from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from blackboxes.training import data as D  # noqa: E402
from blackboxes.training.cache import EvalCache, config_hash  # noqa: E402
from blackboxes.training.loop import TrainConfig, train_and_evaluate  # noqa: E402
from harness.devices import (  # noqa: E402
    deterministic_kernels,
    resolve_device,
    run_jobs,
    torch_threads,
)
from harness.errors import DataCorrupt, DataMissing, HarnessError  # noqa: E402


def _write_cifar(root, n_per_batch=4):
    d = root / "cifar10" / "cifar-10-batches-py"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
                 b"labels": [int(x) for x in rng.integers(0, 10, n_per_batch)], b"batch_label": name.encode()}
        (d / name).write_bytes(pickle.dumps(batch))
    (d / "batches.meta").write_bytes(pickle.dumps({b"label_names": [f"c{k}".encode() for k in range(10)]}))
    return d


def test_digits_fixed_split():
    ds = D.load_dataset("digits", None)
    assert ds.n_classes == 10 and ds.image_shape == (1, 8, 8)
    assert len(ds.train) + len(ds.test) == 1797
    assert set(ds.test.labels.tolist()) == set(range(10))
    again = D.load_dataset("digits", None)
    assert torch.equal(ds.test.labels, again.test.labels)
    assert ds.train.images.dtype == torch.uint8 and int(ds.train.images.max()) == 255


def test_cifar10_official_batches(tmp_path):
    _write_cifar(tmp_path)
    ds = D.load_dataset("cifar10", tmp_path)
    assert len(ds.train) == 20 and len(ds.test) == 4 and ds.image_shape == (3, 32, 32)
    assert ds.classes[3] == "c3"


def test_cifar10_corrupt_and_missing(tmp_path):
    with pytest.raises(DataMissing, match="data fetch cifar10"):
        D.load_dataset("cifar10", tmp_path)
    d = _write_cifar(tmp_path)
    (d / "data_batch_3").write_bytes(pickle.dumps({b"data": 1})[:7])
    with pytest.raises(DataCorrupt, match="data_batch_3"):
        D.load_dataset("cifar10", tmp_path)


def test_tiny_imagenet_official_layout(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    d = tmp_path / "tiny-imagenet" / "tiny-imagenet-200"
    wnids = ["n01443537", "n01629819"]
    (d / "val" / "images").mkdir(parents=True)
    (d / "wnids.txt").write_text("\n".join(wnids) + "\n")
    ann = []
    for k, w in enumerate(wnids):
        (d / "train" / w / "images").mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (8, 8), (40 * k, 10 * i, 0)).save(d / "train" / w / "images" / f"{w}_{i}.JPEG")
        Image.new("RGB", (8, 8), (40 * k, 0, 0)).save(d / "val" / "images" / f"val_{k}.JPEG")
        ann.append(f"val_{k}.JPEG\t{w}\t0\t0\t7\t7")
    (d / "val" / "val_annotations.txt").write_text("\n".join(ann) + "\n")
    ds = D.load_dataset("tiny-imagenet", tmp_path)
    assert len(ds.train) == 6 and len(ds.test) == 2 and ds.image_shape == (3, 8, 8)
    assert ds.test.labels.tolist() == [0, 1]
    assert (d / "decoded.npz").is_file()
    cached = D.load_dataset("tiny-imagenet", tmp_path)
    assert torch.equal(cached.train.images, ds.train.images)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=80), st.floats(0.01, 1.0), st.integers(0, 2**32 - 1))
def test_low_data_split_keeps_every_class(labels, fraction, seed):
    labels = np.asarray(labels)
    kept, rest = D.per_class_split(labels, fraction, np.random.default_rng(seed))
    assert set(labels[kept]) == set(labels)
    assert sorted(np.concatenate([kept, rest]).tolist()) == list(range(len(labels)))
    again = D.per_class_split(labels, fraction, np.random.default_rng(seed))
    assert np.array_equal(kept, again[0])


def test_low_data_splits_on_digits():
    s = D.low_data_splits(D.load_dataset("digits", None), 0.1, seed=0)
    assert set(s.train.labels.tolist()) == set(range(10))
    assert 140 <= len(s.train) <= 160 and len(s.train) + len(s.val) == len(D.load_dataset("digits", None).train) == 1498
    with pytest.raises(HarnessError, match="fraction"):
        D.low_data_splits(D.load_dataset("digits", None), 0.0, seed=0)


def test_augment_is_seeded_and_keeps_shape():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    a = D.augment(x, torch.Generator().manual_seed(1), 4, True)
    b = D.augment(x, torch.Generator().manual_seed(1), 4, True)
    assert a.shape == x.shape and torch.equal(a, b)
    assert torch.equal(D.augment(x, torch.Generator(), 0, False), x)


def _tiny_net():
    from torch import nn

    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))


def test_training_is_deterministic_and_leaves_global_rng_alone():
    splits = D.low_data_splits(D.load_dataset("digits", None), 0.2, seed=0)
    cfg = TrainConfig(epochs=3, batch_size=64, crop_padding=1)
    state = torch.random.get_rng_state()
    with torch_threads(1):
        r1 = train_and_evaluate(_tiny_net, splits, cfg, seed=7)
    assert torch.equal(state, torch.random.get_rng_state())
    r2 = train_and_evaluate(_tiny_net, splits, cfg, seed=7)
    assert r1.val_acc == r2.val_acc and r1.test_acc == r2.test_acc and len(r1.val_curve) == 3
    assert r1.params == 4 * 9 + 4 + 8 + 40 + 10
    assert r1.flops == 64 * 4 * 9 + 40
    r3 = train_and_evaluate(_tiny_net, splits, cfg, seed=8)
    assert (r3.val_acc, r3.test_acc) != (r1.val_acc, r1.test_acc)


def test_cache_round_trip_and_torn_write(tmp_path):
    cache = EvalCache(tmp_path)
    key = EvalCache.key("randwire", "rw8:1f", config_hash({"a": 1}), 3)
    assert cache.get(key) is None
    cache.put(key, {"val_acc": 71.5, "test_acc": None})
    assert cache.get(key) == {"val_acc": 71.5, "test_acc": None}
    assert EvalCache(tmp_path).get(key) == {"val_acc": 71.5, "test_acc": None}
    assert cache.get({**key, "seed": 4}) is None
    (path,) = list(tmp_path.rglob("*.json"))
    path.write_text(path.read_text()[:20])  # a torn write
    assert cache.get(key) is None
    cache.put(key, {"val_acc": 70.0})
    assert json.loads(path.read_text())["record"] == {"val_acc": 70.0}
    assert EvalCache(None).get(key) is None


def test_config_hash_is_stable():
    assert config_hash({"b": 1, "a": [1, 2]}) == config_hash({"a": [1, 2], "b": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


def test_devices():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    with pytest.raises(HarnessError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(HarnessError, match="no CUDA"):
            resolve_device("cuda")


def test_deterministic_kernels_only_on_cuda_and_restored(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    with deterministic_kernels("cpu"):
        assert torch.are_deterministic_algorithms_enabled() == before[0]
        assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    try:
        with deterministic_kernels("cuda:1"):  # flags only: no GPU needed to set them
            assert torch.are_deterministic_algorithms_enabled()
            assert torch.is_deterministic_algorithms_warn_only_enabled()  # never fails a run
            assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    finally:
        os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
    assert (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()) == before


def test_run_jobs_pool_matches_serial():
    jobs = [3, 1, 2]
    assert run_jobs(abs, jobs, workers=1) == run_jobs(abs, jobs, workers=2) == [3, 1, 2]
