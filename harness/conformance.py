"""The strategy contract, shipped in the package so anyone can check their own strategy.

Usage (see README "Add your own strategy")::

    from harness.conformance import check_strategy
    check_strategy("strategies.mine:MyStrategy")      # or a registered name, or the class

Every check runs the real runner against ``SyntheticBenchmark``, a deterministic stand-in that
needs no data, so the suite runs anywhere (Optuna ships its sampler tests the same way).
"""
from __future__ import annotations

import hashlib
import io
import multiprocessing as mp
import pickle
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pyarrow.parquet as pq

from harness import runner
from harness.evaluation import Evaluator, Observation, Proposal, Result, RunContext
from harness.runner import RunConfig
from spaces.registry import get_space_entry
from strategies.registry import STRATEGIES


def _unit(text: str) -> float:
    """A deterministic number in [0, 1) from a string."""
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
        noise = _unit(f"val|{self.space.canonical_id(arch)}|{fidelity}")
        return 40.0 + 40.0 * score + 15.0 * noise - (5.0 if fidelity < self.fidelities[-1] else 0.0)

    def evaluate(self, archs, fidelity, bench_seeds) -> list[Result]:
        out = []
        for a, s in zip(archs, bench_seeds):
            test = 100.0 * _unit(f"test|{self.test_salt}|{self.space.canonical_id(a)}")
            out.append(Result(self._val(a, fidelity), test, float(fidelity), "ok", "", s))
        return out

    def describe(self) -> dict:
        return {"benchmark": "synthetic", "test_salt": self.test_salt}


StrategySpec = str | type


def _name_for(strategy: StrategySpec) -> str:
    """Registry name for ``strategy`` (a name, ``"module:Class"``, or a class), registering if needed."""
    if isinstance(strategy, str) and strategy in STRATEGIES:
        return strategy
    target = strategy if isinstance(strategy, str) else f"{strategy.__module__}:{strategy.__qualname__}"
    name = "conformance:" + target
    STRATEGIES.register(name, target)
    return name


def _run(name: str, space: str, seed: int, out: Path, *, budget=24, batch_size=1, test_salt="") -> list:
    cfg = RunConfig(space=space, dataset="synthetic", strategy=name, seed=seed, budget=budget,
                    fidelity=200, batch_size=batch_size)
    entry = get_space_entry(space)
    ev = SyntheticBenchmark(entry.make_space(), test_salt)
    o = runner.execute(cfg, out, None, force=True, evaluator=ev)
    return pq.read_table(o.paths.trajectory).to_pylist()


def _archs(rows) -> list[str]:
    return [r["arch"] for r in rows]


def check_valid_and_budget(name: str, space: str, tmp: Path) -> None:
    rows = _run(name, space, 0, tmp / "valid", budget=24)
    bad = [r for r in rows if r["status"] == "invalid"]
    assert not bad, f"{name} proposed invalid architectures on {space}: {bad[0]['error']}"
    assert sum(r["charged"] for r in rows) == 24, f"{name} on {space}: budget of 24 queries not respected"


def check_deterministic(name: str, space: str, tmp: Path) -> None:
    a = _run(name, space, 3, tmp / "a")
    b = _run(name, space, 3, tmp / "b")
    assert _archs(a) == _archs(b), f"{name} on {space}: same seed gave different trajectories"


def check_deterministic_across_processes(name: str, space: str, tmp: Path) -> None:
    here = _archs(_run(name, space, 5, tmp / "here"))
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        there = pool.apply(_archs_in_child, (name, STRATEGIES.target(name), space, 5, str(tmp / "there")))
    assert here == there, f"{name} on {space}: same seed gave a different trajectory in another process"


def _archs_in_child(name: str, target: str, space: str, seed: int, out: str) -> list[str]:
    from harness.executors import _single_thread_worker

    _single_thread_worker()
    STRATEGIES.register(name, target)
    return _archs(_run(name, space, seed, Path(out)))


