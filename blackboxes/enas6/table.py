"""The "enas6" tabular benchmark: D-VAE's 6-layer ENAS macro architectures with supernet scores.

Source: muhanzhang/D-VAE ``data/final_structures6.txt`` (MIT; Zhang et al., NeurIPS 2019), one
line per architecture: ``<arch>, <accuracy>`` with ``<arch>`` in the D-VAE list format of
``spaces.enas`` (layer i = ``[op, b_0..b_{i-1}]``) and ``<accuracy>`` a fraction: the CIFAR-10
validation accuracy of the architecture with the weights of a pretrained 6-layer ENAS supernet
(weight sharing, not stand-alone training). 20,020 lines, 20,015 distinct architectures out of
6^6 * 2^15 = 1.5e9; the 5 repeated lines carry equal scores.

Table (``<data_dir>/enas6/table.parquet``): ``arch_str`` (the space's canonical string),
``val`` (accuracy %, float64), sorted by ``arch_str``; one row per distinct architecture.
The evaluator looks architectures up; one not in the table gets status "failed" (it has no
score, and a search on this benchmark can only be compared on the scored subset). Costs are 0:
the file records no evaluation times. Fidelity 1 names the single score per architecture.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa

from blackboxes.enas6 import HOW_TO_GET
from harness import atomic
from harness.contracts import Evaluator, EvaluatorOptions, Result
from harness.data.store import StoredTable, stored, write_stored
from harness.data.values import PERCENT, column_problem
from harness.errors import DataCorrupt, HarnessError
from spaces.enas import Enas6Space

BENCHMARK = "enas6"
DATASET = "cifar10"
FIDELITY = 1
SOURCE = "muhanzhang/D-VAE data/final_structures6.txt (MIT, Zhang et al. 2019)"


def parse_lines(lines, space: Enas6Space, name: str = "<input>") -> tuple[dict[str, float], int]:
    """``{arch_str: accuracy %}`` and the number of repeated lines (equal scores) dropped."""
    scores: dict[str, float] = {}
    repeats = 0
    for line_no, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        cut = line.rfind("]")
        try:
            if cut < 0 or line[cut + 1:cut + 2] != ",":
                raise ValueError("expected '<arch list>, <accuracy>'")
            arch = space.from_str(line[:cut + 1])
            acc = float(line[cut + 2:])
            if not 0.0 <= acc <= 1.0:
                raise ValueError(f"accuracy {acc} is not a fraction in [0, 1]")
        except ValueError as exc:
            raise DataCorrupt(
                f"{name}:{line_no} is not a D-VAE final_structures6 line ({str(exc)[:120]}); re-download the file"
            ) from None
        key = space.to_str(arch)
        if key in scores:
            if not math.isclose(scores[key], 100.0 * acc, abs_tol=1e-9):
                raise DataCorrupt(
                    f"{name}:{line_no} repeats {key} with another accuracy ({100 * acc} vs {scores[key]}); re-download the file"
                )
            repeats += 1
            continue
        scores[key] = 100.0 * acc
    if not scores:
        raise DataCorrupt(f"{name} has no architecture lines; pass D-VAE's final_structures6.txt")
    return scores, repeats


def import_file(path: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> StoredTable:
    """Import ``final_structures6.txt`` into the harness table ``enas6`` in ``data_dir``."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"{path} not found; pass the path of D-VAE's data/final_structures6.txt")
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise DataCorrupt(f"{path} is not a text file; pass D-VAE's data/final_structures6.txt") from None
    scores, repeats = parse_lines(text.splitlines(), Enas6Space(), str(path))
    keys = sorted(scores)
    table = pa.table({
        "arch_str": pa.array(keys, pa.string()),
        "val": pa.array([scores[k] for k in keys], pa.float64()),
    })
    manifest = {
        "source": SOURCE,
        "source_file": path.name,
        "source_sha256": atomic.sha256_file(path),
        "dataset": DATASET,
        "metric": "val = CIFAR-10 validation accuracy (%) with a pretrained 6-layer ENAS supernet's shared weights",
        "repeated_lines_dropped": repeats,
        "partial": False,
    }
    return write_stored(BENCHMARK, table, manifest, data_dir)


