"""The strategy contract as checks anyone can run on their own strategy.

Usage (see README "Add your own strategy")::

    from harness.testing import check_strategy
    check_strategy("my_package.mine:MyStrategy")      # or a registered name, or the class

Every check runs the real runner (or the runner's ask/tell loop, ``harness.testing.driver``)
against ``SyntheticBenchmark``, a deterministic stand-in that needs no data, so the suite runs
anywhere (Optuna ships its sampler tests the same way, ``optuna.testing``).
"""
from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pyarrow.parquet as pq

from blackboxes.registry import get_benchmark
from harness import runner, statefile
from harness.config import RunConfig
from harness.contracts import Proposal, RunContext, SearchSpace
from harness.testing.driver import Objective, Step, drive
from harness.testing.objective import SyntheticBenchmark
from strategies.base import Strategy
from strategies.registry import STRATEGIES

StrategySpec = str | type
CHILD_TIMEOUT_S = 600
"""The cross-process check's limit: a strategy that hangs there fails the check instead of the caller."""


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
    entry = get_benchmark(space)
    ev = SyntheticBenchmark(entry.make_space(), test_salt)
    o = runner.execute(cfg, out, None, force=True, evaluator=ev)
    return pq.read_table(o.paths.trajectory).to_pylist()


def _archs(rows) -> list[str]:
    return [r["arch"] for r in rows]


def check_params_stored_unchanged(name: str, space: str, tmp: Path) -> None:
    """``__init__`` stores each argument as given under its own name and does nothing else, so
    ``params()`` (written to the manifest) is what the user passed (``strategies.base``)."""
    cls = STRATEGIES.get(name)
    params = cls.init_parameters()
    var_kw = [p.name for p in params if p.kind is inspect.Parameter.VAR_KEYWORD]
    named = [p for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD]
    required = [p.name for p in named if p.default is inspect.Parameter.empty]
    assert not required, f"{name}: __init__ arguments {required} have no default; strategies are built from defaults"
    args = [p.default for p in named if p.kind is inspect.Parameter.POSITIONAL_ONLY]
    kwargs = {p.name: p.default for p in named if p.kind is not inspect.Parameter.POSITIONAL_ONLY}
    obj = cls(*args, **kwargs)
    stored, expected = set(vars(obj)), {p.name for p in params}
    assert stored == expected, (
        f"{name}: after __init__ the instance holds {sorted(stored)}, not exactly its arguments {sorted(expected)}; "
        f"__init__ must only store its arguments (build state in setup())")
    given = obj.params()
    for p in named:
        assert getattr(obj, p.name) is p.default and given.get(p.name) is p.default, (
            f"{name}: argument {p.name!r} given as {p.default!r} is stored as {getattr(obj, p.name)!r}; store it "
            f"unchanged (resolved values go under another name, e.g. {p.name}_)")
    for kw in var_kw:
        assert getattr(obj, kw) == {} and isinstance(getattr(obj, kw), dict), (
            f"{name}: **{kw} must be stored as the dict of the extra arguments, got {getattr(obj, kw)!r}")


def check_valid_and_budget(name: str, space: str, tmp: Path) -> None:
    rows = _run(name, space, 0, tmp / "valid", budget=24)
    bad = [r for r in rows if r["status"] == "invalid"]
    assert not bad, f"{name} proposed invalid architectures on {space}: {bad[0]['error']}"
    assert sum(r["charged"] for r in rows) == 24, f"{name} on {space}: budget of 24 queries not respected"


def check_deterministic(name: str, space: str, tmp: Path) -> None:
    a = _run(name, space, 3, tmp / "a")
    b = _run(name, space, 3, tmp / "b")
    assert _archs(a) == _archs(b), f"{name} on {space}: same seed gave different trajectories"


_CHILD = ("import json, sys; from harness.testing.strategy_checks import _archs_in_child; "
          "print(json.dumps(_archs_in_child(*json.loads(sys.argv[1]))))")


def check_deterministic_across_processes(name: str, space: str, tmp: Path) -> None:
    """The same run in a fresh interpreter (``python -c``, not multiprocessing's spawn, which
    re-imports the calling script and would run a script without a main guard again, forever)."""
    here = _archs(_run(name, space, 5, tmp / "here"))
    target = STRATEGIES.target(name)
    module, _, attr = target.partition(":")
    assert module != "__main__", (
        f"{name}: {attr} is defined in the script that runs the check, which another process cannot import; "
        f"put it in a module of its own (e.g. my_strategy.py beside the script) and pass 'my_strategy:{attr}'")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p or os.getcwd() for p in sys.path))
    proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps([name, target, space, 5, str(tmp / "there")])],
                          capture_output=True, text=True, env=env, timeout=CHILD_TIMEOUT_S)
    assert proc.returncode == 0, f"{name} on {space}: the run in another process failed: {proc.stderr.strip()[-800:]}"
    there = json.loads(proc.stdout.strip().splitlines()[-1])
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


def _choices(steps: list[Step]) -> list[tuple]:
    return [(s.arch, s.proposal.fidelity, s.proposal.info) for s in steps]


