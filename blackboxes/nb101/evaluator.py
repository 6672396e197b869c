"""NB101 lookups by module hash: the tabular evaluator of the nb101 benchmark."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from blackboxes.nb101.schema import (
    BENCHMARK,
    EPOCHS,
    HOW_TO_GET,
    METRICS,
    N_CELLS,
    REPEATS,
    column,
)
from blackboxes.nb101.table import (
    mean_over_repeats,
    open_parquet,
    read_hashes,
    read_runs,
)
from harness.contracts import Evaluator, EvaluatorOptions, Result
from harness.data.store import stored
from harness.errors import DataCorrupt, DataMissing, HarnessError
from spaces import nb101


@dataclass(frozen=True)
class _Budget:
    """One fidelity's columns: (n, 3) arrays per metric and their means over the repeats present."""

    runs: dict[str, np.ndarray]
    means: dict[str, np.ndarray]
    n_repeats: int


class NB101Benchmark(Evaluator):
    """Lookups into the NB101 table by module hash (sorted 'S32' array + searchsorted).

    Per fidelity only its 9 columns are read, on first use; bench seed -1 answers the mean over
    the repeats present, k answers repeat k (``nasbench/api.py::query`` draws one at random).
    """

    dataset = "cifar10"
    relookup_on_replay = True

    def __init__(self, data_dir=None, space: nb101.NB101Space | None = None):
        self.space = space if space is not None else nb101.NB101Space()
        self.table = stored(BENCHMARK, data_dir, hint=HOW_TO_GET)
        self.sha256 = self.table.verified_sha256()  # the checksum of what this evaluator reads
        names = set(self.table.column_names())
        self.fidelities = tuple(e for e in EPOCHS if column("val", e, 0) in names)
        if not self.fidelities:
            raise DataMissing(f"the nb101 table in {self.table.directory} has no validation accuracies; re-import it")
        self.default_fidelity = 108 if 108 in self.fidelities else self.fidelities[-1]
        self._names = names
        self._manifest = self.table.manifest()
        self._hashes = read_hashes(self.table, open_parquet(self.table).metadata.num_rows)
        if len(self._hashes) > 1 and not (self._hashes[1:] > self._hashes[:-1]).all():
            raise DataCorrupt(f"{self.table.table_path}: module_hash is not sorted and unique; re-import nb101")
        self._budgets: dict[int, _Budget] = {}
        self._budget(self.default_fidelity)

    @property
    def n_rows(self) -> int:
        return len(self._hashes)

    def _budget(self, fidelity: int) -> _Budget:
        budget = self._budgets.get(fidelity)
        if budget is not None:
            return budget
        if fidelity not in self.fidelities:
            raise HarnessError(f"NB101 fidelities (epochs) in this table are {self.fidelities}, not {fidelity}")
        names = [column(m, fidelity, r) for m in METRICS for r in range(REPEATS)]
        block = read_runs(self.table, [c if c in self._names else None for c in names], self.n_rows)
        runs = {m: block[:, k * REPEATS:(k + 1) * REPEATS] for k, m in enumerate(METRICS)}
        present = int(sum(np.isfinite(runs["val"][:, r]).any() for r in range(REPEATS)))
        means = {m: mean_over_repeats(a) for m, a in runs.items()}
        budget = self._budgets[fidelity] = _Budget(runs, means, present)
        return budget

    def _rows(self, keys: np.ndarray) -> np.ndarray:
        """Row of each 'S32' key, -1 when absent."""
        if self.n_rows == 0:
            return np.full(len(keys), -1)
        pos = np.searchsorted(self._hashes, keys)
        clipped = np.minimum(pos, self.n_rows - 1)
        return np.where(self._hashes[clipped] == keys, clipped, -1)

    def _result(self, row: int, budget: _Budget, repeat: int) -> Result:
        if row < 0:
            partial = f"partial import: {self.n_rows} cells" if self.n_rows < N_CELLS else "not an NB101 cell"
            return Result(math.nan, status="failed", error=f"not in the imported NB101 table ({partial})",
                          bench_seed=repeat)
        if repeat == -1:
            v = budget.means
            return Result(float(v["val"][row]), float(v["test"][row]), float(v["train_s"][row]), bench_seed=-1)
        if not 0 <= repeat < REPEATS:
            raise HarnessError(f"NB101 bench seed must be -1 (mean) or a repeat 0..{REPEATS - 1}, not {repeat}")
        v = budget.runs
        val = float(v["val"][row, repeat])
        if not math.isfinite(val):
            return Result(math.nan, status="failed", bench_seed=repeat,
                          error=f"repeat {repeat} of this cell is not in the imported NB101 table")
        return Result(val, float(v["test"][row, repeat]), float(v["train_s"][row, repeat]), bench_seed=repeat)

    def lookup(self, module_hash: str | bytes, fidelity: int | None = None, repeat: int = -1) -> Result:
        """Fast path by module hash; ``repeat`` -1 = mean over the repeats present."""
        budget = self._budget(self.default_fidelity if fidelity is None else fidelity)
        key = module_hash.encode("ascii") if isinstance(module_hash, str) else bytes(module_hash)
        row = int(self._rows(np.array([key], dtype="S32"))[0]) if len(key) == 32 else -1
        return self._result(row, budget, repeat)

    def evaluate(self, archs, fidelity, bench_seeds) -> list[Result]:
        budget = self._budget(fidelity)
        if len(bench_seeds) != len(archs):
            raise HarnessError(f"{len(archs)} architectures but {len(bench_seeds)} bench seeds")
        keys = np.array([self.space.canonical_id(a).encode("ascii") for a in archs], dtype="S32")
        rows = self._rows(keys)
        return [self._result(int(row), budget, int(seed)) for row, seed in zip(rows, bench_seeds)]

    def n_repeats(self, fidelity: int) -> int:
        """Repeats present at ``fidelity`` (3 for the official files, 1 for the 20k CSV)."""
        return self._budget(fidelity).n_repeats

    def report_missing(self, dataset, fidelity, metric):
        base = super().report_missing(dataset, fidelity, metric)
        if base is not None:
            return base
        if not np.isfinite(self._budget(fidelity).means.get(metric, np.array([np.nan]))).any():
            return (f"the nb101 table has no {metric} accuracy at {fidelity} epochs; import "
                    f"nasbench_only108.tfrecord or NASLib's nasbench_only108.pkl to get it")
        return None

    def report_values(self, archs, dataset, fidelity, metric):
        if self.report_missing(dataset, fidelity, metric) is not None:
            return None
        return super().report_values(archs, dataset, fidelity, metric)

    def describe(self) -> dict:
        return {
            "benchmark": BENCHMARK,
            "table_sha256": self.sha256,
            "partial": self._manifest.get("partial"),
            "n_rows": self.n_rows,
            "fidelities": list(self.fidelities),
        }


def make_evaluator(dataset: str, data_dir, space, options: EvaluatorOptions | None = None) -> Evaluator:
    """Registry factory: "cifar10" is the table (lookups ignore the evaluator options); the other
    datasets train each cell (blackboxes.nb101.trained, imported only then: it needs torch)."""
    if dataset == NB101Benchmark.dataset:
        return NB101Benchmark(data_dir, space)
    from blackboxes.nb101.trained import make_trained_evaluator

    return make_trained_evaluator(dataset, data_dir, space, options)
