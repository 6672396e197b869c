"""Command line: ``python -m harness run | list | data ...``.

Every user-fixable problem ends in one line on stderr (exit 2); ``--debug`` shows the traceback.
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path
from typing import Sequence

from rich.console import Console
from rich.table import Table

from harness.errors import HarnessError
from harness.malloc import keep_freed_memory

MAX_SEEDS = 10_000


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
    r.add_argument("--strategies", help="comma-separated strategy names (default: all registered)")
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
                   help="where runs execute: in this process, a local process pool (default), or Ray")
    r.add_argument("--ray-address", help="join a Ray cluster ('auto' or host:port; default: start a local Ray)")
    r.add_argument("--force", action="store_true", help="rerun runs that are already complete")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    r.add_argument("--param", action="append", default=[], metavar="STRATEGY.KEY=VALUE",
                   help="a constructor argument of one strategy, e.g. graphpnas.device=cuda or rea.population_size=50 "
                        "(repeatable; VALUE is read as JSON when it parses, else as text; recorded in the run's config)")
    r.add_argument("--device", help="trained spaces: cpu, cuda, cuda:N or auto (default auto)")
    r.add_argument("--eval-timeout", type=_positive_float,
                   help="trained spaces: seconds one evaluation may train before it is recorded as failed")
    r.add_argument("--train-workers", type=_positive_int,
                   help="trained spaces: evaluations of one search step trained in parallel (processes or GPUs)")

    rp = sub.add_parser("report", help="tables, curves and statistics from stored trajectories")
    rp.add_argument("--space")
    rp.add_argument("--dataset")
    rp.add_argument("--results", default="results", help="results directory (default results/)")
    rp.add_argument("--out", default="reports", help="report directory (default reports/)")

    ls = sub.add_parser("list", help="spaces, datasets and strategies")
    ls.add_argument("what", nargs="?", default="all", choices=["all", "spaces", "datasets", "strategies", "protocols"])

    d = sub.add_parser("data", help="import, fetch, list and verify benchmark data")
    dsub = d.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    di = dsub.add_parser("import", help="convert downloaded official files into the harness's table")
    di.add_argument("benchmark")
    di.add_argument("paths", nargs="*", type=Path, help="downloaded files (several are merged)")
    di.add_argument("--embedded", action="store_true",
                    help="nb201 only: install the table shipped with the harness (public derivatives, no download)")
    di.add_argument("--data-dir")
    df = dsub.add_parser("fetch", help="download the official file (resumable, checksummed) and import it; "
                         "also the image datasets cifar10 and tiny-imagenet")
    df.add_argument("benchmark")
    df.add_argument("--url", help="download from this address instead of the official one")
    df.add_argument("--sha256", help="expected sha256 of the file at --url")
    df.add_argument("--data-dir")
    dl = dsub.add_parser("list", help="imported benchmarks")
    dl.add_argument("--data-dir")
    dv = dsub.add_parser("verify", help="checksums, row counts and known optima")
    dv.add_argument("benchmark", nargs="?")
    dv.add_argument("--data-dir")
    return p


def _importer(benchmark: str):
    from harness.data.sources import BENCHMARKS

    if benchmark not in BENCHMARKS:
        raise HarnessError(f"unknown benchmark {benchmark!r}; valid: {', '.join(BENCHMARKS)}")
    module = {"nb201": "spaces.nb201_data", "nb101": "spaces.nb101_data", "enas6": "spaces.enas6_data"}[benchmark]
    import importlib

    return importlib.import_module(module)


def cmd_run(args, console: Console) -> int:
    from harness.data.store import stored
    from harness.runner import RunConfig
    from harness.study import Study, run_study
    from spaces.registry import get_space_entry
    from strategies.registry import STRATEGIES

    entry = get_space_entry(args.space)
    protocol = None
    if args.protocol:
        from harness.protocols import get_protocol

        protocol = get_protocol(args.protocol, entry.name)
        explicit = [f"--{k.replace('_', '-')}" for k in ("budget", "time_budget", "fidelity", "dedup", "bench_seed")
                    if getattr(args, k) is not None]
        if explicit:
            raise HarnessError(f"{', '.join(explicit)} conflicts with --protocol {protocol.name}, which sets it; drop one")
    dataset = args.dataset or (protocol.datasets[0] if protocol else entry.datasets[0])
    entry.check_dataset(dataset)
    names = [s.strip() for s in args.strategies.split(",") if s.strip()] if args.strategies else STRATEGIES.names()
    if not names:
        raise HarnessError("--strategies is empty; give at least one name (see `list strategies`)")
    for n in names:
        STRATEGIES.target(n)
    if len(set(names)) != len(names):
        raise HarnessError(f"--strategies lists a name twice: {args.strategies}")
    params = _strategy_params(args.param, names)
    if args.first_seed + args.seeds > MAX_SEEDS:
        raise HarnessError(f"seed indices must stay below {MAX_SEEDS}; got {args.first_seed}..{args.first_seed + args.seeds - 1}")
    if protocol is not None:
        rp = protocol.resolve(dataset)
        args.budget, args.time_budget, args.fidelity = rp.budget, rp.time_budget, rp.fidelity
        args.dedup, args.bench_seed = rp.dedup, rp.bench_seed
        budget = rp.budget
    else:
        budget = args.budget if args.budget is not None else (None if args.time_budget else entry.budget_for(dataset))
    data_sha = stored(entry.benchmark, args.data_dir).manifest()["table_sha256"] if entry.benchmark else ""
    kwargs = {}
    if args.root_seed is not None:
        kwargs["root_seed"] = args.root_seed
    template = RunConfig(
        space=entry.name, dataset=dataset, strategy=names[0], seed=args.first_seed, budget=budget,
        time_budget=args.time_budget, fidelity=args.fidelity or entry.default_fidelity or None,
        bench_seed=-1 if args.bench_seed is None else args.bench_seed, dedup=args.dedup or "per-call",
        batch_size=args.batch_size or entry.default_batch_size, data_sha256=data_sha, max_failures=args.max_failures,
        protocol=protocol.name if protocol else "",
        report_val=protocol.resolve(dataset).report_val if protocol else None,
        report_test=protocol.resolve(dataset).report_test if protocol else None, **kwargs,
    )
    import os

    if args.device:
        os.environ["HARNESS_DEVICE"] = args.device  # read by trained evaluators (also in worker processes)
    if args.train_workers:
        os.environ["HARNESS_TRAIN_WORKERS"] = str(args.train_workers)
    if args.eval_timeout:
        os.environ["HARNESS_EVAL_TIMEOUT"] = str(args.eval_timeout)
    out = Path(args.out)
    _check_writable(out)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    study = Study.build(template, names, seeds, out, args.data_dir, force=args.force, params=params)
    if not args.force:
        from harness import storage

        for cfg in study.runs:
            other = storage.conflicting_run(cfg.paths(out), cfg.run_id)
            if other:
                c = other.get("config", {})
                raise HarnessError(
                    f"{cfg.paths(out).trajectory} holds a different complete run (protocol "
                    f"{c.get('protocol') or 'custom'!r}, budget {c.get('budget')}, time budget {c.get('time_budget')}); "
                    f"use another --out (e.g. results/<protocol>) or --force to replace it"
                )
    if args.ray_address and args.executor != "ray":
        raise HarnessError("--ray-address needs --executor ray")
    if args.executor == "serial" and args.workers not in (None, 1):
        raise HarnessError("--executor serial runs one run at a time; drop --workers or use --executor process")
    outcomes = run_study(study, workers=args.workers, console=console, show_progress=not args.no_progress,
                         executor=args.executor, ray_address=args.ray_address)
    _summary(outcomes, out, console)
    return 0


def _check_writable(out: Path) -> None:
    probe = out
    while not probe.exists():
        probe = probe.parent
    import os

    if not probe.is_dir() or not os.access(probe, os.W_OK):
        raise HarnessError(f"output directory {out} is not writable; pass a writable --out")


def _summary(outcomes, out: Path, console: Console) -> None:
    table = Table(title=f"best validation accuracy per run (results in {out}/)")
    for col in ("strategy", "runs", "skipped", "best val % (mean ± std)"):
        table.add_column(col)
    by: dict[str, list] = {}
    for o in outcomes:
        by.setdefault(o.config.strategy, []).append(o)
    for name, runs in by.items():
        vals = [o.best_val for o in runs if not o.skipped and not math.isnan(o.best_val)]
        stat = f"{statistics.mean(vals):.2f} ± {statistics.pstdev(vals):.2f}" if vals else "-"
        table.add_row(name, str(len(runs)), str(sum(o.skipped for o in runs)), stat)
    Console().print(table)
    for note in sorted({n for o in outcomes for n in o.notes}):
        console.print(f"[yellow]warning:[/yellow] report column missing: {note}")


def cmd_report(args, console: Console) -> int:
    from harness.report.build import build_report

    groups = build_report(Path(args.results), Path(args.out), args.space, args.dataset)
    out = Console()
    for g in groups:
        out.print(f"wrote {g['dir']}/index.md ({len(g['files'])} files)")
    out.print(f"index: {Path(args.out) / 'index.md'}")
    return 0


def cmd_list(args, console: Console) -> int:
    from spaces.registry import SPACES
    from strategies.registry import STRATEGIES

    out = Console()
    if args.what in ("all", "spaces", "datasets"):
        t = Table(title="spaces")
        for c in ("space", "datasets", "default budget", "fidelities", "description"):
            t.add_column(c)
        for e in SPACES.values():
            budgets = str(e.default_budget) + "".join(f", {d}: {b}" for d, b in e.dataset_budgets)
            fids = (", ".join(map(str, e.fidelities)) + f" (default {e.default_fidelity})") if e.fidelities else "per dataset"
            t.add_row(e.name, ", ".join(e.datasets), budgets, fids, e.description)
        out.print(t)
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
        t = Table(title="strategies")
        t.add_column("strategy")
        t.add_column("implementation")
        for n in STRATEGIES.names():
            t.add_row(n, STRATEGIES.target(n))
        out.print(t)
    return 0


def cmd_data(args, console: Console) -> int:
    from harness.data.sources import BENCHMARKS
    from harness.data.store import resolve_data_dir, stored

    out = Console()
    if args.data_command == "import":
        mod = _importer(args.benchmark)
        if args.embedded:
            if args.paths or not hasattr(mod, "import_embedded"):
                raise HarnessError("--embedded takes no paths and exists for nb201 only")
            table = mod.import_embedded(args.data_dir)
        elif not args.paths:
            raise HarnessError(f"give the downloaded file(s) to import, e.g. `python -m harness data import {args.benchmark} <path>`")
        else:
            table = mod.import_files(list(args.paths), args.data_dir)
        m = table.manifest()
        out.print(f"imported {args.benchmark}: {m['n_rows']} rows, {len(m['columns'])} columns -> {table.directory}")
        return 0
    if args.data_command == "fetch":
        from harness.data import fetch

        if args.benchmark in fetch.DATASET_SOURCES:
            where = fetch.fetch_dataset(args.benchmark, args.data_dir, url=args.url)
            out.print(f"fetched {args.benchmark} into {where}")
            return 0
        _importer(args.benchmark)

        path = fetch.fetch(args.benchmark, args.data_dir, url=args.url, sha256=args.sha256)
        out.print(f"fetched and imported {args.benchmark} from {path}")
        return 0
    if args.data_command == "list":
        root = resolve_data_dir(args.data_dir)
        t = Table(title=f"benchmarks in {root}")
        for c in ("benchmark", "rows", "partial", "sources"):
            t.add_column(c)
        for b in BENCHMARKS:
            st = stored(b, args.data_dir)
            if st.exists():
                m = st.manifest()
                t.add_row(b, str(m["n_rows"]), str(m.get("partial")), ", ".join(Path(s["path"]).name for s in m.get("sources", [])))
            else:
                t.add_row(b, "-", "-", "not imported")
        out.print(t)
        return 0
    if args.data_command == "verify":
        names = [args.benchmark] if args.benchmark else [b for b in BENCHMARKS if stored(b, args.data_dir).exists()]
        if not names:
            raise HarnessError(f"no benchmark imported in {resolve_data_dir(args.data_dir)}; run `python -m harness data import ...`")
        bad = 0
        for b in names:
            info = _importer(b).verify(stored(b, args.data_dir))
            status = "OK" if not info["problems"] else "PROBLEMS"
            out.print(f"[bold]{b}[/bold]: {status} - {info['rows']} rows" + (f"; {info['optimum']}" if info.get("optimum") else ""))
            for p in info["problems"]:
                out.print(f"  - {p}")
            bad += bool(info["problems"]) and not all("partial" in p for p in info["problems"])
        return 1 if bad else 0
    raise HarnessError(f"unknown data command {args.data_command!r}")


def _strategy_params(items: Sequence[str], names: Sequence[str]) -> dict[str, tuple]:
    """``--param STRATEGY.KEY=VALUE`` -> {strategy: sorted ((key, value), ...)}; JSON values where
    they parse (numbers, true/false, lists), text otherwise."""
    import json

    out: dict[str, dict] = {}
    for item in items:
        target, eq, text = item.partition("=")
        strategy, dot, key = target.partition(".")
        if not (eq and dot and strategy and key.isidentifier()):
            raise HarnessError(f"--param {item!r}: write STRATEGY.KEY=VALUE, e.g. graphpnas.device=cuda")
        if strategy not in names:
            raise HarnessError(f"--param {item!r}: {strategy!r} is not among the strategies of this run "
                               f"({', '.join(names)})")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        out.setdefault(strategy, {})[key] = value
    return {s: tuple(sorted(kv.items())) for s, kv in out.items()}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    console = Console(stderr=True)
    try:
        args = build_parser().parse_args(argv)
        keep_freed_memory()  # the serial executor and reports run here (harness.malloc)
        handler = {"run": cmd_run, "list": cmd_list, "data": cmd_data, "report": cmd_report}[args.command]
        return handler(args, console)
    except HarnessError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: completed runs are kept; run the same command again to continue", file=sys.stderr)
        return 130
