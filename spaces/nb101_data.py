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

import base64
import json
import math
import pickle
import re
import struct
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pyarrow as pa

import harness
from harness import atomic
from harness.data import tfrecord
from harness.data.store import StoredTable, stored, write_stored
from harness.errors import DataCorrupt, DataMissing, HarnessError
from harness.evaluation import Evaluator, Result
from spaces import nb101

BENCHMARK = "nb101"
N_CELLS = 423_624
"""Unique cells of NAS-Bench-101 (Ying et al. 2019, §2.2)."""
EPOCHS = (4, 12, 36, 108)
REPEATS = 3
METRICS = ("val", "test", "train_s")
BEST_MEAN_TEST = 94.32
"""Best mean (over repeats) 108-epoch test accuracy of the full benchmark (FORMAT notes; PROVENANCE
cites an independent Pareto-front file: min test error 5.68%)."""
CSV_COLUMNS = (
    "module_hash", "val_acc_4ep", "val_acc_12ep", "val_acc_36ep", "val_acc_108ep",
    "final_training_time_108ep", "trainable_parameters", "adjacency_pruned", "operations_pruned",
)
FINAL_KEYS = ("final_validation_accuracy", "final_test_accuracy", "final_training_time")
"""The API's computed-statistics keys we import (``nasbench/api.py::NASBench.__init__``)."""

_HASH = re.compile(r"^[0-9a-f]{32}$")
_COLUMN = re.compile(r"^(val|test|train_s)@(\d+)/r(\d)$")


def column(metric: str, epochs: int, repeat: int) -> str:
    """Harness column name, e.g. ``val@108/r0``."""
    return f"{metric}@{epochs}/r{repeat}"


# ---------------------------------------------------------------- ModelMetrics (proto2 wire format)
# Field numbers and types from google-research/nasbench nasbench/lib/model_metrics.proto:
# ModelMetrics {1: repeated EvaluationData, 2: int32 trainable_parameters, 3: double total_time}
# EvaluationData {1: current_epoch, 2: training_time, 3: train_accuracy, 4: validation_accuracy,
#                 5: test_accuracy (all double), 6: string checkpoint_path}

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5
_DOUBLE = struct.Struct("<d")
_EVAL_DOUBLES = {1: "current_epoch", 2: "training_time", 3: "train_accuracy",
                 4: "validation_accuracy", 5: "test_accuracy"}


@dataclass(frozen=True)
class EvaluationData:
    """One evaluation during training (accuracies are fractions; proto2 defaults when unset)."""

    current_epoch: float = 0.0
    training_time: float = 0.0
    train_accuracy: float = 0.0
    validation_accuracy: float = 0.0
    test_accuracy: float = 0.0
    checkpoint_path: str = ""


@dataclass(frozen=True)
class ModelMetrics:
    """One training run: evaluations at step 0, halfway and the end, plus fixed statistics."""

    evaluation_data: tuple[EvaluationData, ...] = ()
    trainable_parameters: int = 0
    total_time: float = 0.0


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint in ModelMetrics")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes in ModelMetrics")


