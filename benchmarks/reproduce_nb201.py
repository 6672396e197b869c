"""Reproduce published NB201 numbers: run strategies under a protocol and print mean ± std over seeds.

    python benchmarks/reproduce_nb201.py --protocol nats --strategies random,rea,rea_nb201,reinforce --seeds 100
    python benchmarks/reproduce_nb201.py --protocol white --strategies random,rea,local_search --seeds 100
    python benchmarks/reproduce_nb201.py --budget 150 --strategies random,rea --seeds 30   # custom: 200-epoch reward

Uses the embedded NB201 table unless --data-dir holds an imported one. Prints, per strategy, the
best-by-reward architecture's report-fidelity validation and test accuracy (population std, as
published tables use) and the published value from harness/report/published.csv where one exists.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.cli import main as cli  # noqa: E402
from harness.report.incumbent import at_checkpoint, incumbents  # noqa: E402
from harness.report.load import load_results  # noqa: E402
from harness.report.reference import published  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--protocol")
    ap.add_argument("--dataset", default="cifar10-valid")
    ap.add_argument("--strategies", required=True)
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--budget", type=int, help="custom runs: queries (200-epoch reward)")
    ap.add_argument("--checkpoint", type=int, help="report after this many queries (default: end)")
    ap.add_argument("--data-dir")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir
        if data_dir is None:
            data_dir = str(Path(tmp) / "data")
            assert cli(["data", "import", "nb201", "--embedded", "--data-dir", data_dir]) == 0
        run = ["run", "--space", "nb201", "--dataset", args.dataset, "--strategies", args.strategies,
               "--seeds", str(args.seeds), "--out", str(Path(tmp) / "res"), "--data-dir", data_dir,
               "--workers", str(args.workers), "--no-progress"]
        run += ["--protocol", args.protocol] if args.protocol else ["--budget", str(args.budget or 150)]
        t = time.perf_counter()
        code = cli(run)
        wall = time.perf_counter() - t
        if code != 0:
            raise SystemExit(code)
        rows = load_results(Path(tmp) / "res").rows
        import pandas as pd

        timing = {}
        for f in (Path(tmp) / "res").rglob("seed=*.timing.parquet"):
            timing.setdefault(f.parent.name, []).append(pd.read_parquet(f)["strategy_s"])
        overhead = {k: pd.concat(v).mean() * 1e3 for k, v in timing.items()}
    pts = at_checkpoint(incumbents(rows), args.checkpoint)
    pub = published()
    pub = pub[(pub["protocol"] == (args.protocol or "")) & (pub["dataset"] == args.dataset)]
    print(f"# NB201 {args.dataset}, protocol {args.protocol or f'custom ({args.budget or 150} queries, 200-epoch reward)'}, "
          f"{args.seeds} seeds, {wall:.1f} s wall on {args.workers} workers")
    print(f"{'strategy':14s} {'n':>4s} {'validation':>16s} {'test':>16s}   published val / test")
    for strategy, g in pts.groupby("strategy", sort=True):
        v, te = g["inc_report_val"], g["inc_report_test"]
        p = pub[pub["strategy"] == strategy].set_index("column")
        ref = " / ".join(f"{p.loc[c, 'mean']:.2f}±{p.loc[c, 'std']:.2f}" if c in p.index else "-" for c in ("validation", "test"))
        fmt = lambda s: f"{s.mean():7.2f} ± {s.std(ddof=0):5.2f}" if s.notna().any() else f"{'n/a':>15s}"  # noqa: E731
        print(f"{strategy:14s} {len(g):4d} {fmt(v):>16s} {fmt(te):>16s}   {ref}")
        print(f"{'':14s}      mean queries {g['queries'].mean():.0f}; strategy overhead {overhead[strategy]:.2f} ms/query")


if __name__ == "__main__":
    main()
