"""Reproduce published NB201 numbers: run strategies under a protocol on every dataset and print mean ± std
over seeds next to the published value (GraphPNAS Table 5 for the NATS protocols).

    python benchmarks/reproduce_nb201.py --protocol nats-queries --strategies random,rea_nb201,reinforce,bohb_nb201,graphpnas --seeds 10
    python benchmarks/reproduce_nb201.py --protocol nats --datasets cifar10-valid --strategies random,rea,rea_nb201,reinforce --seeds 100
    python benchmarks/reproduce_nb201.py --protocol white --strategies random,rea,local_search --seeds 100
    python benchmarks/reproduce_nb201.py --budget 150 --strategies random,rea --seeds 30   # custom: 200-epoch reward

``--datasets all`` (the default) runs cifar10-valid, cifar100 and ImageNet16-120 one after the other
into one results folder; a dataset the protocol cannot run on this data (``nats`` needs training
times, which the embedded table has for cifar10-valid only) is reported and skipped. Uses the
embedded NB201 table unless --data-dir holds an imported one. Prints, per dataset and strategy, the
best-by-reward architecture's report-fidelity validation and test accuracy (population std, as
published tables use), the published value from harness/report/published.csv and ours minus it.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.cli import main as cli  # noqa: E402
from harness.report.incumbent import at_checkpoint, incumbents  # noqa: E402
from harness.report.load import load_results  # noqa: E402
from harness.report.reference import published  # noqa: E402

DATASETS = ("cifar10-valid", "cifar100", "ImageNet16-120")


def _fmt(s: pd.Series) -> str:
    return f"{s.mean():6.2f} ± {s.std(ddof=0):4.2f}" if s.notna().any() else f"{'n/a':>13s}"


def _published(pub: pd.DataFrame, column: str) -> tuple[str, float | None]:
    row = pub[pub["column"] == column]
    if row.empty:
        return f"{'-':>13s}", None
    r = row.iloc[0]
    return f"{r['mean']:6.2f} ± {r['std']:4.2f}", float(r["mean"])


def print_dataset(dataset: str, pts: pd.DataFrame, pub: pd.DataFrame, overhead: dict) -> None:
    """One dataset: ours next to the published validation and test columns, and ours minus published."""
    print(f"\n## {dataset}")
    print(f"{'strategy':12s} {'n':>3s} {'queries':>7s} | {'validation':>13s} {'published':>13s} {'diff':>6s} | "
          f"{'test':>13s} {'published':>13s} {'diff':>6s}")
    for strategy, g in pts.groupby("strategy", sort=True):
        p = pub[pub["strategy"] == strategy]
        cells = []
        for metric, column in (("inc_report_val", "validation"), ("inc_report_test", "test")):
            ref, mean = _published(p, column)
            diff = f"{g[metric].mean() - mean:+6.2f}" if mean is not None and g[metric].notna().any() else f"{'':6s}"
            cells.append(f"{_fmt(g[metric]):>13s} {ref:>13s} {diff}")
        print(f"{strategy:12s} {len(g):3d} {g['queries'].mean():7.0f} | {cells[0]} | {cells[1]}"
              f"   ({overhead.get((dataset, strategy), float('nan')):.2f} ms/query strategy overhead)")
    notes = sorted({n for n in pub.loc[pub["strategy"].isin(pts["strategy"]), "note"] if n})
    for n in notes:
        print(f"  note: {n}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--protocol")
    ap.add_argument("--datasets", default="all", help=f"comma-separated, or 'all' ({', '.join(DATASETS)})")
    ap.add_argument("--strategies", required=True)
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--budget", type=int, help="custom runs: queries (200-epoch reward)")
    ap.add_argument("--checkpoint", type=int, help="report after this many queries (default: end)")
    ap.add_argument("--data-dir")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    datasets = DATASETS if args.datasets == "all" else tuple(args.datasets.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir
        if data_dir is None:
            data_dir = str(Path(tmp) / "data")
            assert cli(["data", "import", "nb201", "--embedded", "--data-dir", data_dir]) == 0
        res = Path(tmp) / "res"
        ran, wall = [], {}
        for dataset in datasets:
            run = ["run", "--space", "nb201", "--dataset", dataset, "--strategies", args.strategies,
                   "--seeds", str(args.seeds), "--out", str(res), "--data-dir", data_dir,
                   "--workers", str(args.workers), "--no-progress"]
            run += ["--protocol", args.protocol] if args.protocol else ["--budget", str(args.budget or 150)]
            t = time.perf_counter()
            code = cli(run)
            wall[dataset] = time.perf_counter() - t
            if code == 0:
                ran.append(dataset)
            else:
                print(f"# {dataset}: not run (exit {code}; the reason is printed above)", file=sys.stderr)
        if not ran:
            raise SystemExit(2)
        rows = load_results(res).rows
        overhead = {}
        for f in res.rglob("seed=*.timing.parquet"):
            overhead.setdefault((f.parent.parent.name, f.parent.name), []).append(pd.read_parquet(f)["strategy_s"])
        overhead = {k: pd.concat(v).mean() * 1e3 for k, v in overhead.items()}
    pts = at_checkpoint(incumbents(rows), args.checkpoint)
    pub = published()
    pub = pub[(pub["space"] == "nb201") & (pub["protocol"] == (args.protocol or ""))]
    what = args.protocol or f"custom ({args.budget or 150} queries, 200-epoch reward)"
    print(f"# NB201, protocol {what}, {args.seeds} seeds, {args.workers} workers; wall "
          + ", ".join(f"{d} {wall[d]:.1f} s" for d in ran))
    for dataset in ran:
        print_dataset(dataset, pts[pts["dataset"] == dataset], pub[pub["dataset"] == dataset], overhead)


if __name__ == "__main__":
    main()
