"""The harness's own benchmark tables: one parquet + one manifest per benchmark in a data dir.

Importers turn official files (tfrecord, NATS archive, NASLib pickles, CSVs) into these tables
once; evaluators read them fast. Parquet cannot execute code on load, unlike the pickles some
official sources ship, so only the import step ever unpickles, and only files the user named.

Layout: ``<data_dir>/<benchmark>/table.parquet`` and ``<data_dir>/<benchmark>/manifest.json``.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from harness import atomic
from harness.errors import DataCorrupt, DataMissing

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
    return Path(data_dir).expanduser() if data_dir else default_data_dir()


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
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataCorrupt(
                f"{self.manifest_path} is not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc}); "
                f"re-import with `python -m harness data import {self.benchmark} <file>`"
            ) from None
        if manifest.get("format_version") != TABLE_FORMAT_VERSION:
            raise DataCorrupt(
                f"{self.manifest_path} has table format {manifest.get('format_version')!r}, this harness "
                f"reads {TABLE_FORMAT_VERSION}; re-import with `python -m harness data import {self.benchmark} <file>`"
            )
        return manifest

    def checksum_ok(self) -> bool:
        """Whether the table file still has the checksum ``write_stored`` put in its manifest.

        Catches a table edited or corrupted after import (``data verify``, the embedded install). A
        missing table or manifest raises ``DataMissing``, an unreadable manifest ``DataCorrupt``.
        """
        expected = self.manifest().get("table_sha256")
        if not self.table_path.is_file():
            raise self.missing_error()
        return atomic.sha256_file(self.table_path) == expected

    def missing_error(self) -> DataMissing:
        hint = self.hint or f"import it with `python -m harness data import {self.benchmark} <file>`"
        return DataMissing(f"no {self.benchmark} table in {self.directory.parent}; {hint}")

    def read(self, columns: list[str] | None = None) -> pa.Table:
        """Read the table (optionally a subset of columns); corrupt files give a DataCorrupt."""
        if not self.exists():
            raise self.missing_error()
        try:
            return pq.read_table(self.table_path, columns=columns)
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
    return StoredTable(benchmark, resolve_data_dir(data_dir) / benchmark, hint)


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
    except PermissionError as exc:
        from harness.errors import HarnessError

        raise HarnessError(
            f"cannot write to data dir {target.directory} ({exc.strerror}); pass --data-dir or set {ENV_DATA_DIR}"
        ) from None
    return target
