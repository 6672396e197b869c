"""A study: every (strategy, seed) run of one space and dataset, with matched budgets and seeds.

Runs are independent tasks; a process pool runs them in parallel (each worker single-threaded for
torch, as several torch processes on few cores slow down badly when oversubscribed). Results do
not depend on the executor or on completion order, because each run's seeds come only from its key.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness import runner
from harness.errors import HarnessError
from harness.runner import RunConfig, RunOutcome


@dataclass(frozen=True)
class Study:
    runs: tuple[RunConfig, ...]
    out: Path
    data_dir: str | None = None
    force: bool = False

    @classmethod
    def build(cls, template: RunConfig, strategies: Iterable[str], seeds: Iterable[int], out, data_dir=None,
              force: bool = False) -> "Study":
        runs = tuple(replace(template, strategy=s, seed=k) for s in strategies for k in seeds)
        return cls(runs, Path(out), None if data_dir is None else str(data_dir), force)


def _single_thread_worker() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    try:
        import torch  # noqa: PLC0415 - only when a strategy needs it

        torch.set_num_threads(1)
    except ImportError:
        pass


def _run_in_worker(cfg: RunConfig, out: Path, data_dir, force: bool, progress_queue) -> RunOutcome:
    key = (cfg.strategy, cfg.seed)

    def report(done: int, total: int) -> None:
        if progress_queue is not None and (done == total or done % 10 == 0):
            progress_queue.put((key, done, total))

    return runner.execute(cfg, out, data_dir, force=force, progress=report)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def run_study(study: Study, workers: int | None = None, console: Console | None = None,
              show_progress: bool = True) -> list[RunOutcome]:
    """Execute every run (serially when one worker), with rich progress bars per run and overall."""
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise HarnessError(f"--workers must be >= 1, got {workers}")
    console = console or Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, disable=not show_progress, transient=False,
    )
    outcomes: list[RunOutcome] = []
    with progress:
        overall = progress.add_task(f"[bold]{study.runs[0].space}/{study.runs[0].dataset}", total=len(study.runs))
        tasks: dict[tuple, int] = {}
        finished: set[tuple] = set()

        def on_progress(key, done, total):
            if key in finished:
                return
            if key not in tasks:
                tasks[key] = progress.add_task(f"  {key[0]} seed={key[1]}", total=total or None)
            progress.update(tasks[key], completed=done, total=total or None)

        def finish(outcome: RunOutcome):
            key = (outcome.config.strategy, outcome.config.seed)
            finished.add(key)
            if key in tasks:
                progress.remove_task(tasks.pop(key))
            progress.advance(overall)
            outcomes.append(outcome)

        if workers == 1 or len(study.runs) == 1:
            for cfg in study.runs:
                key = (cfg.strategy, cfg.seed)
                finish(runner.execute(cfg, study.out, study.data_dir, force=study.force,
                                      progress=lambda d, t, key=key: on_progress(key, d, t)))
        else:
            _run_pool(study, workers, on_progress, finish)
    order = {(c.strategy, c.seed): i for i, c in enumerate(study.runs)}
    return sorted(outcomes, key=lambda o: order[(o.config.strategy, o.config.seed)])


def _run_pool(study: Study, workers: int, on_progress, finish) -> None:
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
                pending = {pool.submit(_run_in_worker, cfg, study.out, study.data_dir, study.force, progress_queue)
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
