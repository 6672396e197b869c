"""The ENAS weight-sharing SuperNet evaluator (GraphPNAS §3.1.2, §4.2, App. E; Pham et al. 2018).

A stateful Evaluator: each ``evaluate`` call is one search step. It first trains the shared weights
for ``fidelity`` supernet epochs (paper: the generator is updated every 5 epochs, ~100
architectures per step), each minibatch on one architecture drawn from the training pool, then
scores every architecture of the batch on the same validation images with the updated weights.

Training architectures (``train_archs``). ENAS and App. E train on G_train, fresh samples of the
current generator. An evaluator cannot sample the strategy's generator, so by default it trains
on the architectures the strategy asked for in the previous step ("last": the most recent sample
of the generator, disjoint in time from the batch being scored), drawing uniformly among them per
minibatch; "current" trains on the batch about to be scored (the bias the paper warns of in §5
"Bias in Evaluator"); "uniform" ignores the strategy and samples ``space.sample``. Before the
first step, "last" falls back to ``space.sample`` (the space's prior).

Validation: 10% of each class of the training pool (ENAS holds out 5,000 of CIFAR-10's 50,000
training images, melodyguan/enas src/cifar10/data_utils.py ``num_valids``). Each step scores
every architecture of the batch on the same ``eval_batches`` minibatches of it (None = all of it,
as App. E: "evaluate on the full test set" instead of ENAS's one minibatch per architecture).

Defaults (``SupernetConfig``), from melodyguan/enas scripts/cifar10_macro_search.sh and
src/cifar10/main.py unless noted: 36 channels, batch 128, SGD momentum 0.9 Nesterov (``get_train_ops``
"momentum"), l2 2.5e-4, gradient-norm clip 5.0, dropout 0.1 (keep_prob 0.9), lr 0.05 -> 0.0005;
the schedule is a single cosine over ``total_epochs`` = 300 steps x 5 epochs (App. E: cosine decay
instead of ENAS's SGDR restarts T_0 = 10, T_mul = 2); flip + crop with padding 4 (ENAS
data_utils). Not used: ENAS's drop-path (macro layers have no paths to drop) and aux head
(``general_child`` ignores it).

Result: val_acc = validation accuracy (%) with the shared weights; test_acc = accuracy on the
dataset's test split when ``report_test`` is set, else NaN; cost_s = measured seconds: this
architecture's scoring plus an equal share of the step's training. Determinism: every random draw
comes from one CPU ``torch.Generator`` and one numpy Generator, both in ``state_dict``; on CPU a
seed gives bit-identical results.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from harness.contracts import Evaluator, EvaluatorOptions, Result
from harness.errors import HarnessError
from spaces.enas import EnasSpace

TRAIN_ARCHS = ("last", "current", "uniform")


@dataclass(frozen=True)
class SupernetConfig:
    """Supernet hyper-parameters; the module docstring gives each default's source."""

    channels: int = 36
    batch_size: int = 128
    lr_max: float = 0.05
    lr_min: float = 0.0005
    total_epochs: int = 1500
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 2.5e-4
    grad_clip: float = 5.0
    dropout: float = 0.1
    crop_padding: int = 4
    flip: bool = True
    val_fraction: float = 0.1
    batches_per_epoch: int | None = None
    """Minibatches per supernet "epoch" (None = the whole training split; small for tests)."""
    eval_batches: int | None = None
    eval_batch_size: int = 500
    train_archs: str = "last"
    report_test: bool = False
    fidelities: tuple[int, ...] = (1, 5)
    default_fidelity: int = 5
    seed: int = 0
    """Seeds weight init, shuffling, augmentation, dropout and training-arch draws (see ``reseed``)."""
    split_seed: int = 0
    """Seeds the train/validation split, the same for every run so runs score on the same images."""
    device: str = "auto"
    amp: bool = True

    def __post_init__(self) -> None:
        if self.train_archs not in TRAIN_ARCHS:
            raise HarnessError(f"unknown train_archs {self.train_archs!r}; valid: {', '.join(TRAIN_ARCHS)}")
        if self.default_fidelity not in self.fidelities or min(self.fidelities) < 0:
            raise HarnessError(f"default fidelity {self.default_fidelity} must be one of {self.fidelities} (epochs >= 0)")


PRESETS: dict[str, SupernetConfig] = {
    "cifar10": SupernetConfig(),
    "digits": SupernetConfig(channels=16, batch_size=64, lr_max=0.1, total_epochs=300, crop_padding=1, eval_batch_size=512),
}
"""Per-dataset defaults: the paper's setting for CIFAR-10, a small CPU preset for 8x8 digits."""


