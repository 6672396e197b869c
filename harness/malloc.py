"""Keep freed memory in the process: large CPU tensors otherwise pay a page fault per page.

glibc hands every allocation above its mmap threshold (at most 32 MiB, and 128 KiB until the
first free) a fresh ``mmap`` and gives it back to the kernel on ``free``; PyTorch's CPU allocator
does not cache, so each new large tensor is faulted in and zeroed page by page. Measured here
(2-core EPYC VM, one thread): a 40 MB element-wise add takes 23 ms into a new tensor and 4.5 ms
into a reused one, and GraphPNAS training at N = 32 nodes (40 MB message tensors) runs 1.75x
faster with the setting below (``benchmarks/bench_graphpnas.py``). This is glibc's documented
``mallopt`` tuning (the ``MALLOC_MMAP_MAX_`` / ``MALLOC_TRIM_THRESHOLD_`` environment variables
do the same at start-up); jemalloc or tcmalloc via ``LD_PRELOAD`` is the usual alternative.
Cost: the process keeps its peak heap until it exits. ``HARNESS_MALLOC_TUNING=0`` turns it off;
off glibc (macOS, musl) it is a no-op.
"""
from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc malloc.h
M_MMAP_MAX = -4
TRIM_THRESHOLD = 1 << 30  # keep up to 1 GiB of free heap at the top instead of returning it


def keep_freed_memory() -> bool:
    """Serve large allocations from the heap and keep freed heap memory; True when applied."""
    if os.environ.get("HARNESS_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own symbols: no library search at start-up
        mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    except (OSError, AttributeError):  # not glibc
        return False
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
