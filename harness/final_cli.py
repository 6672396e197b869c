"""``python -m harness final``: the final phase of every finished run in a results folder.

``add_parser(sub)`` adds the command to ``harness.cli``'s subparsers; ``cmd_final(args, console)``
runs it: one ``harness.final.FinalRun`` per selected (space, dataset, strategy, seed), in this
process, one after the other (a trained final evaluator parallelises its trainings itself,
``--train-workers``), then a one-line summary per strategy. The exact distributions of the
learned generators follow where the space is small enough to enumerate (``harness.exact``).
"""
from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path

from rich.console import Console

from harness.cli import _positive_int  # cli imports this module only inside build_parser
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
    return f


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
    from harness.exact import ExactRun, enumerable
    from harness.final import FinalRun, find_runs

    runs = find_runs(Path(args.results), args.space, args.dataset,
                     [s for s in args.strategies.split(",") if s] if args.strategies else None, _seeds(args.seeds))
    if not runs:
        raise HarnessError(f"no stored runs under {args.results} match; run `python -m harness run` first "
                           f"(or check --results/--space/--dataset)")
    options = EvaluatorOptions(device=args.device, train_workers=args.train_workers)
    out = Console()
    outcomes, notes, exact, evaluators = [], set(), [], {}
    for paths in runs:
        space, dataset = paths.trajectory.parts[-4], paths.trajectory.parts[-3]
        protocol = final_protocols.resolve(args.protocol, space, dataset, samples=args.samples, repeats=args.repeats,
                                           screen_epochs=args.screen_epochs, keep=args.keep,
                                           final_epochs=args.final_epochs)
        o = FinalRun(paths, protocol, args.data_dir, options=options, force=args.force, evaluators=evaluators).execute()
        outcomes.append(o)
        notes.update(o.notes)
        if not args.no_exact and enumerable(space, dataset):
            e = ExactRun(paths, args.data_dir, force=args.force, evaluators=evaluators).execute()
            if e is not None:
                exact.append(e)
    done = [o for o in outcomes if not o.skipped]
    out.print(f"final: {len(done)} run(s) evaluated, {len(outcomes) - len(done)} already complete "
              f"({sum(o.wall_s for o in done):.1f} s)", highlight=False)
    _summary(outcomes, out)
    for note in sorted(notes):
        console.print(f"[yellow]warning:[/yellow] {note}", highlight=False, soft_wrap=True)
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
