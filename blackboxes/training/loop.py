"""Train a network from scratch and score it: the oracle evaluator's inner loop.

Defaults are the GraphPNAS paper's oracle evaluator (App. D, Table 8): batch size 256, SGD,
learning rate 0.1, cosine decay, weight decay 1e-4, gradient clipping 0 (none), 300 epochs;
augmentation flip + random crop with padding 4 (App. D.2); reward = "the average validation
accuracy of the last 3 epochs" (§4.1). Momentum 0.9 is not stated in Table 8; it is the usual
SGD setting of RandWire (Xie et al. 2019, §4: "momentum 0.9") and is configurable. Table 8
states no label smoothing (0.0 here; Xie et al. use 0.1 for ImageNet, set it if wanted).

Determinism: every random draw (weight init, shuffling, augmentation) comes from one
``torch.Generator`` seeded by the caller; the global torch RNG is never used (models are built
under ``fork_rng`` so even their default init does not move it). On CPU with a fixed thread
count the result is bit-identical for a seed. On CUDA, mixed precision (``torch.autocast``,
bfloat16 by default) is on and cuDNN may pick non-deterministic kernels.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

from blackboxes.training.data import Splits, augment, batches, normalise


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run; ``digest()`` keys the evaluation cache."""

    epochs: int = 300
    batch_size: int = 256
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-4
    label_smoothing: float = 0.0
    grad_clip: float = 0.0
    crop_padding: int = 4
    flip: bool = True
    input_size: int | None = None
    """Resize inputs to this square size (Table 7: 224 for Tiny-ImageNet); None keeps them."""
    reward_epochs: int = 3
    eval_every_epoch_from: int | None = None
    """Validate only from this epoch on (None: the last ``reward_epochs`` epochs)."""
    amp: bool = True
    amp_dtype: str = "bfloat16"
    eval_batch_size: int = 1024

    def digest(self) -> str:
        """Hash of every field that changes a trained result (not ``eval_batch_size``)."""
        d = asdict(self)
        d.pop("eval_batch_size")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


class EvaluationTimeout(Exception):
    """Training ran past its per-evaluation time limit (recorded as a failed query)."""


@dataclass(frozen=True)
class TrainResult:
    """Reward and records of one training run (accuracies in percent)."""

    val_acc: float
    test_acc: float
    val_curve: tuple[float, ...]
    train_s: float
    params: int
    flops: int
    """Multiply-adds of one forward pass on one image (FLOPs / 2 of torch's flop counter)."""
    device: str = "cpu"
    extra: dict = field(default_factory=dict)


def build_model(factory: Callable[[], "torch.nn.Module"], generator: "torch.Generator") -> "torch.nn.Module":  # noqa: F821
    """``factory()`` built without touching the global RNG, then re-initialised from ``generator``."""
    import torch

    with torch.random.fork_rng(devices=[]):
        model = factory()
    init_weights(model, generator)
    return model


def init_weights(model: "torch.nn.Module", generator: "torch.Generator") -> None:  # noqa: F821
    """Kaiming-normal (fan_out, ReLU) convolutions, Kaiming-uniform linear layers, unit BN.

    The torchvision ResNet initialisation (torchvision/models/resnet.py), drawn from ``generator``
    in module order. Parameters of other modules keep their constructor values, which must
    therefore be deterministic (e.g. RandWire's edge weights start at 0).
    """
    import torch
    from torch import nn

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu", generator=generator)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.Linear):
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
                if m.bias is not None:
                    bound = 1.0 / math.sqrt(m.weight.shape[1])
                    nn.init.uniform_(m.bias, -bound, bound, generator=generator)
            elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
                if m.weight is not None:
                    m.weight.fill_(1.0)
                    m.bias.zero_()
                m.reset_running_stats()


def count_params(model: "torch.nn.Module") -> int:  # noqa: F821
    return int(sum(p.numel() for p in model.parameters()))


