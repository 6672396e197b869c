"""A study: every (strategy, seed) run of one space and dataset, with matched budgets and seeds.

Runs are independent tasks run by an executor (``harness.executors``: serial, a process pool, or a
Ray cluster). Results do not depend on the executor or on completion order, because each run's
seeds come only from its key and each run writes only its own files.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from harness import runner, storage
from harness.config import RunConfig
from harness.contracts import EvaluatorOptions
from harness.errors import HarnessError
from harness.runner import RunOutcome


MAX_SEEDS = 10_000
MAX_TIMEOUT_S = 1e7
"""The longest ``--strategy-timeout`` / ``--eval-timeout`` (115 days): larger values overflow the
timers (``signal.setitimer``) that enforce them."""
MAX_PARAM_DEPTH = 32
"""How deeply a ``--param`` value may nest lists and objects (constructor arguments are flat)."""


@dataclass(frozen=True)
class StudyRequest:
    """What a user asked for (the ``run`` command's options); ``None`` = the default.

    ``resolve()`` turns it into a ``Study``: protocol presets and conflicts, the benchmark's
    defaults, the data checksum, one ``RunConfig`` per (strategy, seed), evaluator options, and a
    refusal to overwrite a different complete run. The command line only parses and calls this.
    """

    space: str
    dataset: str | None = None
    strategies: tuple[str, ...] | None = None
    seeds: int = 10
    first_seed: int = 0
    budget: int | None = None
    time_budget: float | None = None
    fidelity: int | None = None
    protocol: str | None = None
    bench_seed: int | None = None
    dedup: str | None = None
    batch_size: int | None = None
    max_failures: int | None = None
    root_seed: int | None = None
    params: tuple[str, ...] = ()
    """``STRATEGY.KEY=VALUE`` items (VALUE is JSON where it parses, else text)."""
    out: str = "results"
    data_dir: str | None = None
    force: bool = False
    device: str | None = None
    train_workers: int | None = None
    eval_timeout: float | None = None
    strategy_timeout: float | None = None
    trace_every: int | None = None
    """Queries between two learning-dynamics points (``harness.dynamics``); None = its default, 0 = off."""

    def resolve(self) -> "Study":
        from blackboxes.registry import get_benchmark  # noqa: PLC0415 - the benchmark layer sits above the engine core
        from strategies.registry import STRATEGIES  # noqa: PLC0415

        entry = get_benchmark(self.space)
        entry.check_runnable()
        protocol = None
        if self.protocol:
            from harness.protocols import get_protocol  # noqa: PLC0415

            protocol = get_protocol(self.protocol, entry.name)
            explicit = [f"--{k.replace('_', '-')}" for k in ("budget", "time_budget", "fidelity", "dedup", "bench_seed")
                        if getattr(self, k) is not None]
            if explicit:
                raise HarnessError(f"{', '.join(explicit)} conflicts with --protocol {protocol.name}, which sets it; drop one")
        dataset = self.dataset or (protocol.datasets[0] if protocol else entry.datasets[0])
        entry.check_dataset(dataset)
        names = list(self.strategies) if self.strategies is not None else list(entry.default_strategies)
        if names == ["all"]:
            from strategies.registry import everyday  # noqa: PLC0415

            names = everyday()
        if not names:
            raise HarnessError("--strategies is empty; give at least one name (see `list strategies`)")
        for n in names:
            STRATEGIES.target(n)
        if len(set(names)) != len(names):
            raise HarnessError(f"--strategies lists a name twice: {','.join(names)}")
        params = strategy_params(self.params, names)
        if self.first_seed + self.seeds > MAX_SEEDS:
            raise HarnessError(f"seed indices must stay below {MAX_SEEDS}; got {self.first_seed}..{self.first_seed + self.seeds - 1}")
        if protocol is not None:
            rp = protocol.resolve(dataset)
            budget, time_budget, fidelity, dedup, bench_seed = rp.budget, rp.time_budget, rp.fidelity, rp.dedup, rp.bench_seed
        else:
            budget = self.budget if self.budget is not None else (None if self.time_budget else entry.budget_for(dataset))
            time_budget, fidelity, dedup, bench_seed = self.time_budget, self.fidelity, self.dedup, self.bench_seed
        notices = []
        if entry.uses_table(dataset) and entry.embedded and not entry.stored(self.data_dir).exists():
            table = entry.import_embedded(self.data_dir)
            notices.append(f"no {entry.name} table in {table.table_path.parent}: using the one shipped with the harness "
                           f"(imported there once; `python -m harness data import {entry.name} <files>` for the "
                           f"official benchmark)")
        data_sha = entry.stored(self.data_dir).recorded_sha256() if entry.uses_table(dataset) else ""
        kwargs = {} if self.root_seed is None else {"root_seed": self.root_seed}
        template = RunConfig(
            space=entry.name, dataset=dataset, strategy=names[0], seed=self.first_seed, budget=budget,
            time_budget=time_budget, fidelity=fidelity or entry.default_fidelity or None,
            bench_seed=-1 if bench_seed is None else bench_seed, dedup=dedup or "per-call",
            batch_size=self.batch_size or entry.default_batch_size, data_sha256=data_sha,
            max_failures=self.max_failures, protocol=protocol.name if protocol else "",
            report_val=protocol.resolve(dataset).report_val if protocol else None,
            report_test=protocol.resolve(dataset).report_test if protocol else None, **kwargs,
        )
        for flag, value in (("--strategy-timeout", self.strategy_timeout), ("--eval-timeout", self.eval_timeout)):
            check_timeout(flag, value)
        options = EvaluatorOptions(device=self.device or "auto", train_workers=self.train_workers or 1,
                                   timeout_s=self.eval_timeout)
        seeds = range(self.first_seed, self.first_seed + self.seeds)
        if self.out == "":
            raise HarnessError("--out is empty; give a results directory")
        size = entry.make_space(dataset).size()
        if template.dedup == "unique" and budget is not None and size is not None and budget > size:
            raise HarnessError(f"--dedup unique charges each of {entry.name}'s {size:,} distinct cells once, so a budget "
                               f"of {budget:,} queries can never be spent; lower --budget or use --dedup per-call")
        study = Study.build(template, names, seeds, self.out, self.data_dir, force=self.force, params=params,
                            options=options, strategy_timeout_s=self.strategy_timeout, trace_every=self.trace_every)
        if not self.force:
            study.refuse_overwrites()
        return replace(study, notices=tuple(notices))


def strategy_params(items: Sequence[str], names: Sequence[str]) -> dict[str, tuple]:
    """``STRATEGY.KEY=VALUE`` items -> {strategy: sorted ((key, value), ...)}; JSON values where
    they parse (numbers, true/false, lists), text otherwise."""
    out: dict[str, dict] = {}
    for item in items:
        target, eq, text = item.partition("=")
        strategy, dot, key = target.partition(".")
        if not (eq and dot and strategy and key.isidentifier()):
            raise HarnessError(f"--param {item!r}: write STRATEGY.KEY=VALUE, e.g. graphpnas.device=cuda")
        if strategy not in names:
            raise HarnessError(f"--param {item!r}: {strategy!r} is not among the strategies of this run "
                               f"({', '.join(names)})")
        too_deep = (f"--param {target}: the value nests lists or objects more than {MAX_PARAM_DEPTH} deep; "
                    f"pass a plain number, text or a shallow list")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        except RecursionError:  # json gives up on a value nested about 1,000 deep
            raise HarnessError(too_deep) from None
        if _depth(value) > MAX_PARAM_DEPTH:
            raise HarnessError(too_deep)
        out.setdefault(strategy, {})[key] = value
    return {s: tuple(sorted(kv.items())) for s, kv in out.items()}


def _depth(value, limit: int = MAX_PARAM_DEPTH) -> int:
    """Nesting depth of a JSON value (a scalar is 1), counted level by level without recursion and
    no further than ``limit + 1``."""
    level, frontier = 0, [value]
    while frontier and level <= limit:
        frontier = [v for x in frontier for v in (x.values() if isinstance(x, dict) else x if isinstance(x, list) else ())]
        level += 1
    return level if not frontier else limit + 1


def check_timeout(flag: str, value: float | None) -> None:
    """A one-line ``HarnessError`` unless ``value`` is None or positive, finite and at most ``MAX_TIMEOUT_S``."""
    if value is not None and not (isinstance(value, (int, float)) and 0 < value <= MAX_TIMEOUT_S):
        raise HarnessError(f"{flag} must be positive seconds, at most {MAX_TIMEOUT_S:g}; got {value!r}")


@dataclass(frozen=True)
class Study:
    runs: tuple[RunConfig, ...]
    out: Path
    data_dir: str | None = None
    force: bool = False
    options: EvaluatorOptions = EvaluatorOptions()
    strategy_timeout_s: float | None = None
    """``--strategy-timeout``: seconds one ask() or tell() may take before its run is recorded as failed."""
    targets: tuple[tuple[str, str], ...] = ()
    """(name, "module:Class") of every strategy of the study, so a worker process knows strategies
    registered at run time (``STRATEGIES.register`` in a script), not only the shipped registry's."""
    notices: tuple[str, ...] = ()
    """One-line messages for the user from resolving the request (e.g. the shipped table was used)."""
    trace_every: int | None = None
    """``--trace-every``: queries between two learning-dynamics points (None = ``harness.dynamics``'s default)."""

    @classmethod
    def build(cls, template: RunConfig, strategies: Iterable[str], seeds: Iterable[int], out, data_dir=None,
              force: bool = False, params: Mapping[str, tuple] | None = None,
              options: EvaluatorOptions = EvaluatorOptions(), strategy_timeout_s: float | None = None,
              trace_every: int | None = None) -> "Study":
        """One run per (strategy, seed); ``params`` maps a strategy to its constructor arguments."""
        from strategies.registry import STRATEGIES  # noqa: PLC0415

        params = params or {}
        strategies = list(strategies)
        runs = tuple(replace(template, strategy=s, seed=k, strategy_params=params.get(s, template.strategy_params))
                     for s in strategies for k in seeds)
        targets = tuple((s, STRATEGIES.target(s)) for s in strategies)
        return cls(runs, Path(out), None if data_dir is None else str(data_dir), force, options, strategy_timeout_s,
                   targets=targets, trace_every=trace_every)

    def execute_run(self, cfg: RunConfig, progress=None, stop=None) -> RunOutcome:
        """One of the study's runs, with the study's settings (executors call this, in any process)."""
        from strategies.registry import STRATEGIES  # noqa: PLC0415

        for name, target in self.targets:
            if name not in STRATEGIES or STRATEGIES.target(name) != target:
                STRATEGIES.register(name, target)
        return runner.execute(cfg, self.out, self.data_dir, force=self.force, progress=progress, options=self.options,
                              strategy_timeout_s=self.strategy_timeout_s, stop=stop, refuse_conflicts=True,
                              trace_every=self.trace_every)

    def runs_in_pool(self, executor: str, workers: int) -> bool:
        """Whether ``run_study`` hands the runs to worker processes (Ray, serial's one worker, or a
        pool of two or more), leaving this process idle until they finish."""
        return executor in ("ray", "serial") or (executor == "process" and workers > 1 and len(self.runs) > 1)

    def longest_first(self) -> list[RunConfig]:
        """The runs in the order a pool should start them: the strategies' registered cost per run
        (``strategies.registry``) highest first, so the last runs to finish are short ones and no
        worker idles while another finishes a long run (unregistered costs count as the longest).
        Results do not depend on this order; tables and summaries keep ``runs``' order."""
        from strategies.registry import describe  # noqa: PLC0415

        def cost(cfg: RunConfig) -> float:
            entry = describe(cfg.strategy)
            return math.inf if entry is None else entry.cost_s

        return sorted(self.runs, key=cost, reverse=True)

    def refuse_overwrites(self) -> None:
        """A one-line refusal, before anything runs, when ``out`` holds a *different* complete run
        where one of ours goes, complete runs of ours produced by other code (stale), or another
        command is writing one of our runs now."""
        from harness.locks import RunLock  # noqa: PLC0415

        stale: dict[str, list[str]] = {}
        for cfg in self.runs:
            paths = cfg.paths(self.out)
            storage.refuse_conflict(paths, cfg.run_id)
            manifest = storage.read_manifest(paths.manifest)
            if manifest and manifest.get("status") == "complete" and manifest.get("run_id") == cfg.run_id:
                why = storage.stale_because(manifest, runner.run_code(cfg))
                if why:
                    stale.setdefault(why, []).append(f"{cfg.strategy} seed={cfg.seed}")
            if paths.lock.exists():
                RunLock(paths.lock).acquire().release()
        if stale:
            n = sum(map(len, stale.values()))
            detail = "; ".join(f"{', '.join(runs[:3])}{' …' if len(runs) > 3 else ''} ({why})" for why, runs in stale.items())
            raise HarnessError(f"{n} complete run(s) in {self.out} were produced by other code than this harness's: "
                               f"{detail}; rerun them with --force, or use another --out")


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


EXECUTORS = ("serial", "process", "ray")


def run_study(study: Study, workers: int | None = None, console: Console | None = None,
              show_progress: bool = True, executor: str = "process", ray_address: str | None = None) -> list[RunOutcome]:
    """Execute every run with the chosen executor, with rich progress bars per run and overall.

    ``serial`` runs them one at a time in a worker process (``harness.executors.run_serial``);
    ``process`` with one worker (or one run) runs them in this process."""
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
        elif executor == "serial":
            from harness.executors import run_serial

            run_serial(study, on_progress, finish)
        elif not study.runs_in_pool(executor, workers):
            for cfg in study.runs:
                key = (cfg.strategy, cfg.seed)
                finish(study.execute_run(cfg, progress=lambda d, t, key=key: on_progress(key, d, t)))
        else:
            from harness.executors import run_process

            run_process(study, workers, on_progress, finish)
    order = {(c.strategy, c.seed): i for i, c in enumerate(study.runs)}
    return sorted(outcomes, key=lambda o: order[(o.config.strategy, o.config.seed)])


