"""Every random stream of a run derives from one SeedSequence keyed by what the run is.

The key is (space, dataset, strategy, seed index) as stable 32-bit integers (CRC-32 of the
names, never Python's salted ``hash``), so adding a strategy or a space never changes another
run's streams, and the same key gives the same streams in any process (scikit-learn style:
seeds are passed in, the global RNGs are never used).
"""
from __future__ import annotations

import zlib

import numpy as np

ROOT_ENTROPY = 0x6E61_7368  # "nash": the harness's fixed root; --root-seed overrides it.

STREAMS = ("strategy", "benchmark", "evaluator", "final")
"""Named child streams of a run: what the strategy draws, benchmark repeat draws, the seed of a
stateful evaluator (a weight-sharing supernet's initialisation and training order), and what the
strategy draws for its final proposals after the search (``Strategy.recommend``; a stream of its
own, so the final phase never moves the search's draws)."""


def stable_id(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


def run_seed_sequence(
    space: str, dataset: str, strategy: str, seed: int, root: int = ROOT_ENTROPY
) -> np.random.SeedSequence:
    if seed < 0:
        raise ValueError(f"seed index must be >= 0, got {seed}")
    key = (stable_id(space), stable_id(dataset), stable_id(strategy), int(seed))
    return np.random.SeedSequence(entropy=root, spawn_key=key)


def stream(run_seq: np.random.SeedSequence, name: str) -> np.random.SeedSequence:
    """A named, independent child of the run's sequence (order of creation does not matter)."""
    if name not in STREAMS:
        raise ValueError(f"unknown stream {name!r}; streams: {STREAMS}")
    return np.random.SeedSequence(
        entropy=run_seq.entropy, spawn_key=tuple(run_seq.spawn_key) + (stable_id(name),)
    )


def torch_seed(seq: np.random.SeedSequence, word: int, bits: int = 64) -> int:
    """A seed for a torch.Generator from the child of ``seq`` keyed by ``word`` (a stream of its own:
    the strategy's numpy draws never move it), ``bits`` wide."""
    child = np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, int(word)))
    return int(child.generate_state(1, np.uint64)[0] >> np.uint64(64 - bits))


def torch_generator(seed: int, device: str = "cpu"):
    """A seeded ``torch.Generator`` on ``device``; strategies draw from it, never from torch's global RNG."""
    import torch

    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen
