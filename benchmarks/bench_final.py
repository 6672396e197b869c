"""Acceptance of the final phase on NB201 cifar10-valid (issue 14): the searches, then `final`.

    python benchmarks/bench_final.py --out /tmp/acc201 [--seeds 10] [--budget 150] [--samples 10]

Runs (or reuses) the NB201 default strategies plus rnn x seeds x budget, then times
``python -m harness final --force`` (every run's proposals with their 200-epoch validation/test,
and the exact distributions of the learned generators) and the same command again without
``--force`` (nothing to do), and prints the proposals' mean ± std per strategy and the exact table.
Needs the NB201 table (`python -m harness data import nb201 --embedded`).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

STRATEGIES = "random,rea_nb201,reinforce,bohb_nb201,graphpnas,rnn"


def _harness(*args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harness", *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="results/acceptance-final")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budget", type=int, default=150)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    search_s = _harness("run", "--space", "nb201", "--dataset", "cifar10-valid", "--strategies", STRATEGIES,
                        "--seeds", str(a.seeds), "--budget", str(a.budget), "--out", a.out, "--no-progress",
                        "--workers", str(a.workers))
    final_s = _harness("final", "--results", a.out, "--samples", str(a.samples), "--workers", str(a.workers),
                       "--force")
    again_s = _harness("final", "--results", a.out, "--samples", str(a.samples), "--workers", str(a.workers))
    print(f"search {search_s:.0f} s; final (proposals and exact distributions, {a.workers} workers) {final_s:.1f} s; "
          f"same command again {again_s:.1f} s")
    print(f"\n| strategy | proposals | 200-epoch val | 200-epoch test |\n|---|---|---|---|")
    root = Path(a.out) / "nb201" / "cifar10-valid"
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        rows = [r for f in sorted(d.glob("seed=*.final.parquet")) for r in pq.read_table(f).to_pylist()
                if r["stage"] == "final" and r["selection"] == "model" and r["status"] == "ok"]
        val, test = np.array([r["val_acc"] for r in rows]), np.array([r["test_acc"] for r in rows])
        print(f"| {d.name} | {len(rows)} | {val.mean():.2f} ± {val.std():.2f} | {test.mean():.2f} ± {test.std():.2f} |")
    keys = ["total_mass", "expected_val", "expected_test", "entropy_nats", "perplexity", "mass_top10",
            "mass_top1pct", "modal_rank"]
    print("\n| strategy | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys))
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        sums = [json.loads(f.read_text()) for f in sorted(d.glob("seed=*.exact.json"))]
        if sums:
            cells = [f"{np.mean([s[k] for s in sums]):.4g} ± {np.std([s[k] for s in sums]):.2g}" for k in keys]
            print(f"| {d.name} ({len(sums)} seeds) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
