"""Speed and memory of the tabular benchmarks and of a random-search study (issue 2 targets).

    python benchmarks/bench_tabular.py [--quick]

Targets: NB201 table load < 0.5 s; NB101-sized table (423,624 rows, generated here in the harness's
table format) load < 2 s and < 300 MB RSS; one tabular query < 20 us median; random search
10 seeds x 300 queries on NB201 < 5 s wall on 2 cores. Prints one line per measurement.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def nb201_load_and_query(data_dir: Path) -> dict:
    from blackboxes.nb201 import table as nb201_table
    from blackboxes.nb201.evaluator import NB201Benchmark
    from spaces import nb201

    nb201_table.import_embedded(data_dir)
    load = _median_time(lambda: NB201Benchmark("cifar10-valid", data_dir), 7)
    ev = NB201Benchmark("cifar10-valid", data_dir)
    rng = np.random.default_rng(0)
    archs = [nb201.arch_from_code(int(c)) for c in rng.integers(0, nb201.N_CELLS, 20_000)]
    per = []
    for a in archs:
        t = time.perf_counter_ns()
        ev.evaluate([a], 200, [-1])
        per.append(time.perf_counter_ns() - t)
    return {"nb201_load_s": load, "nb201_query_us_median": statistics.median(per) / 1e3}


def make_nb101_sized_table(data_dir: Path, rows: int = 423_624) -> None:
    """A generated table with NB101's row count and columns (random hashes and accuracies)."""
    import pyarrow as pa

    from harness.data.store import write_stored

    rng = np.random.default_rng(0)
    hashes = np.unique(np.array([f"{x:032x}" for x in rng.integers(0, 2**63, size=rows + 1000)]))[:rows]
    cols = {"module_hash": hashes, "adjacency": ["0" * 49] * rows,
            "operations": ["input,conv3x3-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu,conv3x3-bn-relu,output"] * rows,
            "params": rng.integers(200_000, 50_000_000, rows)}
    for r in range(3):
        cols[f"val@108/r{r}"] = rng.uniform(10, 95, rows)
        cols[f"test@108/r{r}"] = rng.uniform(10, 95, rows)
        cols[f"train_s@108/r{r}"] = rng.uniform(400, 5000, rows)
    write_stored("nb101", pa.table(cols), {"sources": [], "partial": False, "expected_rows": rows,
                                           "notes": ["generated for benchmarking"]}, data_dir)


_NB101_CHILD = r"""
import json, resource, sys, time, statistics
sys.path.insert(0, sys.argv[2])
t = time.perf_counter()
from blackboxes.nb101.evaluator import NB101Benchmark
ev = NB101Benchmark(sys.argv[1])
load = time.perf_counter() - t
# VmHWM: this process's own peak (ru_maxrss would include the parent's pages at fork time)
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
import pyarrow.parquet as pq
hashes = pq.read_table(sys.argv[1] + "/nb101/table.parquet", columns=["module_hash"]).column(0).to_pylist()[::20]
per = []
for h in hashes:
    t = time.perf_counter_ns(); ev.lookup(h, 108, -1); per.append(time.perf_counter_ns() - t)
print(json.dumps({"nb101_load_s": load, "nb101_peak_rss_mb": rss, "nb101_query_by_hash_us_median": statistics.median(per) / 1e3}))
"""


def nb101_load(data_dir: Path) -> dict:
    make_nb101_sized_table(data_dir)
    out = subprocess.run([sys.executable, "-c", _NB101_CHILD, str(data_dir), str(ROOT)], capture_output=True, text=True)
    if out.returncode != 0:
        return {"nb101_error": out.stderr.strip().splitlines()[-1]}
    return json.loads(out.stdout)


def nb101_hash_speed() -> dict:
    from spaces.nb101 import NB101Space

    space = NB101Space()
    rng = np.random.default_rng(0)
    specs = [space.sample(rng) for _ in range(3000)]
    t = time.perf_counter()
    for s in specs:
        space.canonical_id(s)
    return {"nb101_hash_us_each": (time.perf_counter() - t) / len(specs) * 1e6}


def study_wall(data_dir: Path, seeds: int, budget: int) -> dict:
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "harness", "run", "--space", "nb201", "--strategies", "random",
               "--seeds", str(seeds), "--budget", str(budget), "--out", out, "--data-dir", str(data_dir),
               "--workers", "2", "--no-progress"]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - t
    if proc.returncode != 0:
        return {"study_error": proc.stderr.strip()}
    return {f"random_{seeds}x{budget}_nb201_wall_s": wall}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="skip the NB101-sized table")
    args = ap.parse_args()
    results: dict = {"cores": len(os.sched_getaffinity(0))}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        results.update(nb201_load_and_query(d / "nb201"))
        results.update(study_wall(d / "nb201", 10, 300))
        if not args.quick:
            results.update(nb101_load(d / "nb101"))
            results.update(nb101_hash_speed())
    for k, v in results.items():
        print(f"{k:40s} {v:.4g}" if isinstance(v, float) else f"{k:40s} {v}")


if __name__ == "__main__":
    main()
