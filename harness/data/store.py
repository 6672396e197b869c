"""The harness's own benchmark tables: one parquet + one manifest per benchmark in a data dir.

Importers turn official files (tfrecord, NATS archive, NASLib pickles, CSVs) into these tables
once; evaluators read them fast. Parquet cannot execute code on load, unlike the pickles some
official sources ship, so only the import step ever unpickles, and only files the user named.

Layout: ``<data_dir>/<benchmark>/table.parquet`` and ``<data_dir>/<benchmark>/manifest.json``.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from harness import atomic
from harness.errors import DataCorrupt, DataMissing, HarnessError
from harness.registry import check_name

TABLE_FORMAT_VERSION = 1
ENV_DATA_DIR = "HARNESS_DATA"


def default_data_dir() -> Path:
    """``$HARNESS_DATA`` if set, else the user cache dir (e.g. ~/.cache/nas-harness)."""
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("nas-harness"))


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    """The data dir to use; a one-line error when it names something that is not a directory."""
    path = Path(data_dir).expanduser() if data_dir else default_data_dir()
    if path.exists() and not path.is_dir():
        raise HarnessError(f"data dir {path} is not a directory; pass a directory as --data-dir (or ${ENV_DATA_DIR})")
    return path


@dataclass(frozen=True)
class StoredTable:
    benchmark: str
    directory: Path
    hint: str = ""
    """What to do when the table is missing (the benchmark's import instruction)."""

    @property
    def table_path(self) -> Path:
        return self.directory / "table.parquet"

    @property
    def manifest_path(self) -> Path:
        return self.directory / "manifest.json"

    def exists(self) -> bool:
        return self.table_path.is_file() and self.manifest_path.is_file()

    def manifest(self) -> dict:
        try:
            manifest = json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            raise self.missing_error() from None
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            why = exc.msg if hasattr(exc, "msg") else ("nested too deeply" if isinstance(exc, RecursionError) else exc)
            raise DataCorrupt(
                f"{self.manifest_path} is not valid JSON ({why}); "
                f"re-import with `python -m harness data import {self.benchmark} <file>`"
            ) from None
        if not isinstance(manifest, dict):
            raise DataCorrupt(f"{self.manifest_path} holds a JSON {type(manifest).__name__}, not a table manifest; "
                              f"re-import with `python -m harness data import {self.benchmark} <file>`")
        if manifest.get("format_version") != TABLE_FORMAT_VERSION:
            raise DataCorrupt(
                f"{self.manifest_path} has table format {manifest.get('format_version')!r}, this harness "
                f"reads {TABLE_FORMAT_VERSION}; re-import with `python -m harness data import {self.benchmark} <file>`"
            )
        return manifest

    def recorded_sha256(self) -> str:
        """The table checksum ``write_stored`` put in the manifest; a one-line ``DataCorrupt`` when
        the manifest lacks it or holds something else (an edited manifest)."""
        value = self.manifest().get("table_sha256")
        if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{64}", value):
            raise DataCorrupt(
                f"{self.manifest_path} has no valid table_sha256 (got {value!r}): it was edited or is corrupt; "
                f"re-import with `python -m harness data import {self.benchmark} <file>`"
            )
        return value

    def checksum_ok(self) -> bool:
        """Whether the table file still has the checksum ``write_stored`` put in its manifest.

        Catches a table edited or corrupted after import (``data verify``, the embedded install). A
        missing table or manifest raises ``DataMissing``, an unreadable manifest ``DataCorrupt``.
        """
        expected = self.manifest().get("table_sha256")
        if not self.table_path.is_file():
            raise self.missing_error()
        return isinstance(expected, str) and atomic.sha256_file(self.table_path) == expected

    def verified_sha256(self) -> str:
        """The checksum of the table file, after checking it equals the manifest's; a
        ``DataCorrupt`` naming the fix otherwise. Evaluators call this when they open a table, so
        an edited or bit-flipped table stops the run instead of answering queries.

        Hashing a 500 MB table costs about a second, so the verdict is remembered beside the table
        (``.verified.json``) under the file's size, mtime, ctime and inode: a change to any of them
        -- every write does, and ``touch`` cannot set ctime back -- hashes the file again.
        """
        expected = self.recorded_sha256()
        if not self.table_path.is_file():
            raise self.missing_error()
        st = self.table_path.stat()
        stamp = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, expected]
        cache = self.directory / ".verified.json"
        try:
            if json.loads(cache.read_text()) == stamp:
                return expected
        except (OSError, ValueError):
            pass
        actual = atomic.sha256_file(self.table_path)
        if actual != expected:
            raise DataCorrupt(
                f"{self.table_path} does not match its manifest (sha256 {actual[:12]}…, expected "
                f"{str(expected)[:12]}…): it was modified or is corrupt; re-import {self.benchmark} "
                f"(`python -m harness data import {self.benchmark} ...`)"
            )
        try:
            atomic.write_json(cache, stamp)
        except OSError:
            pass  # a read-only data dir: verify again next time
        return actual

    def missing_error(self) -> DataMissing:
        hint = self.hint or f"import it with `python -m harness data import {self.benchmark} <file>`"
        return DataMissing(f"no {self.benchmark} table in {self.directory.parent}; {hint}")

    def read(self, columns: list[str] | None = None) -> pa.Table:
        """Read the table (optionally a subset of columns); corrupt files give a DataCorrupt."""
        if not self.exists():
            raise self.missing_error()
        try:
            return atomic.read_parquet(self.table_path, columns=columns)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataCorrupt(
                f"{self.table_path} cannot be read ({str(exc).splitlines()[0]}); run "
                f"`python -m harness data verify` and re-import {self.benchmark}"
            ) from None

    def column_names(self) -> list[str]:
        if not self.exists():
            raise self.missing_error()
        try:
            return pq.read_schema(self.table_path).names
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataCorrupt(
                f"{self.table_path} cannot be read ({str(exc).splitlines()[0]}); re-import {self.benchmark}"
            ) from None


def stored(benchmark: str, data_dir: str | os.PathLike | None = None, hint: str = "") -> StoredTable:
    return StoredTable(benchmark, resolve_data_dir(data_dir) / check_name("benchmark", benchmark), hint)


def write_stored(
    benchmark: str, table: pa.Table, manifest: dict, data_dir: str | os.PathLike | None = None
) -> StoredTable:
    """Write table then manifest, each atomically; the manifest carries the table's checksum."""
    target = stored(benchmark, data_dir)
    try:
        atomic.write_parquet(target.table_path, table)
        full = dict(manifest)
        full.update(
            format_version=TABLE_FORMAT_VERSION,
            benchmark=benchmark,
            n_rows=table.num_rows,
            columns=table.column_names,
            table_sha256=atomic.sha256_file(target.table_path),
        )
        atomic.write_json(target.manifest_path, full)
    except OSError as exc:  # read-only, full, or a file where a folder should be
        raise HarnessError(
            f"cannot write to data dir {target.directory} ({exc.strerror}); free space, or pass a writable --data-dir "
            f"or set {ENV_DATA_DIR}"
        ) from None
    return target
