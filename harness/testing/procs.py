"""Linux process facts read from ``/proc`` (no psutil): what crash and cluster tests check to say
that no process outlived its command."""
from __future__ import annotations


def read_proc(pid: int, name: str) -> bytes:
    """``/proc/<pid>/<name>`` (b"" once the process is gone or the file unreadable)."""
    try:
        with open(f"/proc/{pid}/{name}", "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def _stat_fields(pid: int) -> list[bytes]:
    stat = read_proc(pid, "stat")  # "pid (comm) state ppid ...": comm may hold spaces and parentheses
    return stat.rsplit(b")", 1)[1].split() if stat else []


def parent_of(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def alive(pid: int) -> bool:
    """Running or sleeping: neither gone nor a zombie (dead, waiting to be reaped) nor dead."""
    fields = _stat_fields(pid)
    return bool(fields) and fields[0] not in (b"Z", b"X")
