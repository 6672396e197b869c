"""The CUDA paths, run where a GPU is visible (skipped otherwise; CI has none).

``bash benchmarks/device_check.sh`` runs this file and the GPU benchmarks as one short script.
Each test compares the GPU with the CPU reference or with itself under the same seed.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_generator_log_prob_and_gradients_match_the_cpu():
    from harness.contracts import DagConstraints
    from strategies.graphpnas.model import GraphGenerator

    c = DagConstraints(n_nodes=8, op_names=tuple("abcde"), fixed_ops=(-1,) * 8,
                       edge_mask=np.tril(np.full((8, 8), -1, dtype=np.int8), k=-1))
    with torch.random.fork_rng(devices=[]):
        cpu = GraphGenerator(c).double()
    cpu.reset_parameters(torch.Generator().manual_seed(0))
    gpu = GraphGenerator(c).double().cuda()
    gpu.load_state_dict(cpu.state_dict())
    A, X, _ = cpu.sample(64, torch.Generator().manual_seed(1))
    dags = list(zip(A, X))
    lp_cpu, lp_gpu = cpu.log_prob(dags), gpu.log_prob(dags)
    assert torch.allclose(lp_cpu, lp_gpu.cpu(), atol=1e-9)
    lp_cpu.sum().backward()
    lp_gpu.sum().backward()
    for p, q in zip(cpu.parameters(), gpu.parameters()):
        assert torch.allclose(p.grad, q.grad.cpu(), atol=1e-7)
    # sampling on the GPU: exact log P of what it drew, and repeatable for a seed
    a1, x1, lp1 = gpu.sample(256, torch.Generator(device="cuda").manual_seed(2))
    a2, x2, _ = gpu.sample(256, torch.Generator(device="cuda").manual_seed(2))
    assert np.array_equal(a1, a2) and np.array_equal(x1, x2)
    assert np.allclose(lp1, cpu.log_prob(list(zip(a1, x1))).detach().numpy(), atol=1e-8)


def test_graphpnas_on_cuda_repeats_its_trajectory(nb201_data_dir, tmp_path):
    from harness import runner
    from harness.config import RunConfig

    cfg = RunConfig(space="nb201", dataset="cifar10-valid", strategy="graphpnas", seed=0, budget=40, fidelity=200,
                    strategy_params=(("device", "cuda"),))
    a = runner.execute(cfg, tmp_path / "a", nb201_data_dir)
    b = runner.execute(cfg, tmp_path / "b", nb201_data_dir)
    assert a.paths.trajectory.read_bytes() == b.paths.trajectory.read_bytes()
    assert a.best_val > 90.0


def test_randwire_oracle_trains_on_cuda(tmp_path):
    pytest.importorskip("sklearn")
    from blackboxes.randwire import oracle as O
    from harness.contracts import EvaluatorOptions
    from spaces.randwire import RandWireSpace

    space = RandWireSpace(8)
    ev = O.make_low_data_oracle("digits", tmp_path, space, EvaluatorOptions(device="cuda"), cache_dir=None)
    (r,) = ev.evaluate([space.sample(np.random.default_rng(3))], ev.default_fidelity, [-1])
    assert r.status == "ok" and 20.0 < r.val_acc <= 100.0 and math.isfinite(r.test_acc)  # chance: 10 %


def test_enas_supernet_steps_on_cuda():
    pytest.importorskip("sklearn")
    from blackboxes.enas.supernet import EnasSupernetEvaluator, SupernetConfig
    from spaces.enas import EnasSpace

    cfg = SupernetConfig(channels=8, batch_size=64, batches_per_epoch=4, eval_batches=1, eval_batch_size=128,
                         fidelities=(1,), default_fidelity=1, device="cuda", total_epochs=10)
    ev = EnasSupernetEvaluator(EnasSpace(4), "digits", None, cfg)
    space = ev.space
    for k in range(3):
        archs = [space.sample(np.random.default_rng(10 * k + j)) for j in range(4)]
        results = ev.evaluate(archs, 1, [-1] * 4)
        assert all(r.status == "ok" and 0.0 <= r.val_acc <= 100.0 for r in results)
    assert next(ev.model.parameters()).is_cuda
