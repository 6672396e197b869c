"""Command line: ``python -m harness run | list | data ...``.

Every user-fixable problem ends in one line on stderr (exit 2); ``--debug`` shows the traceback.
"""
from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
from pathlib import Path
from typing import Sequence

from rich.console import Console
from rich.table import Table

from harness.errors import HarnessError
from harness.malloc import keep_freed_memory

def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def _nonneg_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {v}")
    return v


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not (v > 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return v


def _timeout(text: str) -> float:
    """Seconds a timer enforces: positive and at most ``harness.study.MAX_TIMEOUT_S`` (a larger
    value would overflow the timer and be reported as the strategy's or evaluator's fault)."""
    from harness.study import MAX_TIMEOUT_S

    v = _positive_float(text)
    if v > MAX_TIMEOUT_S:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_TIMEOUT_S:g} seconds, got {text}")
    return v


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        raise HarnessError(f"{self.prog}: {message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m harness", description="NAS harness: GraphPNAS and baselines on shared budgets and seeds.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("run", help="run every (selected) strategy for N seeds with matched budgets")
    r.add_argument("--space", required=True, help="search space (see `list spaces`)")
    r.add_argument("--dataset", help="dataset (default: the space's first)")
    r.add_argument("--strategies", help="comma-separated strategy names, or `all` (every registered one but the opt-in "
                   "replicas); default: the paper's comparison on the space (`list` shows it)")
    r.add_argument("--seeds", type=_positive_int, default=10, help="number of seeds (default 10)")
    r.add_argument("--first-seed", type=_nonneg_int, default=0, help="first seed index (default 0)")
    r.add_argument("--budget", type=_positive_int, help="queries per run (default: the space's)")
    r.add_argument("--time-budget", type=_positive_float,
                   help="simulated training seconds per run (stops at whichever budget ends first)")
    r.add_argument("--fidelity", type=_positive_int, help="benchmark fidelity in epochs (default: the space's)")
    r.add_argument("--protocol", help="named evaluation protocol (see `list protocols`); sets budget, "
                   "fidelities, dedup and report columns")
    r.add_argument("--bench-seed", type=int,
                   help="-1 mean over benchmark repeats (default), k one repeat, -2 draw a repeat per query")
    r.add_argument("--dedup", choices=["per-call", "unique"],
                   help="charge every query (per-call, default) or each canonical architecture once (unique)")
    r.add_argument("--batch-size", type=_positive_int, help="architectures per ask() (default: the space's, 1 "
                   "for tabular spaces)")
    r.add_argument("--max-failures", type=_nonneg_int,
                   help="stop a run after more than this many failed evaluations (default: never; all are recorded)")
    r.add_argument("--root-seed", type=_nonneg_int, help="override the harness's root entropy")
    r.add_argument("--out", default="results", help="results directory (default results/)")
    r.add_argument("--data-dir", help="benchmark data dir (default $HARNESS_DATA or the user cache dir)")
    r.add_argument("--workers", type=_positive_int, help="parallel runs (default: number of cores)")
    r.add_argument("--executor", default="process", choices=["serial", "process", "ray"],
                   help="where runs execute: one at a time in a worker process (serial), a local process pool "
                   "(default; one worker runs in this process), or Ray")
    r.add_argument("--ray-address", help="join a Ray cluster ('auto' or host:port; default: start a local Ray)")
    r.add_argument("--force", action="store_true", help="rerun runs that are already complete")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    r.add_argument("--report", nargs="?", const="reports/latest", metavar="DIR",
                   help="build the report of this space/dataset from --out when the study is done (default DIR "
                        "reports/latest)")
    r.add_argument("--param", action="append", default=[], metavar="STRATEGY.KEY=VALUE",
                   help="a constructor argument of one strategy, e.g. graphpnas.device=cuda or rea.population_size=50 "
                        "(repeatable; VALUE is read as JSON when it parses, else as text; recorded in the run's config)")
    r.add_argument("--device", help="trained spaces: cpu, cuda, cuda:N or auto (default auto)")
    r.add_argument("--eval-timeout", type=_timeout,
                   help="trained spaces: seconds one evaluation may train before it is recorded as failed")
    r.add_argument("--train-workers", type=_positive_int,
                   help="trained spaces: evaluations of one search step trained in parallel (processes or GPUs)")
    r.add_argument("--strategy-timeout", type=_timeout,
                   help="seconds one ask() or tell() may take; past it the run is recorded as failed (rerun retries it)")
    r.add_argument("--trace-every", type=_nonneg_int, metavar="K",
                   help="enumerable spaces (NB201): record a generative strategy's exact distribution every K queries "
                        "and at the end (seed=N.dynamics.parquet, drawn by the report; default 50, 0 = off; "
                        "not part of the run id: the trajectory is the same either way)")

    rp = sub.add_parser("report", help="tables, curves and statistics from stored trajectories")
    rp.add_argument("--space")
    rp.add_argument("--dataset")
    rp.add_argument("--results", default="results", help="results directory (default results/)")
    rp.add_argument("--out", default="reports/latest", help="report directory, replaced whole by the new report "
                    "(default reports/latest; the committed reference report is reports/reference)")
    rp.add_argument("--workers", type=_positive_int, help="processes drawing the figures (default: number of cores; "
                    "the files are the same for any number)")

    from harness.final_cli import add_parser as add_final_parser  # the final phase (harness.final_cli)

    add_final_parser(sub)

    ls = sub.add_parser("list", help="spaces, datasets and strategies")
    ls.add_argument("what", nargs="?", default="all", choices=["all", "spaces", "datasets", "strategies", "protocols"])

    d = sub.add_parser("data", help="import, fetch, list and verify benchmark data")
    dsub = d.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    di = dsub.add_parser("import", help="convert downloaded official files into the harness's table")
    di.add_argument("benchmark")
    di.add_argument("paths", nargs="*", type=Path, help="downloaded files (several are merged)")
    di.add_argument("--embedded", action="store_true",
                    help="nb201 only: install the table shipped with the harness (public derivatives, no download)")
    di.add_argument("--allow-pickle", action="store_true",
                    help="nb201: read a NATS-Bench archive, whose files are pickles that can run code; only for a file "
                    "you trust (NASLib pickles are read with a restricted loader and need no flag)")
    di.add_argument("--data-dir")
    df = dsub.add_parser("fetch", help="download the official file (resumable, checksummed) and import it; "
                         "also the image datasets cifar10 and tiny-imagenet")
    df.add_argument("benchmark")
    df.add_argument("--url", help="download from this address instead of the official one")
    df.add_argument("--sha256", help="expected sha256 of the file at --url")
    df.add_argument("--allow-pickle", action="store_true",
                    help="as for `data import`: the downloaded file is a NATS-Bench archive you trust")
    df.add_argument("--data-dir")
    dl = dsub.add_parser("list", help="imported benchmarks")
    dl.add_argument("--data-dir")
    dv = dsub.add_parser("verify", help="checksums, row counts and known optima")
    dv.add_argument("benchmark", nargs="?")
    dv.add_argument("--data-dir")
    return p


def cmd_run(args, console: Console) -> int:
    from harness.study import StudyRequest, default_workers, run_study

    names = None if args.strategies is None else tuple(s.strip() for s in args.strategies.split(",") if s.strip())
    request = StudyRequest(
        space=args.space, dataset=args.dataset, strategies=names, seeds=args.seeds, first_seed=args.first_seed,
        budget=args.budget, time_budget=args.time_budget, fidelity=args.fidelity, protocol=args.protocol,
        bench_seed=args.bench_seed, dedup=args.dedup, batch_size=args.batch_size, max_failures=args.max_failures,
        root_seed=args.root_seed, params=tuple(args.param), out=args.out, data_dir=args.data_dir, force=args.force,
        device=args.device, train_workers=args.train_workers, eval_timeout=args.eval_timeout,
        strategy_timeout=args.strategy_timeout, trace_every=args.trace_every,
    )
    study = request.resolve()
    for notice in study.notices:
        console.print(notice, markup=False, highlight=False, soft_wrap=True)
    _check_writable(study.out)
    if args.ray_address and args.executor != "ray":
        raise HarnessError("--ray-address needs --executor ray")
    if args.executor == "serial" and args.workers not in (None, 1):
        raise HarnessError("--executor serial runs one run at a time; drop --workers or use --executor process")
    # what runs after the last run, imported while worker processes run (the main process idles then)
    warm = _import_in_background(["harness.summary", "scipy.stats"] + (["harness.report.build"] if args.report else [])) \
        if study.runs_in_pool(args.executor, args.workers or default_workers()) else None
    outcomes = run_study(study, workers=args.workers, console=console, show_progress=not args.no_progress,
                         executor=args.executor, ray_address=args.ray_address)
    if warm is not None:
        warm.join()
    report_dir = None
    if args.report is not None and not any(o.failed for o in outcomes):
        from harness.report.build import build_report

        report_dir = Path(args.report)
        # figures drawn by forked processes, except beside a Ray driver (its threads do not survive a fork)
        workers = 1 if args.executor == "ray" else (args.workers or default_workers())
        build_report(study.out, report_dir, study.runs[0].space, study.runs[0].dataset,
                     say=lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True),
                     workers=workers)
    return _summary(outcomes, study, console, report_dir)


