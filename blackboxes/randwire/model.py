"""Build a RandWire network (torch) from a cell graph G: GraphPNAS App. D.1 Table 7, Xie et al. 2019.

Network (Table 7): conv1 (Conv3×3-BN, stride 2), conv2 (ReLU-SepConv3×3-BN, stride 2), then one
stage per entry of ``stages``, each the SAME cell graph G (GraphPNAS §4.1: "we share the cell
graph G among last three stages"), then the classifier ReLU-Conv1×1(1280)-BN-ReLU, global average
pool, fc. conv1 is a plain convolution (a ReLU or a depthwise conv on the raw 3-channel image is
degenerate; Table 7 writes "conv3×3"); every other conv is the ReLU-SepConv-BN triplet.

Inside a stage (RandWire, Xie et al. 2019, §3.2-3.3): a node sums its inputs with learned
positive weights ``sigmoid(w)`` (w starts at 0), then applies ReLU-SepConv3×3-BN; nodes with no
predecessor in G take the stage input and do the stage's stride-2 downsampling and channel
change ("the change of the output size implies a stride of 2 ... in the convolutions", Table 7);
the stage output is the unweighted average of the nodes with no successor.

Parameter count: node ops are the same whatever G is, except that input nodes read the previous
stage's (narrower) channels, so sparse graphs with many input nodes are slightly smaller. Base
setting at 200 classes: the fully connected G has 3.459 M parameters (Table 2 "FC": 3.49 M) and
WS/ER graphs 3.2-3.4 M (Table 2: ER-Top1 3.23 M, RS-Top1 3.22 M, Ours 3.27 M, RNN 3.32 M).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Sequence

from spaces.randwire import RandWireArch


@dataclass(frozen=True)
class RandWireConfig:
    """Macro-structure around G. ``stages`` = (channels, stride) per stage sharing G."""

    in_channels: int = 3
    input_size: int = 224
    n_classes: int = 200
    conv1: tuple[int, int] = (32, 2)
    conv2: tuple[int, int] = (64, 2)
    stages: tuple[tuple[int, int], ...] = ((64, 2), (128, 2), (256, 2))
    head_channels: int = 1280

    def as_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, RandWireConfig] = {
    # Table 7 "base": 224×224 -> 112 (conv1) -> 56 (conv2) -> 28, 14, 7 (G stages), 200 classes.
    "base": RandWireConfig(),
    # Table 7 "large" (the "Large" rows of Table 2, ~19.2-19.8 M parameters): conv1 48, conv2 96,
    # one more G stage; the extracted table reads G 192 (28×28), 288 (14×14), 384, 586 (7×7). We
    # put the extra 384-channel stage at 14×14 (stride 1); 586 is as printed (576 = 1.5·384 may
    # be meant). Fully connected G: 20.3 M parameters, see tests/test_randwire.py.
    "large": RandWireConfig(conv1=(48, 2), conv2=(96, 2), stages=((192, 2), (288, 2), (384, 1), (586, 2))),
    # CIFAR-sized: 32×32 input, no stem downsampling, G stages at 32, 16, 8; 10 classes.
    "cifar": RandWireConfig(input_size=32, n_classes=10, conv1=(32, 1), conv2=(64, 1),
                            stages=((64, 1), (128, 2), (256, 2))),
    # The embedded default: 8×8 grey digits, G stages at 8, 4, 2, narrow channels.
    "digits": RandWireConfig(in_channels=1, input_size=8, n_classes=10, conv1=(8, 1), conv2=(16, 1),
                             stages=((16, 1), (32, 2), (64, 2)), head_channels=128),
}


def preset(name: str, **overrides) -> RandWireConfig:
    """A named preset with some fields replaced (e.g. ``n_classes`` for the dataset)."""
    try:
        return replace(PRESETS[name], **overrides)
    except KeyError:
        raise ValueError(f"unknown RandWire preset {name!r}; valid: {', '.join(PRESETS)}") from None


def _triplet(nn, c_in: int, c_out: int, stride: int):
    """ReLU-SepConv3×3-BN: depthwise 3×3 then pointwise 1×1 (Xie et al. 2019, §3.3)."""
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(c_in, c_in, 3, stride=stride, padding=1, groups=c_in, bias=False),
        nn.Conv2d(c_in, c_out, 1, bias=False),
        nn.BatchNorm2d(c_out),
    )


def build(arch: RandWireArch, config: RandWireConfig):
    """The ``torch.nn.Module`` of ``arch`` under ``config`` (construct under fork_rng to keep the
    global RNG untouched; blackboxes.training.loop.build_model does)."""
    import torch
    from torch import nn

    class Node(nn.Module):
        def __init__(self, n_in: int, c_in: int, c_out: int, stride: int):
            super().__init__()
            self.weight = nn.Parameter(torch.zeros(n_in)) if n_in > 1 else None
            self.op = _triplet(nn, c_in, c_out, stride)

        def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
            if self.weight is None:
                return self.op(inputs[0])
            w = torch.sigmoid(self.weight)
            x = inputs[0] * w[0]
            for k in range(1, len(inputs)):
                x = x + inputs[k] * w[k]
            return self.op(x)

    class Stage(nn.Module):
        def __init__(self, preds: list[list[int]], sinks: list[int], c_in: int, c_out: int, stride: int):
            super().__init__()
            self.preds, self.sinks = preds, sinks
            self.nodes = nn.ModuleList(
                Node(len(p), c_out, c_out, 1) if p else Node(1, c_in, c_out, stride) for p in preds
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            outs: list[torch.Tensor] = []
            for node, p in zip(self.nodes, self.preds):
                outs.append(node([outs[j] for j in p] if p else [x]))
            y = outs[self.sinks[0]]
            for s in self.sinks[1:]:
                y = y + outs[s]
            return y / len(self.sinks)

    class RandWireNet(nn.Module):
        def __init__(self):
            super().__init__()
            n = arch.n_nodes
            preds = [[] for _ in range(n)]
            has_succ = [False] * n
            for j, i in arch.edges():
                preds[i].append(j)
                has_succ[j] = True
            sinks = [i for i in range(n) if not has_succ[i]]
            c1, s1 = config.conv1
            c2, s2 = config.conv2
            self.stem = nn.Sequential(
                nn.Conv2d(config.in_channels, c1, 3, stride=s1, padding=1, bias=False),
                nn.BatchNorm2d(c1),
                _triplet(nn, c1, c2, s2),
            )
            stages, c_prev = [], c2
            for c, s in config.stages:
                stages.append(Stage(preds, sinks, c_prev, c, s))
                c_prev = c
            self.stages = nn.Sequential(*stages)
            self.head = nn.Sequential(
                nn.ReLU(), nn.Conv2d(c_prev, config.head_channels, 1, bias=False),
                nn.BatchNorm2d(config.head_channels), nn.ReLU(),
                nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            )
            self.fc = nn.Linear(config.head_channels, config.n_classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.head(self.stages(self.stem(x))))

    return RandWireNet()
