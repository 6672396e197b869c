"""Image datasets as uint8 tensors, the low-data split, and augmentation done on tensors.

Datasets (``load_dataset(name, data_dir)``):
- ``digits``: scikit-learn's bundled 8x8 digits (1,797 images, 10 classes; no download). It has
  no official split, so a fixed stratified one is made here: per class, 1/6 of the images
  (shuffled with the fixed seed ``DIGITS_SPLIT_SEED``) are the test split, the rest the train pool.
- ``cifar10``: the official python-pickle batches (``data_batch_1..5``, ``test_batch``,
  ``batches.meta``; https://www.cs.toronto.edu/~kriz/cifar.html), in
  ``<data_dir>/cifar10/cifar-10-batches-py`` (the archive's own folder) or ``<data_dir>/cifar10``.
- ``tiny-imagenet``: the official folder layout of tiny-imagenet-200.zip (``wnids.txt``,
  ``train/<wnid>/images/*.JPEG``, ``val/images/*.JPEG`` + ``val/val_annotations.txt``), in
  ``<data_dir>/tiny-imagenet/tiny-imagenet-200`` or ``<data_dir>/tiny-imagenet``. Its labelled
  ``val`` set is the test split (the GraphPNAS paper evaluates on "the original validation set",
  §4.1); reading the JPEGs needs Pillow. The decoded arrays are kept in ``<dir>/decoded.npz``
  so later runs skip the ~100k JPEG decodes.

Images stay uint8 (CIFAR-10 is 150 MB, Tiny-ImageNet 1.2 GB) and are normalised per batch with
per-channel statistics of the training pool, so a whole dataset can live on the GPU and be
augmented there (no loader processes needed to keep a GPU fed).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from harness.errors import DataCorrupt, DataMissing, HarnessError
from harness.safe_pickle import load_plain

DATASETS = ("digits", "cifar10", "tiny-imagenet")
DIGITS_SPLIT_SEED = 20_190_401
DIGITS_TEST_FRACTION = 1 / 6
CIFAR10_FILES = tuple(f"data_batch_{k}" for k in range(1, 6)) + ("test_batch", "batches.meta")


@dataclass(frozen=True)
class ImageSet:
    """Images ``[n, c, h, w]`` uint8 and labels ``[n]`` int64 (torch tensors)."""

    images: "torch.Tensor"  # noqa: F821
    labels: "torch.Tensor"  # noqa: F821

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, index: np.ndarray) -> "ImageSet":
        import torch

        idx = torch.as_tensor(np.asarray(index, dtype=np.int64))
        return ImageSet(self.images[idx], self.labels[idx])


@dataclass(frozen=True)
class Dataset:
    """A dataset's training pool, its held-out test split (None when it has none), and metadata."""

    name: str
    train: ImageSet
    test: ImageSet | None
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.train.images.shape[1:])  # type: ignore[return-value]


@dataclass(frozen=True)
class Splits:
    """What one training run sees: train on ``train``, reward on ``val``, report on ``test``."""

    train: ImageSet
    val: ImageSet
    test: ImageSet | None
    n_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


# ----------------------------------------------------------------------------------- loading
def load_dataset(name: str, data_dir: Path | str | None) -> Dataset:
    """Load one of ``DATASETS``; a missing or malformed directory raises a one-line HarnessError."""
    if name == "digits":
        return _digits()
    if data_dir is None:
        raise DataMissing(f"dataset {name} needs a data dir; pass --data-dir or run `python -m harness data fetch {name}`")
    if name == "cifar10":
        return _cifar10(_locate(Path(data_dir), "cifar10", "cifar-10-batches-py", "batches.meta"))
    if name == "tiny-imagenet":
        return _tiny_imagenet(_locate(Path(data_dir), "tiny-imagenet", "tiny-imagenet-200", "wnids.txt"))
    raise HarnessError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")


def _locate(data_dir: Path, name: str, archive_dir: str, marker: str) -> Path:
    for d in (data_dir / name / archive_dir, data_dir / name, data_dir / archive_dir):
        if (d / marker).is_file():
            return d
    raise DataMissing(
        f"{name} not found under {data_dir / name}; run `python -m harness data fetch {name}` "
        f"or unpack the official archive there"
    )


def _finish(name: str, train_x: np.ndarray, train_y: np.ndarray, test_x, test_y, classes) -> Dataset:
    import torch

    mean = tuple(float(m) for m in train_x.mean(axis=(0, 2, 3)) / 255.0)
    std = tuple(float(max(s, 1e-3)) for s in train_x.std(axis=(0, 2, 3)) / 255.0)
    train = ImageSet(torch.from_numpy(np.ascontiguousarray(train_x)), torch.from_numpy(train_y.astype(np.int64)))
    test = None
    if test_x is not None:
        test = ImageSet(torch.from_numpy(np.ascontiguousarray(test_x)), torch.from_numpy(test_y.astype(np.int64)))
    return Dataset(name, train, test, tuple(classes), mean, std)


