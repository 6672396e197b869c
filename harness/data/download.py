"""Downloading official files: resumable, verified against published checksums, atomic.

Downloads stream into ``<file>.part`` beside the destination and resume with an HTTP Range
request, so an interrupted 2 GB download continues where it stopped; a server that ignores Range
(answers 200) is downloaded again from the start. Only a file whose size and checksums match
what was published (the benchmark's ``Source``) or the ``--sha256`` given is renamed into place.
``verified_download`` (``data fetch``) refuses a download with no checksum at all; ``download``
itself accepts one on its size and prints its sha256 as unverified.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Sequence

from rich.console import Console

import harness
from harness.data.store import resolve_data_dir
from harness.errors import DataCorrupt, HarnessError

CHUNK = 1 << 20
TIMEOUT_S = 60.0
"""Seconds without data before a read fails (the download then resumes on the next try)."""
STALL_BYTES = 16 << 10
"""Fewer bytes than this in a whole ``TIMEOUT_S`` is a stalled download too (a server trickling a
byte now and then never trips the socket timeout); it fails the same way and resumes next try."""
MAX_UNPUBLISHED_BYTES = 8 << 30
"""Most bytes a download whose size nobody published may bring (8 GiB; the largest official file,
``nasbench_full.tfrecord``, is 2.1 GB): a server that streams forever fills no disk."""
_CONTENT_RANGE = re.compile(r"^bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)$")


@dataclass(frozen=True)
class Source:
    """One official file: where to get it, what it must hash to, and who says so.

    ``url`` is the direct download address when ``fetchable``, else the page a person downloads
    from. ``size`` is in bytes; ``size``/``md5``/``sha256`` are None when not published.
    ``kind`` names the format the benchmark's importer reads.
    """

    benchmark: str
    name: str
    url: str
    filename: str
    size: int | None
    md5: str | None
    sha256: str | None
    kind: str
    citation: str
    fetchable: bool


@dataclass
class _Hashes:
    """The digests a download is checked against, fed as bytes arrive."""

    sha256: Any
    md5: Any

    @classmethod
    def of_prefix(cls, path: Path, length: int) -> "_Hashes":
        h = cls(hashlib.sha256(), hashlib.md5(usedforsecurity=False))
        if length:
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(CHUNK), b""):
                    h.update(block)
        return h

    def update(self, data: bytes) -> None:
        self.sha256.update(data)
        self.md5.update(data)


def _why(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        exc = reason
    elif isinstance(reason, str) and reason:
        return reason
    text = getattr(exc, "strerror", None) or str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _network_error(url: str, reason: str, benchmark: str | None) -> HarnessError:
    return HarnessError(
        f"could not download {url}: {reason}; retry (the download resumes) or download it yourself and run "
        f"`python -m harness data import {benchmark or '<benchmark>'} <file>`"
    )


def _open(url: str, offset: int, benchmark: str | None) -> tuple[http.client.HTTPResponse | None, int | None]:
    """(the response for ``url`` from byte ``offset``, None) or, when the server says nothing
    follows ``offset`` (416), (None, the file size it reports or None)."""
    headers = {"User-Agent": f"nas-harness/{harness.__version__}", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S), None
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:
            m = _CONTENT_RANGE.match((exc.headers.get("Content-Range") or "").strip())
            return None, (int(m.group(2)) if m and m.group(2) != "*" else None)
        raise _network_error(url, f"HTTP {exc.code} {exc.reason}", benchmark) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        raise _network_error(url, _why(exc), benchmark) from None


def _total(resp: http.client.HTTPResponse, offset: int) -> tuple[int | None, int | None]:
    """(first byte of the body, size of the whole file) from the headers; None when not said."""
    if resp.status == 206:
        m = _CONTENT_RANGE.match(resp.headers.get("Content-Range", "").strip())
        if not m or m.group(1) is None:
            return None, None
        return int(m.group(1)), (int(m.group(2)) if m.group(2) != "*" else None)
    length = resp.headers.get("Content-Length")
    return 0, (int(length) if length and length.isdigit() else None)


def _progress(name: str, total: int | None, done: int, enabled: bool):
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                   TimeRemainingColumn(), console=Console(stderr=True), disable=not enabled)
    task = bar.add_task(name, total=total, completed=done)
    return bar, task


def _stream(url: str, part: Path, size: int | None, progress: bool, benchmark: str | None) -> _Hashes:
    """Bring ``part`` to the whole file (resuming when the server honours Range); its digests."""
    for _attempt in range(2):
        offset = part.stat().st_size if part.exists() else 0
        if size is not None and offset > size:
            part.unlink()
            offset = 0
        if size is not None and offset == size:
            return _Hashes.of_prefix(part, offset)
        resp, remote_size = _open(url, offset, benchmark)
        if resp is None:  # 416: nothing after `offset`: the part is whole, or longer than the file
            if remote_size == offset:
                return _Hashes.of_prefix(part, offset)
            part.unlink()
            continue
        with resp:
            start, total = _total(resp, offset)
            if start != offset and resp.status == 206:  # a range we did not ask for: start over
                part.unlink(missing_ok=True)
                continue
            if resp.status == 200:
                offset = 0  # Range ignored: the body is the whole file
            ctype = resp.headers.get("Content-Type", "")
            if ctype.startswith("text/html") and not part.name.endswith((".html.part", ".htm.part")):
                raise HarnessError(
                    f"{url} answered with a web page, not the file (a sign-in or confirmation page?); "
                    f"download it in a browser and run `python -m harness data import {benchmark or '<benchmark>'} <file>`"
                )
            if size is not None and total is not None and total != size:
                part.unlink(missing_ok=True)
                raise DataCorrupt(
                    f"{url} serves {total:,} bytes but the expected size of {part.name[:-5]} is {size:,}: "
                    f"it is not the expected file, check the URL"
                )
            limit = size if size is not None else MAX_UNPUBLISHED_BYTES
            if total is not None and total > limit:
                part.unlink(missing_ok=True)
                raise DataCorrupt(f"{url} announces {total:,} bytes, more than the {limit:,} a download without a "
                                  f"published size may bring; download it yourself and run `python -m harness data "
                                  f"import {benchmark or '<benchmark>'} <file>`")
            total = total if total is not None else size
            hashes = _Hashes.of_prefix(part, offset)
            done, overflow = offset, False
            window_start, window_done = time.monotonic(), done
            bar, task = _progress(part.name[:-5], total, done, progress)
            with bar, open(part, "ab" if offset else "wb") as fh:
                while True:
                    try:
                        chunk = resp.read1(CHUNK)  # what has arrived, so a trickle is seen as one
                    except (OSError, http.client.HTTPException) as exc:
                        fh.flush()
                        raise _network_error(url, f"connection lost after {done:,} bytes ({_why(exc)})", benchmark) from None
                    if not chunk:
                        break
                    done += len(chunk)
                    if time.monotonic() - window_start >= TIMEOUT_S:
                        if done - window_done < STALL_BYTES:
                            fh.flush()  # the part holds what came before this chunk: the next try resumes
                            raise _network_error(url, f"stalled after {done:,} bytes (fewer than {STALL_BYTES:,} "
                                                      f"bytes in {TIMEOUT_S:g} s)", benchmark)
                        window_start, window_done = time.monotonic(), done
                    if done > limit:  # no Content-Length and more bytes than published (or than the cap)
                        overflow = True
                        break
                    fh.write(chunk)
                    hashes.update(chunk)
                    bar.update(task, completed=done)
                fh.flush()
                os.fsync(fh.fileno())
            if overflow:
                part.unlink()
                if size is None:
                    raise DataCorrupt(f"{url} sent more than {limit:,} bytes, the most a download without a published "
                                      f"size may bring; it was deleted, download it yourself and run `python -m "
                                      f"harness data import {benchmark or '<benchmark>'} <file>`")
                raise DataCorrupt(f"{url} sends more than the expected {size:,} bytes: it is not the expected file, check the URL")
            if total is not None and done < total:
                raise _network_error(url, f"connection closed after {done:,} of {total:,} bytes", benchmark)
            return hashes
    raise _network_error(url, "the server keeps answering with the wrong byte range", benchmark)


def _mismatches(path: Path, hashes: _Hashes, *, sha256: str | None, md5: str | None, size: int | None) -> list[str]:
    """What about ``path`` (whose digests are ``hashes``) differs from the expected values."""
    got_size = path.stat().st_size
    got = {"sha256": hashes.sha256.hexdigest(), "md5": hashes.md5.hexdigest()}
    wrong = [f"size {got_size:,} bytes, expected {size:,}"] if size is not None and got_size != size else []
    for name, want in (("sha256", sha256), ("md5", md5)):
        if want is not None and got[name] != want.lower():
            wrong.append(f"{name} {got[name]}, expected {want.lower()}")
    return wrong


def download(url: str, dest: Path, *, sha256: str | None = None, md5: str | None = None,
             size: int | None = None, progress: bool = True, benchmark: str | None = None) -> Path:
    """Download ``url`` to ``dest`` (resumable, verified, atomic) and return ``dest``.

    ``benchmark`` only names the import command in error messages.
    """
    dest = Path(dest)
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise HarnessError(f"cannot download {url!r}: only http(s) addresses are supported")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_suffix(dest.suffix + ".part")
    hashes = _stream(url, part, size, progress, benchmark)
    wrong = _mismatches(part, hashes, sha256=sha256, md5=md5, size=size)
    if wrong:
        part.unlink()
        raise DataCorrupt(
            f"the file downloaded from {url} is not the expected one ({'; '.join(wrong)}); it was deleted, "
            f"run the fetch again or check the URL and checksum"
        )
    if sha256 is None and md5 is None:
        Console(stderr=True).print(
            f"{dest.name}: sha256 {hashes.sha256.hexdigest()} (not verified: no published checksum to compare with)",
            markup=False, highlight=False,
        )
    os.replace(part, dest)
    return dest


def _filename(url: str) -> str:
    name = PurePosixPath(urllib.parse.unquote(urllib.parse.urlsplit(url).path)).name
    if name in ("", ".", "..") or "\\" in name:
        raise HarnessError(f"cannot tell a file name from {url}; give the address of the file itself")
    return name


def plan(benchmark: str, sources: Sequence[Source], url: str | None, sha256: str | None,
         source: Source | str | None) -> tuple[Source | None, str | None, str, dict]:
    """(registered source or None, download address or None, file name, expected size/checksums).

    ``sources`` are the benchmark's official files (the first is the default); ``source`` picks one
    by object, name or file name; ``url`` downloads another address (a registered file name keeps
    its published checksums); ``sha256`` pins the checksum of an unregistered file.
    """
    def find(key: str) -> Source | None:
        return next((s for s in sources if key in (s.name, s.filename)), None)

    if isinstance(source, str):
        name = source
        source = find(name)
        if source is None:
            raise HarnessError(f"no source {name!r} for {benchmark}; known: {', '.join(s.name for s in sources)}")
    if url is not None:
        if urllib.parse.urlsplit(url).hostname in ("drive.google.com", "docs.google.com"):
            raise HarnessError(
                f"Google Drive pages cannot be fetched by a script; download {url} in a browser and run "
                f"`python -m harness data import {benchmark} <file>`"
            )
        if source is None:
            source = find(_filename(url))
        filename = source.filename if source else _filename(url)
    else:
        if source is None and not sources:
            raise HarnessError(f"{benchmark} has no official file to fetch")
        source = source or sources[0]
        filename = source.filename
    expected = {"sha256": None, "md5": None, "size": None}
    if source is not None:
        expected = {"sha256": source.sha256, "md5": source.md5, "size": source.size}
    if sha256 is not None and sha256.lower() != (expected["sha256"] or "").lower():
        expected = {"sha256": sha256, "md5": None, "size": None}  # another file than the registered one
    address = url if url is not None else (source.url if source.fetchable else None)
    return source, address, filename, expected


def verified_download(benchmark: str, sources: Sequence[Source], data_dir, *, url: str | None = None,
                      sha256: str | None = None, source: Source | str | None = None, progress: bool = True,
                      allow_unverified: bool = False) -> Path:
    """Bring ``benchmark``'s official file (or ``url``) into ``<data_dir>/downloads/``, verified; its path.

    A file already in downloads/ is verified instead of downloaded; for a Google-Drive-only source
    that is the way to use fetch (put the file there), otherwise the error says where to download
    it and how to import it. A download with nothing to verify it against (no published checksum,
    no ``sha256``) is refused before any byte is fetched: whatever a server sends would otherwise
    be imported as benchmark data. ``allow_unverified`` lifts that for callers whose files cannot
    run code or become benchmark numbers unnoticed (see ``blackboxes.training.fetch``).
    """
    if sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise HarnessError(f"--sha256 must be 64 hex digits, got {sha256!r}")
    src, address, filename, expected = plan(benchmark, sources, url, sha256, source)
    dest = resolve_data_dir(data_dir) / "downloads" / filename
    if (address is not None and not dest.is_file() and expected["sha256"] is None and expected["md5"] is None
            and not allow_unverified):
        raise HarnessError(
            f"refusing to download {address}: {filename} has no published checksum, so nothing would show a wrong "
            f"or tampered file; pass --sha256 <64 hex digits> (from whoever publishes the file), or download it "
            f"yourself, check it and run `python -m harness data import {benchmark} <path to {filename}>`"
        )
    if dest.is_file():
        wrong = _mismatches(dest, _Hashes.of_prefix(dest, dest.stat().st_size), **expected)
        if wrong:
            raise DataCorrupt(f"{dest} is not the expected file ({'; '.join(wrong)}); delete it and run the fetch again")
        Console(stderr=True).print(f"using the already downloaded {dest}", markup=False, highlight=False)
    elif address is None:
        raise HarnessError(
            f"{filename} is on Google Drive only and cannot be fetched automatically: download it from "
            f"{src.url} and run `python -m harness data import {benchmark} <path to {filename}>` "
            f"(or put it in {dest.parent} and run the fetch again)"
        )
    else:
        download(address, dest, progress=progress, benchmark=benchmark, **expected)
    return dest


def _safe_members(names: list[str], target: Path) -> None:
    root = target.resolve()
    for name in names:
        dest = (target / name).resolve()
        if dest != root and root not in dest.parents:
            raise DataCorrupt(f"archive member {name!r} would be written outside {target}; refusing to unpack")


def unpack(archive: Path, target: Path) -> None:
    """Unpack a .tar.gz or .zip into ``target`` (no member may land outside it; links are refused)."""
    import tarfile
    import zipfile

    target.mkdir(parents=True, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                _safe_members(zf.namelist(), target)
                zf.extractall(target)
        else:
            with tarfile.open(archive) as tf:
                members = tf.getmembers()
                _safe_members([m.name for m in members], target)
                if any(m.issym() or m.islnk() or m.isdev() for m in members):
                    raise DataCorrupt(f"{archive} contains links or devices; refusing to unpack")
                tf.extractall(target, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DataCorrupt(f"{archive} cannot be unpacked ({exc}); delete it and fetch again") from None
