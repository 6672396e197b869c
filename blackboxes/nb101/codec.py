"""NB101 records without TensorFlow or protobuf: the JSON payload of a tfrecord record and its
ModelMetrics message (proto2 wire format), decoded and encoded by hand (``tfrecord.py`` beside it
reads the container)."""
from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass
from typing import Any, Iterator

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


