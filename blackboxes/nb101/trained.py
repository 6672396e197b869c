"""NB101 cells trained from scratch in PyTorch: the nb101 benchmark's datasets other than the table.

The network is nasbench-pytorch's ``Network`` (PyPI ``nasbench-pytorch==1.3.1``, Apache-2.0, a
PyTorch port of google-research/nasbench ``nasbench/lib/model_builder.py``), imported, not copied;
training, cache, devices, timeout and the process pool are the shared ``TrainedOracle``
(blackboxes.training.oracle), as for RandWire. Torch and nasbench-pytorch are imported here only.

Two adjustments to the ``Network`` as built (``build_network``), both checked against the
official numbers in tests/test_nb101_trained.py:
- every ``Placeholder`` module (the input vertex and each vertex the input does not feed, in each
  of the cells) holds an unused scalar ``nn.Parameter`` (``torch.randn(())``, never read by its
  ``forward``); they are removed, so the parameter count equals the official
  ``trainable_parameters`` exactly (with them it is 3 to 7 per cell higher: 6,315,072 instead of
  6,315,018 for cell ff92c322..., 9 cells x 6 placeholders);
- the BatchNorm momentum is set on every BatchNorm layer: ``Network`` passes its ``momentum`` to
  the stem and the input projections only (the interior ops get PyTorch's 0.1), and its default
  0.997 is TensorFlow's *decay* (``base_ops.py`` BN_MOMENTUM = 0.997), which is PyTorch momentum
  1 - 0.997 = 0.003.

Weights are then re-initialised from the run's generator by ``blackboxes.training.loop`` (its
convolution init, Kaiming-normal fan_out, is the one ``Network._initialize_weights`` uses).

Datasets (``DATASET_SETTINGS``): "cifar10-trained" is the paper's network and protocol on CIFAR-10
(needs ``python -m harness data fetch cifar10``); "digits" a scaled network on scikit-learn's
bundled 8x8 digits (offline). Fidelity = training epochs, each a separate run with its own cosine
schedule as in NB101 (Ying et al. 2019: budgets of 4, 12, 36 and 108 epochs); the reward is
the validation accuracy after the last epoch (the table's ``final_validation_accuracy``).

Differences from the official training that remain (nasbench/lib/model_builder.py, config.py):
SGD with momentum 0.9 instead of RMSProp(momentum 0.9, epsilon 1.0) at 0.1 x 2 TPU shards (the
shared loop trains with SGD; nasbench-pytorch's README notes PyTorch's RMSProp differs from
TensorFlow's anyway); weight decay 1e-4 on the weights only, not on BatchNorm and bias terms (the
official adds 1e-4 x l2_loss of every trainable variable); the 10,000 validation images are a
per-class random fifth of the 50,000 training images, not ``data_batch_5``.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from blackboxes.training.loop import TrainConfig
from blackboxes.training.oracle import DataSpec, TrainedOracle, default_cache_dir
from harness.contracts import EvaluatorOptions
from harness.errors import HarnessError
from spaces.nb101 import NB101Space, NB101Spec

NASBENCH_PYTORCH = "nasbench-pytorch"
FIDELITIES = (4, 12, 36, 108)
"""Ying et al. 2019, the table's epoch budgets (nasbench/lib/config.py train_epochs = 108)."""
DEFAULT_FIDELITY = 108


@dataclass(frozen=True)
class NetworkConfig:
    """The arguments of ``nasbench_pytorch.model.Network`` besides the cell, plus BatchNorm."""

    in_channels: int
    stem_out_channels: int
    num_stacks: int
    num_modules_per_stack: int
    num_labels: int = 10
    bn_momentum: float = 0.003
    """PyTorch convention (weight of the new batch): 1 - TF's BN_MOMENTUM 0.997 (base_ops.py)."""
    bn_eps: float = 1e-5
    """base_ops.py BN_EPSILON."""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def build_network(spec: NB101Spec, cfg: NetworkConfig) -> "torch.nn.Module":  # noqa: F821
    """nasbench-pytorch's ``Network`` for ``spec`` (pruned by its ModelSpec), adjusted as the
    module docstring says: no placeholder parameters, one BatchNorm momentum everywhere."""
    from torch import nn

    network, placeholder = _nasbench_pytorch()
    net = network((np.array(spec.matrix), list(spec.ops)), num_labels=cfg.num_labels, in_channels=cfg.in_channels,
                  stem_out_channels=cfg.stem_out_channels, num_stacks=cfg.num_stacks,
                  num_modules_per_stack=cfg.num_modules_per_stack, momentum=cfg.bn_momentum, eps=cfg.bn_eps)
    for m in net.modules():
        if isinstance(m, placeholder):
            del m.a  # unused by Placeholder.forward; not a parameter of the official model
        elif isinstance(m, nn.BatchNorm2d):
            m.momentum = cfg.bn_momentum
    return net


def _nasbench_pytorch():
    try:
        from nasbench_pytorch.model import Network
        from nasbench_pytorch.model.model import Placeholder
    except ImportError:
        raise HarnessError("trained NB101 needs nasbench-pytorch: pip install 'nasbench-pytorch==1.3.1' "
                           "(or the project's [torch] extra)") from None
    return Network, Placeholder


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(NASBENCH_PYTORCH)
    except PackageNotFoundError:
        _nasbench_pytorch()  # raises the one-line instruction when the package is absent
        return "unknown"


@dataclass(frozen=True)
class DatasetSetting:
    """One trained dataset of the nb101 benchmark: images, network, training, split."""

    images: str
    """The dataset ``blackboxes.training.data.load_dataset`` loads."""
    network: NetworkConfig
    train: TrainConfig
    train_fraction: float
    """Per-class fraction of the training pool that trains; the rest validates (search regime)."""


