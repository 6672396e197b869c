"""Atomic file writes: a reader sees the old file or the whole new one, never a half-written one."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq


@contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """Yield a temp path beside ``dest``; on success fsync it and rename it over ``dest``."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, dest)
        _fsync_dir(dest.parent)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes(dest: Path, data: bytes) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)


def write_json(dest: Path, obj: object) -> None:
    write_bytes(dest, (json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n").encode())


def write_parquet(dest: Path, table: pa.Table) -> None:
    """Deterministic parquet: same table -> same bytes (no timestamps, fixed compression), with a
    CRC-32 per data page so a flipped bit is an error when read (``read_parquet``), not a number."""
    with atomic_path(dest) as tmp:
        pq.write_table(table, tmp, compression="zstd", use_dictionary=True, write_statistics=True,
                       write_page_checksum=True)


def read_parquet(path: Path, columns: list[str] | None = None) -> pa.Table:
    """Read a parquet file, verifying the page checksums ``write_parquet`` stores (pyarrow's
    ``ArrowInvalid`` / ``OSError`` on a mismatch; callers turn it into a one-line error)."""
    return pq.read_table(path, columns=columns, page_checksum_verification=True)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()
