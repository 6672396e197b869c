"""``python -m harness final``: the final phase of every finished run in a results folder.

``add_parser(sub)`` adds the command to ``harness.cli``'s subparsers; ``cmd_final(args, console)``
runs it: one ``harness.final.FinalRun`` per selected (space, dataset, strategy, seed), ``--workers``
runs at a time in worker processes (each run's files depend on that run alone, so the bytes are the
same for any number; a trained final evaluator also parallelises its trainings, ``--train-workers``),
then a one-line summary per strategy. The exact distribution of each learned generator follows its
run where the space is small enough to enumerate (``harness.exact``).

A run whose files fail their checks or whose strategy raises or outlives ``--strategy-timeout``
costs that run alone: one ``error:`` line naming it, the other runs go on, what is written stays
(its journal too), and the command exits 2.
"""
from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path

from rich.console import Console

from harness.cli import _positive_float, _positive_int  # cli imports this module only inside build_parser
from harness.errors import HarnessError


def add_parser(sub) -> argparse.ArgumentParser:
    f = sub.add_parser("final", help="after the search: sample each run's strategy and evaluate the samples "
                       "(full-data re-training or the report columns)")
    f.add_argument("--results", default="results", help="results directory of the searches (default results/)")
    f.add_argument("--space", help="only this space")
    f.add_argument("--dataset", help="only this dataset")
    f.add_argument("--strategies", help="comma-separated strategy names (default: every stored one)")
    f.add_argument("--seeds", help="comma-separated seed indices (default: every stored one)")
    f.add_argument("--protocol", help="final protocol preset (default: the space's; tabular, randwire, "
                   "randwire-digits, enas, enas-digits, nago)")
    f.add_argument("--samples", type=_positive_int, help="proposals per run (overrides the preset)")
    f.add_argument("--repeats", type=_positive_int, help="final trainings per proposal, each with its own seed")
    f.add_argument("--screen-epochs", type=_positive_int, help="short training that ranks the samples (Table 3)")
    f.add_argument("--keep", type=_positive_int, help="screen survivors per run")
    f.add_argument("--final-epochs", type=_positive_int, help="epochs of the final training")
    f.add_argument("--no-exact", action="store_true", help="skip the exact distributions of the learned generators")
    f.add_argument("--data-dir", help="benchmark data dir (default $HARNESS_DATA or the user cache dir)")
    f.add_argument("--device", default="auto", help="training device: auto, cpu, cuda[:N]")
    f.add_argument("--train-workers", type=_positive_int, default=1, help="parallel trainings of a trained final evaluator")
    f.add_argument("--force", action="store_true", help="redo final phases that are already complete")
    f.add_argument("--strategy-timeout", type=_positive_float,
                   help="seconds one strategy call (recommend(), dag_log_prob(), rebuilding it) may take; past it that "
                        "run's final phase is recorded as failed (rerun retries it)")
    f.add_argument("--workers", type=_positive_int, help="runs processed at a time, in worker processes (default: "
                   "the number of cores divided by --train-workers)")
    return f


_EVALUATORS: dict = {}
"""Evaluators this process has opened, shared by the runs it processes (a table is read once)."""


def _final_of_run(paths, protocol, data_dir, options, force: bool, exact: bool, timeout_s: float | None = None):
    """(final outcome, exact summary or None) of one search run: its final phase, then its exact
    distribution. Runs in this process or in a worker. A one-line problem of this run is returned
    in the outcome's ``failed`` (the other runs go on), never raised."""
    from harness.exact import ExactRun  # noqa: PLC0415
    from harness.final import FinalOutcome, FinalRun  # noqa: PLC0415
    from harness.runner import StrategyTimeout  # noqa: PLC0415

    space, dataset, strategy, seed = paths.identity()
    label = f"{space}/{dataset}/{strategy} seed={seed}"
    try:
        outcome = FinalRun(paths, protocol, data_dir, options=options, force=force, evaluators=_EVALUATORS,
                           strategy_timeout_s=timeout_s).execute()
    except (HarnessError, StrategyTimeout) as exc:
        return FinalOutcome(strategy, -1 if seed is None else seed, skipped=False, failed=f"{label}: {_why(exc)}"), None
    try:
        summary = ExactRun(paths, data_dir, force=force, evaluators=_EVALUATORS,
                           strategy_timeout_s=timeout_s).execute() if exact else None
    except (HarnessError, StrategyTimeout) as exc:
        outcome.failed, summary = f"{label}, its exact distribution: {_why(exc)}", None
    return outcome, summary


