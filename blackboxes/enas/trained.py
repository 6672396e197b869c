"""ENAS macro children trained from scratch: the final evaluator of the ENAS space (GraphPNAS §4.2,
App. E: the sampled architectures are short-trained for 100 epochs, the top 4 for 600 epochs with
lr 0.1, batch 256, weight decay 2e-4 and cutout). Whole training pool, scored on the held-out test
split (``blackboxes.training``'s "full" regime); cached like every trained evaluation.

Per dataset (``SETTINGS``): CIFAR-10 with App. E's optimiser (cutout is not implemented by the
shared training loop: a stated deviation); digits with a 16-channel child and the digits
training preset (batch 64, crop padding 1) so an epoch takes about a second on one CPU core.
"""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

from blackboxes.enas.model import EnasChild
from blackboxes.training.loop import TrainConfig
from blackboxes.training.oracle import DataSpec, TrainedOracle, default_cache_dir
from harness.contracts import EvaluatorOptions
from harness.errors import HarnessError
from spaces.enas import EnasSpace

SETTINGS: dict[str, tuple[dict, TrainConfig, tuple[int, ...], int]] = {
    "cifar10": ({"channels": 36, "num_classes": 10, "in_channels": 3},
                TrainConfig(batch_size=256, lr=0.1, weight_decay=2e-4), (100, 600), 600),
    "digits": ({"channels": 16, "num_classes": 10, "in_channels": 1},
               TrainConfig(batch_size=64, crop_padding=1), (2, 6, 12), 6),
}
"""dataset -> (child keyword arguments, training, fidelities, default fidelity)."""


class EnasRetrained(TrainedOracle):
    """Train a fixed ENAS child on the whole pool; val_acc and test_acc on the held-out split."""

    regime = "full"


def _factory(child: dict, arch):
    return functools.partial(EnasChild.build, arch, **child)


def make_final_evaluator(dataset: str, data_dir, space: EnasSpace, options: EvaluatorOptions | None = None, *,
                         cache_dir: Path | str | None = "default") -> EnasRetrained:
    """Registry-style factory ``(dataset, data_dir, space, options)`` of the final phase."""
    from harness.data.store import resolve_data_dir

    if dataset not in SETTINGS:
        raise HarnessError(f"no trained ENAS setting for {dataset!r}; valid: {', '.join(SETTINGS)}")
    options = options or EvaluatorOptions()
    data_dir = resolve_data_dir(data_dir)
    child, train, fidelities, default = SETTINGS[dataset]
    return EnasRetrained(
        space, functools.partial(_factory, child), DataSpec(dataset, None if data_dir is None else str(data_dir), "full"),
        dataclasses.replace(train), fidelities, default,
        cache_dir=default_cache_dir(data_dir) if cache_dir == "default" else cache_dir,
        device=options.device, workers=options.train_workers, timeout_s=options.timeout_s,
        model_config={"child": child, "layers": space.n_layers},
    )
