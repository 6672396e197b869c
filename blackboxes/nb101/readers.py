"""NB101 benchmark data: read the official and derived files into one table, and query it fast.

Sources (``source_kind`` sniffs each file; ../shared/data/nb101/PROVENANCE.md describes them):

- ``nasbench-tfrecord``: google-research/nasbench ``nasbench_only108.tfrecord`` (every cell, 3
  repeats, val/test/train time at 108 epochs) or ``nasbench_full.tfrecord`` (also 4/12/36 epochs);
- ``naslib-pickle``: NASLib's ``nasbench_only108.pkl``, the official API's per-cell fixed and
  computed statistics (``nasbench/api.py``: ``fixed_statistics`` / ``computed_statistics``);
- ``naslib-json``: the same structure as JSON;
- ``nasbench-vis-csv``: ``nb101_20k_val_acc_by_hash.csv``, validation accuracy of ONE repeat
  (stored as r0) at 4/12/36/108 epochs, the 108-epoch training time, no test accuracy, specs for
  a few rows only.

Final values are those at the end of training: ``evaluation_data[-1]`` of each run's
``ModelMetrics`` (``nasbench/api.py`` reads ``evaluation_data[2]``, the last of the three), i.e.
``final_validation_accuracy`` etc. in the API's computed statistics. Accuracies are stored in
percent, times in seconds. Every cell with a spec must hash (``spaces.nb101.module_hash``) to
its stored key, else the file is from another benchmark version or corrupt.
"""
from __future__ import annotations

import json
import math
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from blackboxes.nb101 import tfrecord
from blackboxes.nb101.codec import final_evaluation, parse_record
from blackboxes.nb101.schema import (
    COLUMN_RE,
    CSV_COLUMNS,
    EPOCHS,
    FINAL_KEYS,
    HASH_RE,
    METRICS,
    REPEATS,
    column,
)
from harness import atomic
from harness.data import formats
from harness.data.values import FIX, SECONDS, check_column
from harness.errors import DataCorrupt, HarnessError
from harness.safe_pickle import RefusedPickle, load_plain
from spaces import nb101

# ---------------------------------------------------------------- reading sources

@dataclass
class Frame:
    """One source in harness columns: a DataFrame (module_hash, adjacency, operations, params and
    metric columns, accuracies in percent, params float with NaN = unknown) and its provenance."""

    df: Any
    source: dict
    notes: list[str] = field(default_factory=list)


def check_spec(h: str, adjacency: str, operations: str) -> None:
    """ValueError unless ``h`` is a 32-hex hash and (when given) the spec is valid and hashes to it."""
    if not isinstance(h, str) or not HASH_RE.match(h):
        raise ValueError(f"{h!r} is not a 32-hex module hash")
    if not adjacency and not operations:
        return
    spec = nb101.spec_from_strings(adjacency, operations)
    got = nb101.module_hash(spec.matrix, spec.ops)
    if got != h:
        raise ValueError(f"its spec hashes to {got}, not {h}: wrong benchmark version or corrupt file")


