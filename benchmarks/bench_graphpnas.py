"""GraphPNAS speed (generator training / sampling throughput) and NB201 evidence versus random search.

    python benchmarks/bench_graphpnas.py [--quick] [--seeds 10] [--skip-speed] [--skip-nb201]
                                         [--datasets cifar10-valid,cifar100,ImageNet16-120]
                                         [--paper-budgets] [--code-seeds 0] [--device cpu]

Speed: graphs/s of one training step (teacher-forced log P of a batch of 16 graphs, backward,
Adam) and of batched ancestral sampling, for the paper's generator (hidden 128, K = 10, S = 7)
on N = 7, 8, 12, 32 nodes with every edge and op free (5 ops), with 1 and 2 torch threads, and of
the authors'-code generator (hidden 24, per-channel attention, 7 separate layers). The
training graphs are ER(p = 0.25) DAGs for N <= 12 and WS(k = 4, p = 0.5) for N = 32 (RandWire's
prior): the message-passing cost grows with the edges. Goals (issue 4): >= 2,000 graphs/s for
N <= 8 and >= 100 for N = 32. Each paper line prints a lower bound on its FLOPs per graph and the
ceiling that bound and this machine's measured float32 matmul rate allow.

Evidence: NB201 (embedded table), 150 queries per run, fidelity 200, the runner's default dedup
(every query charged), seeds 0..n-1: best-by-validation validation accuracy mean +- std of the
paper preset ("graphpnas"), random search and REA under identical budgets, per dataset, with the
paper's Table 5 numbers for reference (the paper's cifar100 / ImageNet16-120 runs had time budgets
of about 80 / 40 queries: ``--paper-budgets`` adds those). ``--code-seeds k`` also runs the
authors'-code preset (a fit from scratch after every query: minutes per run on a CPU).
Prints the machine's load average: other processes on a shared 2-core box slow every number.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAPER_TABLE5 = {  # GraphPNAS paper, App. B Table 5: validation accuracy, 10 runs
    "cifar10-valid": {"graphpnas": "91.47 +- 0.15", "random": "91.07 +- 0.26"},
    "cifar100": {"graphpnas": "72.47 +- 0.84", "random": "71.46 +- 0.97"},
    "ImageNet16-120": {"graphpnas": "45.00 +- 0.83", "random": "45.03 +- 0.91"},
}
PAPER_BUDGETS = {"cifar100": 80, "ImageNet16-120": 40}  # App. B: 20000 s / 30000 s simulated


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


CODE_MODEL = dict(hidden=24, att_hidden=128, attention="vector", separate_layers=True)  # presets.CODE_NB101


def _free_model(n: int, **model_kw):
    import torch

    from harness.contracts import DagConstraints
    from strategies.graphpnas.model import GraphGenerator

    c = DagConstraints(n_nodes=n, op_names=tuple(f"op{k}" for k in range(5)), fixed_ops=(-1,) * n,
                       edge_mask=np.tril(np.full((n, n), -1, dtype=np.int8), k=-1))
    with torch.random.fork_rng(devices=[]):
        model = GraphGenerator(c, **model_kw)
    gen = torch.Generator().manual_seed(0)
    model.reset_parameters(gen)
    return model, c, gen


def _prior_dags(c, n_graphs: int, rng: np.random.Generator) -> list:
    import networkx as nx

    from strategies.graph_models import orient_and_label

    out = []
    for _ in range(n_graphs):
        seed = int(rng.integers(2**31))
        g = nx.gnp_random_graph(c.n_nodes, 0.25, seed=seed) if c.n_nodes <= 12 else \
            nx.watts_strogatz_graph(c.n_nodes, 4, 0.5, seed=seed)
        dag = orient_and_label(g, c, rng)
        out.append((np.asarray(dag.A), np.asarray(dag.X)))
    return out


def _flops_per_graph(n: int, hidden: int = 128, steps: int = 7) -> float:
    """Forward FLOPs (2 x multiply-adds) of the matrix products of one graph's packed prefixes, as
    ``model._PropLayer`` computes them: per node and round the node-side block (f's and g's first
    layers and the GRU's W_hh: 5H^2) and the GRU input map fused with f's output layer (3H^2);
    round 0 reads the node-side block's columns (one-hot states). Per-message O(H) element-wise
    work and the heads are left out, so this is a lower bound."""
    nodes = n * (n + 1) / 2
    return 2.0 * nodes * hidden * hidden * (8 * (steps - 1) + 3)


def _matmul_gflops(dtype_name: str, hidden: int = 128, rows: int = 4096) -> float:
    """This machine's rate on the model's main product shape, (rows x H) @ (H x 5H)."""
    import torch

    dtype = getattr(torch, dtype_name)
    a, w = torch.randn(rows, hidden, dtype=dtype), torch.randn(5 * hidden, hidden, dtype=dtype)
    a @ w.t()
    reps, t = 20, time.perf_counter()
    for _ in range(reps):
        a @ w.t()
    return 2.0 * rows * hidden * 5 * hidden * reps / (time.perf_counter() - t) / 1e9


def speed(quick: bool, device: str) -> None:
    for name, model_kw in (("paper", {}), ("code", CODE_MODEL)):
        _speed(name, model_kw, quick, device)


def _speed(name: str, model_kw: dict, quick: bool, device: str) -> None:
    import torch

    sizes = (7, 8, 12) if quick else (7, 8, 12, 32)
    for threads in (1, 2):
        torch.set_num_threads(threads)
        peak = _matmul_gflops("float32") if device == "cpu" and not model_kw else None
        if peak:
            print(f"matmul threads={threads}: float32 {peak:.0f} GFLOPS, bfloat16 {_matmul_gflops('bfloat16'):.0f} "
                  f"GFLOPS (the ceiling below assumes every FLOP at the float32 rate)", flush=True)
        for n in sizes:
            model, c, gen = _free_model(n, **model_kw)
            model.to(device)
            if device != "cpu":
                gen = torch.Generator(device=device).manual_seed(0)
                model.reset_parameters(gen)
            dags = _prior_dags(c, 64, np.random.default_rng(n))
            opt = torch.optim.Adam(model.parameters(), lr=1e-4)
            batch = 16
            n_batches = 2 if n >= 32 else 8

            def train_step(k: int) -> None:
                b = [dags[(k * batch + i) % len(dags)] for i in range(batch)]
                loss = -model.log_prob(b).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()

            train_step(0)
            t = time.perf_counter()
            for k in range(n_batches):
                train_step(k + 1)
            if device != "cpu":
                torch.cuda.synchronize()
            train_gps = n_batches * batch / (time.perf_counter() - t)
            n_samples = 64 if n >= 32 else 512
            model.sample(16, gen)
            t = time.perf_counter()
            model.sample(n_samples, gen, chunk=256)
            sample_gps = n_samples / (time.perf_counter() - t)
            edges = float(np.mean([a.sum() for a, _ in dags]))
            goal = 2000 if n <= 8 else (100 if n == 32 else None)
            fwd = _flops_per_graph(n)
            floor = f"; >= {3 * fwd / 1e9:.3f} GFLOP/graph fwd+bwd" if not model_kw else ""
            ceiling = f", ceiling {peak / (3 * fwd / 1e9):.0f}" if peak else ""
            print(f"speed {name} threads={threads} N={n:2d} ({edges:.0f} edges/graph): train {train_gps:8.1f} graphs/s "
                  f"(goal {goal or '-'}{floor}{ceiling}) | sample {sample_gps:8.1f} graphs/s | load {_load()}",
                  flush=True)
    torch.set_num_threads(1)


def _best_vals(name: str, dataset: str, seeds: range, budget: int, data_dir: Path, out: Path,
               params: tuple = ()) -> tuple[list[float], list[float]]:
    import pyarrow.parquet as pq

    from harness import runner
    from harness.config import RunConfig

    best, wall = [], []
    for seed in seeds:
        cfg = RunConfig(space="nb201", dataset=dataset, strategy=name, seed=seed, budget=budget, fidelity=200,
                        strategy_params=params)
        t = time.perf_counter()
        o = runner.execute(cfg, out, data_dir, force=True)
        wall.append(time.perf_counter() - t)
        best.append(float(pq.read_table(o.paths.trajectory, columns=["val_acc"]).column(0).to_pandas().max()))
    return best, wall


def _fmt(x: list[float]) -> str:
    return f"{statistics.mean(x):.2f} +- {statistics.pstdev(x):.2f}" if x else "-"


def nb201(seeds: int, datasets: list[str], paper_budgets: bool, code_seeds: int, device: str) -> None:
    import torch

    from blackboxes.nb201 import table as nb201_table
    from strategies.registry import STRATEGIES

    torch.set_num_threads(1)
    for name, target in (("graphpnas", "strategies.graphpnas.loop:GraphPNAS"),
                         ("graphpnas_code", "strategies.graphpnas.loop:GraphPNASCode")):
        if name not in STRATEGIES:
            STRATEGIES.register(name, target)
    params = (("device", device),)  # explicit: the strategy's default is "auto"
    with tempfile.TemporaryDirectory() as tmp:
        data_dir, out = Path(tmp) / "data", Path(tmp) / "out"
        nb201_table.import_embedded(data_dir)
        runs = [(d, 150) for d in datasets]
        if paper_budgets:
            runs += [(d, PAPER_BUDGETS[d]) for d in datasets if d in PAPER_BUDGETS]
        for dataset, budget in runs:
            g, g_wall = _best_vals("graphpnas", dataset, range(seeds), budget, data_dir, out, params)
            r, _ = _best_vals("random", dataset, range(seeds), budget, data_dir, out)
            e, _ = _best_vals("rea", dataset, range(seeds), budget, data_dir, out)
            paper = PAPER_TABLE5[dataset]
            print(f"nb201 {dataset} {budget} queries, {seeds} seeds, val@200 best-by-validation: "
                  f"graphpnas {_fmt(g)} | random {_fmt(r)} | rea {_fmt(e)} | paper Table 5: graphpnas {paper['graphpnas']}, "
                  f"random {paper['random']} | graphpnas wall/run {statistics.mean(g_wall):.1f} s "
                  f"(max {max(g_wall):.1f}) | load {_load()}", flush=True)
            if code_seeds and budget == 150:
                c, c_wall = _best_vals("graphpnas_code", dataset, range(code_seeds), budget, data_dir, out, params)
                print(f"nb201 {dataset} {budget} queries, {code_seeds} seeds: graphpnas_code {_fmt(c)} "
                      f"(wall/run {statistics.mean(c_wall):.1f} s) | load {_load()}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="speed without N = 32; 3 seeds on cifar10-valid")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--datasets", default="cifar10-valid,cifar100,ImageNet16-120")
    ap.add_argument("--paper-budgets", action="store_true", help="also 80 / 40 queries on cifar100 / ImageNet16-120")
    ap.add_argument("--code-seeds", type=int, default=0, help="seeds of the authors'-code preset (slow)")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-nb201", action="store_true")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto (speed and runs)")
    args = ap.parse_args()
    from harness.devices import resolve_device
    from harness.malloc import keep_freed_memory

    device = resolve_device(args.device)
    tuned = keep_freed_memory()  # as `python -m harness` does
    print(f"GraphPNAS benchmark on {os.cpu_count()} CPUs, device {device}, malloc tuning "
          f"{'on' if tuned else 'off'} (HARNESS_MALLOC_TUNING), load {_load()}", flush=True)
    if not args.skip_speed:
        speed(args.quick, device)
    if not args.skip_nb201:
        datasets = ["cifar10-valid"] if args.quick else args.datasets.split(",")
        nb201(3 if args.quick else args.seeds, datasets, args.paper_budgets, args.code_seeds, device)


if __name__ == "__main__":
    main()
