"""Deterministic stand-ins for a benchmark: a hash to [0, 1) and ``SyntheticBenchmark``.

They need no data, so strategy tests and the conformance checks run anywhere, and they give the
same numbers in every process (sha256, never Python's salted ``hash``).
"""
from __future__ import annotations

import hashlib

import numpy as np

from harness.contracts import Evaluator, Result


def unit(text: str) -> float:
    """A deterministic number in [0, 1) from a string: the first 8 bytes of its sha256."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


class SyntheticBenchmark(Evaluator):
    """Deterministic accuracies from the canonical id; ``test_salt`` changes test accuracy only.

    Validation has structure (a per-op bonus on the DAG labels plus hashed noise) so learning
    strategies see a signal; test accuracy is independent noise, so a strategy whose choices
    change when only ``test_salt`` changes must have seen test accuracy.
    """

    def __init__(self, space, test_salt: str = "", fidelities: tuple[int, ...] = (12, 200)):
        self.space = space
        self.test_salt = test_salt
        self.fidelities = fidelities
        self.default_fidelity = fidelities[-1]

    def _val(self, arch, fidelity: int) -> float:
        dag = self.space.to_dag(arch)
        n_ops = len(self.space.dag_constraints.op_names)
        score = float(np.mean([x / max(n_ops - 1, 1) for x in dag.X]))
        noise = unit(f"val|{self.space.canonical_id(arch)}|{fidelity}")
        return 40.0 + 40.0 * score + 15.0 * noise - (5.0 if fidelity < self.fidelities[-1] else 0.0)

    def evaluate(self, archs, fidelity, bench_seeds) -> list[Result]:
        out = []
        for a, s in zip(archs, bench_seeds):
            test = 100.0 * unit(f"test|{self.test_salt}|{self.space.canonical_id(a)}")
            out.append(Result(self._val(a, fidelity), test, float(fidelity), "ok", "", s))
        return out

    def describe(self) -> dict:
        return {"benchmark": "synthetic", "test_salt": self.test_salt}
