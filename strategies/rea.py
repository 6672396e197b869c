"""Regularized (aging) evolution, REA (Real et al. 2019, Algorithm 1).

The population is filled with random architectures; then each cycle draws a tournament from the
population uniformly with replacement, mutates its best member with ``space.mutate`` and adds
the child as the youngest member, removing the oldest once the population is over its size.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Sequence

import numpy as np

from harness.contracts import Arch, Observation, RunContext, SearchSpace
from harness.errors import HarnessError
from strategies.base import Strategy


class RegularizedEvolution(Strategy):
    """REA with population 30 and tournament 10, the naszilla/NASLib defaults.

    Sources: naszilla ``naszilla/nas_algorithms.py::evolution_search`` (population_size=30,
    tournament_size=10, ``np.random.choice(population, tournament_size)``: with replacement,
    oldest removed) and NASLib ``naslib/optimizers/discrete/re/optimizer.py`` (population filled
    with ``population_size`` random samples, tournament drawn with replacement, deque of fixed
    length drops the oldest). The parent is the tournament member with the highest validation
    accuracy (the first such in draw order on ties, as Python's ``max``).

    Deviations and choices:
    - Initial population: ``population_size`` random samples (Real et al., NASLib, AutoDL);
      naszilla starts from num_init = 10 random samples and lets the population grow to 30.
    - A child whose evaluation failed or was invalid (no finite validation accuracy) is
      discarded: it joins no tournament and ages nobody out (the references cannot fail).
      If every initial sample failed, random sampling continues until one succeeds.
    - Batches: ``ask(n)`` runs n tournaments on the same population (no results arrive in
      between); while the initial population is not complete, the draws are random.
    - Duplicates are proposed as the references do; the runner's dedup policy decides their cost.
    """

    name = "rea"

    def __init__(self, population_size: int = 30, sample_size: int = 10):
        self.population_size = population_size
        self.sample_size = sample_size

    def setup(self, space: SearchSpace, seed: np.random.SeedSequence, context: RunContext | None = None) -> None:
        super().setup(space, seed, context)
        if int(self.population_size) < 1 or int(self.sample_size) < 1:
            raise HarnessError(
                f"REA needs population_size >= 1 and sample_size >= 1, got {self.population_size} and {self.sample_size}"
            )
        self._population: deque[tuple[Arch, float]] = deque()
        self._n_random = 0

    def ask(self, n: int) -> list[Arch]:
        return [self._next() for _ in range(n)]

    def _next(self) -> Arch:
        if self._n_random < self.population_size or not self._population:
            self._n_random += 1
            return self.space.sample(self.rng)
        members = list(self._population)
        picks = self.rng.integers(len(members), size=int(self.sample_size))
        parent = max((members[i] for i in picks), key=lambda m: m[1])
        return self.space.mutate(parent[0], self.rng)

    def tell(self, observations: Sequence[Observation]) -> None:
        for obs in observations:
            if obs.ok:
                self._population.append((obs.arch, float(obs.val_acc)))
        while len(self._population) > self.population_size:
            self._population.popleft()

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "n_random": self._n_random,
            "population": [[self.space.to_str(a), v] for a, v in self._population],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._n_random = int(state["n_random"])
        self._population = deque((self.space.from_str(a), float(v)) for a, v in state["population"])


class RegularizedEvolutionNB201(RegularizedEvolution):
    """REA as NATS-Bench runs it on NB201: population 10, tournament 3, one-op mutation.

    Source: AutoDL-Projects ``exps/NATS-algos/regularized_ea.py`` (``--ea_population 10
    --ea_sample_size 3``; initial population of random cells; tournament by repeated
    ``random.choice``, i.e. with replacement; ``population.popleft()`` removes the oldest;
    ``mutate_topology_func`` changes exactly one edge to a different op, which is
    ``NB201Space.mutate``). AutoDL budgets by simulated time; here the run's budget decides.
    """

    name = "rea_nb201"

    def __init__(self, population_size: int = 10, sample_size: int = 3):
        super().__init__(population_size, sample_size)
