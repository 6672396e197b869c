"""GraphPNAS over many seeds: mean, spread and collapsed seeds per protocol (issue #23's acceptance).

    python benchmarks/graphpnas_seeds.py                                   # 30 seeds, every cell below
    python benchmarks/graphpnas_seeds.py --seeds 30 --first-seed 30        # another window of seeds
    python benchmarks/graphpnas_seeds.py --cells nats-queries:cifar10-valid --param graphpnas.lr=0.0003

GraphPNAS's outcome is chaotic in floating-point rounding, so one trajectory says nothing: this runs
``--seeds`` seeds of the paper preset under each (protocol, dataset) cell and prints, per cell, mean ±
population std of the report validation accuracy of each run's best-by-reward cell (as Table 5 and the
harness's tables read it), the published value, how many seeds collapsed (more than 0.5 below the
cell's median: the runs that never reached the region of the top cells) and every seed's value with its
best reward and number of distinct cells queried. ``--param`` passes ablations (``graphpnas.KEY=VALUE``).
Runs go through the CLI into a temporary folder (``--out`` keeps them), trace off (``--trace-every 0``).
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

CELLS = ("graphpnas-code:cifar10-valid", "nats:cifar10-valid", "nats-queries:cifar10-valid",
         "nats-queries:cifar100", "nats-queries:ImageNet16-120")
PUBLISHED = {"cifar10-valid": (91.47, 0.15), "cifar100": (72.47, 0.84), "ImageNet16-120": (45.00, 0.83)}
"""GraphPNAS paper Table 5 (validation, mean ± std over 10 runs)."""
COLLAPSE = 0.5
"""Points below the cell's median that count a seed as collapsed."""


def per_seed(folder: Path) -> pd.DataFrame:
    """seed, report validation of the best-by-reward cell, best reward, distinct cells, of every run."""
    rows = []
    for path in sorted(folder.glob("seed=*.parquet")):
        if not re.fullmatch(r"seed=\d+\.parquet", path.name):
            continue
        t = pd.read_parquet(path)
        ok = t[t["status"] == "ok"]
        best = ok["val_acc"].idxmax()
        rows.append({"seed": int(t["seed"].iloc[0]), "val": float(ok.loc[best, "report_val_acc"]),
                     "reward": float(ok["val_acc"].max()), "distinct": int(ok["arch_id"].nunique())})
    return pd.DataFrame(rows).sort_values("seed")


def run_cell(protocol: str, dataset: str, args, out: Path) -> float:
    cmd = [sys.executable, "-m", "harness", "run", "--space", "nb201", "--dataset", dataset, "--protocol", protocol,
           "--strategies", "graphpnas", "--seeds", str(args.seeds), "--first-seed", str(args.first_seed),
           "--out", str(out), "--no-progress", "--trace-every", "0", "--workers", str(args.workers)]
    for p in args.param:
        cmd += ["--param", p]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{protocol}/{dataset}: the study failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--cells", default=",".join(CELLS), help="comma-separated PROTOCOL:DATASET")
    ap.add_argument("--param", action="append", default=[], help="graphpnas.KEY=VALUE (repeatable)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--data-dir")
    ap.add_argument("--out", help="keep the runs here (default: a temporary folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.out or tmp)
        print(f"# GraphPNAS paper preset{' + ' + ' '.join(args.param) if args.param else ''}, seeds "
              f"{args.first_seed}..{args.first_seed + args.seeds - 1}")
        for cell in args.cells.split(","):
            protocol, dataset = cell.split(":")
            out = root / protocol
            wall = run_cell(protocol, dataset, args, out)
            df = per_seed(out / "nb201" / dataset / "graphpnas")
            v = df["val"].to_numpy()
            collapsed = df[v < np.median(v) - COLLAPSE]
            pub_m, pub_s = PUBLISHED[dataset]
            ok = abs(v.mean() - pub_m) <= pub_s
            print(f"\n## {protocol} / {dataset}: {v.mean():.2f} ± {v.std():.2f} over {len(v)} seeds "
                  f"(published {pub_m:.2f} ± {pub_s:.2f}: mean {'within' if ok else 'outside'} 1 std); "
                  f"collapsed {len(collapsed)} ({', '.join(map(str, collapsed['seed'])) or 'none'}); {wall:.0f} s wall")
            print(" ".join(f"{r.seed}:{r.val:.2f}/{r.reward:.1f}/u{r.distinct}" for r in df.itertuples()))


if __name__ == "__main__":
    main()
