"""Executors: where the runs of a study execute. Serial, a local process pool, or Ray.

Every executor calls ``Study.execute_run`` once per run and hands the outcome back; none of them
changes what a strategy sees, so the trajectories are byte-identical under all three.
Workers are single-threaded for torch: several torch processes on few cores slow down badly
when oversubscribed (a small GNN step ran 60x slower here).

Serial runs one run at a time in one worker process, not in the main process: a strategy that
ends its process (``os._exit``, a signal, the OOM killer) takes only its run with it, which is
reported as failed (exit 1) while the next run starts in a fresh worker; in the main process it
would end the harness with exit 0 and nothing done. One worker for the whole study, not one per
run, so the imports are paid once.

Stopping (serial and process pool): Ctrl-C or ``kill -INT`` reaches the main process only (workers ignore
SIGINT); it cancels every queued run, asks the running ones to stop at their next batch, waits
``GRACE_S`` for them and kills what is left. A worker dies with the main process however that
ends (``PR_SET_PDEATHSIG`` on Linux, a parent watch elsewhere), so no orphan keeps writing into
``--out``. Journals make every stop safe: the next identical command continues.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from harness.errors import HarnessError
from harness.locks import wait_until_free
from harness.malloc import keep_freed_memory

GRACE_S = 5.0
"""Seconds running workers get to reach their next batch boundary after Ctrl-C."""

_PROGRESS = None
_STOP = None


def _single_thread_worker() -> None:
    """One thread per worker: torch reads OMP_NUM_THREADS when (and if) a strategy imports it;
    freed memory stays in the worker (``harness.malloc``)."""
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
    keep_freed_memory()


def die_with_parent(parent_pid: int) -> None:
    """End this process when ``parent_pid`` ends, also under ``kill -9`` of the parent."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)

    def watch() -> None:  # portable fallback; on Linux the signal above acts first
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def init_worker_process(parent_pid: int, single_thread: bool = True) -> None:
    """What every pool worker of the harness does first: one thread (unless it is the only
    worker, as serial's is: torch then uses every core, as it would in the main process), Ctrl-C
    left to the main process (which stops the pool), death with its parent."""
    if single_thread:
        _single_thread_worker()
    else:
        keep_freed_memory()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    die_with_parent(parent_pid)


def _worker_init(parent_pid: int, progress_queue, stop_event, single_thread: bool = True) -> None:
    global _PROGRESS, _STOP
    init_worker_process(parent_pid, single_thread)
    _PROGRESS, _STOP = progress_queue, stop_event


def _run_in_worker(study, cfg):
    key = (cfg.strategy, cfg.seed)

    def report(done: int, total: int) -> None:
        if done == total or done % 10 == 0:
            _PROGRESS.put((key, done, total))

    return study.execute_run(cfg, progress=report, stop=_STOP.is_set)


def _names(keys) -> str:
    return ", ".join(f"{s} seed={k}" for s, k in sorted(keys)) or "one of its runs"


def _pump(progress_queue, on_progress, running: set) -> tuple[threading.Thread, threading.Event]:
    """A thread handing the workers' progress reports to ``on_progress`` until its event is set."""
    halt = threading.Event()

    def pump():
        while not halt.is_set():
            try:
                key, done, total = progress_queue.get(timeout=0.1)
            except queue.Empty:
                continue
            except (EOFError, OSError, ValueError):
                return
            running.add(key)
            on_progress(key, done, total)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread, halt


def _pool(ctx, workers: int, progress_queue, stop_event, single_thread: bool = True) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                               initargs=(os.getpid(), progress_queue, stop_event, single_thread))


def _how_it_ended(processes) -> str:
    codes = []
    for p in processes:
        p.join(timeout=1.0)
        if p.exitcode is not None:
            codes.append(p.exitcode)
    if not codes:
        return "ended abruptly"
    code = codes[0]
    if code < 0:
        return f"was killed by signal {-code}{' (out of memory?)' if -code == signal.SIGKILL else ''}"
    return f"exited with code {code} (a strategy calling os._exit?)"


