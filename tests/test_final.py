"""The final phase: proposals after the search (Strategy.recommend), `python -m harness final`
(stages, idempotence, resume after kill -9) and the exact NB201 distributions."""
from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import PROJECT_ROOT

from harness import runner
from harness.config import RunConfig
from harness.contracts import LabelledDAG, Observation
from harness.final import FinalPaths, io_paths
from harness.testing import check_strategy
from strategies.base import Strategy, best_observed


class Disturber(Strategy):
    """Random search whose recommend draws from the search's own generator (it must not)."""

    def ask(self, n):
        return self.space.sample_many(self.rng, n)

    def recommend(self, n, rng, history):
        return self.space.sample_many(self.rng, n)


class Clock(Strategy):
    """Random search whose recommend ignores the generator it is given."""

    def ask(self, n):
        return self.space.sample_many(self.rng, n)

    def recommend(self, n, rng, history):
        return self.space.sample_many(np.random.default_rng(time.perf_counter_ns()), n)


def test_recommend_check_catches_a_recommend_that_moves_the_search():
    with pytest.raises(AssertionError, match="changed the search's next proposals"):
        check_strategy(Disturber, checks=["recommend"])


def test_recommend_check_catches_an_unseeded_recommend():
    with pytest.raises(AssertionError, match="recommend differs"):
        check_strategy(Clock, checks=["recommend"])


def test_best_observed_prefers_the_highest_fidelity_then_accuracy():
    def obs(a, v, fid, status="ok"):
        return Observation(a, a, v, 1.0, fid, status)

    history = [obs("a", 90.0, 12), obs("b", 80.0, 200), obs("c", 85.0, 200), obs("a", 70.0, 200),
               obs("d", math.nan, 200, "failed"), obs("c", 84.0, 200)]
    assert best_observed(history, 2) == ["c", "b"]
    assert best_observed(history, 10) == ["c", "b", "a"]
    assert best_observed(history, 0) == []


def test_io_paths_count_every_input_output_path():
    # 0 -> 1 -> 3, 0 -> 2 -> 3, 0 -> 3: paths of 2, 2 and 1 edges
    A = np.zeros((4, 4), dtype=np.uint8)
    A[1, 0] = A[2, 0] = A[3, 1] = A[3, 2] = A[3, 0] = 1
    mean, longest = io_paths(LabelledDAG(A, (0, 0, 0, 0)))
    assert mean == pytest.approx(5 / 3) and longest == 2


def _search(out: Path, data_dir: Path, strategies, budget=20, seeds=(0,)):
    for s in strategies:
        for seed in seeds:
            runner.execute(RunConfig(space="nb201", dataset="cifar10-valid", strategy=s, seed=seed, budget=budget,
                                     fidelity=200), out, data_dir)