DATASET_SETTINGS: dict[str, DatasetSetting] = {
    # The paper's network and protocol (nasbench/lib/config.py): stem_filter_size 128, num_stacks 3,
    # num_modules_per_stack 3, batch_size 256, learning_rate 0.1, COSINE_BY_STEP, momentum 0.9,
    # weight_decay 1e-4; augmentation pad 4 + random crop + random flip (nasbench/lib/cifar.py);
    # 40,000 training and 10,000 validation images (cifar.py num_images; Ying et al. 2019: "40k
    # training examples, 10k validation examples, 10k testing examples").
    "cifar10-trained": DatasetSetting(
        "cifar10", NetworkConfig(in_channels=3, stem_out_channels=128, num_stacks=3, num_modules_per_stack=3),
        TrainConfig(epochs=DEFAULT_FIDELITY, batch_size=256, lr=0.1, momentum=0.9, weight_decay=1e-4,
                    crop_padding=4, flip=True, reward_epochs=1),
        0.8,
    ),
    # Scaled for 8x8 grey digits and seconds per evaluation on one CPU core at 108 epochs
    # (benchmarks/bench_nb101_trained.py): stem 16 = 128 / 8; one stack of one module (measured on
    # 6 cells: 4.6 CPU s per cell, 70-87 % validation; 3 stacks at stem 8, down to 2x2 maps, gave
    # 6.0 s for 77-89 %, so the single module is kept for time); batch 128 on 225 training
    # images (15 % per class, 2 SGD steps per epoch), the other 1,273 of the pool validate; crop
    # padding 1 as RandWire's digits oracle; no flip (a mirrored digit is another glyph); PyTorch's
    # BatchNorm momentum 0.1, since 216 steps are too few for 0.003 to forget its initial statistics.
    "digits": DatasetSetting(
        "digits", NetworkConfig(in_channels=1, stem_out_channels=16, num_stacks=1, num_modules_per_stack=1,
                                bn_momentum=0.1),
        TrainConfig(epochs=DEFAULT_FIDELITY, batch_size=128, lr=0.1, momentum=0.9, weight_decay=1e-4,
                    crop_padding=1, flip=False, reward_epochs=1),
        0.15,
    ),
}
DATASETS = tuple(DATASET_SETTINGS)


def _factory(cfg: NetworkConfig, arch: NB101Spec):
    return functools.partial(build_network, arch, cfg)


class TrainedNB101(TrainedOracle):
    """Search regime: train on the setting's per-class fraction of the pool, reward on the rest."""

    regime = "low"


class RetrainedNB101(TrainedOracle):
    """Final regime: train on the whole pool, val_acc and test_acc on the held-out test split
    (nasbench/lib/cifar.py mode 'augment': training + validation images)."""

    regime = "full"


def _make(cls, dataset: str, data_dir, space: NB101Space | None, options: EvaluatorOptions | None, *,
          repeats: int, cache_dir: Path | str | None, split_seed: int, **train_overrides: Any) -> TrainedOracle:
    from harness.data.store import resolve_data_dir

    if dataset not in DATASET_SETTINGS:
        raise HarnessError(f"no trained NB101 setting for {dataset!r}; valid: {', '.join(DATASETS)}")
    if repeats < 1:
        raise HarnessError(f"repeats must be >= 1, got {repeats}")
    options = options or EvaluatorOptions()
    data_dir = resolve_data_dir(data_dir)  # None -> $HARNESS_DATA or the user cache dir (images, cache)
    setting = DATASET_SETTINGS[dataset]
    data = DataSpec(setting.images, str(data_dir), cls.regime, setting.train_fraction, split_seed)
    model = {**setting.network.as_dict(), "network": f"{NASBENCH_PYTORCH} {_version()}"}
    oracle = cls(
        space if space is not None else NB101Space(), functools.partial(_factory, setting.network), data,
        dataclasses.replace(setting.train, **train_overrides), FIDELITIES, DEFAULT_FIDELITY,
        cache_dir=default_cache_dir(data_dir) if cache_dir == "default" else cache_dir,
        device=options.device, workers=options.train_workers, repeats=repeats, timeout_s=options.timeout_s,
        model_config=model,
    )
    oracle.dataset = dataset  # the harness's name ("cifar10-trained"), which report columns ask for
    return oracle


def make_trained_evaluator(dataset: str, data_dir, space: NB101Space | None = None,
                           options: EvaluatorOptions | None = None, *, repeats: int = 1,
                           cache_dir: Path | str | None = "default", split_seed: int = 0,
                           **train_overrides: Any) -> TrainedNB101:
    """The search-time evaluator of a trained dataset; ``repeats`` R trains R seeds per cell
    (bench seed -1 = their mean; the table has 3, nasbench/lib/config.py num_repeats)."""
    return _make(TrainedNB101, dataset, data_dir, space, options, repeats=repeats, cache_dir=cache_dir,
                 split_seed=split_seed, **train_overrides)


def make_retrain_evaluator(dataset: str, data_dir, space: NB101Space | None = None,
                           options: EvaluatorOptions | None = None, *, repeats: int = 1,
                           cache_dir: Path | str | None = "default", **train_overrides: Any) -> RetrainedNB101:
    """Re-training found cells on the whole training pool (the final phase), scored on the test split."""
    return _make(RetrainedNB101, dataset, data_dir, space, options, repeats=repeats, cache_dir=cache_dir,
                 split_seed=0, **train_overrides)