def count_flops(model: "torch.nn.Module", input_shape: tuple[int, int, int]) -> int:  # noqa: F821
    """Multiply-adds of one forward pass on one image of ``input_shape`` (c, h, w), on the CPU.

    ``torch.utils.flop_counter`` counts 2 FLOPs per multiply-add for convolutions (groups
    included) and matmuls; element-wise ops are not counted (the usual "FLOPs = mult-adds"
    convention of RandWire, Xie et al. 2019, Table 2).
    """
    import copy

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    probe = copy.deepcopy(model).to("cpu").eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        probe(torch.zeros((1, *input_shape)))
    return int(counter.get_total_flops() // 2)


def accuracy(model, data, splits: Splits, cfg: TrainConfig, device: str) -> float:
    """Top-1 accuracy (%) of ``model`` on ``data`` (eval mode, no augmentation)."""
    import torch

    model.eval()
    correct = 0
    with torch.no_grad(), _autocast(cfg, device):
        for xb, yb in batches(data, cfg.eval_batch_size):
            x = normalise(xb.to(device, non_blocking=True), splits.mean, splits.std, cfg.input_size)
            correct += int((model(x).argmax(1) == yb.to(device)).sum())
    return 100.0 * correct / max(len(data), 1)


def _autocast(cfg: TrainConfig, device: str):
    import contextlib

    import torch

    if cfg.amp and device.startswith("cuda"):
        return torch.autocast("cuda", dtype=getattr(torch, cfg.amp_dtype))
    return contextlib.nullcontext()


def train_and_evaluate(
    factory: Callable[[], "torch.nn.Module"],  # noqa: F821
    splits: Splits,
    cfg: TrainConfig,
    seed: int,
    device: str = "cpu",
    timeout_s: float | None = None,
) -> TrainResult:
    """Train ``factory()`` on ``splits.train`` for ``cfg.epochs``; reward on ``splits.val``.

    Reward = mean validation accuracy of the last ``cfg.reward_epochs`` epochs (GraphPNAS §4.1);
    test accuracy = the final model on ``splits.test`` (NaN when there is none). ``train_s`` is
    wall-clock seconds of training and validation, measured here.
    """
    import torch
    from torch import nn

    if cfg.epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {cfg.epochs}")
    gen = torch.Generator().manual_seed(int(seed))
    model = build_model(factory, gen)
    shape = tuple(splits.train.images.shape[1:])
    if cfg.input_size is not None:
        shape = (shape[0], cfg.input_size, cfg.input_size)
    params, flops = count_params(model), count_flops(model, shape)
    model = model.to(device)
    train = splits.train
    val, test = splits.val, splits.test
    if device.startswith("cuda"):  # keep the uint8 data on the GPU: no loader needed to feed it
        from blackboxes.training.data import ImageSet

        train = ImageSet(train.images.to(device), train.labels.to(device))
        val = ImageSet(val.images.to(device), val.labels.to(device))
        test = None if test is None else ImageSet(test.images.to(device), test.labels.to(device))

    decay, no_decay = [], []
    for p in model.parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    opt = torch.optim.SGD(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
    )
    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 * (1.0 + math.cos(math.pi * t / total)))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    first_eval = cfg.eval_every_epoch_from if cfg.eval_every_epoch_from is not None else cfg.epochs - cfg.reward_epochs + 1
    curve: list[float] = []

    start = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        for xb, yb in batches(train, cfg.batch_size, gen):
            x = normalise(xb.to(device, non_blocking=True), splits.mean, splits.std, cfg.input_size)
            x = augment(x, gen, cfg.crop_padding, cfg.flip)
            y = yb.to(device, non_blocking=True)
            with _autocast(cfg, device):
                loss = loss_fn(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            sched.step()
            if timeout_s and time.perf_counter() - start > timeout_s:
                raise EvaluationTimeout(f"training timed out after {timeout_s:g} s (epoch {epoch} of {cfg.epochs})")
        if epoch >= first_eval:
            curve.append(accuracy(model, val, splits, cfg, device))
    test_acc = accuracy(model, test, splits, cfg, device) if test is not None else math.nan
    train_s = time.perf_counter() - start
    reward = curve[-cfg.reward_epochs:] if curve else [math.nan]
    return TrainResult(float(sum(reward) / len(reward)), float(test_acc), tuple(curve), train_s, params, flops, device)
