"""Local search with random restarts (White et al. 2020, "Local search is state of the art for
neural architecture search benchmarks"), as an ask/tell state machine.

A round draws ``num_init`` random architectures, climbs from the best of them through the
space's neighbourhood (``space.neighbours``, scanned in shuffled order) and, at a local optimum,
starts a new round from ``num_init`` new random architectures.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from harness.contracts import Arch, Observation, RunContext, SearchSpace
from harness.errors import HarnessError
from strategies.base import Strategy

VARIANTS = ("first", "full")
MAX_DRAWS = 10_000
"""Random draws tried for an architecture this search has not queried before."""

_START, _NEIGHBOUR = "start", "neighbour"


def _plain(v: float) -> float | None:
    return v if math.isfinite(v) else None


def _value(v: float | None) -> float:
    return math.nan if v is None else float(v)


class LocalSearch(Strategy):
    """naszilla's ``local_search`` (num_init 10, first improvement, restart at a local optimum).

    Source: naszilla ``naszilla/nas_algorithms.py::local_search`` (num_init = DEFAULT_NUM_INIT =
    10; ``query_full_nbhd=False``: move to the first neighbour better than the current
    architecture; ``stop_at_minimum=True``: when no neighbour improves, restart from num_init new
    random architectures) with the neighbourhood shuffled (naszilla
    ``nas_bench_101/cell_101.py::get_neighborhood(shuffle=True)``).

    ``variant="full"`` evaluates the whole neighbourhood, then moves to its best member if that
    improves on the current architecture (naszilla ``query_full_nbhd=True``; NASLib
    ``naslib/optimizers/discrete/ls/optimizer.py`` also does this, but restarts from a single
    random architecture instead of num_init).

    Choices, documented:
    - Never re-query: like naszilla's ``query_dict``, an architecture this search has already
      asked for (same ``canonical_id``) is skipped, whether as a random start or as a neighbour;
      a skipped neighbour is not considered for a move (naszilla does the same). Random starts
      are redrawn until new (after MAX_DRAWS draws a repeat is accepted, for tiny spaces).
    - "Better" means a strictly higher validation accuracy; failed or invalid evaluations (no
      finite accuracy) never improve and are not re-queried; a round whose starts all failed is
      replaced by a new one.
    - Batches (``ask(n)``, n > 1): the next n unqueried neighbours are asked together and the
      first improvement among them, in ask order, is taken (first variant). When the
      neighbourhood runs out inside a batch, the rest of the batch are random draws that count
      as starts of the next round. Before the first round has its num_init results, extra draws
      join that round.
    """

    name = "local_search"

    def __init__(self, num_init: int = 10, variant: str = "first"):
        self.num_init = num_init
        self.variant = variant

    def setup(self, space: SearchSpace, seed: np.random.SeedSequence, context: RunContext | None = None) -> None:
        super().setup(space, seed, context)
        if self.variant not in VARIANTS:
            raise HarnessError(f"unknown local search variant {self.variant!r}; valid: {', '.join(VARIANTS)}")
        if int(self.num_init) < 1:
            raise HarnessError(f"local search needs num_init >= 1, got {self.num_init}")
        self._seen: set[str] = set()
        self._starts: list[tuple[Arch, float]] = []  # evaluated starts of the next round
        self._current: tuple[Arch, float] | None = None  # None while collecting starts
        self._climb = 0  # id of the current climb step; neighbours of older steps are stale
        self._queue: list[Arch] = []  # shuffled neighbours of the current architecture not yet asked
        self._evaluated: list[tuple[Arch, float]] = []  # full variant: results of the current neighbourhood
        self._asked: list[tuple[Arch, str, int]] = []  # in flight: (arch, role, climb id)

    # -- ask -----------------------------------------------------------------------------
    def ask(self, n: int) -> list[Arch]:
        out = []
        for _ in range(n):
            arch, role = self._next()
            self._seen.add(self.space.canonical_id(arch))
            self._asked.append((arch, role, self._climb))
            out.append(arch)
        return out

    def _next(self) -> tuple[Arch, str]:
        if self._current is not None:
            while self._queue:
                arch = self._queue.pop(0)
                if self.space.canonical_id(arch) not in self._seen:
                    return arch, _NEIGHBOUR
        return self._new_random(), _START

    def _new_random(self) -> Arch:
        arch = self.space.sample(self.rng)
        for _ in range(MAX_DRAWS - 1):
            if self.space.canonical_id(arch) not in self._seen:
                break
            arch = self.space.sample(self.rng)
        return arch

    # -- tell ----------------------------------------------------------------------------
    def tell(self, observations: Sequence[Observation]) -> None:
        asked, self._asked = self._asked, []
        if len(observations) != len(asked):
            raise ValueError(f"local search asked for {len(asked)} architectures but was told {len(observations)} results")
        for (arch, role, climb), obs in zip(asked, observations):
            val = float(obs.val_acc) if obs.ok else math.nan
            if role == _START:
                self._starts.append((arch, val))
            elif climb == self._climb and self._current is not None:
                if self.variant == "full":
                    self._evaluated.append((arch, val))
                elif val > self._current[1]:
                    self._move_to((arch, val))
        self._advance()

    def _advance(self) -> None:
        """Start climbs and detect local optima until more results are needed."""
        while True:
            if self._current is None:
                if len(self._starts) < self.num_init:
                    return
                finite = [s for s in self._starts if math.isfinite(s[1])]
                self._starts = []
                if not finite:
                    continue
                self._move_to(max(finite, key=lambda s: s[1]))
            if any(self.space.canonical_id(a) not in self._seen for a in self._queue):
                return
            best = max((e for e in self._evaluated if math.isfinite(e[1])), key=lambda e: e[1], default=None)
            if best is not None and best[1] > self._current[1]:
                self._move_to(best)
            else:  # local optimum: a new round of random starts
                self._current = None
                self._climb += 1

    def _move_to(self, member: tuple[Arch, float]) -> None:
        self._current = member
        self._climb += 1
        self._evaluated = []
        neighbours = self.space.neighbours(member[0])
        self._queue = [neighbours[i] for i in self.rng.permutation(len(neighbours))]

    # -- state ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        s = self.space.to_str
        return {
            **super().state_dict(),
            "seen": sorted(self._seen),
            "starts": [[s(a), _plain(v)] for a, v in self._starts],
            "current": None if self._current is None else [s(self._current[0]), _plain(self._current[1])],
            "climb": self._climb,
            "queue": [s(a) for a in self._queue],
            "evaluated": [[s(a), _plain(v)] for a, v in self._evaluated],
            "asked": [[s(a), role, climb] for a, role, climb in self._asked],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        p = self.space.from_str
        self._seen = set(state["seen"])
        self._starts = [(p(a), _value(v)) for a, v in state["starts"]]
        cur = state["current"]
        self._current = None if cur is None else (p(cur[0]), _value(cur[1]))
        self._climb = int(state["climb"])
        self._queue = [p(a) for a in state["queue"]]
        self._evaluated = [(p(a), _value(v)) for a, v in state["evaluated"]]
        self._asked = [(p(a), role, int(climb)) for a, role, climb in state["asked"]]
