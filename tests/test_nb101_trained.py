"""Trained NB101: nasbench-pytorch's network against the official parameter counts, and the trained
evaluator on digits (determinism, cache, repeats, the full-data variant, a run through the runner)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from blackboxes.nb101 import BENCHMARK
from blackboxes.nb101 import trained as T
from harness.contracts import EvaluatorOptions
from harness.errors import DataMissing, HarnessError
from spaces.nb101 import NB101Space, NB101Spec

torch = pytest.importorskip("torch")
pytest.importorskip("nasbench_pytorch.model", reason="nasbench-pytorch is not installed")
pytest.importorskip("sklearn")

SPACE = NB101Space()
CPU = EvaluatorOptions(device="cpu")
EPOCHS = 4  # the smallest fidelity: ~0.2 s per digits cell


def _cells(shared_data):
    stats = json.loads((shared_data / "nb101" / "nb101_30_full_stats.json").read_text())
    assert len(stats) == 30
    return [(NB101Spec(c["module_adjacency"], c["module_operations"]), c["trainable_parameters"]) for c in stats.values()]


def _n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_parameter_count_is_the_official_one_at_the_cifar10_settings(shared_data):
    from nasbench_pytorch.model import Network
    from nasbench_pytorch.model.model import Placeholder

    cfg = T.DATASET_SETTINGS["cifar10-trained"].network
    assert (cfg.stem_out_channels, cfg.num_stacks, cfg.num_modules_per_stack, cfg.in_channels) == (128, 3, 3, 3)
    cells = _cells(shared_data)
    gaps = []
    for spec, official in cells:
        ours = T.build_network(spec, cfg)
        assert _n_params(ours) == official
        gaps.append(sum(isinstance(m, Placeholder) for m in ours.modules()))
    # the package's network at its defaults (the paper's) has one more, unused, scalar parameter in
    # each Placeholder module: 6,315,072 vs the official 6,315,018 for the first cell (9 cells x 6)
    spec, official = cells[0]
    raw = Network((np.array(spec.matrix), list(spec.ops)))
    assert (_n_params(raw), official, gaps[0]) == (6_315_072, 6_315_018, 54)
    assert (min(gaps), max(gaps)) == (27, 63)


def test_batchnorm_momentum_is_set_on_every_layer():
    spec = SPACE.sample(np.random.default_rng(0))
    for name in T.DATASETS:
        cfg = T.DATASET_SETTINGS[name].network
        bns = [m for m in T.build_network(spec, cfg).modules() if isinstance(m, torch.nn.BatchNorm2d)]
        assert bns and {(m.momentum, m.eps) for m in bns} == {(cfg.bn_momentum, 1e-5)}
    assert T.DATASET_SETTINGS["cifar10-trained"].network.bn_momentum == pytest.approx(1 - 0.997)


def _archs(n: int) -> list[NB101Spec]:
    """``n`` prior samples with distinct module hashes."""
    rng, out, seen = np.random.default_rng(7), [], set()
    while len(out) < n:
        a = SPACE.sample(rng)
        if SPACE.canonical_id(a) not in seen:
            seen.add(SPACE.canonical_id(a))
            out.append(a)
    return out


def test_digits_rewards_are_deterministic_cached_and_distinct(tmp_path):
    archs = _archs(4)
    ev = T.make_trained_evaluator("digits", tmp_path / "a", SPACE, CPU)
    first = ev.evaluate(archs, EPOCHS, [-1] * 4)
    # 4 epochs of 2 SGD steps leave digits near chance; 108 epochs are the run below
    assert all(r.status == "ok" and 0 < r.val_acc < 100 and math.isfinite(r.test_acc) for r in first)
    assert len({r.val_acc for r in first}) == 4
    for r in first:
        extra = dict(r.extra)
        assert extra["cached"] == 0 and r.cost_s > 0 and extra["params"] > 100 and extra["flops"] > extra["params"]
    # another data dir (no shared cache): trains again, same answers
    fresh = T.make_trained_evaluator("digits", tmp_path / "b", SPACE, CPU).evaluate(archs[:1], EPOCHS, [0])
    assert (fresh[0].val_acc, fresh[0].test_acc) == (first[0].val_acc, first[0].test_acc)
    # the same data dir later: answered from the cache, free
    again = T.make_trained_evaluator("digits", tmp_path / "a", SPACE, CPU).evaluate(archs, EPOCHS, [-1] * 4)
    # a cached answer costs what its training cost, so a warm cache changes no trajectory
    assert [(r.val_acc, r.cost_s, dict(r.extra)["cached"]) for r in again] == [(r.val_acc, r.cost_s, 1.0) for r in first]


def test_repeats_train_distinct_seeds_and_the_mean_is_bench_seed_minus_one(tmp_path):
    (arch,) = _archs(1)
    ev = T.make_trained_evaluator("digits", tmp_path, SPACE, CPU, repeats=2)
    assert ev.n_repeats(EPOCHS) == 2
    r0, r1, mean = ev.evaluate([arch, arch, arch], EPOCHS, [0, 1, -1])
    assert r0.val_acc != r1.val_acc
    assert mean.val_acc == pytest.approx((r0.val_acc + r1.val_acc) / 2) and mean.bench_seed == -1


def test_full_data_variant_scores_on_the_test_split(tmp_path):
    (arch,) = _archs(1)
    ev = T.make_retrain_evaluator("digits", tmp_path, SPACE, CPU)
    (r,) = ev.evaluate([arch], EPOCHS, [-1])
    assert r.status == "ok" and r.val_acc == r.test_acc
    assert ev.describe()["data"]["regime"] == "full" and ev.dataset == "digits"


def test_the_benchmark_entry_dispatches_by_dataset(tmp_path):
    assert BENCHMARK.datasets[0] == "cifar10" and set(T.DATASETS) <= set(BENCHMARK.datasets)
    assert BENCHMARK.uses_table("cifar10") and not BENCHMARK.uses_table("digits")
    assert BENCHMARK.default_fidelity in T.FIDELITIES and BENCHMARK.budget_for("digits") == 10
    ev = BENCHMARK.make_evaluator("digits", tmp_path, SPACE, CPU)
    assert isinstance(ev, T.TrainedNB101) and ev.fidelities == (4, 12, 36, 108) and ev.default_fidelity == 108
    with pytest.raises(DataMissing):  # the tabular dataset still needs the imported table
        BENCHMARK.make_evaluator("cifar10", tmp_path, SPACE, CPU)
    with pytest.raises(HarnessError, match="no trained NB101 setting"):
        BENCHMARK.make_evaluator("cifar100", tmp_path, SPACE, CPU)
    cifar = BENCHMARK.make_evaluator("cifar10-trained", tmp_path, SPACE, CPU)
    with pytest.raises(DataMissing, match="data fetch cifar10"):
        cifar.evaluate(_archs(1), EPOCHS, [-1])


def test_a_digits_run_through_the_runner(tmp_path):
    import pyarrow.parquet as pq

    from harness import runner
    from harness.config import RunConfig

    # the default fidelity, 108 epochs, as `harness run --space nb101 --dataset digits` uses it
    cfg = RunConfig(space="nb101", dataset="digits", strategy="random", seed=0, budget=2, fidelity=108)
    out = runner.execute(cfg, tmp_path / "runs", tmp_path / "data", options=CPU)
    assert not out.skipped and out.n_rows == 2 and not out.notes
    rows = pq.read_table(out.paths.trajectory).to_pylist()
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert all(r["val_acc"] > 50 for r in rows) and rows[0]["val_acc"] != rows[1]["val_acc"]  # chance: 10 %
    assert all(r["report_val_acc"] == r["val_acc"] and r["report_test_acc"] == r["test_acc"] for r in rows)
