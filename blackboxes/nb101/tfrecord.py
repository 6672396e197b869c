"""TFRecord container files without TensorFlow: a streaming, checksum-verifying reader and a writer.

Format (tensorflow/core/lib/io/record_writer.cc, read not copied; restated in
../shared/data/nb101/FORMAT_nasbench_tfrecord.md): a file is a sequence of records, each
``uint64 length (LE) | uint32 masked_crc32c(length bytes) | data[length] | uint32 masked_crc32c(data)``
with ``masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8 (mod 2**32)`` over CRC-32C (Castagnoli).

Both checksums are verified, so a truncated file, a flipped bit or a file of another kind is a
``DataCorrupt`` naming the file and the record, never silently wrong data.
"""
from __future__ import annotations

import struct
from pathlib import Path
from typing import Iterable, Iterator

import crc32c

from harness import atomic
from harness.errors import DataCorrupt

_MASK_DELTA = 0xA282EAD8
_HEADER = struct.Struct("<QI")
_CRC = struct.Struct("<I")
_READ_BUFFER = 1 << 20


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC-32C of ``data``."""
    crc = crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def looks_like_tfrecord(path: Path) -> bool:
    """Whether the first record header of ``path`` carries a valid length checksum."""
    with open(path, "rb") as fh:
        head = fh.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return False
    return masked_crc32c(head[:8]) == _HEADER.unpack(head)[1]


def read_records(path: Path) -> Iterator[bytes]:
    """Yield each record's data in file order, verifying both checksums of every record."""
    path = Path(path)
    size = path.stat().st_size
    fix = "re-download it (the official files are nasbench_only108.tfrecord / nasbench_full.tfrecord)"
    with open(path, "rb", buffering=_READ_BUFFER) as fh:
        number = 0
        offset = 0
        while True:
            header = fh.read(_HEADER.size)
            if not header:
                return
            if len(header) < _HEADER.size:
                raise DataCorrupt(f"{path}: truncated in the header of record {number} (byte {offset}); {fix}")
            length, length_crc = _HEADER.unpack(header)
            if masked_crc32c(header[:8]) != length_crc:
                what = "not a TFRecord file" if number == 0 else "corrupt"
                raise DataCorrupt(f"{path}: {what} (bad length checksum in record {number}, byte {offset}); {fix}")
            if offset + _HEADER.size + length + _CRC.size > size:
                raise DataCorrupt(f"{path}: truncated in record {number} (byte {offset}); {fix}")
            body = fh.read(length + _CRC.size)
            if len(body) < length + _CRC.size:  # the file shrank while we read it
                raise DataCorrupt(f"{path}: truncated in record {number} (byte {offset}); {fix}")
            data = body[:length]
            if masked_crc32c(data) != _CRC.unpack_from(body, length)[0]:
                raise DataCorrupt(f"{path}: corrupt (bad data checksum in record {number}, byte {offset}); {fix}")
            yield data
            number += 1
            offset += _HEADER.size + length + _CRC.size


def encode_record(data: bytes) -> bytes:
    """One record in the container format (header, data, checksums)."""
    length = struct.pack("<Q", len(data))
    return length + _CRC.pack(masked_crc32c(length)) + data + _CRC.pack(masked_crc32c(data))


def write_records(path: Path, records: Iterable[bytes]) -> None:
    """Write ``records`` as a TFRecord file, atomically (used by tests and benchmarks)."""
    with atomic.atomic_path(Path(path)) as tmp, open(tmp, "wb", buffering=_READ_BUFFER) as fh:
        for data in records:
            fh.write(encode_record(bytes(data)))