def _why(exc: Exception) -> str:
    """The one line of a run's failure; a timeout says how to retry."""
    from harness.runner import StrategyTimeout  # noqa: PLC0415

    line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, StrategyTimeout):
        line += "; that run's final phase failed (its journal is kept): rerun the same command, with a larger " \
                "--strategy-timeout if it needs longer"
    return line


def _run_all(jobs: list[tuple], workers: int) -> list[tuple]:
    """``_final_of_run`` of every job, in job order; a spawn pool of ``workers`` processes when
    there are several jobs (as ``run``'s process executor: torch does not survive a fork)."""
    import multiprocessing as mp  # noqa: PLC0415
    import os  # noqa: PLC0415
    from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415
    from concurrent.futures.process import BrokenProcessPool  # noqa: PLC0415

    from harness.executors import init_worker_process  # noqa: PLC0415

    workers = min(workers, len(jobs))
    _EVALUATORS.clear()  # one command's evaluators: the next command opens its tables afresh
    if workers < 2:
        return [_final_of_run(*job) for job in jobs]
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"), initializer=init_worker_process,
                               initargs=(os.getpid(),))
    try:
        futures = [pool.submit(_final_of_run, *job) for job in jobs]
        return [f.result() for f in futures]
    except BrokenProcessPool:
        raise HarnessError("a final-phase worker process died (killed, out of memory?); finished runs are kept and "
                           "the others resume from their journals: rerun the same command") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _seeds(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise HarnessError(f"--seeds takes comma-separated whole numbers, got {text!r}") from None


def cmd_final(args, console: Console) -> int:
    from harness import final_protocols
    from harness.contracts import EvaluatorOptions
    from harness.exact import enumerable
    from harness.final import find_runs
    from harness.study import default_workers

    runs = find_runs(Path(args.results), args.space, args.dataset,
                     [s for s in args.strategies.split(",") if s] if args.strategies else None, _seeds(args.seeds))
    if not runs:
        raise HarnessError(f"no stored runs under {args.results} match; run `python -m harness run` first "
                           f"(or check --results/--space/--dataset)")
    options = EvaluatorOptions(device=args.device, train_workers=args.train_workers)
    out = Console()
    jobs = []
    for paths in runs:
        space, dataset = paths.trajectory.parts[-4], paths.trajectory.parts[-3]
        protocol = final_protocols.resolve(args.protocol, space, dataset, samples=args.samples, repeats=args.repeats,
                                           screen_epochs=args.screen_epochs, keep=args.keep,
                                           final_epochs=args.final_epochs)
        exact = not args.no_exact and enumerable(space, dataset)
        jobs.append((paths, protocol, args.data_dir, options, args.force, exact, args.strategy_timeout))
    workers = args.workers or max(1, default_workers() // args.train_workers)
    outcomes, notes = [], set()
    for o, _ in _run_all(jobs, workers):
        outcomes.append(o)
        notes.update(o.notes)
    failed = [o for o in outcomes if o.failed]
    done = [o for o in outcomes if not o.skipped and not o.failed]
    skipped = sum(o.skipped and not o.failed for o in outcomes)
    out.print(f"final: {len(done)} run(s) evaluated, {skipped} already complete"
              f"{f', {len(failed)} failed' if failed else ''} ({sum(o.wall_s for o in done):.1f} s)", highlight=False)
    _summary(outcomes, out)
    for note in sorted(notes):
        console.print(f"[yellow]warning:[/yellow] {note}", highlight=False, soft_wrap=True)
    for o in failed:
        console.print(f"error: {o.failed}", markup=False, highlight=False, soft_wrap=True)
    if failed:
        return 2
    out.print(f"next: python -m harness report --results {args.results}  (Tables 1, 2, 3, 6, 9 and the final figure)",
              highlight=False, markup=False)
    return 0


def _summary(outcomes, out: Console) -> None:
    """Mean ± std over all final rows' test accuracy per strategy (selection "model")."""
    import pyarrow.parquet as pq

    by: dict[str, list[float]] = {}
    for o in outcomes:
        if o.paths is None or not o.paths.parquet.is_file():
            continue
        t = pq.read_table(o.paths.parquet, columns=["selection", "stage", "status", "test_acc"]).to_pydict()
        for sel, stage, status, test in zip(t["selection"], t["stage"], t["status"], t["test_acc"]):
            if sel == "model" and stage == "final" and status == "ok" and math.isfinite(test):
                by.setdefault(o.strategy, []).append(test)
    for name, v in sorted(by.items()):
        sd = statistics.stdev(v) if len(v) > 1 else math.nan
        out.print(f"  {name:<16} final test {statistics.fmean(v):6.2f} ± {sd:.2f}  ({len(v)} evaluations)",
                  highlight=False)