def run_serial(study, on_progress, finish) -> None:
    """The study's runs in order, one at a time, in one spawned worker process (see the module
    docstring); a run whose worker dies is finished as failed and a new worker takes the next."""
    from harness.runner import RunOutcome  # noqa: PLC0415 - only here: final's pool workers import this module

    ctx = mp.get_context("spawn")
    progress_queue, stop_event = ctx.Queue(), ctx.Event()
    pump_thread, halt = _pump(progress_queue, on_progress, set())
    pool = None
    try:
        for cfg in study.runs:
            pool = pool or _pool(ctx, 1, progress_queue, stop_event, single_thread=False)
            fut = pool.submit(_run_in_worker, study, cfg)
            processes = list((getattr(pool, "_processes", None) or {}).values())
            try:
                outcome = fut.result()
            except BrokenProcessPool:
                pool.shutdown(wait=False)
                pool = None
                outcome = RunOutcome(cfg, skipped=False, failed=f"its worker process {_how_it_ended(processes)} "
                                                                f"before the run finished (completed queries are kept)")
            finish(outcome)
        if pool is not None:
            pool.shutdown(wait=True)
    except BaseException:
        _abort(stop_event, pool)
        raise
    finally:
        halt.set()
        pump_thread.join(timeout=1)


def run_process(study, workers: int, on_progress, finish) -> None:
    """A spawn-context process pool; per-run progress flows back through a queue."""
    ctx = mp.get_context("spawn")
    progress_queue, stop_event = ctx.Queue(), ctx.Event()
    running: set[tuple] = set()
    pump_thread, halt = _pump(progress_queue, on_progress, running)
    pool, futures = None, {}
    try:  # the pool is started inside: a Ctrl-C while its workers spawn must still stop them
        pool = _pool(ctx, min(workers, len(study.runs)), progress_queue, stop_event)
        for cfg in study.longest_first():
            futures[pool.submit(_run_in_worker, study, cfg)] = cfg
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                try:
                    outcome = fut.result()
                except BrokenProcessPool:
                    raise HarnessError(
                        f"a worker process died (killed, out of memory?) while running {_names(running)}; completed "
                        f"runs are kept, rerun the same command to continue"
                    ) from None
                cfg = futures[fut]
                running.discard((cfg.strategy, cfg.seed))
                finish(outcome)
        pool.shutdown(wait=True)
    except BaseException:
        _abort(stop_event, pool, futures)
        raise
    finally:
        halt.set()
        pump_thread.join(timeout=1)


def _abort(stop_event, pool: ProcessPoolExecutor | None, futures=()) -> None:
    """After Ctrl-C or an error: running runs stop at their next batch (keeping their journals),
    queued ones never start, and the workers are stopped (``_stop_workers``)."""
    stop_event.set()
    for fut in futures:
        fut.cancel()
    if pool is not None:
        _stop_workers(pool)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Shut the pool down first, so a worker whose run has stopped at its batch boundary exits
    at once (it would otherwise wait for a next task until the grace ran out), then wait up to
    ``GRACE_S`` and kill what is left."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    deadline = time.monotonic() + GRACE_S
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        p.join(timeout=max(0.0, deadline - time.monotonic()))
    for p in processes:
        if p.is_alive():
            p.kill()


LOCK_WAIT_S = 30.0
"""Seconds a Ray task waits for its run's lock. Ray resubmits the task of a lost node about 2 s
after the node's raylet died, while the task's old worker, not yet aware that its raylet is gone,
may still hold the run's lock for a few seconds (2.6 s measured, tests/test_ray_cluster.py)."""


def _execute_remote(study, cfg):
    _single_thread_worker()
    wait_until_free(cfg.paths(study.out).lock, LOCK_WAIT_S)
    return study.execute_run(cfg)


def run_ray(study, workers: int, address: str | None, on_progress, finish) -> None:
    """One Ray task per run (1 CPU each). ``address`` None starts a local Ray instance with
    ``workers`` CPUs; "auto" or "host:port" joins a cluster, whose nodes must see the same results
    and data directories (a shared filesystem) and have the harness installed. A task whose node
    is lost is retried by Ray (``max_retries``); a retried run waits for the lost worker's lock
    (``LOCK_WAIT_S``) and resumes from its journal."""
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
    pending: dict = {}
    try:
        remote = ray.remote(num_cpus=1, max_retries=3, retry_exceptions=False)(_execute_remote)
        pending = {remote.remote(study, cfg): cfg for cfg in study.longest_first()}
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
                except ray.exceptions.RayError as exc:
                    raise HarnessError(f"run {cfg.strategy} seed={cfg.seed} was lost on Ray ({type(exc).__name__}); "
                                       f"completed runs are kept, rerun the same command to continue") from None
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()
