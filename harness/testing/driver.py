"""The ask/tell loop without a runner, for strategy tests: what ``harness.runner`` does minus
budgets, duplicate handling, journaling and storage.

The objective is an ``Evaluator`` (its Result gives value, cost, status and extra), or a plain
function of the architecture, or of the architecture and the fidelity (called with both when it
takes two positional arguments); a function's queries cost 1 s and a non-finite value is a failed
query, as the runner records a NaN answer.
"""
from __future__ import annotations

import inspect
import math
from typing import Callable, NamedTuple

from harness.contracts import Arch, Evaluator, Observation, Proposal, SearchSpace
from strategies.base import Strategy

Objective = Evaluator | Callable[..., float]


class Step(NamedTuple):
    """One query of a drive: the arch string, what the strategy asked, what it was told."""

    arch: str
    proposal: Proposal
    observation: Observation


def _takes_fidelity(fn: Callable[..., float]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: called with the arch only
        return False
    kinds = [p.kind for p in params]
    positional = sum(k in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD) for k in kinds)
    return positional >= 2 or inspect.Parameter.VAR_POSITIONAL in kinds


def _answer(objective: Objective) -> Callable[[Arch, int], tuple[float, float, str, tuple]]:
    """(val_acc, cost_s, status, info) of one architecture at one fidelity."""
    if isinstance(objective, Evaluator):
        def from_evaluator(arch, fidelity):
            r = objective.evaluate([arch], fidelity, [-1])[0]
            return r.val_acc, r.cost_s, r.status, r.extra
        return from_evaluator
    two = _takes_fidelity(objective)

    def from_function(arch, fidelity):
        val = float(objective(arch, fidelity) if two else objective(arch))
        return val, 1.0, "ok" if math.isfinite(val) else "failed", ()
    return from_function


def drive(strategy: Strategy, space: SearchSpace, objective: Objective, steps: int, n: int = 1, *,
          fidelity: int | None = None, full: bool = False) -> list[str] | list[Step]:
    """``ask(n)`` then ``tell`` the answers, ``steps`` times; the proposed arch strings in order
    (``full=True``: a ``Step`` per query, with the proposal and the observation).

    A proposal without a fidelity is evaluated at ``fidelity``, by default the run's (the
    strategy's ``RunContext.fidelity``, else the evaluator's default). Asserts that every ask
    returns exactly ``n`` valid architectures, as the runner requires.
    """
    if fidelity is None:
        context = getattr(strategy, "context", None)
        fidelity = context.fidelity if context is not None else getattr(objective, "default_fidelity", None)
        if fidelity is None:
            raise ValueError("drive: the strategy has no RunContext and the objective no default fidelity; pass fidelity=")
    answer = _answer(objective)
    who = type(strategy).__name__
    log: list[Step] = []
    for _ in range(steps):
        props = [p if isinstance(p, Proposal) else Proposal(p) for p in strategy.ask(n)]
        assert len(props) == n, f"{who}.ask({n}) returned {len(props)} architectures"
        observations = []
        for p in props:
            assert space.is_valid(p.arch), f"{who} proposed an invalid {space.name} architecture: {p.arch!r}"
            fid = fidelity if p.fidelity is None else p.fidelity
            val, cost, status, info = answer(p.arch, fid)
            obs = Observation(p.arch, space.canonical_id(p.arch), val, cost, fid, status, info)
            observations.append(obs)
            log.append(Step(space.to_str(p.arch), p, obs))
        strategy.tell(observations)
    return log if full else [s.arch for s in log]