def check_seeds_differ(name: str, space: str, tmp: Path) -> None:
    a = _run(name, space, 0, tmp / "s0")
    b = _run(name, space, 1, tmp / "s1")
    assert _archs(a) != _archs(b), f"{name} on {space}: seeds 0 and 1 gave identical trajectories"


def check_blind_to_test(name: str, space: str, tmp: Path) -> None:
    a = _run(name, space, 2, tmp / "t0", test_salt="one")
    b = _run(name, space, 2, tmp / "t1", test_salt="two")
    assert [r["test_acc"] for r in a] != [r["test_acc"] for r in b]
    assert _archs(a) == _archs(b), f"{name} on {space}: its choices changed when only test accuracy changed"


def check_batches(name: str, space: str, tmp: Path) -> None:
    rows = _run(name, space, 0, tmp / "batch", budget=20, batch_size=4)
    assert len(rows) >= 20 and {r["batch"] for r in rows[:20]} == set(range(5)), f"{name}: ask(4) misbehaved"


def _drive(strategy, space, ev: SyntheticBenchmark, steps: int, n: int) -> list[str]:
    """Ask/tell ``steps`` times directly (what the runner does, minus storage)."""
    seen = []
    for _ in range(steps):
        props = [a if isinstance(a, Proposal) else Proposal(a) for a in strategy.ask(n)]
        obs = []
        for p in props:
            fid = p.fidelity or ev.default_fidelity
            r = ev.evaluate([p.arch], fid, [-1])[0]
            obs.append(Observation(p.arch, space.canonical_id(p.arch), r.val_acc, r.cost_s, fid))
            seen.append(space.to_str(p.arch))
        strategy.tell(obs)
    return seen


def check_state_round_trip(name: str, space_name: str, tmp: Path) -> None:
    cls = STRATEGIES.get(name)
    entry = get_space_entry(space_name)
    space = entry.make_space()
    ev = SyntheticBenchmark(space)
    ctx = RunContext(fidelities=ev.fidelities, fidelity=200, budget=40, time_budget=None)
    seq = np.random.SeedSequence(1234)

    straight = cls()
    straight.setup(space, seq, ctx)
    first = _drive(straight, space, ev, 12, 1)
    rest = _drive(straight, space, ev, 12, 1)

    before = cls()
    before.setup(space, seq, ctx)
    assert _drive(before, space, ev, 12, 1) == first
    buf = io.BytesIO()
    state = before.state_dict()
    try:
        import torch

        torch.save(state, buf)
        buf.seek(0)
        state = torch.load(buf, weights_only=False)
    except ImportError:
        state = pickle.loads(pickle.dumps(state))
    resumed = cls()
    resumed.setup(space, np.random.SeedSequence(999), ctx)  # a different seed: the state must carry it all
    resumed.load_state_dict(state)
    assert _drive(resumed, space, ev, 12, 1) == rest, f"{name} on {space_name}: state_dict round trip diverged"


CHECKS: dict[str, Callable[[str, str, Path], None]] = {
    "valid_and_budget": check_valid_and_budget,
    "deterministic": check_deterministic,
    "deterministic_across_processes": check_deterministic_across_processes,
    "seeds_differ": check_seeds_differ,
    "blind_to_test": check_blind_to_test,
    "batches": check_batches,
    "state_round_trip": check_state_round_trip,
}


def check_strategy(strategy: StrategySpec, spaces: Sequence[str] = ("nb201",),
                   checks: Sequence[str] | None = None) -> None:
    """Run every contract check (or the named ones); raises AssertionError naming what broke."""
    name = _name_for(strategy)
    with tempfile.TemporaryDirectory() as tmp:
        for space in spaces:
            for check in checks or CHECKS:
                CHECKS[check](name, space, Path(tmp) / check / space)


__all__ = ["CHECKS", "SyntheticBenchmark", "check_strategy"]
