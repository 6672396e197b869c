"""Time to regenerate the committed reference report (results/reference) from its stored trajectories (target < 30 s).

    python benchmarks/bench_report.py [--results results] [--out /tmp/report]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.report.build import build_report  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default=str(ROOT / "results" / "reference"))
    ap.add_argument("--out")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        t = time.perf_counter()
        groups = build_report(Path(args.results), out)
        wall = time.perf_counter() - t
        files = sum(len(g["files"]) for g in groups)
    print(f"report_generation_s {wall:.2f}  ({files} files, {len(groups)} groups from {args.results})")


if __name__ == "__main__":
    main()