def _number(x: Any, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise ValueError(f"{what} is {x!r}, not a number")
    return float(x)


def _fraction(x: Any, what: str) -> float:
    """An accuracy as the official files store it: a fraction, always present (NaN is corrupt)."""
    x = _number(x, what)
    if not 0.0 <= x <= 1.0:  # also NaN and infinities
        raise ValueError(f"{what} = {x} is not a fraction in 0..1")
    return x


def _seconds(x: Any, what: str) -> float:
    x = _number(x, what)
    if not 0.0 <= x < math.inf:  # also NaN
        raise ValueError(f"{what} = {x} is not a time in seconds (0 or more, finite)")
    return x


class _Builder:
    """Accumulates one source's runs compactly (arrays, not per-run objects): 1.3M runs in only108."""

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}
        self.adjacency: list[str] = []
        self.operations: list[str] = []
        self.params: list[int] = []
        self.param_conflicts = 0
        self._count: dict[int, int] = {}  # runs so far per row * 4096 + epochs * 4
        self._run = array("q")  # row * 4096 + epochs * 4 + repeat
        self._values = {m: array("d") for m in METRICS}

    def cell(self, h: str, adjacency: str, operations: str, params: int) -> int:
        row = self.rows.get(h)
        if row is None:
            if not adjacency or not operations:
                raise ValueError("no adjacency/operations")
            check_spec(h, adjacency, operations)
            if params < 0:
                raise ValueError(f"trainable_parameters = {params} is negative")
            row = self.rows[h] = len(self.adjacency)
            self.adjacency.append(adjacency)
            self.operations.append(operations)
            self.params.append(int(params))
            return row
        if adjacency != self.adjacency[row] or operations != self.operations[row]:
            check_spec(h, adjacency, operations)  # an isomorphic spec is fine; the first one is kept
        if params != self.params[row]:
            self.param_conflicts += 1
        return row

    def run(self, row: int, epochs: int, val: Any, test: Any, train_s: Any) -> None:
        if epochs not in EPOCHS:
            raise ValueError(f"{epochs} epochs (NB101 has {', '.join(map(str, EPOCHS))})")
        key = row * 4096 + epochs * 4
        repeat = self._count.get(key, 0)
        if repeat >= REPEATS:
            raise ValueError(f"more than {REPEATS} runs at {epochs} epochs")
        values = (_fraction(val, FINAL_KEYS[0]) * 100.0, _fraction(test, FINAL_KEYS[1]) * 100.0,
                  _seconds(train_s, FINAL_KEYS[2]))
        self._count[key] = repeat + 1
        for m, v in zip(METRICS, values):
            self._values[m].append(v)
        self._run.append(key + repeat)

    def frame(self, source: dict, notes: list[str]) -> Frame:

        if not self.rows:
            raise DataCorrupt(f"{source['path']} holds no NB101 cells; pass the benchmark file itself")
        n = len(self.adjacency)
        code = np.frombuffer(self._run, dtype=np.int64)
        rows, epochs, repeats = code // 4096, (code % 4096) // 4, code % 4
        data: dict[str, Any] = {
            "module_hash": list(self.rows), "adjacency": self.adjacency, "operations": self.operations,
            "params": np.asarray(self.params, dtype=np.float64),
        }
        values = {m: np.frombuffer(self._values[m], dtype=np.float64) for m in METRICS}
        for e in sorted(set(epochs.tolist())):
            for m in METRICS:
                for r in range(REPEATS):
                    sel = (epochs == e) & (repeats == r)
                    col = np.full(n, np.nan)
                    col[rows[sel]] = values[m][sel]
                    data[column(m, e, r)] = col
        if self.param_conflicts:
            notes.append(f"{self.param_conflicts} runs gave another trainable_parameters than their cell's "
                         f"first run; the first is kept (as nasbench/api.py does)")
        return Frame(pd.DataFrame(data), source, notes)


def _source(path: Path, kind: str) -> dict:
    return {"path": str(path), "sha256": atomic.sha256_file(path), "size": path.stat().st_size, "kind": kind}


def read_tfrecord(path: Path) -> Frame:
    """The official ``nasbench_only108.tfrecord`` / ``nasbench_full.tfrecord`` (both CRCs checked)."""
    b = _Builder()
    for number, data in enumerate(tfrecord.read_records(path)):
        try:
            h, epochs, adjacency, operations, raw = parse_record(data)
            params, final = final_evaluation(raw)
            row = b.cell(h, adjacency, operations, params)
            b.run(row, epochs, final.validation_accuracy, final.test_accuracy, final.training_time)
        except ValueError as exc:  # also JSON, base64 and UTF-8 errors
            raise DataCorrupt(f"{path}: record {number} is not a valid NB101 record ({exc})") from None
    return b.frame(_source(path, "nasbench-tfrecord"), [])