class EnasSupernetEvaluator(Evaluator):
    """One ENAS supernet shared by every architecture of a run; ``evaluate`` = one search step."""

    journal_fsync = True
    stateful = True

    def __init__(self, space: EnasSpace, dataset: str, data_dir: str | Path | None = None,
                 config: SupernetConfig | None = None):
        import torch

        from blackboxes.training.data import load_dataset, per_class_split
        from harness.devices import resolve_device

        self.space = space
        self.dataset = dataset
        self.config = config if config is not None else PRESETS.get(dataset, SupernetConfig())
        self.fidelities = tuple(self.config.fidelities)
        self.default_fidelity = self.config.default_fidelity
        self.device = resolve_device(self.config.device)
        ds = load_dataset(dataset, data_dir)
        val_idx, train_idx = per_class_split(
            ds.train.labels.numpy(), self.config.val_fraction, np.random.default_rng(self.config.split_seed)
        )
        self._train, self._val = ds.train.subset(train_idx), ds.train.subset(val_idx)
        self._test = ds.test
        self._mean, self._std = ds.mean, ds.std
        if self.config.report_test and self._test is None:
            raise HarnessError(f"{dataset} has no test split; set report_test=False")
        if self.device.startswith("cuda"):
            from blackboxes.training.data import ImageSet

            move = lambda s: None if s is None else ImageSet(s.images.to(self.device), s.labels.to(self.device))  # noqa: E731
            self._train, self._val, self._test = move(self._train), move(self._val), move(self._test)
        self._n_classes, self._in_channels = ds.n_classes, ds.image_shape[0]
        self._build(torch)

    def _build(self, torch) -> None:
        from blackboxes.enas.model import EnasSuperNet

        cfg = self.config
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.model = EnasSuperNet.build(
            self.gen, n_layers=self.space.n_layers, channels=cfg.channels, num_classes=self._n_classes,
            in_channels=self._in_channels, dropout=cfg.dropout,
        ).to(self.device)
        decay = [p for p in self.model.parameters() if p.ndim > 1]
        no_decay = [p for p in self.model.parameters() if p.ndim <= 1]
        self.opt = torch.optim.SGD(
            [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=cfg.lr_max, momentum=cfg.momentum, nesterov=cfg.nesterov,
        )
        self.step = 0
        self.epochs_done = 0.0
        self.pool: list = []
        self.last_results: dict[str, Result] = {}

    def reseed(self, seed: int) -> None:
        """Start over from ``seed`` (e.g. the run's seed); only before the first search step."""
        import torch

        if self.step:
            raise HarnessError("reseed the ENAS supernet before its first search step")
        self.config = replace(self.config, seed=int(seed))
        self._build(torch)

    # ------------------------------------------------------------------ the search step
    def evaluate(self, archs: Sequence, fidelity: int, bench_seeds: Sequence[int]) -> list[Result]:
        if fidelity not in self.fidelities:
            raise HarnessError(f"fidelity {fidelity} (supernet epochs per step) not available; available: {self.fidelities}")
        bad = [a for a in archs if not self.space.is_valid(a)]
        if bad:
            raise ValueError(f"not {self.space.name} architectures: {bad[0]!r}")
        t0 = time.perf_counter()
        self._train_epochs(fidelity, list(archs))
        train_s = time.perf_counter() - t0
        val_set = self._val_subset()
        results = []
        for a in archs:
            t1 = time.perf_counter()
            val = self._accuracy(a, val_set)
            test = self._accuracy(a, self._test) if self.config.report_test else math.nan
            cost = time.perf_counter() - t1 + train_s / max(len(archs), 1)
            results.append(Result(val, test, cost, extra=(("supernet_step", float(self.step)),)))
        self.pool = list(archs)
        self.last_results = {self.space.canonical_id(a): r for a, r in zip(archs, results)}
        self.step += 1
        return results

    def _train_pool(self, current: list) -> list:
        mode = self.config.train_archs
        if mode == "current":
            return current
        if mode == "last" and self.pool:
            return self.pool
        return []

    def _lr(self) -> float:
        cfg = self.config
        t = min(self.epochs_done / max(cfg.total_epochs, 1), 1.0)
        return cfg.lr_min + 0.5 * (cfg.lr_max - cfg.lr_min) * (1.0 + math.cos(math.pi * t))

    def _train_epochs(self, epochs: int, current: list) -> None:
        import torch
        import torch.nn.functional as F

        from blackboxes.training.data import augment, batches, normalise

        cfg = self.config
        pool = self._train_pool(current)
        n_batches = math.ceil(len(self._train) / cfg.batch_size)
        if cfg.batches_per_epoch is not None:
            n_batches = min(n_batches, cfg.batches_per_epoch)
        self.model.train()
        for _ in range(epochs):
            for b, (xb, yb) in enumerate(batches(self._train, cfg.batch_size, self.gen)):
                if b == n_batches:
                    break
                arch = pool[int(self.rng.integers(len(pool)))] if pool else self.space.sample(self.rng)
                x = normalise(xb, self._mean, self._std)
                if cfg.crop_padding or cfg.flip:
                    x = augment(x, self.gen, cfg.crop_padding, cfg.flip)
                for group in self.opt.param_groups:
                    group["lr"] = self._lr()
                with self._autocast():
                    loss = F.cross_entropy(self.model(x, arch, self.gen), yb)
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
                self.opt.step()
                self.epochs_done += 1.0 / n_batches

    def _val_subset(self):
        cfg = self.config
        if cfg.eval_batches is None or cfg.eval_batches * cfg.eval_batch_size >= len(self._val):
            return self._val
        idx = np.sort(self.rng.choice(len(self._val), cfg.eval_batches * cfg.eval_batch_size, replace=False))
        return self._val.subset(idx)

    def _accuracy(self, arch, data) -> float:
        import torch

        from blackboxes.training.data import batches, normalise

        self.model.eval()
        correct = 0
        with torch.no_grad(), self._autocast():
            for xb, yb in batches(data, self.config.eval_batch_size):
                logits = self.model(normalise(xb, self._mean, self._std), arch)
                correct += int((logits.argmax(1) == yb).sum())
        return 100.0 * correct / max(len(data), 1)

    def _autocast(self):
        import torch

        if self.config.amp and self.device.startswith("cuda"):
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # ------------------------------------------------------------------ state and reports
    def state_dict(self) -> dict:
        """Weights, optimizer, both RNGs, the step counters and the training pool (CPU tensors)."""
        return {
            "config": asdict(self.config),
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": _to_cpu(self.opt.state_dict()),
            "torch_rng": self.gen.get_state(),
            "numpy_rng": self.rng.bit_generator.state,
            "step": self.step,
            "epochs_done": self.epochs_done,
            "pool": [self.space.to_str(a) for a in self.pool],
            "last_results": {k: asdict(r) for k, r in self.last_results.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        saved = dict(state["config"])
        saved["fidelities"] = tuple(saved["fidelities"])
        if replace(self.config, device=saved["device"]) != SupernetConfig(**saved):
            raise HarnessError("the evaluator checkpoint was written with other supernet settings; rerun with --force")
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.gen.set_state(state["torch_rng"])
        self.rng.bit_generator.state = state["numpy_rng"]
        self.step = int(state["step"])
        self.epochs_done = float(state["epochs_done"])
        self.pool = [self.space.from_str(s) for s in state["pool"]]
        self.last_results = {
            k: Result(**{**r, "extra": tuple(tuple(e) for e in r["extra"])}) for k, r in state["last_results"].items()
        }

    def report_values(self, archs, dataset: str, fidelity: int, metric: str) -> list[float] | None:
        """The values of this step's answers (re-evaluating would train the supernet again)."""
        if self.report_missing(dataset, fidelity, metric) is not None:
            return None
        out = []
        for a in archs:
            r = self.last_results.get(self.space.canonical_id(a))
            out.append(math.nan if r is None else (r.val_acc if metric == "val" else r.test_acc))
        return out

    def report_missing(self, dataset: str, fidelity: int, metric: str) -> str | None:
        if dataset != self.dataset or fidelity not in self.fidelities:
            return f"{dataset} {metric} at {fidelity} supernet epochs is not available from the ENAS supernet"
        if metric == "test" and not self.config.report_test:
            return "the ENAS supernet scores the validation split only; set report_test=True for test accuracy"
        return None

    def describe(self) -> dict:
        return {"evaluator": "enas-supernet", "dataset": self.dataset, "n_layers": self.space.n_layers,
                **asdict(self.config)}


def _to_cpu(obj):
    """A copy of nested dicts/lists with every tensor on the CPU (checkpoints load anywhere)."""
    if hasattr(obj, "detach"):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def make_evaluator(dataset: str, data_dir, space: EnasSpace,
                   options: EvaluatorOptions | None = None) -> EnasSupernetEvaluator:
    """Registry factory: the dataset's preset (``PRESETS``) on ``options.device``; CIFAR-10 is read
    from ``data_dir`` (default $HARNESS_DATA or the user cache dir, where `python -m harness data
    fetch cifar10` unpacks). One supernet trains in this process: ``train_workers`` and the
    per-evaluation timeout do not apply to it."""
    from harness.data.store import resolve_data_dir

    options = options or EvaluatorOptions()
    config = replace(PRESETS.get(dataset, SupernetConfig()), device=options.device)
    return EnasSupernetEvaluator(space, dataset, resolve_data_dir(data_dir), config)