class Enas6Evaluator(Evaluator):
    """Looks up D-VAE's weight-sharing score; architectures outside the table fail."""

    fidelities = (FIDELITY,)
    default_fidelity = FIDELITY
    dataset = DATASET
    journal_fsync = False

    def __init__(self, space: Enas6Space, data_dir: str | os.PathLike | None = None):
        self.space = space
        self.table = stored(BENCHMARK, data_dir, hint=HOW_TO_GET)
        self.manifest = self.table.manifest()
        t = self.table.read(["arch_str", "val"])
        self.scores = dict(zip(t.column("arch_str").to_pylist(), t.column("val").to_pylist()))

    def evaluate(self, archs: Sequence, fidelity: int, bench_seeds: Sequence[int]) -> list[Result]:
        out = []
        for a in archs:
            val = self.scores.get(self.space.canonical_id(a))
            if val is None:
                out.append(Result(math.nan, status="failed",
                                  error=f"not among the {len(self.scores):,} scored enas6 architectures (D-VAE table)"))
            else:
                out.append(Result(val, math.nan, 0.0))
        return out

    def report_missing(self, dataset: str, fidelity: int, metric: str) -> str | None:
        if metric == "test":
            return "the enas6 table (D-VAE) has weight-sharing validation scores only, no test accuracy"
        return super().report_missing(dataset, fidelity, metric)

    def report_values(self, archs, dataset: str, fidelity: int, metric: str) -> list[float] | None:
        if self.report_missing(dataset, fidelity, metric) is not None:
            return None
        return [r.val_acc for r in self.evaluate(archs, fidelity, [-1] * len(archs))]

    def describe(self) -> dict:
        return {"benchmark": BENCHMARK, "n_rows": len(self.scores), "table_sha256": self.manifest.get("table_sha256", "")}


def make_evaluator(dataset: str, data_dir, space: Enas6Space, options: EvaluatorOptions | None = None) -> Enas6Evaluator:
    """Lookups of D-VAE's scores (the benchmark entry explains why ``run`` does not search it)."""
    if dataset != DATASET:
        raise HarnessError(f"enas6 has {DATASET} scores only, not {dataset!r}")
    return Enas6Evaluator(space, data_dir)


def import_files(paths, data_dir=None) -> StoredTable:
    """CLI entry point (`python -m harness data import enas6 <file>`): exactly one D-VAE file."""
    from harness.errors import HarnessError

    if len(paths) != 1:
        raise HarnessError("enas6 imports one file: D-VAE's final_structures6.txt")
    return import_file(paths[0], data_dir)


KNOWN_ROWS = 20_015
KNOWN_MAX = 75.02
"""D-VAE final_structures6.txt: 20,015 distinct architectures, best weight-sharing accuracy 75.02 %."""


def verify(table: StoredTable) -> dict:
    """Checksum, row count, possible values and the best accuracy of the D-VAE file; every
    finding is a problem in the answer, never an exception."""
    manifest = table.manifest()
    problems: list[str] = []
    if not table.checksum_ok():
        problems.append("table checksum differs from its manifest (modified or corrupt): re-import")
        return {"rows": manifest.get("n_rows"), "problems": problems}
    data = table.read().to_pandas()
    info: dict = {"rows": len(data), "problems": problems}
    if len(data) != KNOWN_ROWS:
        problems.append(f"{len(data)} rows, the D-VAE file has {KNOWN_ROWS} distinct architectures (partial)")
    if "val" not in data.columns or "arch_str" not in data.columns or data.empty:
        problems.append("the table has no val / arch_str values: re-import enas6")
        return info
    values = data["val"].to_numpy(dtype=float)
    problem = column_problem(values, PERCENT, required=True)
    if problem is not None:
        i, reason = problem
        problems.append(f"val: {reason}" + ("" if i is None else f" ({data['arch_str'].iloc[i]})") + ": re-import enas6")
    finite = values[np.isfinite(values)]
    if len(finite):
        best = float(finite.max())
        info["optimum"] = f"val max {best:.3f}"
        if round(best, 2) != KNOWN_MAX:
            problems.append(f"best accuracy {best:.3f}, expected {KNOWN_MAX}")
    return info
