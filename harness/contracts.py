"""The types every layer shares: architectures and spaces, results and what a strategy may see.

The bottom of the import graph: spaces, blackboxes (benchmarks), strategies and the engine all
import this module, and it imports none of them (only ``harness.errors``). ``tests/test_layers.py``
checks the rule for every module.

Spaces: a space is pure -- it knows which architectures exist and how to move between them, never
how well they perform (that is an Evaluator's job). Every architecture also has a labelled-DAG view
so graph generators (GraphPNAS, the RNN controller, ER/WS) can work on any space through
``to_dag`` / ``from_dag`` and the space's ``DagConstraints``. Conventions of the DAG view (the
GraphPNAS paper's, §3.1.1): nodes are numbered in a topological order, ``A[i, j] = 1`` means an
edge j -> i and only ``j < i`` may be set (strictly lower-triangular), ``X[i]`` is the index of
node i's op in ``DagConstraints.op_names``.

Results: ``Result`` is the benchmark's full answer (test accuracy included) and only the runner and
the trajectory store hold it. ``Observation`` is built from a Result by dropping the test fields;
it has no attribute that could carry test accuracy, so ``Strategy.tell`` cannot reach it.
Accuracies are percentages (0-100) in every space; costs are simulated training seconds.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Hashable, Sequence

import numpy as np

Arch = Hashable
"""An architecture: any immutable, hashable value chosen by its space."""


@dataclass(frozen=True)
class LabelledDAG:
    """A DAG with op labels: ``A`` strictly lower-triangular uint8 (A[i, j] = edge j -> i)."""

    A: np.ndarray
    X: tuple[int, ...]

    def __post_init__(self) -> None:
        A = np.array(self.A, dtype=np.uint8, copy=True)
        n = len(self.X)
        if A.shape != (n, n):
            raise ValueError(f"adjacency shape {A.shape} does not match {n} node labels")
        if np.triu(A).any():
            raise ValueError("adjacency must be strictly lower-triangular (A[i, j] = edge j -> i, j < i)")
        A.setflags(write=False)
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "X", tuple(int(x) for x in self.X))

    @property
    def n_nodes(self) -> int:
        return len(self.X)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelledDAG) and self.X == other.X and np.array_equal(self.A, other.A)

    def __hash__(self) -> int:
        return hash((self.X, self.A.tobytes()))


@dataclass(frozen=True)
class DagConstraints:
    """What a graph generator must respect to produce a DAG the space can accept.

    ``fixed_ops[i]`` is the forced op index of node i or -1 when free; ``edge_mask[i, j]`` is 1
    (edge forced), 0 (edge forbidden) or -1 (free), only meaningful for j < i; ``max_edges`` caps
    the number of edges the space counts -- after its own pruning, e.g. NB101 counts the edges among
    nodes on an input-output path, as nasbench's ``ModelSpec._prune`` does (None = no cap); a
    generator that caps the raw edges instead is stricter than the space; ``allowed_ops[i]`` lists the op indices node i may take.
    """

    n_nodes: int
    op_names: tuple[str, ...]
    fixed_ops: tuple[int, ...]
    edge_mask: np.ndarray
    max_edges: int | None = None
    allowed_ops: tuple[tuple[int, ...], ...] = field(default=())

    def __post_init__(self) -> None:
        mask = np.array(self.edge_mask, dtype=np.int8, copy=True)
        mask.setflags(write=False)
        object.__setattr__(self, "edge_mask", mask)
        if not self.allowed_ops:
            free = tuple(i for i, _ in enumerate(self.op_names))
            allowed = tuple((f,) if f >= 0 else free for f in self.fixed_ops)
            object.__setattr__(self, "allowed_ops", allowed)


class SearchSpace(ABC):
    """A pure search space. Architectures are immutable and hashable; RNGs are passed in."""

    name: str = ""

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> Arch:
        """A random valid architecture (the space's documented prior)."""

    @abstractmethod
    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        """A valid architecture one random edit away (the space's documented mutation)."""

    @abstractmethod
    def neighbours(self, arch: Arch) -> list[Arch]:
        """All valid architectures one edit away, in a fixed order (callers shuffle)."""

    @abstractmethod
    def is_valid(self, arch: object) -> bool:
        """Whether ``arch`` is an architecture of this space (never raises)."""

    @abstractmethod
    def canonical_id(self, arch: Arch) -> str:
        """A string equal for two architectures iff the benchmark treats them as one."""

    @abstractmethod
    def to_str(self, arch: Arch) -> str:
        """A printable form that ``from_str`` parses back to an equal architecture."""

    @abstractmethod
    def from_str(self, text: str) -> Arch:
        """Parse ``to_str`` output; raises ValueError naming the problem."""

    @abstractmethod
    def to_dag(self, arch: Arch) -> LabelledDAG:
        """The labelled-DAG view of an architecture."""

    @abstractmethod
    def from_dag(self, dag: LabelledDAG) -> Arch | None:
        """The architecture a labelled DAG denotes, or None when the space rejects it."""

    @property
    @abstractmethod
    def dag_constraints(self) -> DagConstraints:
        """Fixed ops, fixed/forbidden edges and limits of the DAG view."""

    def size(self) -> int | None:
        """How many architectures the benchmark tells apart (distinct canonical ids); None when
        astronomically many or unknown."""
        return None

    def sample_many(self, rng: np.random.Generator, n: int) -> list[Arch]:
        return [self.sample(rng) for _ in range(n)]

    def describe(self) -> dict:
        """Parameters that identify this space instance (written to manifests)."""
        return {"name": self.name}


def check_arch(space: SearchSpace, arch: object) -> None:
    """Raise ValueError with a one-line reason when ``arch`` is not valid in ``space``."""
    if not space.is_valid(arch):
        raise ValueError(f"invalid {space.name} architecture: {arch!r}")


def edge_count(dag: LabelledDAG) -> int:
    return int(np.asarray(dag.A).sum())


# ---------------------------------------------------------------- results

STATUSES = ("ok", "invalid", "failed", "duplicate")


@dataclass(frozen=True)
class Result:
    """The evaluator's answer for one architecture at one fidelity."""

    val_acc: float
    test_acc: float = math.nan
    cost_s: float = 0.0
    status: str = "ok"
    error: str = ""
    bench_seed: int = -1
    """Which benchmark repeat answered (-1 = mean over repeats)."""
    extra: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Observation:
    """A strategy's view of one query: no test accuracy, by construction."""

    arch: Arch
    arch_id: str
    val_acc: float
    cost_s: float
    fidelity: int
    status: str = "ok"
    info: tuple[tuple[str, float], ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "duplicate") and math.isfinite(self.val_acc)


@dataclass(frozen=True)
class Proposal:
    """What ``Strategy.ask`` may return instead of a bare architecture.

    ``fidelity`` asks for another fidelity than the run's (multi-fidelity strategies such as
    BOHB; it must be one of ``RunContext.fidelities``); ``info`` is logged in the trajectory's
    ``extra`` column (e.g. the ER/WS hyper-parameters that generated the sample).
    """

    arch: Arch
    fidelity: int | None = None
    info: tuple[tuple[str, float | int | str], ...] = ()


@dataclass(frozen=True)
class RunContext:
    """What a strategy may know about its run besides the space: budgets and fidelities."""

    fidelities: tuple[int, ...]
    fidelity: int
    budget: int | None
    time_budget: float | None
    batch_size: int = 1


@dataclass(frozen=True)
class EvaluatorOptions:
    """How a trained evaluator may use the machine; recorded in every run's manifest.

    They change where and how fast an evaluation runs, not what it answers (the training seed comes
    from the architecture alone), so they are not part of a run's identity. Tabular evaluators
    ignore them. ``timeout_s`` is the per-evaluation training limit; a run past it is a failed
    query, never cached.
    """

    device: str = "auto"
    train_workers: int = 1
    timeout_s: float | None = None

    def __post_init__(self) -> None:
        if self.train_workers < 1:
            from harness.errors import HarnessError

            raise HarnessError(f"--train-workers must be >= 1, got {self.train_workers}")


class Evaluator(ABC):
    """A blackbox: architectures in, Results out. Tabular and trained evaluators share it.

    Optional hooks, declared here so the runner never probes for them: ``reseed`` (a stateful
    evaluator starts from the run's own ``evaluator`` seed stream), and ``state_dict`` /
    ``load_state_dict`` for evaluators with ``stateful = True`` (a weight-sharing supernet), which
    the runner checkpoints after every journaled batch.
    """

    fidelities: tuple[int, ...] = ()
    default_fidelity: int = 0
    dataset: str = ""
    journal_fsync: bool = True
    """fsync each journaled batch; tabular lookups (free to redo) set False, see harness.journal."""
    stateful: bool = False
    """Whether answers depend on earlier calls (then ``state_dict`` / ``load_state_dict`` exist)."""
    relookup_on_replay: bool = False
    """Whether answering again is cheap and gives the same answer (tables): then a resumed run
    looks every journaled batch up again instead of trusting the journal's copy."""

    @abstractmethod
    def evaluate(
        self, archs: Sequence[Arch], fidelity: int, bench_seeds: Sequence[int]
    ) -> list[Result]:
        """One Result per architecture. ``bench_seeds[i]`` = -1 asks for the mean over repeats."""

    def reseed(self, seed: int) -> None:
        """Start from ``seed`` (called once, before the first evaluation). Stateless: nothing to do."""

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue identically (``stateful`` evaluators only)."""
        raise NotImplementedError(f"{type(self).__name__} is not stateful")

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} is not stateful")

    def report_values(self, archs: Sequence[Arch], dataset: str, fidelity: int, metric: str) -> list[float] | None:
        """``metric`` ('val' or 'test', mean over repeats) of ``archs`` on ``dataset`` at ``fidelity``,
        for report columns (never shown to the strategy); None when the data lacks it.

        The default answers for the evaluator's own dataset; tabular benchmarks override it to read
        other entries (e.g. NB201 cifar10 train+valid test for a cifar10-valid search)."""
        if dataset != self.dataset or fidelity not in self.fidelities:
            return None
        results = self.evaluate(archs, fidelity, [-1] * len(archs))
        return [r.val_acc if metric == "val" else r.test_acc for r in results]

    def report_missing(self, dataset: str, fidelity: int, metric: str) -> str | None:
        """Why ``report_values`` cannot answer (with the fix), or None when it can."""
        if dataset != self.dataset or fidelity not in self.fidelities:
            return f"{dataset} {metric} at {fidelity} epochs is not available from this evaluator"
        return None

    def n_repeats(self, fidelity: int) -> int:
        """How many benchmark repeats exist at ``fidelity`` (for per-query repeat draws)."""
        return 1

    def describe(self) -> dict:
        """Identifies the evaluator and its data (written to manifests)."""
        return {}