def _fields(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) per field: varints as int, everything else as bytes."""
    pos, end = 0, len(buf)
    while pos < end:
        key = buf[pos]
        if key < 0x80:  # one-byte key: every field of ModelMetrics
            pos += 1
        else:
            key, pos = _read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0 in ModelMetrics")
        if wire == _VARINT:
            value, pos = _read_varint(buf, pos)
        elif wire in (_FIXED64, _FIXED32, _BYTES):
            if wire == _BYTES:
                size = buf[pos] if pos < end else 0x80
                if size < 0x80:
                    pos += 1
                else:
                    size, pos = _read_varint(buf, pos)
            else:
                size = 8 if wire == _FIXED64 else 4
            if pos + size > end:
                raise ValueError("truncated field in ModelMetrics")
            value = buf[pos:pos + size]
            pos += size
        else:
            raise ValueError(f"unsupported wire type {wire} in ModelMetrics")
        yield number, wire, value


def _expect(number: int, wire: int, want: int) -> None:
    if wire != want:
        raise ValueError(f"ModelMetrics field {number} has wire type {wire}, expected {want}")


def _decode_evaluation(buf: bytes) -> EvaluationData:
    values: dict[str, Any] = {}
    for number, wire, value in _fields(buf):
        if number in _EVAL_DOUBLES:
            _expect(number, wire, _FIXED64)
            values[_EVAL_DOUBLES[number]] = _DOUBLE.unpack(value)[0]
        elif number == 6:
            _expect(number, wire, _BYTES)
            values["checkpoint_path"] = value.decode("utf-8")
    return EvaluationData(**values)


def _split_metrics(buf: bytes) -> tuple[list[bytes], int, float]:
    """ModelMetrics' top level: serialized EvaluationData messages, trainable_parameters, total_time."""
    evaluations: list[bytes] = []
    params, total = 0, 0.0
    for number, wire, value in _fields(buf):
        if number == 1:
            _expect(number, wire, _BYTES)
            evaluations.append(value)
        elif number == 2:
            _expect(number, wire, _VARINT)
            params = value & 0xFFFFFFFF  # int32: the low 32 bits, two's complement
            params -= (params >> 31) << 32
        elif number == 3:
            _expect(number, wire, _FIXED64)
            total = _DOUBLE.unpack(value)[0]
    return evaluations, params, total


def decode_model_metrics(buf: bytes) -> ModelMetrics:
    """Decode a serialized ``ModelMetrics``; ValueError when it is not one. Unknown fields are skipped."""
    evaluations, params, total = _split_metrics(buf)
    return ModelMetrics(tuple(_decode_evaluation(e) for e in evaluations), params, total)


def final_evaluation(buf: bytes) -> tuple[int, EvaluationData]:
    """``trainable_parameters`` and the last EvaluationData (end of training), decoding only that one."""
    evaluations, params, _ = _split_metrics(buf)
    if not evaluations:
        raise ValueError("ModelMetrics has no evaluation_data")
    return params, _decode_evaluation(evaluations[-1])


