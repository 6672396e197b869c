"""Where training runs: resolve "cpu" / "cuda" / "auto", and run independent jobs in parallel.

Parallel jobs use a spawn process pool with one torch thread per worker (oversubscribed torch
threads on few cores slow down badly, see harness.executors); on a machine with several CUDA
devices, job k runs on device k mod n_devices. Results come back in job order, so a batch's
answers never depend on the number of workers.
"""
from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence, TypeVar

from harness.errors import HarnessError

DEVICES = ("auto", "cpu", "cuda")

J = TypeVar("J")
R = TypeVar("R")


def resolve_device(device: str = "auto") -> str:
    """"auto" -> "cuda" when a GPU is visible else "cpu"; "cuda" without a GPU is a user error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise HarnessError(f"--device {device}: no CUDA device is visible; use --device cpu or auto")
        return device
    raise HarnessError(f"unknown device {device!r}; valid: auto, cpu, cuda, cuda:N")


def device_slots(device: str, workers: int) -> list[str]:
    """The device of each worker slot: every visible GPU in turn for "cuda", else "cpu"."""
    import torch

    if device == "cuda":
        n = torch.cuda.device_count()
        return [f"cuda:{k % n}" for k in range(max(workers, 1))]
    return [device] * max(workers, 1)


@contextmanager
def torch_threads(n: int | None = None) -> Iterator[None]:
    """Run with ``n`` torch CPU threads (default ``$HARNESS_TORCH_THREADS`` or 1), then restore.

    One thread by default: parallelism comes from workers, and two threads on a loaded 2-core
    machine made a 1-epoch digits training 40x slower here (64 s instead of 1.6 s).
    """
    import torch

    n = int(n if n is not None else os.environ.get("HARNESS_TORCH_THREADS", "1"))
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def deterministic_kernels(device: str) -> Iterator[None]:
    """On CUDA, PyTorch's deterministic kernels for the block, then the previous setting.

    CUDA's ``index_add_`` (message sums, ``index_select``'s backward) adds with atomics in any
    order, so a seed would not give the same samples twice; with deterministic algorithms it
    sorts first, and cuBLAS gets the fixed workspace its determinism needs (NVIDIA's
    ``CUBLAS_WORKSPACE_CONFIG``, set only when unset and effective if no cuBLAS handle exists
    yet). Warn-only: an op without a deterministic kernel warns instead of failing the run.
    A no-op on CPU, whose kernels here are deterministic already.
    """
    if not str(device).startswith("cuda"):
        yield
        return
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])


def _init_worker() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
    from harness.malloc import keep_freed_memory

    keep_freed_memory()
    import torch

    torch.set_num_threads(1)


def run_jobs(fn: Callable[[J], R], jobs: Sequence[J], workers: int = 1) -> list[R]:
    """``[fn(j) for j in jobs]``, in a spawn pool of ``workers`` processes when workers > 1.

    ``fn`` must be a module-level function and the jobs picklable. Each worker has one torch
    thread; with ``workers <= 1`` the jobs run here, in order (the deterministic CPU path).
    """
    jobs = list(jobs)
    if workers <= 1 or len(jobs) <= 1:
        return [fn(j) for j in jobs]
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=ctx, initializer=_init_worker) as pool:
        return list(pool.map(fn, jobs))
