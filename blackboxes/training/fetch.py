"""``python -m harness data fetch cifar10 | tiny-imagenet``: the image datasets the trained
benchmarks train on, downloaded, verified and unpacked where ``blackboxes.training.data`` looks."""
from __future__ import annotations

from pathlib import Path

from harness.data.download import Source, unpack, verified_download
from harness.data.store import resolve_data_dir
from harness.errors import HarnessError

DATASET_SOURCES = {
    "cifar10": Source(
        "cifar10", "cifar-10-python", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "cifar-10-python.tar.gz", None, "c58f30108f718f92721af3b95e74349a", None, "dataset-archive",
        "https://www.cs.toronto.edu/~kriz/cifar.html (python version); md5 as pinned by torchvision's CIFAR10 "
        "(tgz_md5) and many download scripts", True,
    ),
    "tiny-imagenet": Source(
        "tiny-imagenet", "tiny-imagenet-200", "http://cs231n.stanford.edu/tiny-imagenet-200.zip",
        "tiny-imagenet-200.zip", None, None, None, "dataset-archive",
        "Stanford CS231n Tiny-ImageNet page; no checksum published (fetch prints the sha256 it computed)", True,
    ),
}
"""Image datasets of the trained spaces: downloaded, verified and unpacked to ``<data_dir>/<name>/``."""


def fetch_dataset(name: str, data_dir=None, *, url: str | None = None, progress: bool = True) -> Path:
    """Download an image dataset's official archive, verify it and unpack it where the loaders look."""
    if name not in DATASET_SOURCES:
        raise HarnessError(f"unknown dataset {name!r}; fetchable: {', '.join(DATASET_SOURCES)}")
    src = DATASET_SOURCES[name]
    # tiny-imagenet has no published checksum, and verified_download refuses such downloads for
    # benchmark files (they become benchmark numbers, or are pickles). An image archive is neither:
    # it is unpacked with ``unpack`` (no member outside the target, no links or devices) and its
    # images are decoded as images, never executed; a wrong file fails training visibly. So it is
    # allowed unverified (its sha256 is printed). CIFAR-10 (python batches are pickles) keeps its
    # published md5 and is always verified.
    archive = verified_download(name, [src], data_dir, url=url, source=src, progress=progress,
                                allow_unverified=src.md5 is None and src.sha256 is None)
    target = resolve_data_dir(data_dir) / name
    unpack(archive, target)
    return target