def _import_in_background(modules: Sequence[str]) -> threading.Thread:
    """Import ``modules`` in a daemon thread. The summary's statistics (scipy.stats, ~1.5 s) and the
    report's plotting (~4 s) would otherwise be imported after the study, on its critical path; an
    import that fails here is left to fail, with its real error, where the module is used."""
    import importlib

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - re-raised by the real import later
                pass

    thread = threading.Thread(target=load, name="harness-import", daemon=True)
    thread.start()
    return thread


def _check_writable(out: Path) -> None:
    probe = out
    while not probe.exists():
        probe = probe.parent
    import os

    if not probe.is_dir() or not os.access(probe, os.W_OK):
        raise HarnessError(f"output directory {out} is not writable; pass a writable --out")


def _fmt(v: float, spec: str = ".2f") -> str:
    return "-" if math.isnan(v) else format(v, spec)


def _summary(outcomes, study, console: Console, report_dir: Path | None = None) -> int:
    """The ranked table (``harness.summary``), warnings, failures and the next step; the exit code."""
    from harness.summary import ALPHA, min_p_with, summarize

    out = study.out
    s = summarize(study.runs, out)
    cfg0 = study.runs[0]
    if s is not None:
        Console().print(f"{cfg0.space}/{cfg0.dataset}: ranked by {s.metric}", soft_wrap=True, highlight=False,
                        markup=False)
        table = Table()
        for col in ("rank", "strategy", "mean ± std", "seeds", "Δ to best", "p (Holm)"):
            table.add_column(col, justify="left" if col == "strategy" else "right")
        for line in s.lines:
            mark = "" if math.isnan(line.p_holm) else ("*" if line.p_holm < ALPHA else "")
            seeds = f"{line.n}" if line.n == line.runs else f"{line.n} of {line.runs}"
            table.add_row(str(line.rank), line.strategy, f"{_fmt(line.mean)} ± {_fmt(line.std)}", seeds,
                          "best" if line.rank == 1 else _fmt(line.diff, "+.2f"),
                          "" if line.rank == 1 else f"{_fmt(line.p_holm, '.3f')}{mark}")
        Console().print(table)
        skipped = sum(o.skipped for o in outcomes)
        if skipped:
            console.print(f"{skipped} of {len(outcomes)} runs were already complete in {out}/ and are shown from "
                          f"their stored trajectories", highlight=False, soft_wrap=True)
        if s.tests_can_separate:
            console.print(f"* the difference to the best is significant at p < {ALPHA} (two-sided Mann-Whitney U "
                          f"over seeds, Holm-corrected)", highlight=False, soft_wrap=True)
        else:
            n = min(line.n for line in s.lines)
            console.print(f"[yellow]note:[/yellow] with {n} seed(s) per strategy no rank test can reach p < {ALPHA} "
                          f"(smallest possible p {s.min_p:.2g}); differences above are not evidence - use more "
                          f"--seeds (with 10, p can reach {min_p_with(10, len(s.lines)):.1g})", highlight=False,
                          soft_wrap=True)
    if report_dir is not None:
        console.print(f"report: {report_dir / 'index.html'} (and index.md)", highlight=False, markup=False,
                      soft_wrap=True)
    else:
        console.print(f"next: python -m harness report --results {out} --space {cfg0.space} --dataset {cfg0.dataset}"
                      f"  (tables, curves, statistics)", highlight=False, markup=False, soft_wrap=True)
    for note in sorted({n for o in outcomes for n in o.notes}):
        console.print(f"[yellow]warning:[/yellow] {note}", highlight=False, soft_wrap=True)
    failed = [o for o in outcomes if o.failed]
    for o in failed:
        console.print(f"[red]failed:[/red] {o.config.strategy} seed={o.config.seed}: {o.failed}; rerun the same command "
                      f"to retry it", highlight=False, soft_wrap=True)
    empty = [o for o in outcomes if not o.skipped and not o.failed and o.n_rows and not o.n_answered]
    return 1 if failed or empty else 0


