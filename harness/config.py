"""What defines one run: its ``RunConfig``, hashed into the run id that names its trajectory."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness import seeding, storage
from harness.errors import HarnessError
from harness.registry import check_name

DEDUP_POLICIES = ("per-call", "unique")
"""per-call: every query is charged (NATS-Bench's simulate_train_eval); unique: a canonical
architecture is charged once and repeats are free, but still logged (GraphPNAS authors' code)."""

BENCH_MEAN = -1
BENCH_DRAW = -2
"""bench_seed -1: mean over the benchmark's repeats (naszilla, GraphPNAS); -2: one repeat drawn
per query from the run's benchmark stream (the official nasbench ``query`` semantics)."""


MAX_QUERIES = 2**31 - 1
"""The trajectory's query column is int32."""


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one run's trajectory (hashed into its run id)."""

    space: str
    dataset: str
    strategy: str
    seed: int
    budget: int | None
    time_budget: float | None = None
    fidelity: int | None = None
    bench_seed: int = BENCH_MEAN
    dedup: str = "per-call"
    batch_size: int = 1
    strategy_params: tuple[tuple[str, Any], ...] = ()
    root_seed: int = seeding.ROOT_ENTROPY
    data_sha256: str = ""
    """Checksum of the benchmark table the run reads (a new import means a new run id)."""
    protocol: str = ""
    """Name of the protocol preset that set these values ("" = custom settings)."""
    report_val: tuple[str, int] | None = None
    report_test: tuple[str, int] | None = None
    """(dataset, fidelity) of the report columns; None = the run's dataset at its search fidelity."""
    max_failures: int | None = None
    """Stop the run (keeping its journal) after this many failed evaluations; None = never stop.
    Failed evaluations are recorded with status 'failed' and their error, and charged."""

    def __post_init__(self) -> None:
        for kind in ("space", "dataset", "strategy"):  # folder names under --out (``paths``)
            check_name(kind, getattr(self, kind))
        if self.budget is None and self.time_budget is None:
            raise HarnessError("a run needs --budget (queries) or --time-budget (simulated seconds)")
        if self.budget is not None and self.budget <= 0:
            raise HarnessError(f"--budget must be a positive number of queries, got {self.budget}")
        if self.budget is not None and self.budget > MAX_QUERIES:
            raise HarnessError(f"--budget {self.budget} is more queries than a trajectory can number (at most {MAX_QUERIES:,})")
        if self.time_budget is not None and not (self.time_budget > 0 and math.isfinite(self.time_budget)):
            raise HarnessError(f"--time-budget must be positive simulated seconds, got {self.time_budget}")
        if self.dedup not in DEDUP_POLICIES:
            raise HarnessError(f"unknown dedup policy {self.dedup!r}; valid: {', '.join(DEDUP_POLICIES)}")
        if self.batch_size <= 0:
            raise HarnessError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.seed < 0:
            raise HarnessError(f"seed indices must be >= 0, got {self.seed}")
        if self.max_failures is not None and self.max_failures < 0:
            raise HarnessError(f"--max-failures must be >= 0, got {self.max_failures}")
        if self.bench_seed < BENCH_DRAW:
            raise HarnessError(f"--bench-seed must be -1 (mean), -2 (draw per query) or a repeat index >= 0, got {self.bench_seed}")

    def identity(self) -> dict[str, Any]:
        d = asdict(self)
        d["strategy_params"] = {k: v for k, v in self.strategy_params}
        return d

    @property
    def run_id(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def paths(self, out: Path) -> storage.RunPaths:
        return storage.RunPaths.of(out, self.space, self.dataset, self.strategy, self.seed)