def _bits(matrix: Any) -> str:
    m = np.asarray(matrix)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or not np.isin(m, (0, 1)).all():
        raise ValueError("module_adjacency is not a square 0/1 matrix")
    return "".join("1" if x else "0" for x in m.ravel().tolist())


def _cell_parts(value: Any) -> tuple[dict, dict]:
    """(fixed, computed) from NASLib's pair or from a flat dict holding ``computed`` (the JSON form)."""
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, dict) for v in value):
        return value[0], value[1]
    if isinstance(value, dict) and isinstance(value.get("computed"), dict):
        return value, value["computed"]
    raise ValueError("value is neither a (fixed, computed) pair nor a dict with 'computed'")


def _statistics_frame(path: Path, obj: Any, kind: str) -> Frame:
    """hash -> (fixed{module_adjacency, module_operations, trainable_parameters}, computed{epochs: [runs]})."""
    layout = "expected the nasbench API statistics: a dict hash -> (fixed, computed) as NASLib saves them"
    if not isinstance(obj, dict) or not obj:
        raise DataCorrupt(f"{path}: not an NB101 statistics file ({layout})")
    b = _Builder()
    for h, value in obj.items():
        try:
            fixed, computed = _cell_parts(value)
            missing = [k for k in ("module_adjacency", "module_operations", "trainable_parameters") if k not in fixed]
            if missing:
                raise ValueError(f"fixed statistics lack {', '.join(missing)}")
            ops = fixed["module_operations"]
            if not isinstance(ops, (list, tuple)) or not all(isinstance(o, str) for o in ops):
                raise ValueError("module_operations is not a list of op names")
            params = fixed["trainable_parameters"]
            if isinstance(params, bool) or not isinstance(params, (int, np.integer)):
                raise ValueError(f"trainable_parameters is {params!r}, not an integer")
            row = b.cell(h, _bits(fixed["module_adjacency"]), ",".join(ops), int(params))
            if not computed:
                raise ValueError("no computed statistics")
            for epochs, runs in computed.items():
                if not isinstance(runs, (list, tuple)) or not all(isinstance(r, dict) for r in runs):
                    raise ValueError(f"computed[{epochs!r}] is not a list of per-repeat dicts")
                for run in runs:
                    lack = [k for k in FINAL_KEYS if k not in run]
                    if lack:
                        raise ValueError(f"a run at {epochs} epochs lacks {', '.join(lack)}")
                    b.run(row, int(epochs), *(run[k] for k in FINAL_KEYS))
        except (ValueError, TypeError) as exc:
            raise DataCorrupt(f"{path}: cell {h!r}: {exc} ({layout})") from None
    return b.frame(_source(path, kind), [])


def read_naslib_pickle(path: Path) -> Frame:
    """NASLib's ``nasbench_only108.pkl`` (or its 30-cell test asset ``tests/assets/nb101_dummy.pkl``):
    a dict hash -> (fixed, computed), as automl/NASLib ``naslib/utils/nb101_api.py::NASBench``
    reads it with ``data_format='pickle'``.

    Loaded with ``harness.safe_pickle.load_plain``: the file holds dicts, lists, tuples, numbers,
    strings and the numpy adjacency matrices (``numpy.core.multiarray._reconstruct``,
    ``numpy.ndarray``, ``numpy.dtype``, as ``pickletools.dis`` of the shared 30-cell file shows), and
    any other class a file names is refused before it could run.
    """
    try:
        with open(path, "rb") as fh:
            obj = load_plain(fh, "a NASLib NB101 pickle")
    except RefusedPickle as exc:
        raise DataCorrupt(f"{path} was not loaded: {exc}, and loading it could run code; "
                          f"pass NASLib's nasbench_only108.pkl") from None
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not this file"
        raise DataCorrupt(f"{path} is not a readable pickle ({type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:200]}); "
                          f"pass NASLib's nasbench_only108.pkl") from None
    return _statistics_frame(path, obj, "naslib-pickle")