def cmd_report(args, console: Console) -> int:
    from harness.report.build import build_report
    from harness.study import default_workers

    groups = build_report(Path(args.results), Path(args.out), args.space, args.dataset,
                          say=lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True),
                          workers=args.workers or default_workers())
    out = Console()
    for g in groups:
        out.print(f"wrote {g['dir']}/index.md ({len(g['files'])} files)")
    out.print(f"index: {Path(args.out) / 'index.md'}")
    return 0


def cmd_list(args, console: Console) -> int:
    from blackboxes.registry import BENCHMARKS
    from strategies.registry import STRATEGIES

    out = Console()
    if args.what in ("all", "spaces", "datasets"):
        t = Table(title="spaces")
        for c in ("space", "datasets", "default budget", "fidelities", "description"):
            t.add_column(c)
        for e in BENCHMARKS.values():
            if e.not_runnable:
                continue
            budgets = str(e.default_budget) + "".join(f", {d}: {b}" for d, b in e.dataset_budgets)
            fids = (", ".join(map(str, e.fidelities)) + f" (default {e.default_fidelity})") if e.fidelities else "per dataset"
            t.add_row(e.name, ", ".join(e.datasets), budgets, fids, e.description)
        out.print(t)
        for e in BENCHMARKS.values():
            if e.not_runnable:
                out.print(f"[bold]{e.name}[/bold] ({e.description}): data only, not searchable: {e.not_runnable}.")
    if args.what in ("all", "protocols"):
        from harness.protocols import PROTOCOLS

        t = Table(title="protocols (`run --protocol NAME`)")
        for c in ("protocol", "space", "reward (dataset@epochs)", "budget", "dedup"):
            t.add_column(c)
        for p in PROTOCOLS.values():
            rp = [p.resolve(d) for d in p.datasets]
            reward = ", ".join(f"{d}@{r.fidelity}" for d, r in zip(p.datasets, rp))
            budget = f"{p.budget} queries" if p.budget else ", ".join(f"{int(r.time_budget)} s" for r in rp)
            t.add_row(p.name, p.space, reward, budget, p.dedup)
        out.print(t)
        for p in PROTOCOLS.values():
            out.print(f"[bold]{p.name}[/bold]: {p.description}. Source: {p.citation}."
                      + (f" Deviation: {p.deviations}" if p.deviations else ""))
    if args.what in ("all", "strategies"):
        from strategies.registry import describe

        t = Table(title="strategies (`run --strategies a,b` or `all`; default: a space's paper comparison)")
        for c in ("strategy", "purpose", "CPU, 150 NB201 queries", "source", "default on"):
            t.add_column(c)
        for n in STRATEGIES.names():
            info = describe(n)
            spaces = ", ".join(b.name for b in BENCHMARKS.values() if n in b.default_strategies)
            if info is None:
                t.add_row(n, STRATEGIES.target(n), "?", "plugin", spaces)
            else:
                cost = info.cost + (" (opt-in: name it)" if info.opt_in else "")
                t.add_row(n, info.purpose, cost, info.source, spaces)
        out.print(t)
    return 0


