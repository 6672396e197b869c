"""Executors, journaling and resume (issue 7 evidence).

    python benchmarks/bench_executors.py [--seeds 10] [--strategies random,rea,...]

Prints: wall time of one NB201 study (every listed strategy x seeds, 150 queries) under the serial,
process and ray executors and the ratios; the journal's cost per query with and without fsync;
and the time to resume a run from a journal holding every batch (replay only, no evaluation).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from blackboxes.nb201 import table as nb201_table  # noqa: E402
from harness import runner  # noqa: E402
from harness.config import RunConfig  # noqa: E402
from harness.contracts import Result  # noqa: E402
from harness.journal import Journal  # noqa: E402
from harness.study import Study, run_study  # noqa: E402

DEFAULT = "random,er,ws,local_search,rea,rea_nb201,reinforce,bohb"


def study_walls(data_dir: Path, strategies: list[str], seeds: int, budget: int) -> dict:
    template = RunConfig(space="nb201", dataset="cifar10-valid", strategy="random", seed=0, budget=budget, fidelity=200)
    out = {}
    for executor, workers in (("serial", 1), ("process", 2), ("ray", 2)):
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            run_study(Study.build(template, strategies, range(seeds), Path(tmp), data_dir), workers=workers,
                      show_progress=False, executor=executor)
            out[executor] = time.perf_counter() - t
    return out


def journal_cost(n: int = 2000) -> dict:
    res = {}
    r = Result(91.0, 90.0, 1000.0)
    for fsync in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            j = Journal(Path(tmp) / "j.jsonl", "bench", fsync=fsync)
            times = []
            for b in range(n):
                t = time.perf_counter_ns()
                j.append(b, ["|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"], {0: r},
                         {"val": {0: 91.0}, "test": {0: 90.0}}, 1e-5)
                times.append(time.perf_counter_ns() - t)
            j.close()
        res[f"journal_append_us_median_{'fsync' if fsync else 'flush'}"] = statistics.median(times) / 1e3
    return res


def resume_time(data_dir: Path, strategy: str, budget: int) -> dict:
    cfg = RunConfig(space="nb201", dataset="cifar10-valid", strategy=strategy, seed=0, budget=budget, fidelity=200)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        o = runner.execute(cfg, Path(tmp), data_dir)
        fresh = time.perf_counter() - t
        # rebuild the journal of the finished run (header + one line per batch), drop the outputs, resume
        paths = o.paths
        import pyarrow.parquet as pq

        rows = pq.read_table(paths.trajectory).to_pylist()
        j = Journal(paths.journal, cfg.run_id, fsync=False)
        for row in rows:
            res = Result(row["val_acc"], row["test_acc"], row["cost_s"], "ok" if row["status"] == "duplicate" else row["status"],
                         row["error"], row["bench_seed"])
            ok = row["status"] in ("ok", "duplicate")
            j.append(row["batch"], [row["arch"]], {0: res} if row["status"] != "invalid" else {},
                     {"val": {0: row["report_val_acc"]} if ok else {}, "test": {0: row["report_test_acc"]} if ok else {}}, 0.0)
        j.close()
        before = paths.trajectory.read_bytes()
        for p in (paths.trajectory, paths.manifest, paths.timing):
            p.unlink()
        t = time.perf_counter()
        runner.execute(cfg, Path(tmp), data_dir)
        resumed = time.perf_counter() - t
        assert paths.trajectory.read_bytes() == before
    return {f"{strategy}_{budget}q_fresh_run_s": fresh, f"{strategy}_{budget}q_resume_from_full_journal_s": resumed}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budget", type=int, default=150)
    ap.add_argument("--strategies", default=DEFAULT)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        nb201_table.import_embedded(data_dir)
        results = {}
        walls = study_walls(data_dir, args.strategies.split(","), args.seeds, args.budget)
        for k, v in walls.items():
            results[f"study_{k}_wall_s"] = v
        results["process_speedup_vs_serial"] = walls["serial"] / walls["process"]
        results["ray_speedup_vs_serial"] = walls["serial"] / walls["ray"]
        results.update(journal_cost())
        results.update(resume_time(data_dir, "rea", 300))
    print(f"# NB201 study: {args.strategies} x {args.seeds} seeds x {args.budget} queries")
    for k, v in results.items():
        print(f"{k:48s} {v:.4g}" if isinstance(v, float) else f"{k:48s} {v}")


if __name__ == "__main__":
    main()
