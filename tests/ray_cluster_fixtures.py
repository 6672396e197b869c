"""A strategy slow enough to be caught mid-run, for tests/test_ray_cluster.py.

Ray workers import it by name: the test puts this directory on the cluster's PYTHONPATH and
declares the strategy through the ``nas_harness.strategies`` entry point, as an outside package
would (README, "Add your own strategy").
"""
from __future__ import annotations

import os
import time

from strategies.rea import RegularizedEvolution

DELAY_ENV = "SLOW_REA_DELAY_S"
"""Seconds per ask where this variable is set (the test's slow worker node), else ``DELAY_S``."""
DELAY_S = 0.05
"""Seconds per ask: a run of 80 queries lasts a few seconds instead of milliseconds."""


class SlowEvolution(RegularizedEvolution):
    """REA (adaptive: a resumed run must replay its journal through ``tell``) that waits before
    every ask; the wait changes nothing it proposes."""

    def ask(self, n):
        time.sleep(float(os.environ.get(DELAY_ENV, DELAY_S)))
        return super().ask(n)