def _final(*args: str, env_data: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HARNESS_DATA": str(env_data), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "harness", "final", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_final_on_nb201_is_idempotent_and_blind_to_nothing_but_its_stream(nb201_data_dir, tmp_path):
    from harness.cli import main

    out = tmp_path / "runs"
    _search(out, nb201_data_dir, ["rea", "reinforce"])
    assert main(["final", "--results", str(out), "--data-dir", str(nb201_data_dir), "--samples", "5"]) == 0
    paths = FinalPaths.of(RunConfig(space="nb201", dataset="cifar10-valid", strategy="reinforce", seed=0,
                                    budget=20, fidelity=200).paths(out))
    rows = pq.read_table(paths.parquet).to_pylist()
    assert [(r["stage"], r["sample"]) for r in rows] == [(st, k) for k in range(5) for st in ("search", "final")]
    assert all(r["status"] == "ok" and 0 < r["test_acc"] < 100 for r in rows)
    rea = pq.read_table(FinalPaths.of(RunConfig(space="nb201", dataset="cifar10-valid", strategy="rea", seed=0,
                                                budget=20, fidelity=200).paths(out)).parquet).to_pylist()
    trajectory = pq.read_table(out / "nb201/cifar10-valid/rea/seed=0.parquet").to_pylist()
    best = max(r["val_acc"] for r in trajectory if r["status"] == "ok")
    assert rea[0]["val_acc"] == best  # the default recommend: the best observed first
    before = (paths.parquet.read_bytes(), paths.manifest.stat().st_mtime_ns)
    assert main(["final", "--results", str(out), "--data-dir", str(nb201_data_dir), "--samples", "5"]) == 0
    assert (paths.parquet.read_bytes(), paths.manifest.stat().st_mtime_ns) == before  # second time: nothing


def test_exact_distribution_sums_to_one(nb201_data_dir, tmp_path):
    from harness import storage
    from harness.exact import ExactRun

    out = tmp_path / "runs"
    _search(out, nb201_data_dir, ["reinforce", "rnn"], budget=15)
    for s in ("reinforce", "rnn"):
        summary = ExactRun(storage.RunPaths.of(out, "nb201", "cifar10-valid", s, 0), nb201_data_dir).execute()
        assert summary["n_cells"] == 15_625
        assert abs(summary["sum_p_valid"] + summary["invalid_mass"] - 1.0) < 1e-6
        assert 0 < summary["entropy_nats"] <= math.log(15_625) + 1e-9
        assert 1 <= summary["modal_rank"] <= 15_625
        assert min(summary["uniform_expected_val"], summary["expected_val"]) > 0


def test_graphpnas_prefix_scoring_equals_teacher_forcing(nb201_data_dir, tmp_path):
    import copy

    from harness import storage
    from harness.exact import support
    from harness.final import final_rng, read_search_manifest, rebuild_strategy
    from blackboxes.registry import get_benchmark

    out = tmp_path / "runs"
    _search(out, nb201_data_dir, ["graphpnas"], budget=14)
    rp = storage.RunPaths.of(out, "nb201", "cifar10-valid", "graphpnas", 0)
    m = read_search_manifest(rp)
    entry = get_benchmark("nb201")
    space = entry.make_space("cifar10-valid")
    strategy = rebuild_strategy(rp, m, space, entry.make_evaluator("cifar10-valid", nb201_data_dir, space), [])
    every = support(space)
    fast = strategy.dag_log_prob(every, final_rng(m))
    # each step's softmax is float64: the 15,625 probabilities sum to 1 as exactly as float64 adds
    assert abs(np.exp(fast).sum() - 1.0) < 1e-12
    dags = every[::97]
    slow = copy.deepcopy(strategy.model).double().log_prob([(np.asarray(d.A), d.X) for d in dags]).detach().numpy()
    # the logits are the float32 model's (as sampling computes them): float32 agreement with float64 forcing
    np.testing.assert_allclose(fast[::97], slow, rtol=0, atol=2e-5)


@pytest.mark.slow
def test_kill_9_during_a_trained_final_then_rerun_gives_the_same_bytes(tmp_path):
    data = tmp_path / "data"
    search = tmp_path / "search"
    t0 = time.time()
    runner.execute(RunConfig(space="randwire", dataset="digits", strategy="random", seed=0, budget=2, fidelity=3),
                   search, data)
    print("search", time.time() - t0)
    clean = tmp_path / "clean"
    shutil.copytree(search, clean)
    args = ["--samples", "1", "--repeats", "2", "--final-epochs", "3", "--no-exact"]
    env = {**os.environ, "HARNESS_DATA": str(data), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "harness", "final", "--results", str(search), *args],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = search / "randwire/digits/random/seed=0.final.journal.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if journal.is_file() and journal.read_bytes().count(b"\n") >= 2:  # header + the search stage
            break
        time.sleep(0.05)
    assert proc.poll() is None, "final finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    parquet = search / "randwire/digits/random/seed=0.final.parquet"
    assert not parquet.exists() and journal.is_file()
    r = _final("--results", str(search), *args, env_data=data)
    assert r.returncode == 0, r.stderr
    assert not journal.exists()
    r = _final("--results", str(clean), *args, env_data=data)
    assert r.returncode == 0, r.stderr
    assert parquet.read_bytes() == (clean / "randwire/digits/random/seed=0.final.parquet").read_bytes()
    rows = pq.read_table(parquet).to_pylist()
    stages = [(x["selection"], x["stage"], x["repeat"]) for x in rows]
    assert stages == [("model", "search", -1), ("model", "final", 0), ("model", "final", 1)]
    assert all(x["status"] == "ok" and x["params"] > 1000 for x in rows)
    assert rows[1]["val_acc"] != rows[2]["val_acc"] or rows[1]["cost_s"] != rows[2]["cost_s"]  # two trainings
    r = _final("--results", str(search), *args, env_data=data)
    assert "0 run(s) evaluated, 1 already complete" in r.stdout


def test_final_in_worker_processes_writes_the_bytes_one_process_writes(nb201_data_dir, tmp_path):
    import shutil

    from harness.cli import main

    serial, pooled = tmp_path / "serial", tmp_path / "pooled"
    _search(serial, nb201_data_dir, ["random", "reinforce", "graphpnas"], budget=12, seeds=(0, 1))
    shutil.copytree(serial, pooled)
    for out, workers in ((serial, "1"), (pooled, "2")):
        assert main(["final", "--results", str(out), "--data-dir", str(nb201_data_dir), "--samples", "4",
                     "--workers", workers]) == 0
    written = sorted(p.relative_to(serial) for p in serial.rglob("*") if p.name.endswith((".final.parquet", ".exact.parquet")))
    assert len(written) == 6 + 4  # a final table per run, an exact distribution per generative run
    for rel in written:
        assert (serial / rel).read_bytes() == (pooled / rel).read_bytes(), rel
