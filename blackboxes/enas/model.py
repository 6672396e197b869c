"""PyTorch models of the ENAS macro space: a fixed child network and the weight-sharing supernet.

Both follow melodyguan/enas ``src/cifar10/general_child.py`` (``GeneralChild``, whole-channel
macro search):
- stem: 3x3 conv (no bias) + BN;
- layer i: its op reads layer i-1; conv ops are ``_conv_branch``: 1x1 conv + BN + ReLU, then a
  kxk conv (or depthwise kxk + pointwise 1x1 for sep-conv) + BN + ReLU; pool ops are
  ``_pool_branch``: 1x1 conv + BN + ReLU, then 3x3 stride-1 pooling (avg excludes padding, as TF
  "SAME" pooling does);
- skips (layer i > 0): the supernet sums the chosen earlier outputs with the op output and applies
  BN (``_enas_layer``); a fixed child concatenates them, then ReLU + 1x1 conv + BN
  (``_fixed_layer``);
- reductions after layers ``N//3 - 1`` and ``2N//3 - 1`` (``pool_layers``): every earlier output
  goes through its own factorized reduction (two stride-2 1x1 convs on offset grids, concat, BN);
  a fixed child doubles the channels there, the supernet keeps them (``out_filters *= 2`` only when
  ``fixed_arc`` is set);
- global average pool, dropout, linear classifier without bias.

Differences from the TF code, on purpose: the fixed child implements the paper's six ops (the
official ``_fixed_layer`` maps ops 1/3 to plain convs and leaves pools unimplemented); BN in the
supernet uses batch statistics in training and evaluation alike (``track_running_stats=False``,
as the PyTorch port rhubarbwu/ENAS-Experiments does) because running statistics mixed over many
paths are a poor fit for any single path. Weights are He-normal (ENAS ``create_weight``) drawn from
a ``torch.Generator``; dropout draws from a generator passed to ``forward``: no global RNG.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from spaces.enas import OPS

EnasArch = Sequence[Sequence[int]]


def pool_layers(n_layers: int) -> tuple[int, ...]:
    """Layers after which the resolution halves (ENAS ``pool_distance = num_layers // 3``)."""
    d = n_layers // 3
    return tuple(p for p in (d - 1, 2 * d - 1) if p >= 0)


class FactorizedReduction(nn.Module):
    """Halve H and W without discarding pixels: two 1x1 convs on the even and the odd grid."""

    def __init__(self, c_in: int, c_out: int, track_stats: bool = True):
        super().__init__()
        if c_out % 2:
            raise ValueError(f"factorized reduction needs an even channel count, got {c_out}")
        self.path1 = nn.Conv2d(c_in, c_out // 2, 1, bias=False)
        self.path2 = nn.Conv2d(c_in, c_out // 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_out, track_running_stats=track_stats)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.path1(x[:, :, ::2, ::2]), self.path2(shifted[:, :, ::2, ::2])], 1))


def make_branch(op: int, c: int, track_stats: bool = True) -> nn.Sequential:
    """One of the six ops as ENAS builds it (``_conv_branch`` / ``_pool_branch``), C -> C channels."""
    name = OPS[op]
    pre = [nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c, track_running_stats=track_stats), nn.ReLU()]
    if name.endswith("pool3x3"):
        pool = nn.AvgPool2d(3, 1, 1, count_include_pad=False) if name.startswith("avg") else nn.MaxPool2d(3, 1, 1)
        return nn.Sequential(*pre, pool)
    k = 5 if "5x5" in name else 3
    if name.startswith("sep"):
        conv = [nn.Conv2d(c, c, k, padding=k // 2, groups=c, bias=False), nn.Conv2d(c, c, 1, bias=False)]
    else:
        conv = [nn.Conv2d(c, c, k, padding=k // 2, bias=False)]
    return nn.Sequential(*pre, *conv, nn.BatchNorm2d(c, track_running_stats=track_stats), nn.ReLU())


def init_weights(module: nn.Module, generator: torch.Generator) -> None:
    """He-normal convs and linear (ENAS ``create_weight``), BN scale 1 / offset 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu", generator=generator)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def dropout(x: torch.Tensor, p: float, training: bool, generator: torch.Generator | None) -> torch.Tensor:
    """Inverted dropout drawing its mask from ``generator`` (torch's nn.Dropout uses the global RNG)."""
    if not training or p <= 0.0:
        return x
    if generator is None:
        raise ValueError("dropout in training needs a torch.Generator (pass generator=... to forward)")
    keep = torch.rand(x.shape, generator=generator, device=generator.device) >= p
    return x * keep.to(device=x.device, dtype=x.dtype) / (1.0 - p)


class _Net(nn.Module):
    """Stem, head and parameter initialisation shared by the child and the supernet."""

    def __init__(self, channels: int, num_classes: int, in_channels: int, dropout: float, track_stats: bool):
        super().__init__()
        self.channels = channels
        self.dropout = dropout
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels, track_running_stats=track_stats),
        )

    def _head(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        x = dropout(x.mean(dim=(2, 3)), self.dropout, self.training, generator)
        return self.classifier(x)


def _built(cls, generator: torch.Generator | None, *args, **kwargs):
    """Construct without touching the global RNG, then draw every weight from ``generator``."""
    with torch.random.fork_rng(devices=[]):
        model = cls(*args, **kwargs)
    init_weights(model, generator if generator is not None else torch.Generator().manual_seed(0))
    return model


class EnasChild(_Net):
    """A fixed ENAS macro network (``GeneralChild`` with ``fixed_arc``): channels double at pools."""

    def __init__(self, arch: EnasArch, channels: int = 36, num_classes: int = 10, in_channels: int = 3,
                 dropout: float = 0.0):
        super().__init__(channels, num_classes, in_channels, dropout, track_stats=True)
        self.arch = tuple(tuple(int(x) for x in layer) for layer in arch)
        self.pools = pool_layers(len(self.arch))
        c = channels
        self.branches = nn.ModuleList()
        self.skip_convs = nn.ModuleList()
        self.reductions = nn.ModuleList()
        for i, layer in enumerate(self.arch):
            self.branches.append(make_branch(layer[0], c))
            n_in = 1 + sum(layer[1:])
            self.skip_convs.append(
                nn.Sequential(nn.ReLU(), nn.Conv2d(n_in * c, c, 1, bias=False), nn.BatchNorm2d(c)) if i > 0 else nn.Identity()
            )
            if i in self.pools:
                self.reductions.append(nn.ModuleList(FactorizedReduction(c, 2 * c) for _ in range(i + 2)))
                c *= 2
        self.out_channels = c
        self.classifier = nn.Linear(c, num_classes, bias=False)

    @classmethod
    def build(cls, arch: EnasArch, generator: torch.Generator | None = None, **kwargs) -> "EnasChild":
        return _built(cls, generator, arch, **kwargs)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        outs = [self.stem(x)]
        r = 0
        for i, layer in enumerate(self.arch):
            y = self.branches[i](outs[-1])
            if i > 0:
                y = self.skip_convs[i](torch.cat([outs[k] for k, b in enumerate(layer[1:]) if b] + [y], 1))
            outs.append(y)
            if i in self.pools:
                outs = [red(o) for red, o in zip(self.reductions[r], outs)]
                r += 1
        return self._head(outs[-1], generator)


class EnasSuperNet(_Net):
    """ENAS's shared model: all six ops in every layer, one path (an architecture) per forward."""

    def __init__(self, n_layers: int = 12, channels: int = 36, num_classes: int = 10, in_channels: int = 3,
                 dropout: float = 0.1):
        super().__init__(channels, num_classes, in_channels, dropout, track_stats=False)
        self.n_layers = n_layers
        self.pools = pool_layers(n_layers)
        self.layers = nn.ModuleList(
            nn.ModuleList(make_branch(op, channels, track_stats=False) for op in range(len(OPS)))
            for _ in range(n_layers)
        )
        self.skip_bns = nn.ModuleList(
            nn.BatchNorm2d(channels, track_running_stats=False) if i > 0 else nn.Identity() for i in range(n_layers)
        )
        self.reductions = nn.ModuleList(
            nn.ModuleList(FactorizedReduction(channels, channels, track_stats=False) for _ in range(p + 2))
            for p in self.pools
        )
        self.classifier = nn.Linear(channels, num_classes, bias=False)

    @classmethod
    def build(cls, generator: torch.Generator | None = None, **kwargs) -> "EnasSuperNet":
        return _built(cls, generator, **kwargs)

    def path_parameters(self, arch: EnasArch) -> list[nn.Parameter]:
        """The parameters one architecture uses (its ops, skip BNs, reductions, stem, head)."""
        params = list(self.stem.parameters()) + list(self.classifier.parameters())
        for i, layer in enumerate(arch):
            params += list(self.layers[i][layer[0]].parameters()) + list(self.skip_bns[i].parameters())
        for reds in self.reductions:
            params += [p for red in reds for p in red.parameters()]
        return params

    def forward(self, x: torch.Tensor, arch: EnasArch, generator: torch.Generator | None = None) -> torch.Tensor:
        if len(arch) != self.n_layers:
            raise ValueError(f"architecture has {len(arch)} layers, the supernet {self.n_layers}")
        outs = [self.stem(x)]
        r = 0
        for i, layer in enumerate(arch):
            y = self.layers[i][layer[0]](outs[-1])
            if i > 0:
                for k, b in enumerate(layer[1:]):
                    if b:
                        y = y + outs[k]
                y = self.skip_bns[i](y)
            outs.append(y)
            if i in self.pools:
                outs = [red(o) for red, o in zip(self.reductions[r], outs)]
                r += 1
        return self._head(outs[-1], generator)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
