"""The malloc tuning applied by the harness's entry points: freed large blocks are reused."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import resource, sys
from harness.malloc import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "tuned" else False
def fresh_block():
    b = bytearray(48 * 1024 * 1024)  # above glibc's largest mmap threshold (32 MiB)
    b[::4096] = b"x" * len(b[::4096])  # touch every page
    del b
fresh_block()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    fresh_block()
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str, **env) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True,
                         env={**os.environ, **env}).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc tuning")
def test_large_blocks_are_reused_instead_of_faulted_in_again():
    applied, tuned = _faults("tuned")
    if applied != "True":
        pytest.skip("not glibc: the tuning is a no-op here")
    _, plain = _faults("plain")
    assert plain > 1000  # 3 x 48 MiB of fresh pages (4 KiB, or fewer with huge pages)...
    assert tuned < plain / 10  # ...against a heap block that stays mapped


def test_opt_out():
    assert _faults("tuned", HARNESS_MALLOC_TUNING="0")[0] == "False"