def check_resume(make: Callable[[], Strategy], space: SearchSpace, objective: Objective, before: int, after: int,
                 n: int = 1, *, context: RunContext, seed: int = 1234, label: str = "") -> list[Step]:
    """``before`` ask/tell steps, ``state_dict`` stored and read back through ``harness.statefile``
    (the runner's format), loaded into a fresh instance set up with another seed, ``after`` more
    steps: they must propose what an uninterrupted run proposes. Returns the uninterrupted run."""
    label = label or getattr(make, "__name__", "strategy")

    def fresh(s: int):
        strategy = make()
        strategy.setup(space, np.random.SeedSequence(s), context)
        return strategy

    straight = fresh(seed)
    expected = drive(straight, space, objective, before, n, full=True)
    expected += drive(straight, space, objective, after, n, full=True)
    interrupted = fresh(seed)
    first = drive(interrupted, space, objective, before, n, full=True)
    assert _choices(first) == _choices(expected[: before * n]), f"{label}: same seed gave different trajectories"
    try:
        blob = statefile.dumps(interrupted.state_dict())
    except TypeError as exc:
        raise AssertionError(f"{label}: state_dict() cannot be stored ({exc})") from None
    resumed = fresh(999)  # another seed: the state must carry everything
    resumed.load_state_dict(statefile.loads(blob, label))
    rest = drive(resumed, space, objective, after, n, full=True)
    assert _choices(rest) == _choices(expected[before * n:]), f"{label}: state_dict round trip diverged"
    return expected


def check_state_round_trip(name: str, space_name: str, tmp: Path) -> None:
    space = get_benchmark(space_name).make_space()
    ev = SyntheticBenchmark(space)
    ctx = RunContext(fidelities=ev.fidelities, fidelity=200, budget=40, time_budget=None)
    check_resume(STRATEGIES.get(name), space, ev, 12, 12, context=ctx, label=f"{name} on {space_name}")


def _recommended(strategy: Strategy, space: SearchSpace, steps: list[Step], n: int, seed: int) -> list[str]:
    history = [s.observation for s in steps]
    out = strategy.recommend(n, np.random.default_rng(seed), history)
    archs = [p.arch if isinstance(p, Proposal) else p for p in out]
    bad = [a for a in archs if not space.is_valid(a)]
    assert not bad, f"{type(strategy).__name__}.recommend returned an invalid {space.name} architecture: {bad[0]!r}"
    assert len(archs) <= n, f"{type(strategy).__name__}.recommend({n}) returned {len(archs)} architectures"
    return [space.to_str(a) for a in archs]


def check_recommend(name: str, space_name: str, tmp: Path) -> None:
    """``recommend`` (the final proposals): valid, at most n (and some once anything was answered),
    the same from a strategy rebuilt from its stored state (so deterministic for a fixed rng),
    blind to test accuracy, and it leaves the search as it was (the next proposals do not change)."""
    space = get_benchmark(space_name).make_space()
    ctx = RunContext(fidelities=(12, 200), fidelity=200, budget=40, time_budget=None)
    label = f"{name} on {space_name}"
    runs = {}
    for salt in ("one", "two"):
        strategy = STRATEGIES.get(name)()
        strategy.setup(space, np.random.SeedSequence(77), ctx)
        runs[salt] = (strategy, drive(strategy, space, SyntheticBenchmark(space, salt), 12, full=True))
    (strategy, steps), (other, other_steps) = runs["one"], runs["two"]
    rebuilt = _rebuilt(name, space, ctx, strategy, label)
    first = _recommended(strategy, space, steps, 5, 1)
    assert first, f"{label}: recommend(5) returned nothing after 12 answered queries"
    assert _recommended(rebuilt, space, steps, 5, 1) == first, (
        f"{label}: recommend differs from a strategy rebuilt from its state (or for the same rng)")
    assert _archs_of(other_steps) == _archs_of(steps)
    assert _recommended(_rebuilt(name, space, ctx, other, label), space, other_steps, 5, 1) == first, (
        f"{label}: recommend changed when only test accuracy changed")
    assert drive(strategy, space, SyntheticBenchmark(space, "one"), 3) == drive(
        other, space, SyntheticBenchmark(space, "two"), 3), f"{label}: calling recommend changed the search's next proposals"


def _rebuilt(name: str, space: SearchSpace, ctx: RunContext, strategy: Strategy, label: str) -> Strategy:
    """A fresh instance (another seed) loaded with ``strategy``'s stored state, as the final phase builds it."""
    fresh = STRATEGIES.get(name)()
    fresh.setup(space, np.random.SeedSequence(999), ctx)
    fresh.load_state_dict(statefile.loads(statefile.dumps(strategy.state_dict()), label))
    return fresh


def _archs_of(steps: list[Step]) -> list[str]:
    return [s.arch for s in steps]


CHECKS: dict[str, Callable[[str, str, Path], None]] = {
    "params_stored_unchanged": check_params_stored_unchanged,
    "valid_and_budget": check_valid_and_budget,
    "deterministic": check_deterministic,
    "deterministic_across_processes": check_deterministic_across_processes,
    "seeds_differ": check_seeds_differ,
    "blind_to_test": check_blind_to_test,
    "batches": check_batches,
    "state_round_trip": check_state_round_trip,
    "recommend": check_recommend,
}


def check_strategy(strategy: StrategySpec, spaces: Sequence[str] = ("nb201",),
                   checks: Sequence[str] | None = None) -> None:
    """Run every contract check (or the named ones); raises AssertionError naming what broke."""
    name = _name_for(strategy)
    with tempfile.TemporaryDirectory() as tmp:
        for space in spaces:
            for check in checks or CHECKS:
                CHECKS[check](name, space, Path(tmp) / check / space)