def _digits() -> Dataset:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise HarnessError("the digits dataset needs scikit-learn: pip install scikit-learn") from None
    bunch = load_digits()
    x = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None, :, :]
    y = bunch.target.astype(np.int64)
    rng = np.random.default_rng(DIGITS_SPLIT_SEED)
    test_idx = []
    for c in range(10):
        members = np.flatnonzero(y == c)
        rng.shuffle(members)
        test_idx.extend(members[: int(round(len(members) * DIGITS_TEST_FRACTION))].tolist())
    is_test = np.zeros(len(y), dtype=bool)
    is_test[test_idx] = True
    return _finish("digits", x[~is_test], y[~is_test], x[is_test], y[is_test], [str(c) for c in range(10)])


def _unpickle(path: Path) -> dict:
    if not path.is_file():
        raise DataMissing(f"{path} is missing; re-download CIFAR-10 (`python -m harness data fetch cifar10`)")
    try:
        with open(path, "rb") as fh:  # restricted: a batch holds a dict of bytes, lists and an array
            return load_plain(fh, "a CIFAR-10 python batch", encoding="bytes")
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise DataCorrupt(f"{path} is not a CIFAR-10 python batch ({type(exc).__name__}); re-download it") from None


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    d = _unpickle(path)
    try:
        data = np.asarray(d[b"data"], dtype=np.uint8)
        labels = np.asarray(d[b"labels"], dtype=np.int64)
        images = data.reshape(-1, 3, 32, 32)
    except (KeyError, ValueError) as exc:
        raise DataCorrupt(f"{path} lacks CIFAR-10 data/labels ({exc}); re-download it") from None
    if len(images) != len(labels):
        raise DataCorrupt(f"{path} has {len(images)} images but {len(labels)} labels; re-download it")
    return images, labels


def _cifar10(d: Path) -> Dataset:
    meta = _unpickle(d / "batches.meta")
    try:
        classes = [c.decode() if isinstance(c, bytes) else str(c) for c in meta[b"label_names"]]
    except KeyError:
        raise DataCorrupt(f"{d / 'batches.meta'} has no label_names; re-download CIFAR-10") from None
    parts = [_cifar_batch(d / f"data_batch_{k}") for k in range(1, 6)]
    test_x, test_y = _cifar_batch(d / "test_batch")
    train_x = np.concatenate([p[0] for p in parts])
    train_y = np.concatenate([p[1] for p in parts])
    for y in (train_y, test_y):
        if y.min() < 0 or y.max() >= len(classes):
            raise DataCorrupt(f"CIFAR-10 labels in {d} fall outside 0..{len(classes) - 1}; re-download it")
    return _finish("cifar10", train_x, train_y, test_x, test_y, classes)


def _read_jpeg(path: Path) -> np.ndarray:
    try:
        from PIL import Image
    except ImportError:
        raise HarnessError("Tiny-ImageNet JPEGs need Pillow: pip install pillow") from None
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1)
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for a bad image
        raise DataCorrupt(f"{path} is not a readable JPEG ({type(exc).__name__}); re-download Tiny-ImageNet") from None


def _stack(paths: list[Path]) -> np.ndarray:
    images = [_read_jpeg(p) for p in paths]
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise DataCorrupt(f"Tiny-ImageNet images have different sizes {sorted(shapes)}; re-download it")
    return np.stack(images)


def _tiny_imagenet(d: Path) -> Dataset:
    wnids = [w.strip() for w in (d / "wnids.txt").read_text().splitlines() if w.strip()]
    label = {w: k for k, w in enumerate(wnids)}
    cache = d / "decoded.npz"
    if cache.is_file():
        try:
            with np.load(cache) as z:
                if tuple(z["wnids"].tolist()) == tuple(wnids):
                    return _finish("tiny-imagenet", z["train_x"], z["train_y"], z["test_x"], z["test_y"], wnids)
        except Exception:  # noqa: BLE001 - a torn cache is rebuilt from the JPEGs
            pass
    train_paths, train_y = [], []
    for w in wnids:
        files = sorted((d / "train" / w / "images").glob("*.JPEG"))
        if not files:
            raise DataCorrupt(f"{d / 'train' / w / 'images'} has no JPEGs; re-download Tiny-ImageNet")
        train_paths += files
        train_y += [label[w]] * len(files)
    ann = d / "val" / "val_annotations.txt"
    if not ann.is_file():
        raise DataMissing(f"{ann} is missing; re-download Tiny-ImageNet")
    test_paths, test_y = [], []
    for line_no, line in enumerate(ann.read_text().splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or fields[1] not in label:
            raise DataCorrupt(f"{ann}:{line_no} is not '<file>\\t<wnid>...' with a known wnid; re-download it")
        test_paths.append(d / "val" / "images" / fields[0])
        test_y.append(label[fields[1]])
    train_x, test_x = _stack(train_paths), _stack(test_paths)
    ty, vy = np.asarray(train_y, dtype=np.int64), np.asarray(test_y, dtype=np.int64)
    from harness.atomic import atomic_path

    try:
        with atomic_path(cache) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, train_x=train_x, train_y=ty, test_x=test_x, test_y=vy, wnids=np.asarray(wnids))
    except OSError:
        pass  # a read-only data dir just means decoding again next time
    return _finish("tiny-imagenet", train_x, ty, test_x, vy, wnids)


