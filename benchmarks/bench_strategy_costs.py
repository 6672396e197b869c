"""What one run of each strategy costs on the embedded NB201 table, and what the default study costs.

    python benchmarks/bench_strategy_costs.py                 # every strategy, 150 queries, 1 seed
    python benchmarks/bench_strategy_costs.py --default-study  # `run --space nb201 --seeds 10` [--report] as a user types it

Each strategy runs through the CLI in its own process (serial executor, one torch thread), so the
figure includes what a user pays: start-up, imports, the table lookup and the trajectory write.
CPU seconds are the child's user+system time. Opt-in strategies (minutes per run) are measured over
``--slow-queries`` queries and their per-query cost is scaled to 150 — said in the output, because
they refit after every query and their cost per query is nearly constant.
The cost column of ``list strategies`` quotes this script's figures (strategies/registry.py).
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from strategies.registry import STRATEGIES, describe  # noqa: E402


def _run(args: list[str], env: dict) -> tuple[float, float]:
    """(wall s, child CPU s) of one CLI command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "harness", *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--strategies", help="comma-separated (default: every registered one)")
    ap.add_argument("--queries", type=int, default=150)
    ap.add_argument("--slow-queries", type=int, default=10, help="queries for opt-in strategies")
    ap.add_argument("--default-study", action="store_true",
                    help="time the default study instead: `run --space nb201 --seeds 10`, then the README's main job "
                    "`run --space nb201 --seeds 10 --report` (a fresh data dir and results folder for each)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.default_study:
            print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            for name, extra in (("run", []), ("run_and_report", ["--report", str(Path(tmp) / "report")])):
                # as a user types it: no imported table (the shipped one is used), one fresh results folder
                env = dict(os.environ, HARNESS_DATA=str(Path(tmp) / name / "data"))
                wall, cpu = _run(["run", "--space", "nb201", "--seeds", "10", "--out", str(Path(tmp) / name / "results"),
                                  "--no-progress", *extra], env)
                print(f"default_study_nb201_10_seeds {name} wall_s {wall:.1f} cpu_s {cpu:.1f} (cores {os.cpu_count()})",
                      flush=True)
            return
        env = dict(os.environ, HARNESS_DATA=str(Path(tmp) / "data"), OMP_NUM_THREADS="1")
        _run(["data", "import", "nb201", "--embedded"], env)
        names = args.strategies.split(",") if args.strategies else STRATEGIES.names()
        for name in names:
            info = describe(name)
            slow = bool(info and info.opt_in)
            q = args.slow_queries if slow else args.queries
            out = Path(tmp) / "results" / name
            wall, cpu = _run(["run", "--space", "nb201", "--strategies", name, "--seeds", "1", "--budget", str(q),
                              "--executor", "serial", "--out", str(out), "--no-progress"], env)
            note = f" (measured over {q} queries; x{args.queries / q:.0f} = {cpu * args.queries / q:.0f} s)" if slow else ""
            print(f"{name:15s} wall_s {wall:6.1f} cpu_s {cpu:6.1f}{note}", flush=True)


if __name__ == "__main__":
    main()
