"""Time per trained-oracle evaluation (RandWire) on CPU, and the embedded default's total time.

    python benchmarks/bench_oracle.py [--quick] [--default]

- digits: the embedded default's low-data oracle (blackboxes.randwire.oracle "digits" setting, N = 8),
  at its default fidelity, on ``--archs`` architectures from the space's prior; prints wall and
  CPU seconds per evaluation and the rewards (they must be well above chance, 10 %, and differ).
- cifar: the CIFAR-sized preset (N = 32, 32×32 input, Table 7 base channels) trained on synthetic
  CIFAR-shaped tensors (timing only): seconds per training step of batch 256 and per epoch
  extrapolated to CIFAR-10's 5,000-image 1/10 low-data split and to the full 50,000 images.
- ``--default``: runs ``python -m harness run --space randwire --dataset digits --seeds 3`` into
  a temp dir and prints its wall time (needs the lead's registry entry).
One torch thread per process (the harness's setting). Prints one JSON line per measurement.
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def bench_digits(n_archs: int) -> dict:
    from blackboxes.randwire import oracle as O
    from harness.contracts import EvaluatorOptions

    space = O.space_for_dataset("digits")
    ev = O.make_low_data_oracle("digits", None, space, EvaluatorOptions(device="cpu"), cache_dir=None)
    archs = space.sample_many(np.random.default_rng(0), n_archs)
    ev.evaluate(archs[:1], 1 if 1 in ev.fidelities else ev.fidelities[0], [-1])  # warm-up imports
    wall, cpu = time.perf_counter(), time.process_time()
    results = ev.evaluate(archs, ev.default_fidelity, [-1] * n_archs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    vals = [round(r.val_acc, 2) for r in results]
    return {"bench": "digits_eval", "epochs": ev.default_fidelity, "archs": n_archs,
            "wall_s_per_eval": round(wall / n_archs, 3), "cpu_s_per_eval": round(cpu / n_archs, 3),
            "val_acc": vals, "test_acc": [round(r.test_acc, 2) for r in results],
            "params": [int(dict(r.extra)["params"]) for r in results], "distinct_rewards": len(set(vals))}


def bench_cifar(steps: int) -> dict:
    import torch

    from blackboxes.randwire.model import PRESETS, build
    from blackboxes.training.data import augment, normalise
    from spaces.randwire import RandWireSpace

    torch.set_num_threads(1)
    arch = RandWireSpace(32).sample(np.random.default_rng(0))
    model = build(arch, PRESETS["cifar"])
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (256, 3, 32, 32), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 10, (256,), generator=gen)
    times = []
    for _ in range(steps + 1):
        t = time.perf_counter()
        x = augment(normalise(images, (0.5,) * 3, (0.25,) * 3), gen, 4, True)
        loss = torch.nn.functional.cross_entropy(model(x), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    step = float(np.median(times[1:]))
    return {"bench": "cifar_step", "batch": 256, "s_per_step": round(step, 3),
            "s_per_epoch_low_data_5k": round(step * math.ceil(5000 / 256), 1),
            "s_per_epoch_full_50k": round(step * math.ceil(50000 / 256), 1),
            "hours_100_epochs_low_data": round(step * math.ceil(5000 / 256) * 100 / 3600, 2)}


def bench_default() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "harness", "run", "--space", "randwire", "--dataset", "digits", "--seeds", "3",
             "--out", str(Path(tmp) / "runs"), "--data-dir", str(Path(tmp) / "data")],
            cwd=ROOT, capture_output=True, text=True,
        )
        return {"bench": "embedded_default", "wall_s": round(time.perf_counter() - t, 1), "rc": proc.returncode,
                "stderr_tail": proc.stderr[-300:]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer architectures and steps")
    ap.add_argument("--archs", type=int, default=None)
    ap.add_argument("--default", action="store_true", help="also time the embedded default study")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    print(json.dumps(bench_digits(args.archs or (3 if args.quick else 8))), flush=True)
    print(json.dumps(bench_cifar(2 if args.quick else 5)), flush=True)
    if args.default:
        print(json.dumps(bench_default()), flush=True)


if __name__ == "__main__":
    main()