def cmd_data(args, console: Console) -> int:
    from blackboxes.registry import table_benchmark, with_tables
    from harness.data.store import resolve_data_dir

    out = Console()
    if args.data_command == "import":
        entry = table_benchmark(args.benchmark)
        if args.embedded:
            if args.paths:
                raise HarnessError("--embedded takes no paths: it installs the table shipped with the harness")
            table = entry.import_embedded(args.data_dir)
        elif not args.paths:
            raise HarnessError(f"give the downloaded file(s) to import, e.g. `python -m harness data import {args.benchmark} <path>`")
        else:
            table = entry.import_files(args.paths, args.data_dir, allow_pickle=args.allow_pickle)
        m = table.manifest()
        out.print(f"imported {args.benchmark}: {m['n_rows']} rows, {len(m['columns'])} columns -> {table.directory}")
        return 0
    if args.data_command == "fetch":
        from blackboxes.training.fetch import DATASET_SOURCES, fetch_dataset

        if args.benchmark in DATASET_SOURCES:
            where = fetch_dataset(args.benchmark, args.data_dir, url=args.url)
            out.print(f"fetched {args.benchmark} into {where}")
            return 0
        path = table_benchmark(args.benchmark).fetch(args.data_dir, url=args.url, sha256=args.sha256,
                                                     allow_pickle=args.allow_pickle)
        out.print(f"fetched and imported {args.benchmark} from {path}")
        return 0
    if args.data_command == "list":
        root = resolve_data_dir(args.data_dir)
        t = Table(title=f"benchmarks in {root}")
        for c in ("benchmark", "rows", "partial", "sources"):
            t.add_column(c)
        for entry in with_tables():
            st = entry.stored(args.data_dir)
            if st.exists():
                m = st.manifest()
                t.add_row(entry.name, str(m.get("n_rows", "?")), str(m.get("partial")),
                          ", ".join(Path(s["path"]).name for s in m.get("sources", [])))
            else:
                t.add_row(entry.name, "-", "-", "not imported")
        out.print(t)
        return 0
    if args.data_command == "verify":
        entries = ([table_benchmark(args.benchmark)] if args.benchmark
                   else [e for e in with_tables() if e.stored(args.data_dir).exists()])
        if not entries:
            raise HarnessError(f"no benchmark imported in {resolve_data_dir(args.data_dir)}; run `python -m harness data import ...`")
        bad = 0
        for entry in entries:
            info = entry.verify(args.data_dir)
            status = "OK" if not info["problems"] else "PROBLEMS"
            out.print(f"[bold]{entry.name}[/bold]: {status} - {info['rows']} rows" + (f"; {info['optimum']}" if info.get("optimum") else ""))
            for p in info["problems"]:
                out.print(f"  - {p}")
            bad += bool(info["problems"]) and not all("partial" in p for p in info["problems"])
        return 1 if bad else 0
    raise HarnessError(f"unknown data command {args.data_command!r}")


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    console = Console(stderr=True)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None  # `kill` stops like Ctrl-C
    try:
        args = build_parser().parse_args(argv)
        keep_freed_memory()  # the serial executor and reports run here (harness.malloc)
        from harness.final_cli import cmd_final

        handler = {"run": cmd_run, "list": cmd_list, "data": cmd_data, "report": cmd_report,
                   "final": cmd_final}[args.command]
        return handler(args, console)
    except HarnessError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: completed runs are kept; run the same command again to continue", file=sys.stderr)
        return 130
    except OSError as exc:  # a full disk, a read-only or missing folder outside the places that say more
        if debug:
            raise
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"error: {exc.strerror or exc}{where}; free disk space or choose a writable path (--out, --data-dir), "
              f"then rerun the same command", file=sys.stderr)
        return 2
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
