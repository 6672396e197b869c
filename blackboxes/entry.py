"""One benchmark -- a *blackbox*, in syne-tune's word -- as one registry entry.

An entry says everything the command line, ``data fetch`` and the runner need to know about a
benchmark: which pure space it searches and for which datasets, its fidelities and default
budgets (each with its source), where its data comes from (official files, the table shipped
with the harness), how to import and verify that data, and which evaluator answers queries.
Targets are ``"module:attribute"`` strings resolved on use, so listing benchmarks imports no
importer, no torch and no table.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from harness.contracts import Evaluator, EvaluatorOptions, SearchSpace
from harness.data.download import Source, verified_download
from harness.data.store import StoredTable, resolve_data_dir, stored
from harness.errors import HarnessError


def resolve(target: str) -> Any:
    """The object a ``"module:attribute"`` target names."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr) if attr else importlib.import_module(module)


@dataclass(frozen=True)
class Benchmark:
    """A space, the datasets it is benchmarked on, its data and its evaluator, with their sources."""

    name: str
    """The ``--space`` name runs use, and the name of its stored table when it has one."""
    description: str
    space: str
    """``"module:Class"`` of the pure SearchSpace."""
    evaluator: str
    """``"module:function(dataset, data_dir, space, options) -> Evaluator"``."""
    datasets: tuple[str, ...]
    default_budget: int
    budget_source: str
    default_fidelity: int = 0
    fidelities: tuple[int, ...] = ()
    """Empty when they differ per dataset (the evaluator says)."""
    default_batch_size: int = 1
    """Architectures per search step (ENAS's supernet scores ~100 per step)."""
    dataset_budgets: tuple[tuple[str, int], ...] = ()
    """Per-dataset default budgets overriding ``default_budget``."""
    space_for_dataset: str = ""
    """``"module:function(dataset) -> SearchSpace"`` when the space's size depends on the dataset."""
    table: bool = False
    """Whether answers come from an imported table (``<data dir>/<name>/``) rather than training."""
    table_datasets: tuple[str, ...] | None = None
    """The datasets the table answers for (None = all of ``datasets``); the others are trained."""
    importer: str = ""
    """Module with ``import_files(paths, data_dir)`` and ``verify(StoredTable) -> dict``."""
    embedded: str = ""
    """``"module:function(data_dir) -> StoredTable"`` installing the table shipped with the harness."""
    sources: tuple[Source, ...] = ()
    """Official files; the first is what ``data fetch <name>`` downloads."""
    how_to_get: str = ""
    """The one-line instruction printed when the table is missing."""
    not_runnable: str = ""
    """Why ``run`` refuses this benchmark ("" = runnable)."""
    default_strategies: tuple[str, ...] = ()
    """The strategies ``run`` compares when ``--strategies`` is not given: the paper's comparison on
    this benchmark, each at its own preset (``defaults_source`` says which table)."""
    defaults_source: str = ""

    # ------------------------------------------------------------------ searching
    def make_space(self, dataset: str | None = None) -> SearchSpace:
        if dataset is not None and self.space_for_dataset:
            return resolve(self.space_for_dataset)(dataset)
        return resolve(self.space)()

    def budget_for(self, dataset: str) -> int:
        return dict(self.dataset_budgets).get(dataset, self.default_budget)

    def make_evaluator(self, dataset: str, data_dir, space: SearchSpace,
                       options: EvaluatorOptions = EvaluatorOptions()) -> Evaluator:
        self.check_runnable()
        return resolve(self.evaluator)(dataset, data_dir, space, options)

    def check_dataset(self, dataset: str) -> None:
        if dataset not in self.datasets:
            raise HarnessError(f"unknown dataset {dataset!r} for space {self.name}; valid: {', '.join(self.datasets)}")

    def uses_table(self, dataset: str) -> bool:
        """Whether runs on ``dataset`` read the imported table (whose checksum is then part of the run id)."""
        return self.table and (self.table_datasets is None or dataset in self.table_datasets)

    def check_runnable(self) -> None:
        if self.not_runnable:
            raise HarnessError(f"{self.name} cannot be searched: {self.not_runnable}")

    # ------------------------------------------------------------------ data
    def stored(self, data_dir=None) -> StoredTable:
        """This benchmark's table in ``data_dir`` (which need not exist yet)."""
        if not self.table:
            raise HarnessError(f"{self.name} trains its answers and has no table to import or verify")
        return stored(self.name, data_dir, hint=self.how_to_get)

    def _importer(self):
        if not self.importer:
            raise HarnessError(f"{self.name} has no importer: it trains its answers")
        return resolve(self.importer)

    def import_files(self, paths: Sequence[Path], data_dir=None, *, allow_pickle: bool = False) -> StoredTable:
        """Import official files; ``allow_pickle`` opts in to formats that are pickles by design (the
        NATS-Bench archive), which only the user can vouch for."""
        kw = {"allow_pickle": True} if allow_pickle else {}
        return self._importer().import_files(list(paths), data_dir, **kw)

    def import_embedded(self, data_dir=None) -> StoredTable:
        if not self.embedded:
            raise HarnessError(f"--embedded: {self.name} ships no table with the harness (`python -m harness list` "
                               f"shows which do)")
        return resolve(self.embedded)(data_dir)

    def verify(self, data_dir=None) -> dict:
        """Checksums, row counts and known optima of the imported table (the importer's ``verify``)."""
        return self._importer().verify(self.stored(data_dir))

    def fetch(self, data_dir=None, *, url: str | None = None, sha256: str | None = None,
              source: Source | str | None = None, progress: bool = True, allow_pickle: bool = False) -> Path:
        """Download the official file (or ``url``), verify it and import it; the downloaded file's path."""
        self._importer()
        path = verified_download(self.name, self.sources, data_dir, url=url, sha256=sha256, source=source,
                                 progress=progress)
        self.import_files([path], resolve_data_dir(data_dir), allow_pickle=allow_pickle)
        return path

    def default_source(self) -> Source:
        if not self.sources:
            raise HarnessError(f"{self.name} has no official file to fetch")
        return self.sources[0]

    def find_source(self, key: str) -> Source | None:
        """The registered source whose name or file name is ``key``, if any."""
        return next((s for s in self.sources if key in (s.name, s.filename)), None)

