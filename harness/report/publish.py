"""Build a report folder beside its destination and swap it in whole.

A report is many files (tables, figures, index pages). Writing them in place would leave old and new
files mixed after a crash or Ctrl-C, and figures of strategies no longer in the results would stay
forever. Instead ``staged(out)`` yields an empty hidden folder next to ``out``
(``.<name>.<pid>.building-*``, same filesystem); when the build finishes it replaces ``out`` in one
rename — an atomic exchange (Linux ``renameat2(RENAME_EXCHANGE)``) where the filesystem supports it,
else two renames, undone if the second fails — and only then is the previous report deleted. A crash
or Ctrl-C before that leaves ``out`` exactly as it was; a ``kill -9`` can leave a hidden folder
behind, which the next build removes (its process is gone).

Replacing ``out`` deletes what was in it, so ``out`` must be new, empty, or a previous report
(``index.md`` starting with ``# NAS harness report`` and only report groups beside it).
"""
from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from harness.atomic import _fsync_dir, _umask  # the same durability and permissions as every file we write
from harness.errors import HarnessError

REPORT_TITLE = "# NAS harness report"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_INDEX_FILES = ("index.md", "index.html")


def _not_a_report(folder: Path) -> str | None:
    """Why replacing ``folder`` could delete something that is not ours (None: it is empty or a report)."""
    entries = sorted(folder.iterdir())
    if not entries:
        return None
    try:
        with open(folder / "index.md", encoding="utf-8", errors="replace") as fh:
            first = fh.readline()
    except OSError:
        first = ""
    if not first.startswith(REPORT_TITLE):
        return f"it has no report index.md (holds {entries[0].name})"
    for entry in entries:
        if entry.name in _INDEX_FILES:
            continue
        groups = sorted(entry.iterdir()) if entry.is_dir() and not entry.is_symlink() else None
        if groups is None or not all(g.is_dir() and (g / "index.md").is_file() for g in groups):
            return f"{entry.name} is not part of a report"
    return None


def check_destination(out: Path) -> None:
    """Refuse an ``--out`` that is a file, the working folder or above it, or a folder with other things in
    it (they would be deleted)."""
    target, cwd = Path(os.path.realpath(out)), Path.cwd()
    if target == cwd or target in cwd.parents:
        raise HarnessError(f"--out {str(out)!r} is the current folder or above it, and the report replaces its "
                           f"folder whole; pass a folder for the report, e.g. --out reports")
    if out.exists() and not out.is_dir():
        raise HarnessError(f"--out {out} is a file, not a folder; pass a folder for the report")
    if out.is_dir():
        try:
            why = _not_a_report(out)
        except OSError as exc:
            raise HarnessError(f"cannot read --out {out} ({exc.strerror}); pass a readable folder") from None
        if why:
            raise HarnessError(f"--out {out} is not an earlier report ({why}) and the report replaces its folder "
                               f"whole; pass a new or empty folder")


def _stale_pattern(name: str) -> re.Pattern:
    return re.compile(rf"\.{re.escape(name)}\.(\d+)\.(building-\w+|old)")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_stale(target: Path) -> None:
    """Remove what a killed build left beside ``target``; put back a previous report a kill left aside."""
    pattern = _stale_pattern(target.name)
    for entry in sorted(target.parent.iterdir()):
        m = pattern.fullmatch(entry.name)
        if m is None or int(m.group(1)) == os.getpid() or _alive(int(m.group(1))):
            continue
        if m.group(2) == "old" and not os.path.lexists(target):
            os.rename(entry, target)  # killed between the two renames of the fallback swap
        else:
            shutil.rmtree(entry, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically; False where the platform or filesystem cannot (caller falls back)."""
    try:
        fn = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    except (OSError, TypeError):  # no C library to look in (not a POSIX system)
        return False
    if fn is None:
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_in(new: Path, target: Path) -> Path | None:
    """Put ``new`` at ``target``; return where the previous report now is (to delete), if there was one."""
    if not target.exists():
        os.rename(new, target)
        return None
    if _exchange(new, target):
        return new
    old = target.with_name(f".{target.name}.{os.getpid()}.old")
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)
        raise
    return old


@contextmanager
def staged(out: Path) -> Iterator[Path]:
    """Yield an empty folder to build the report in; on success it becomes ``out`` (see the module doc).

    OSErrors (read-only filesystem, full disk, a parent that is a file) propagate; the caller turns them
    into one line. ``check_destination`` must have accepted ``out``."""
    target = Path(os.path.realpath(out))  # a symlinked --out: replace the folder it points to, keep the link
    target.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.building-", dir=target.parent))
    previous = None
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700; a report folder is as readable as any
        previous = _swap_in(tmp, target)
        _fsync_dir(target.parent)
    finally:
        for leftover in (tmp, previous):
            if leftover is not None and leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True)
