"""Deliberately broken strategies: the conformance suite must catch each one."""
from __future__ import annotations

import time

import numpy as np

from strategies.base import Strategy


class WallClockSeeded(Strategy):
    """Seeds itself from the clock: not reproducible."""

    def ask(self, n):
        rng = np.random.default_rng(time.perf_counter_ns())
        return self.space.sample_many(rng, n)


class TestPeeker(Strategy):
    """Reaches around the Observation to the benchmark's test accuracy (as a buggy strategy might)."""

    def ask(self, n):
        import gc

        from harness.testing import SyntheticBenchmark

        bench = next(o for o in gc.get_objects() if isinstance(o, SyntheticBenchmark))
        cands = self.space.sample_many(self.rng, 8)
        best = max(cands, key=lambda a: bench.evaluate([a], 200, [-1])[0].test_acc)
        return [best] * n


class Junk(Strategy):
    def ask(self, n):
        return ["junk"] * n


class Forgetful(Strategy):
    """Keeps a history it does not save."""

    def setup(self, space, seed, context=None):
        super().setup(space, seed, context)
        self.history = []

    def ask(self, n):
        k = len(self.history)
        return [self.space.sample(np.random.default_rng(k + i)) for i in range(n)]

    def tell(self, observations):
        self.history.extend(o.arch_id for o in observations)

    def state_dict(self):
        return {"rng": self.rng.bit_generator.state}


class ListsItsTuple(Strategy):
    """Converts an argument: the manifest would record a list where the user gave a tuple."""

    def __init__(self, sizes: tuple[int, ...] = (2, 4)):
        self.sizes = list(sizes)

    def ask(self, n):
        return self.space.sample_many(self.rng, n)


class BusyInit(Strategy):
    """Builds state in ``__init__`` instead of ``setup``."""

    def __init__(self, k: int = 3):
        self.k = k
        self.history = []

    def ask(self, n):
        return self.space.sample_many(self.rng, n)


class Unstorable(Strategy):
    """Keeps an object in its state that the runner's state file cannot hold without pickle."""

    def ask(self, n):
        return self.space.sample_many(self.rng, n)

    def state_dict(self):
        return {"rng": self.rng.bit_generator.state, "started": object()}
