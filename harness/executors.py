"""Executors: where the runs of a study execute. Serial (in process), a local process pool, or Ray.

Every executor calls ``harness.runner.execute`` once per run and hands the outcome back; none of
them changes what a strategy sees, so the trajectories are byte-identical under all three.
Workers are single-threaded for torch: several torch processes on few cores slow down badly
when oversubscribed (a small GNN step ran 60x slower here).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from harness import runner
from harness.errors import HarnessError
from harness.malloc import keep_freed_memory


def _single_thread_worker() -> None:
    """One thread per worker: torch reads OMP_NUM_THREADS when (and if) a strategy imports it;
    freed memory stays in the worker (``harness.malloc``)."""
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
    keep_freed_memory()


def _run_in_worker(cfg, out, data_dir, force: bool, options, progress_queue):
    key = (cfg.strategy, cfg.seed)

    def report(done: int, total: int) -> None:
        if progress_queue is not None and (done == total or done % 10 == 0):
            progress_queue.put((key, done, total))

    return runner.execute(cfg, out, data_dir, force=force, progress=report, options=options)


def run_process(study, workers: int, on_progress, finish) -> None:
    """A spawn-context process pool; per-run progress flows back through a manager queue."""
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        progress_queue = manager.Queue()
        stop = threading.Event()

        def pump():
            while not stop.is_set():
                try:
                    on_progress(*progress_queue.get(timeout=0.1))
                except queue.Empty:
                    continue
                except (EOFError, OSError):
                    return

        pump_thread = threading.Thread(target=pump, daemon=True)
        pump_thread.start()
        try:
            with ProcessPoolExecutor(max_workers=min(workers, len(study.runs)), mp_context=ctx,
                                     initializer=_single_thread_worker) as pool:
                pending = {pool.submit(_run_in_worker, cfg, study.out, study.data_dir, study.force, study.options,
                                       progress_queue)
                           for cfg in study.runs}
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        try:
                            finish(fut.result())
                        except BaseException:
                            for other in pending:
                                other.cancel()
                            raise
        finally:
            stop.set()
            pump_thread.join(timeout=1)


def _execute_remote(cfg, out, data_dir, force, options):
    _single_thread_worker()
    return runner.execute(cfg, out, data_dir, force=force, options=options)


def run_ray(study, workers: int, address: str | None, on_progress, finish) -> None:
    """One Ray task per run (1 CPU each). ``address`` None starts a local Ray instance with
    ``workers`` CPUs; "auto" or "host:port" joins a cluster, whose nodes must see the same results
    and data directories (a shared filesystem) and have the harness installed."""
    try:
        import ray
    except ImportError:
        raise HarnessError("--executor ray needs Ray: pip install -e '.[ray]'") from None
    started = False
    if not ray.is_initialized():
        kwargs = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
        if address:
            kwargs["address"] = address
        else:
            kwargs["num_cpus"] = workers
        try:
            ray.init(**kwargs)
        except ConnectionError as exc:
            raise HarnessError(f"cannot reach the Ray cluster at {address}: {exc}; check --ray-address") from None
        started = True
    try:
        remote = ray.remote(num_cpus=1)(_execute_remote)
        pending = {remote.remote(cfg, study.out, study.data_dir, study.force, study.options): cfg for cfg in study.runs}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                cfg = pending.pop(ref)
                try:
                    finish(ray.get(ref))
                except ray.exceptions.RayTaskError as exc:
                    cause = exc.cause if getattr(exc, "cause", None) is not None else exc
                    if isinstance(cause, HarnessError):
                        raise cause from None
                    raise HarnessError(f"run {cfg.strategy} seed={cfg.seed} failed on Ray: {type(cause).__name__}: {cause}") from None
    finally:
        if started:
            ray.shutdown()