class _Repeated(ValueError):
    """A JSON object names one key twice (``json`` would silently keep the last)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise _Repeated(k)
        out[k] = v
    return out


def read_naslib_json(path: Path) -> Frame:
    """The JSON form of NASLib's structure (e.g. ``nb101_30_full_stats.json``); a cell (or any key)
    given twice is corrupt, not "the last one wins"."""
    try:
        obj = json.loads(path.read_bytes(), object_pairs_hook=_unique_keys)
    except _Repeated as exc:
        raise DataCorrupt(f"{path}: key {exc.args[0]!r} appears twice (a cell given twice?); corrupt file") from None
    except RecursionError:
        raise DataCorrupt(f"{path} nests lists or objects too deeply for an NB101 statistics file; corrupt "
                          f"file, pass NASLib's nb101 JSON") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataCorrupt(f"{path} is not valid JSON ({exc})") from None
    return _statistics_frame(path, obj, "naslib-json")


def _row(i: int) -> str:
    return f"data row {i + 1}"


def read_csv(path: Path) -> Frame:
    """``nb101_20k_val_acc_by_hash.csv``: one repeat (-> r0), val only, 108-epoch time, few specs.

    Every row has all four validation fractions, the training time and the parameter count
    (PROVENANCE item 2), so a missing or impossible one is corrupt; errors name the 1-based data
    row and the column."""

    text = {"module_hash": str, "adjacency_pruned": str, "operations_pruned": str}
    try:
        raw = pd.read_csv(path, dtype=text)
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataCorrupt(f"{path} is not a readable CSV ({str(exc).splitlines()[0]})") from None
    missing = [c for c in CSV_COLUMNS if c not in raw.columns]
    if missing:
        raise DataCorrupt(f"{path} lacks columns {', '.join(missing)}; an NB101 CSV needs {', '.join(CSV_COLUMNS)}")
    if raw.empty:
        raise DataCorrupt(f"{path} has no data rows (a header only?); pass the whole table")
    numeric = [c for c in CSV_COLUMNS if c not in text]
    for c in numeric:
        if raw[c].dtype.kind not in "fiu":
            raise DataCorrupt(f"{path}: column {c} is not numeric; corrupt file")
    hashes = raw["module_hash"].fillna("").astype(str)
    dup = hashes.duplicated().to_numpy()
    if dup.any():
        j = int(np.argmax(dup))
        i = int(np.argmax((hashes == hashes.iloc[j]).to_numpy()))
        raise DataCorrupt(f"{path}: {_row(j)}: duplicate module_hash {hashes.iloc[j]} (also {_row(i)}); corrupt file")
    adjacency = raw["adjacency_pruned"].fillna("").astype(str).str.strip()
    operations = raw["operations_pruned"].fillna("").astype(str).str.strip()
    for i, (h, a, o) in enumerate(zip(hashes, adjacency, operations)):
        try:
            if bool(a) != bool(o):
                raise ValueError("has adjacency_pruned or operations_pruned but not both")
            check_spec(h, a, o)
        except ValueError as exc:
            raise DataCorrupt(f"{path}: {_row(i)} (cell {h!r}): {exc}") from None
    params = raw["trainable_parameters"].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(params) | (params < 0) | (params != np.round(params))
    if bad.any():
        i = int(np.argmax(bad))
        raise DataCorrupt(f"{path}: {_row(i)}, column trainable_parameters: {params[i]} is not a parameter "
                          f"count (a whole number, 0 or more); {FIX}")
    n = len(raw)
    data: dict[str, Any] = {"module_hash": hashes.tolist(), "adjacency": adjacency.tolist(),
                            "operations": operations.tolist(), "params": params}
    for e in EPOCHS:
        val = raw[f"val_acc_{e}ep"].to_numpy(dtype=np.float64)
        outside = ~((val >= 0.0) & (val <= 1.0))  # also NaN and infinities
        if outside.any():
            i = int(np.argmax(outside))
            raise DataCorrupt(f"{path}: {_row(i)}, column val_acc_{e}ep: {val[i]} is outside 0..1; expected "
                              f"fractions (NaN: no value, but the file has one for every cell)")
        for m in METRICS:
            for r in range(REPEATS):
                data[column(m, e, r)] = np.full(n, np.nan)
        data[column("val", e, 0)] = val * 100.0
    train_s = raw["final_training_time_108ep"].to_numpy(dtype=np.float64)
    check_column(train_s, SECONDS, file=str(path), column="final_training_time_108ep", where=_row, required=True)
    data[column("train_s", 108, 0)] = train_s
    notes = [f"{path.name}: its single repeat per budget is stored as r0; which of the 3 official "
             f"repeats it is is unknown"]
    return Frame(pd.DataFrame(data), _source(path, "nasbench-vis-csv"), notes)


_NAMES = {".tfrecord": "tfrecord", ".pkl": "pickle", ".pickle": "pickle", ".json": "json", ".csv": "csv"}
_KINDS = {"tfrecord": "nasbench-tfrecord", "pickle": "naslib-pickle", "json": "naslib-json", "csv": "nasbench-vis-csv"}
_UNKNOWN = ("an NB101 file this harness reads (nasbench_only108.tfrecord, nasbench_full.tfrecord, NASLib's "
            "nasbench_only108.pkl or its JSON form, or the 20k CSV); name the file by its format")


def source_kind(path: Path) -> str:
    """Which kind of NB101 file (see the module docstring), from its name and content together
    (``harness.data.formats``): a ``.csv`` or ``.json`` that is really a pickle is refused, a file
    with another name is read by its content only when exactly one kind fits."""
    kind = formats.decide(
        path, names=_NAMES, readable=set(_KINDS), unknown=_UNKNOWN,
        probes={"tfrecord": lambda p, _head: tfrecord.looks_like_tfrecord(p)},
        hints={"json": lambda head: head.lstrip()[:1] == b"{", "csv": lambda head: head.startswith(b"module_hash")},
    )
    return _KINDS[kind]


_READERS = {"nasbench-tfrecord": read_tfrecord, "naslib-pickle": read_naslib_pickle,
            "naslib-json": read_naslib_json, "nasbench-vis-csv": read_csv}


def read_source(path: Path) -> Frame:
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"{path} does not exist or is not a file; pass the path of a downloaded NB101 file")
    frame = _READERS[source_kind(path)](path)
    frame.notes.insert(0, _coverage_note(frame))
    frame.source["cells"] = len(frame.df)
    return frame


def _coverage_note(frame: Frame) -> str:
    """What a source lacks, for the manifest (e.g. the 20k CSV: repeats, test accuracy, most specs)."""
    df = frame.df
    epochs = epochs_of(df.columns)
    lacks = []
    if missing := [e for e in EPOCHS if e not in epochs]:
        lacks.append(f"the {_joined(missing)}-epoch budgets")
    repeats = {e: sum(bool(df[column("val", e, r)].notna().any()) for r in range(REPEATS)) for e in epochs}
    for k in sorted(set(repeats.values()) - {REPEATS}):
        lacks.append(f"repeats (only {k} of {REPEATS} at {_joined(e for e in epochs if repeats[e] == k)} epochs)")
    for m, what in (("test", "test accuracy"), ("train_s", "training time")):
        absent = [e for e in epochs if not any(df[column(m, e, r)].notna().any() for r in range(REPEATS))]
        if absent:
            lacks.append(f"{what} at {_joined(absent)} epochs")
    with_spec = int((df["adjacency"] != "").sum())
    if with_spec < len(df):
        lacks.append(f"specs for {len(df) - with_spec} of {len(df)} cells")
    lacks.append("halfway and train-accuracy metrics (not imported)")
    return f"{Path(frame.source['path']).name} ({frame.source['kind']}, {len(df)} cells) lacks: " + "; ".join(lacks)


def _joined(epochs) -> str:
    return "/".join(map(str, epochs))


def epochs_of(columns) -> list[int]:
    return sorted({int(m.group(2)) for c in columns if (m := COLUMN_RE.match(str(c)))})


