"""RandWire's trained evaluators: the low-data oracle (search) and the full-data oracle (final).

GraphPNAS §4.1: "we sample 1/10 of Tiny-ImageNet training set for training and use the rest for
validation at each search step ... we keep the number of classes unchanged but reduce the number
of samples per class. After the search, we retrain our found architectures on the full training
set and evaluate it on the original validation set ... trains for 300 epochs and uses the
average validation accuracy of the last 3 epochs as the reward." Training hyper-parameters:
Table 8 (see blackboxes.training.loop). Fidelity = epochs.

Per dataset (``DATASET_SETTINGS``): the model preset, the fidelities offered and the default.
Tiny-ImageNet uses Table 7's base network at 224×224 and the paper's 300 epochs; CIFAR-10 the
CIFAR-sized preset; digits (the embedded default) a tiny network trained for a few epochs,
chosen so one evaluation takes about a second on one CPU core (benchmarks/bench_oracle.py).
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blackboxes.randwire.model import RandWireConfig, build, preset
from blackboxes.training.loop import TrainConfig
from blackboxes.training.oracle import DataSpec, TrainedOracle, default_cache_dir
from harness.contracts import EvaluatorOptions
from spaces.randwire import RandWireArch, RandWireSpace


@dataclass(frozen=True)
class DatasetSetting:
    model: RandWireConfig
    train: TrainConfig
    fidelities: tuple[int, ...]
    default_fidelity: int
    n_nodes: int
    low_data_fraction: float = 0.1


DATASET_SETTINGS: dict[str, DatasetSetting] = {
    "tiny-imagenet": DatasetSetting(preset("base"), TrainConfig(input_size=224), (30, 100, 300), 300, 32),
    "cifar10": DatasetSetting(preset("cifar"), TrainConfig(), (10, 50, 100), 100, 32),
    # Digits: 1/2 of the 1,498-image pool trains (measured: 1/10 leaves 15 images per class and
    # every architecture stays at chance, ~10 %, after 8 epochs); padding 1 on 8×8 images; batch
    # 64 so the 749 training images give 12 SGD steps per epoch. 6 epochs: 45-75 % validation
    # accuracy, spread by architecture (benchmarks/bench_oracle.py).
    "digits": DatasetSetting(preset("digits"), TrainConfig(batch_size=64, crop_padding=1), (3, 6, 12), 6, 8, 0.5),
}
DATASETS = tuple(DATASET_SETTINGS)


def space_for_dataset(dataset: str) -> RandWireSpace:
    """The space instance a dataset's preset expects (N = 8 on digits, 32 otherwise)."""
    return RandWireSpace(DATASET_SETTINGS[dataset].n_nodes)


def _factory(model: RandWireConfig, arch: RandWireArch):
    return functools.partial(build, arch, model)


class LowDataOracle(TrainedOracle):
    """Train on a per-class fraction of the training pool, reward on the rest (§4.1)."""

    regime = "low"


class FullDataOracle(TrainedOracle):
    """Train on the whole training pool; val_acc and test_acc are both on the held-out split (the
    paper's "Full Data (Final)": the original validation set of Tiny-ImageNet)."""

    regime = "full"


def _make(cls, dataset: str, data_dir, space: RandWireSpace, options: EvaluatorOptions | None = None, *,
          cache_dir: Path | str | None = "default", split_seed: int = 0, **train_overrides: Any) -> TrainedOracle:
    from harness.data.store import resolve_data_dir

    options = options or EvaluatorOptions()
    data_dir = resolve_data_dir(data_dir)  # None -> $HARNESS_DATA or the user cache dir (datasets, cache)
    setting = DATASET_SETTINGS[dataset]
    ds_classes = {"digits": 10, "cifar10": 10, "tiny-imagenet": 200}[dataset]
    model = dataclasses.replace(setting.model, n_classes=ds_classes)
    data = DataSpec(dataset, None if data_dir is None else str(data_dir), cls.regime,
                    setting.low_data_fraction, split_seed)
    train = dataclasses.replace(setting.train, **train_overrides)
    return cls(
        space, functools.partial(_factory, model), data, train, setting.fidelities, setting.default_fidelity,
        cache_dir=default_cache_dir(data_dir) if cache_dir == "default" else cache_dir,
        device=options.device, workers=options.train_workers, timeout_s=options.timeout_s,
        model_config=model.as_dict(),
    )


def make_low_data_oracle(dataset: str, data_dir, space: RandWireSpace, options: EvaluatorOptions | None = None,
                         **kw) -> LowDataOracle:
    """Registry factory ``(dataset, data_dir, space, options)``: the search-time evaluator."""
    return _make(LowDataOracle, dataset, data_dir, space, options, **kw)


def make_full_data_oracle(dataset: str, data_dir, space: RandWireSpace, options: EvaluatorOptions | None = None,
                          **kw) -> FullDataOracle:
    """The re-training evaluator for found architectures ("Full Data (Final)")."""
    return _make(FullDataOracle, dataset, data_dir, space, options, **kw)
