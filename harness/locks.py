"""One writer per run: an exclusive lock held for the whole run, refused to a second writer at once.

Two commands writing the same run into one results folder would each finish and the last would
silently replace the other's files. Each run therefore holds an advisory ``flock`` on the hidden
``.seed=K.lock`` beside its files from before its journal is opened until its manifest is written.
The lock file names the holder (pid and command) so the refusal can say who it is. The kernel
drops the lock when the holder dies, also under ``kill -9``, so a crash never leaves a stale lock;
the file itself stays, empty of meaning, and is reused. Locks are advisory and local: on a shared
filesystem that does not implement ``flock`` across machines (some NFS setups), runs of one study
on several Ray nodes are still kept apart by the study itself, which hands each run to one task.
"""
from __future__ import annotations

import fcntl
import os
import sys
import time
from pathlib import Path

from harness.errors import HarnessError


class RunLock:
    """``with RunLock(path):`` -- or ``acquire()`` / ``release()`` -- around one run's writes."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise HarnessError(f"cannot create the lock {self.path} ({exc.strerror}); pass a writable --out") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise HarnessError(
                f"{self.path.parent / self.path.name.lstrip('.').removesuffix('.lock')} is being written by another "
                f"command ({holder or 'unknown process'}); "
                f"wait for it to finish, or use another --out"
            ) from None
        except OSError as exc:
            os.close(fd)
            raise HarnessError(f"cannot lock {self.path} ({exc.strerror}); use a local --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}: {' '.join(sys.argv)[:200]}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def wait_until_free(path: Path, timeout_s: float) -> None:
    """Return once nobody holds the lock at ``path`` (or it does not exist), at most ``timeout_s``
    later; the caller's own ``acquire`` then takes it or refuses in one line as usual."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return
        except OSError:
            if time.monotonic() >= deadline:
                return
        finally:
            os.close(fd)
        time.sleep(0.2)


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 300, 0).decode(errors="replace").strip()
    except OSError:
        return ""
