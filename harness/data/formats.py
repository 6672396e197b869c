"""Which reader opens a benchmark file: decided by its name and its content together.

Deciding by content alone let a ``.csv`` that was really a pickle reach an unpickler; deciding by
name alone hides a renamed file behind a confusing parse error. So a file whose name says one
format and whose first bytes prove another is refused with a one-line ``DataCorrupt`` ("x.csv
looks like a pickle; rename it to .pickle if it really is one"); a file whose name says nothing
is read by its content only when exactly one format fits.

Content proofs (``sniff``) are magic numbers: pickle protocol 2+ (``harness.safe_pickle``),
parquet ``PAR1``, tar (``tarfile.is_tarfile``, also compressed), zip, bzip2, gzip, plus the
caller's own (NB101's TFRecord length checksum). Weak hints, such as a CSV header or a leading
``{``, only choose among formats for a file with an unknown name; they never overrule a name.
"""
from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path
from typing import Callable, Mapping

from harness.errors import DataCorrupt, HarnessError
from harness.safe_pickle import looks_like_pickle

HEAD_BYTES = 512

DESCRIPTION = {
    "pickle": "a pickle", "parquet": "a parquet file", "tar": "a tar archive", "zip": "a zip archive",
    "bzip2": "bzip2-compressed data", "gzip": "gzip-compressed data", "tfrecord": "a TFRecord file",
    "json": "JSON", "csv": "a CSV table",
}
SUFFIX = {"pickle": ".pickle", "parquet": ".parquet", "tar": ".tar", "tfrecord": ".tfrecord", "json": ".json",
          "csv": ".csv"}

_PACKED = {"tar", "zip", "bzip2", "gzip"}

Probe = Callable[[Path, bytes], bool]


def require_regular(path: Path) -> None:
    """A one-line ``DataCorrupt`` unless ``path`` is (a link to) a regular file: opening a FIFO
    waits for a writer forever and a device such as /dev/zero never ends, whatever its name says."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise HarnessError(f"cannot read {path} ({exc.strerror or type(exc).__name__}); check the path and its permissions") from None
    if not stat.S_ISREG(mode):
        what = "a directory" if stat.S_ISDIR(mode) else "a special file (FIFO, device or socket)"
        raise DataCorrupt(f"{path} is {what}, not a regular file; pass the downloaded file itself")


def head(path: Path) -> bytes:
    """The first bytes of ``path`` (a regular file, ``require_regular``); an unreadable file is a
    one-line ``HarnessError``."""
    require_regular(path)
    try:
        with open(path, "rb") as fh:
            return fh.read(HEAD_BYTES)
    except OSError as exc:
        raise HarnessError(f"cannot read {path} ({exc.strerror or type(exc).__name__}); check the path and its permissions") from None


def sniff(path: Path, first: bytes, probes: Mapping[str, Probe] | None = None) -> str | None:
    """The format ``first`` (the head of ``path``) proves (a key of ``DESCRIPTION``), or None."""
    for kind, probe in (probes or {}).items():
        if probe(path, first):
            return kind
    if looks_like_pickle(first):
        return "pickle"
    if first.startswith(b"PAR1"):
        return "parquet"
    if first.startswith(b"PK\x03\x04"):
        return "zip"
    try:
        if tarfile.is_tarfile(path):
            return "tar"
    except (OSError, EOFError):
        pass
    if first.startswith(b"BZh"):
        return "bzip2"
    if first.startswith(b"\x1f\x8b"):
        return "gzip"
    return None


def name_kind(path: Path, names: Mapping[str, str]) -> str | None:
    """The format ``path``'s name says (``names`` maps endings such as ``.tar.gz`` to formats)."""
    lower = path.name.lower()
    return next((names[s] for s in sorted(names, key=len, reverse=True) if lower.endswith(s)), None)


def decide(path: Path, *, names: Mapping[str, str], readable: set[str], unknown: str,
           probes: Mapping[str, Probe] | None = None, hints: Mapping[str, Callable[[bytes], bool]] | None = None) -> str:
    """The format to read ``path`` as, from its name and content (see the module docstring).

    ``names``: file endings -> format; ``readable``: formats the caller reads; ``probes``: extra
    content proofs; ``hints``: weak content tests for files with an unknown name; ``unknown``:
    the end of the message for a file no reader takes (what the benchmark reads).
    """
    path = Path(path)
    said = name_kind(path, names)
    first = head(path)
    proved = sniff(path, first, probes)
    if said is not None:
        if proved is None or proved == said:
            return said
        if proved in readable:
            fix = f"rename it to {SUFFIX[proved]} if it really is one"
        elif proved in _PACKED:
            fix = "unpack it and pass the file inside"
        else:
            fix = f"pass the {said} file itself"
        raise DataCorrupt(f"{path} looks like {DESCRIPTION[proved]}, not {DESCRIPTION[said]} as its name says; {fix}")
    if proved is not None:
        if proved in readable:
            return proved
        raise DataCorrupt(f"{path} looks like {DESCRIPTION[proved]}: not {unknown}")
    fits = [k for k, hint in (hints or {}).items() if k in readable and hint(first)]
    if len(fits) == 1:
        return fits[0]
    raise DataCorrupt(f"{path}: not {unknown}")