# ------------------------------------------------------------------------------------ splits
def per_class_split(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, rest): per class, ``round(fraction * n_c)`` samples (at least 1) are kept.

    Every class keeps at least one sample and keeps its other samples in ``rest``; the GraphPNAS
    low-data oracle (§4.1) "keep[s] the number of classes unchanged but reduce[s] the number of
    samples per class". Both index arrays are sorted.
    """
    if not 0.0 < fraction <= 1.0:
        raise HarnessError(f"the low-data fraction must be in (0, 1], got {fraction}")
    labels = np.asarray(labels)
    kept, rest = [], []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        members = members[rng.permutation(len(members))]
        k = min(len(members), max(1, int(round(fraction * len(members)))))
        kept.append(members[:k])
        rest.append(members[k:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(rest))


def low_data_splits(ds: Dataset, fraction: float, seed: int) -> Splits:
    """Train on ``fraction`` of each class of the training pool, validate on the rest (§4.1)."""
    kept, rest = per_class_split(ds.train.labels.numpy(), fraction, np.random.default_rng(seed))
    if len(rest) == 0:
        raise HarnessError(f"low-data fraction {fraction} leaves no validation images in {ds.name}; use a smaller one")
    return Splits(ds.train.subset(kept), ds.train.subset(rest), ds.test, ds.n_classes, ds.mean, ds.std)


def full_data_splits(ds: Dataset) -> Splits:
    """Train on the whole pool; the held-out test split is also the validation split (final re-training)."""
    if ds.test is None:
        raise HarnessError(f"{ds.name} has no held-out split for full-data training")
    return Splits(ds.train, ds.test, ds.test, ds.n_classes, ds.mean, ds.std)


# ------------------------------------------------------------------------------ batching
def normalise(images: "torch.Tensor", mean, std, size: int | None = None) -> "torch.Tensor":  # noqa: F821
    """uint8 ``[b, c, h, w]`` -> float, per-channel standardised, bilinearly resized to ``size``."""
    import torch
    import torch.nn.functional as F

    x = images.float().div_(255.0)
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    x = (x - m) / s
    if size is not None and tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x


def augment(x: "torch.Tensor", generator: "torch.Generator", padding: int, flip: bool) -> "torch.Tensor":  # noqa: F821
    """Random crop with zero padding ``padding`` and random horizontal flip, per sample.

    The paper's augmentation (App. D.2: "horizontal random flip and random cropping with padding
    size 4"). Offsets and flips are drawn on the CPU generator, so they do not depend on the device.
    """
    import torch
    import torch.nn.functional as F

    b, _, h, w = x.shape
    if padding > 0:
        padded = F.pad(x, (padding, padding, padding, padding))
        oy = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(x.device)
        ox = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(x.device)
        rows = (oy[:, None] + torch.arange(h, device=x.device)[None, :])[:, None, :, None]
        cols = (ox[:, None] + torch.arange(w, device=x.device)[None, :])[:, None, None, :]
        bidx = torch.arange(b, device=x.device)[:, None, None, None]
        cidx = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
        x = padded[bidx, cidx, rows, cols]
    if flip:
        mask = (torch.rand(b, generator=generator) < 0.5).to(x.device)
        x = torch.where(mask[:, None, None, None], x.flip(-1), x)
    return x


def batches(data: ImageSet, batch_size: int, generator: "torch.Generator | None" = None) -> Iterator[tuple]:  # noqa: F821
    """(images uint8, labels) batches; shuffled with ``generator`` when one is given, else in order.

    Training drops nothing: the last batch may be smaller (low-data splits are small).
    """
    import torch

    n = len(data)
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    order = order.to(data.images.device)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        yield data.images[idx], data.labels[idx]
