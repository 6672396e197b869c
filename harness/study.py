"""A study: every (strategy, seed) run of one space and dataset, with matched budgets and seeds.

Runs are independent tasks run by an executor (``harness.executors``: serial, a process pool, or a
Ray cluster). Results do not depend on the executor or on completion order, because each run's
seeds come only from its key and each run writes only its own files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Mapping

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
              force: bool = False, params: Mapping[str, tuple] | None = None) -> "Study":
        """One run per (strategy, seed); ``params`` maps a strategy to its constructor arguments."""
        params = params or {}
        runs = tuple(replace(template, strategy=s, seed=k, strategy_params=params.get(s, template.strategy_params))
                     for s in strategies for k in seeds)
        return cls(runs, Path(out), None if data_dir is None else str(data_dir), force)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


EXECUTORS = ("serial", "process", "ray")


def run_study(study: Study, workers: int | None = None, console: Console | None = None,
              show_progress: bool = True, executor: str = "process", ray_address: str | None = None) -> list[RunOutcome]:
    """Execute every run with the chosen executor, with rich progress bars per run and overall.

    ``process`` with one worker (or one run) runs in this process, like ``serial``."""
    if executor not in EXECUTORS:
        raise HarnessError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}")
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

        if executor == "ray":
            from harness.executors import run_ray

            run_ray(study, workers, ray_address, on_progress, finish)
        elif executor == "serial" or workers == 1 or len(study.runs) == 1:
            for cfg in study.runs:
                key = (cfg.strategy, cfg.seed)
                finish(runner.execute(cfg, study.out, study.data_dir, force=study.force,
                                      progress=lambda d, t, key=key: on_progress(key, d, t)))
        else:
            from harness.executors import run_process

            run_process(study, workers, on_progress, finish)
    order = {(c.strategy, c.seed): i for i, c in enumerate(study.runs)}
    return sorted(outcomes, key=lambda o: order[(o.config.strategy, o.config.seed)])


