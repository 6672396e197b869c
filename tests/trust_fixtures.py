"""Strategies that misbehave on purpose, for tests/test_trust.py (importable in worker processes)."""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from strategies.base import Strategy


def _mark(kind: str) -> None:
    """Leave this process's pid in $TRUST_MARKS (the test checks the processes are gone later)."""
    where = os.environ.get("TRUST_MARKS")
    if where:
        Path(where, f"{kind}-{os.getpid()}").touch()


class Slow(Strategy):
    """Random search that takes 0.1 s per ask: a study of several runs lasts long enough to interrupt."""

    def setup(self, space, seed, context=None):
        super().setup(space, seed, context)
        _mark("worker")

    def ask(self, n):
        time.sleep(0.1)
        return self.space.sample_many(self.rng, n)


class KillsItsWorker(Strategy):
    """Dies as a worker killed by the kernel's OOM killer would (SIGKILL)."""

    def ask(self, n):
        os.kill(os.getpid(), signal.SIGKILL)


class Hangs(Strategy):
    def ask(self, n):
        time.sleep(3600)


class Exits(Strategy):
    def ask(self, n):
        sys.exit(0)


class Opaque:
    """An object with the default repr (a memory address)."""


class ProposesObjects(Strategy):
    def ask(self, n):
        return [Opaque() for _ in range(n)]