def _varint_bytes(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int32 -> 10-byte two's complement, as protobuf encodes it
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint_bytes(number << 3 | wire)


def encode_model_metrics(metrics: ModelMetrics) -> bytes:
    """Serialize ``metrics`` (every field written) — for tests and benchmark files in the real format."""
    out = bytearray()
    for ev in metrics.evaluation_data:
        msg = bytearray()
        for number, name in _EVAL_DOUBLES.items():
            msg += _key(number, _FIXED64) + _DOUBLE.pack(getattr(ev, name))
        path = ev.checkpoint_path.encode("utf-8")
        msg += _key(6, _BYTES) + _varint_bytes(len(path)) + path
        out += _key(1, _BYTES) + _varint_bytes(len(msg)) + msg
    out += _key(2, _VARINT) + _varint_bytes(metrics.trainable_parameters)
    out += _key(3, _FIXED64) + _DOUBLE.pack(metrics.total_time)
    return bytes(out)


# ---------------------------------------------------------------- tfrecord payload

def parse_record(data: bytes) -> tuple[str, int, str, str, bytes]:
    """A record's JSON payload: (module_hash, epochs, raw_adjacency, raw_operations, ModelMetrics bytes)."""
    item = json.loads(data.decode("utf-8"))
    if not (isinstance(item, list) and len(item) == 5):
        raise ValueError("payload is not a JSON list of 5 items")
    h, epochs, adjacency, operations, raw = item
    if not (isinstance(h, str) and isinstance(epochs, int) and isinstance(adjacency, str)
            and isinstance(operations, str) and isinstance(raw, str)):
        raise ValueError("payload items are not [str, int, str, str, str]")
    return h, epochs, adjacency, operations, base64.b64decode(raw, validate=True)


def make_record(module_hash: str, epochs: int, adjacency: str, operations: str, metrics: ModelMetrics) -> bytes:
    """The payload of one official record (for tests and benchmark files)."""
    raw = base64.b64encode(encode_model_metrics(metrics)).decode("ascii")
    return json.dumps([module_hash, epochs, adjacency, operations, raw]).encode("utf-8")


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
    if not isinstance(h, str) or not _HASH.match(h):
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
    x = _number(x, what)
    if math.isfinite(x) and not 0.0 <= x <= 1.0:
        raise ValueError(f"{what} = {x} is not a fraction in 0..1")
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
        values = (_fraction(val, "validation accuracy") * 100.0, _fraction(test, "test accuracy") * 100.0,
                  _number(train_s, "training time"))
        self._count[key] = repeat + 1
        for m, v in zip(METRICS, values):
            self._values[m].append(v)
        self._run.append(key + repeat)

    def frame(self, source: dict, notes: list[str]) -> Frame:
        import pandas as pd

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

    Unpickling executes code stored in the file: call this only on a path the user passed
    (the importer never opens pickles on its own), and keep the result as a parquet table.
    """
    try:
        with open(path, "rb") as fh:
            obj = pickle.load(fh)  # noqa: S301 - a file the user named, see the docstring
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not this file"
        raise DataCorrupt(f"{path} is not a readable pickle ({type(exc).__name__}: {exc}); "
                          f"pass NASLib's nasbench_only108.pkl") from None
    return _statistics_frame(path, obj, "naslib-pickle")


def read_naslib_json(path: Path) -> Frame:
    """The JSON form of NASLib's structure (e.g. ``nb101_30_full_stats.json``)."""
    try:
        obj = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataCorrupt(f"{path} is not valid JSON ({exc})") from None
    return _statistics_frame(path, obj, "naslib-json")


def read_csv(path: Path) -> Frame:
    """``nb101_20k_val_acc_by_hash.csv``: one repeat (-> r0), val only, 108-epoch time, few specs."""
    import pandas as pd

    text = {"module_hash": str, "adjacency_pruned": str, "operations_pruned": str}
    try:
        raw = pd.read_csv(path, dtype=text)
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataCorrupt(f"{path} is not a readable CSV ({str(exc).splitlines()[0]})") from None
    missing = [c for c in CSV_COLUMNS if c not in raw.columns]
    if missing:
        raise DataCorrupt(f"{path} lacks columns {', '.join(missing)}; an NB101 CSV needs {', '.join(CSV_COLUMNS)}")
    if raw.empty:
        raise DataCorrupt(f"{path} holds no NB101 cells")
    numeric = [c for c in CSV_COLUMNS if c not in text]
    for c in numeric:
        if raw[c].dtype.kind not in "fiu":
            raise DataCorrupt(f"{path}: column {c} is not numeric; corrupt file")
    hashes = raw["module_hash"].fillna("").astype(str)
    if raw["module_hash"].duplicated().any():
        raise DataCorrupt(f"{path}: duplicate module_hash {hashes[hashes.duplicated()].iloc[0]}; corrupt file")
    adjacency = raw["adjacency_pruned"].fillna("").astype(str).str.strip()
    operations = raw["operations_pruned"].fillna("").astype(str).str.strip()
    for i, (h, a, o) in enumerate(zip(hashes, adjacency, operations)):
        try:
            if bool(a) != bool(o):
                raise ValueError("has adjacency_pruned or operations_pruned but not both")
            check_spec(h, a, o)
        except ValueError as exc:
            raise DataCorrupt(f"{path}: row {i + 2} (cell {h!r}): {exc}") from None
    n = len(raw)
    data: dict[str, Any] = {"module_hash": hashes.tolist(), "adjacency": adjacency.tolist(),
                            "operations": operations.tolist(),
                            "params": raw["trainable_parameters"].to_numpy(dtype=np.float64)}
    for e in EPOCHS:
        val = raw[f"val_acc_{e}ep"].to_numpy(dtype=np.float64)
        if (val[np.isfinite(val)] > 1.0).any() or (val[np.isfinite(val)] < 0.0).any():
            raise DataCorrupt(f"{path}: val_acc_{e}ep has values outside 0..1; expected fractions")
        for m in METRICS:
            for r in range(REPEATS):
                data[column(m, e, r)] = np.full(n, np.nan)
        data[column("val", e, 0)] = val * 100.0
    data[column("train_s", 108, 0)] = raw["final_training_time_108ep"].to_numpy(dtype=np.float64)
    notes = [f"{path.name}: its single repeat per budget is stored as r0; which of the 3 official "
             f"repeats it is is unknown"]
    return Frame(pd.DataFrame(data), _source(path, "nasbench-vis-csv"), notes)


def source_kind(path: Path) -> str:
    """Which kind of NB101 file (see the module docstring), from its suffix or else its first bytes."""
    suffix = path.suffix.lower()
    with open(path, "rb") as fh:
        head = fh.read(256)
    if suffix == ".tfrecord" or tfrecord.looks_like_tfrecord(path):
        return "nasbench-tfrecord"
    if suffix in (".pkl", ".pickle") or head[:1] == b"\x80":
        return "naslib-pickle"
    if suffix == ".json" or head.lstrip()[:1] == b"{":
        return "naslib-json"
    if suffix == ".csv" or head.startswith(b"module_hash"):
        return "nasbench-vis-csv"
    raise DataCorrupt(
        f"{path}: not an NB101 file this harness reads (nasbench_only108.tfrecord, nasbench_full.tfrecord, "
        f"NASLib's nasbench_only108.pkl or its JSON form, or the 20k CSV)"
    )


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
    epochs = _epochs_of(df.columns)
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


def _epochs_of(columns) -> list[int]:
    return sorted({int(m.group(2)) for c in columns if (m := _COLUMN.match(str(c)))})


# ---------------------------------------------------------------- merging and writing

def merge(frames: Sequence[Frame]):
    """Union of the sources by module_hash; any value two sources both have must agree."""
    merged = frames[0].df.set_index("module_hash")
    for fr in frames[1:]:
        df = fr.df.set_index("module_hash")
        common = merged.index.intersection(df.index)
        for col in ["params"] + [c for c in df.columns if _COLUMN.match(c) and c in merged.columns]:
            a = merged.loc[common, col].to_numpy(dtype=np.float64)
            b = df.loc[common, col].to_numpy(dtype=np.float64)
            bad = np.isfinite(a) & np.isfinite(b) & ~np.isclose(a, b, rtol=1e-9, atol=0.0)
            if bad.any():
                i = int(np.argmax(bad))
                raise DataCorrupt(
                    f"{fr.source['path']} and an earlier file disagree on {col} of cell {common[i]} "
                    f"({b[i]} vs {a[i]}); they are different benchmark versions or one is corrupt"
                )
        union = merged.index.union(df.index)
        merged, df = merged.reindex(union), df.reindex(union)
        no_spec = merged["adjacency"].isna() | (merged["adjacency"] == "")
        for col in ("adjacency", "operations"):
            merged[col] = merged[col].where(~no_spec, df[col])
        for col in df.columns:
            if col not in ("adjacency", "operations"):
                merged[col] = merged[col].fillna(df[col]) if col in merged.columns else df[col]
    return merged.sort_index()


def to_table(merged) -> pa.Table:
    """The harness schema: hash, spec strings, params, then every (epochs, metric, repeat) column."""
    epochs = _epochs_of(merged.columns)
    n = len(merged)
    params = merged["params"].to_numpy(dtype=np.float64)
    unknown = ~np.isfinite(params)
    cols: dict[str, pa.Array] = {
        "module_hash": pa.array(merged.index.astype(str).tolist(), pa.string()),
        "adjacency": pa.array(merged["adjacency"].fillna("").astype(str).tolist(), pa.string()),
        "operations": pa.array(merged["operations"].fillna("").astype(str).tolist(), pa.string()),
        "params": pa.array(np.where(unknown, 0, params).astype(np.int64), pa.int64(), mask=unknown),
    }
    for e in epochs:
        for m in METRICS:
            for r in range(REPEATS):
                name = column(m, e, r)
                values = merged[name].to_numpy(dtype=np.float64) if name in merged.columns else np.full(n, np.nan)
                cols[name] = pa.array(values, pa.float64())
    return pa.table(cols)


def import_files(paths: Sequence[Path], data_dir=None) -> StoredTable:
    """Read every file (kind sniffed), merge by hash, and write the NB101 table; nothing is written
    unless every file reads cleanly and agrees with the others."""
    if not paths:
        raise HarnessError("give at least one NB101 file to import")
    frames = [read_source(Path(p)) for p in paths]
    merged = merge(frames)
    table = to_table(merged)
    epochs = _epochs_of(table.column_names)
    manifest = {
        "harness_version": harness.__version__,
        "sources": [fr.source for fr in frames],
        "notes": [n for fr in frames for n in fr.notes],
        "partial": table.num_rows < N_CELLS,
        "expected_rows": N_CELLS,
        "epochs": epochs,
        "repeats": {str(e): _repeats_present(table, e) for e in epochs},
        "units": "accuracies in percent, train_s in seconds (final values, end of training)",
    }
    return write_stored(BENCHMARK, table, manifest, data_dir)


def _repeats_present(table: pa.Table, epochs: int) -> int:
    return sum(bool(np.isfinite(table.column(column("val", epochs, r)).to_numpy()).any()) for r in range(REPEATS))


# ---------------------------------------------------------------- checking a stored table

def _mean_over_repeats(a: np.ndarray) -> np.ndarray:
    """Row means of the finite entries of an (n, k) array; NaN where a row has none."""
    finite = np.isfinite(a)
    count = finite.sum(axis=1)
    total = np.where(finite, a, 0.0).sum(axis=1)
    return np.divide(total, count, out=np.full(len(a), np.nan), where=count > 0)


def verify(table: StoredTable) -> dict:
    """Checksum, row count, hash order and the known optimum (best mean test 94.32 at 108 epochs)."""
    manifest = table.manifest()
    problems: list[str] = []
    info: dict[str, Any] = {"rows": manifest.get("n_rows"), "partial": manifest.get("partial")}
    if not table.checksum_ok():
        problems.append("table checksum differs from its manifest (modified or corrupt): re-import nb101")
        info.update(checksum_ok=False, problems=problems)
        return info
    info["checksum_ok"] = True
    names = table.column_names()
    wanted = [c for c in names if c.startswith(("val@108/", "test@108/"))]
    data = table.read(["module_hash"] + wanted)
    rows = data.num_rows
    info["rows"] = rows
    if rows != manifest.get("n_rows"):
        problems.append(f"{rows} rows but the manifest says {manifest.get('n_rows')}")
    hashes = _hash_array(data.column("module_hash"), table).copy()
    if rows > 1 and not (hashes[1:] > hashes[:-1]).all():
        problems.append("module_hash is not sorted and unique: re-import nb101")
    partial = rows < N_CELLS
    if bool(manifest.get("partial")) != partial:
        problems.append(f"the manifest says partial={manifest.get('partial')} but the table has {rows} rows")
    if partial:
        problems.append(f"{rows} of {N_CELLS} cells (partial import)")
    found = []
    for metric, key in (("test", "best_mean_test"), ("val", "best_mean_val")):
        cols = [c for c in wanted if c.startswith(f"{metric}@")]
        if not cols:
            info[key] = None
            continue
        mean = _mean_over_repeats(np.column_stack([data.column(c).to_numpy(zero_copy_only=False) for c in cols]))
        if not np.isfinite(mean).any():
            info[key] = None
            continue
        best = int(np.nanargmax(mean))
        info[key] = float(mean[best])
        found.append(f"best mean {metric}@108 {mean[best]:.3f} ({hashes[best].decode()})")
    if found:
        info["optimum"] = "; ".join(found)
    best_test = info.get("best_mean_test")
    if not partial and best_test is not None and abs(best_test - BEST_MEAN_TEST) > 0.01:
        problems.append(f"best mean test accuracy is {best_test:.3f}, expected {BEST_MEAN_TEST} "
                        f"(wrong benchmark version or corrupt import)")
    info["problems"] = problems
    return info


# ---------------------------------------------------------------- the evaluator

def _hash_array(col: pa.Array | pa.ChunkedArray, table: StoredTable) -> np.ndarray:
    """A string column of 32-hex hashes as a numpy 'S32' array, straight from Arrow's buffers."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    n = len(arr)
    if n == 0:
        return np.empty(0, dtype="S32")
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32, count=n + 1, offset=arr.offset * 4)
    if arr.null_count or not (np.diff(offsets) == 32).all():
        raise DataCorrupt(f"{table.table_path}: module_hash holds values that are not 32-hex hashes; re-import nb101")
    return np.frombuffer(arr.buffers()[2], dtype="S32", count=n, offset=int(offsets[0]))


def _parquet(table: StoredTable):
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(table.table_path, buffer_size=1 << 16, pre_buffer=False)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataCorrupt(f"{table.table_path} cannot be read ({str(exc).splitlines()[0]}); re-import nb101") from None


def _batches(table: StoredTable, columns: list[str]) -> Iterator[tuple[int, pa.RecordBatch]]:
    """(first row, batch) over ``columns``, streamed in small batches: reading a 423k-row table
    whole peaks at several times its size in Arrow's decode buffers, streaming at about 1x."""
    start = 0
    try:
        for batch in _parquet(table).iter_batches(batch_size=1 << 14, columns=columns, use_threads=False):
            yield start, batch
            start += batch.num_rows
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataCorrupt(f"{table.table_path} cannot be read ({str(exc).splitlines()[0]}); re-import nb101") from None


def _read_hashes(table: StoredTable, n: int) -> np.ndarray:
    out = np.empty(n, dtype="S32")
    for start, batch in _batches(table, ["module_hash"]):
        out[start:start + batch.num_rows] = _hash_array(batch.column(0), table)
    return out


def _read_runs(table: StoredTable, names: list[str | None], n: int) -> np.ndarray:
    """An (n, len(names)) float64 array of the named columns (None or absent -> NaN)."""
    out = np.full((n, len(names)), np.nan)
    present = [c for c in names if c is not None]
    if present:
        for start, batch in _batches(table, present):
            for c in present:
                out[start:start + batch.num_rows, names.index(c)] = batch.column(c).to_numpy(zero_copy_only=False)
    return out


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

    def __init__(self, data_dir=None, space: nb101.NB101Space | None = None):
        self.space = space if space is not None else nb101.NB101Space()
        self.table = stored(BENCHMARK, data_dir)
        names = set(self.table.column_names())
        self.fidelities = tuple(e for e in EPOCHS if column("val", e, 0) in names)
        if not self.fidelities:
            raise DataMissing(f"the nb101 table in {self.table.directory} has no validation accuracies; re-import it")
        self.default_fidelity = 108 if 108 in self.fidelities else self.fidelities[-1]
        self._names = names
        self._manifest = self.table.manifest()
        self._hashes = _read_hashes(self.table, _parquet(self.table).metadata.num_rows)
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
        block = _read_runs(self.table, [c if c in self._names else None for c in names], self.n_rows)
        runs = {m: block[:, k * REPEATS:(k + 1) * REPEATS] for k, m in enumerate(METRICS)}
        present = int(sum(np.isfinite(runs["val"][:, r]).any() for r in range(REPEATS)))
        means = {m: _mean_over_repeats(a) for m, a in runs.items()}
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
            "table_sha256": self._manifest.get("table_sha256"),
            "partial": self._manifest.get("partial"),
            "n_rows": self.n_rows,
            "fidelities": list(self.fidelities),
        }


def make_evaluator(dataset: str, data_dir, space) -> NB101Benchmark:
    if dataset != "cifar10":
        raise HarnessError(f"NB101 has one dataset, cifar10, not {dataset!r}")
    return NB101Benchmark(data_dir, space)
