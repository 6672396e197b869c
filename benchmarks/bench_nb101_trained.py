"""Trained NB101 on digits: seconds per evaluation, and the 3-seed study's wall time and peak RSS.

    python benchmarks/bench_nb101_trained.py [--evals N] [--study] [--cifar-steps K]

- evals: the digits preset (blackboxes.nb101.trained "digits") at its default fidelity, 108
  epochs, on N cells from the space's prior, in this process with one torch thread; prints wall
  and CPU seconds per evaluation, rewards (they must be well above chance, 10 %, and differ),
  parameters and multiply-adds.
- study: ``python -m harness run --space nb101 --dataset digits --strategies random,rea,graphpnas
  --seeds 3`` into a temporary data dir and output dir (cold cache: every cell is trained); prints
  its wall time and CPU seconds (all its processes), the peak of the summed RSS of its process tree
  (sampled every 0.2 s from /proc), the machine's load average when it started (other jobs on the
  2 cores stretch the wall time), and per run the best validation accuracy and distinct rewards.
- cifar-steps: seconds per training step (batch 256) of the paper's network on random
  CIFAR-shaped tensors (timing only), extrapolated to one 108-epoch evaluation on 40,000 images.
One JSON line per measurement.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STUDY = ["--space", "nb101", "--dataset", "digits", "--strategies", "random,rea,graphpnas", "--seeds", "3"]


def bench_evals(n: int) -> dict:
    from blackboxes.nb101.trained import make_trained_evaluator
    from harness.contracts import EvaluatorOptions
    from spaces.nb101 import NB101Space

    space = NB101Space()
    with tempfile.TemporaryDirectory() as tmp:
        ev = make_trained_evaluator("digits", tmp, space, EvaluatorOptions(device="cpu"), cache_dir=None)
        archs = space.sample_many(np.random.default_rng(0), n + 1)
        ev.evaluate(archs[:1], 4, [-1])  # warm-up: imports, the flop counter, the digits split
        wall, cpu = time.perf_counter(), time.process_time()
        results = ev.evaluate(archs[1:], ev.default_fidelity, [-1] * n)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    vals = [round(r.val_acc, 2) for r in results]
    extra = [dict(r.extra) for r in results]
    return {"bench": "nb101_digits_eval", "epochs": ev.default_fidelity, "cells": n,
            "distinct_cells": len({space.canonical_id(a) for a in archs[1:]}),
            "wall_s_per_eval": round(wall / n, 2), "cpu_s_per_eval": round(cpu / n, 2),
            "val_acc": vals, "test_acc": [round(r.test_acc, 2) for r in results], "distinct_rewards": len(set(vals)),
            "params": [int(e["params"]) for e in extra], "mult_adds": [int(e["flops"]) for e in extra]}


def _tree_rss_kb(root: int) -> int:
    """Summed VmRSS of ``root`` and its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = dict(line.split(":", 1) for line in (d / "status").read_text().splitlines() if ":" in line)
        except OSError:
            continue
        pid = int(d.name)
        children.setdefault(int(fields["PPid"]), []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def bench_study() -> dict:
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory() as tmp:
        out, data = Path(tmp) / "runs", Path(tmp) / "data"
        cmd = [sys.executable, "-m", "harness", "run", *STUDY, "--out", str(out), "--data-dir", str(data), "--no-progress"]
        load = os.getloadavg()[0]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, _tree_rss_kb(proc.pid))
            time.sleep(0.2)
        wall = time.perf_counter() - t
        _, stderr = proc.communicate()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        runs = {}
        for f in sorted(out.glob("nb101/digits/*/seed=*.parquet")):
            if f.name.endswith(".timing.parquet"):
                continue
            tab = pq.read_table(f, columns=["val_acc", "status"]).to_pydict()
            ok = [v for v, s in zip(tab["val_acc"], tab["status"]) if s == "ok" and not math.isnan(v)]
            runs[f"{f.parent.name}/{f.stem}"] = {"queries": len(tab["val_acc"]), "best_val": round(max(ok), 2) if ok else None,
                                                 "distinct_rewards": len({round(v, 6) for v in ok})}
        cached = len(list((data / "cache").rglob("*.json"))) if (data / "cache").is_dir() else 0
    return {"bench": "nb101_digits_study", "command": "python -m harness run " + " ".join(STUDY), "rc": proc.returncode,
            "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "load_avg_at_start": round(load, 1), "peak_tree_rss_mb": round(peak / 1024), "cells_trained": cached, "runs": runs,
            "stderr_tail": stderr[-300:] if proc.returncode else ""}


def bench_cifar(steps: int) -> dict:
    import torch

    from blackboxes.nb101.trained import DATASET_SETTINGS, build_network
    from blackboxes.training.loop import count_flops, count_params
    from spaces.nb101 import NB101Space

    torch.set_num_threads(1)
    arch = NB101Space().sample(np.random.default_rng(0))
    model = build_network(arch, DATASET_SETTINGS["cifar10-trained"].network)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn((256, 3, 32, 32), generator=gen)
    y = torch.randint(0, 10, (256,), generator=gen)
    times = []
    for _ in range(steps + 1):
        t = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    step = float(np.median(times[1:]))
    per_eval = step * math.ceil(40_000 / 256) * 108
    return {"bench": "nb101_cifar_step", "params": count_params(model), "mult_adds": count_flops(model, (3, 32, 32)),
            "s_per_step_batch_256": round(step, 2), "cpu_hours_per_108_epoch_eval": round(per_eval / 3600, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--evals", type=int, default=8, help="digits cells to train (0: skip)")
    ap.add_argument("--study", action="store_true", help="also time the 3-seed random,rea,graphpnas study")
    ap.add_argument("--cifar-steps", type=int, default=0, help="time this many CIFAR-10 training steps (0: skip)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    if args.evals:
        print(json.dumps(bench_evals(args.evals)), flush=True)
    if args.cifar_steps:
        print(json.dumps(bench_cifar(args.cifar_steps)), flush=True)
    if args.study:
        print(json.dumps(bench_study()), flush=True)


if __name__ == "__main__":
    main()
