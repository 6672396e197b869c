"""The best accuracy a tabular space holds, so curves can show regret (error above the optimum).

Runs record the checksum of the table they read (manifest ``evaluator.table_sha256``), the search
fidelity and the report columns. A table with that checksum -- the imported one in the default data
dir (``$HARNESS_DATA``) or the one shipped with the harness -- gives the optimum as the maximum of the
column the runs read: ``<dataset>/val@<fidelity>`` for the search reward, ``<dataset>/test@<fidelity>`` of
the report column for the test accuracy (the table layout of ``blackboxes/nb201/schema.py``). Without
such a table (trained spaces, another table, runs that disagree) there is no optimum and the curves stay
on a linear error axis.
"""
from __future__ import annotations

import importlib

import numpy as np

from blackboxes.registry import get_benchmark
from harness import atomic
from harness.data.store import StoredTable, default_data_dir
from harness.errors import HarnessError


def _tables(space: str) -> list[StoredTable]:
    """Where a table of ``space`` may be: the default data dir, then the copy shipped beside its installer."""
    bench = get_benchmark(space)
    found = [StoredTable(space, default_data_dir() / space)]
    if bench.embedded:
        shipped = getattr(importlib.import_module(bench.embedded.partition(":")[0]), "EMBEDDED_DIR", None)
        if shipped is not None:
            found.append(StoredTable(space, shipped))
    return found


def _table_with(space: str, sha256: str) -> StoredTable | None:
    for table in _tables(space):
        try:
            if table.exists() and table.manifest().get("table_sha256") == sha256 and \
                    atomic.sha256_file(table.table_path) == sha256:
                return table
        except (HarnessError, OSError):
            continue
    return None


def known_optima(manifests: dict, space: str, dataset: str, protocol: str) -> dict[str, float]:
    """``{"inc_val": best search reward, "inc_report_test": best report test accuracy}`` (percent) of the
    table the group's runs on ``dataset`` read; only the keys that can be known."""
    runs = [m for k, m in manifests.items() if k[:3] == (space, dataset, protocol)]
    try:
        tabular = get_benchmark(space).uses_table(dataset)
    except HarnessError:
        return {}
    if not runs or not tabular:
        return {}
    shas = {(m.get("evaluator") or {}).get("table_sha256") for m in runs}
    fidelities = {m.get("fidelity") for m in runs}
    tests = {tuple((m.get("report") or {}).get("test") or ()) for m in runs}
    if len(shas) != 1 or len(fidelities) != 1 or None in shas or None in fidelities:
        return {}
    table = _table_with(space, shas.pop())
    if table is None:
        return {}
    wanted = {"inc_val": f"{dataset}/val@{fidelities.pop()}"}
    if len(tests) == 1 and len(test := tests.pop()) == 2:
        wanted["inc_report_test"] = f"{test[0]}/test@{test[1]}"
    try:
        names = set(table.column_names())
        present = {k: c for k, c in wanted.items() if c in names}
        data = table.read(sorted(set(present.values())))
    except HarnessError:
        return {}
    optima = {}
    for key, column in present.items():
        values = data.column(column).to_numpy(zero_copy_only=False).astype(float)
        if np.isfinite(values).any():
            optima[key] = float(np.nanmax(np.where(np.isfinite(values), values, np.nan)))
    return optima
