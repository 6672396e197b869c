"""The run loop: budgets, dedup, determinism, skipping, and what bad strategies/evaluators leave."""
from __future__ import annotations

import math
import random

import numpy as np
import pyarrow.parquet as pq
import pytest

from harness import runner, storage
from harness.config import RunConfig
from harness.errors import HarnessError
from harness.study import Study, run_study
from strategies.base import Strategy
from strategies.registry import STRATEGIES


def cfg(**kw) -> RunConfig:
    base = dict(space="nb201", dataset="cifar10-valid", strategy="random", seed=0, budget=30, fidelity=200)
    base.update(kw)
    return RunConfig(**base)


def read(paths):
    return pq.read_table(paths.trajectory).to_pandas()


def test_ten_seed_study_is_valid_deterministic_and_seeds_differ(nb201_data_dir, tmp_path):
    template = cfg(budget=150)
    out = tmp_path / "results"
    study = Study.build(template, ["random"], range(10), out, nb201_data_dir)
    outcomes = run_study(study, workers=2, show_progress=False)
    assert len(outcomes) == 10 and not any(o.skipped for o in outcomes)
    files = sorted((out / "nb201" / "cifar10-valid" / "random").glob("seed=*.parquet"))
    files = [f for f in files if not f.name.endswith(".timing.parquet")]
    assert len(files) == 10
    first = {f.name: f.read_bytes() for f in files}
    frames = [pq.read_table(f).to_pandas() for f in files]
    for df in frames:
        assert len(df) == 150 and df["query"].tolist() == list(range(150))
        assert set(df["status"]) <= {"ok", "duplicate"}
        assert df["val_acc"].between(0, 100).all() and df["test_acc"].between(0, 100).all()
        assert (df["queries_charged"] == np.arange(1, 151)).all()
        assert np.allclose(df["cost_cum_s"], df["cost_s"].cumsum())
        assert list(df.columns) == storage.TRAJECTORY_SCHEMA.names
    assert len({tuple(df["arch"]) for df in frames}) == 10, "different seeds give different trajectories"
    # serial rerun, forced: byte-identical trajectories
    again = Study.build(template, ["random"], range(10), out, nb201_data_dir, force=True)
    run_study(again, workers=1, show_progress=False)
    assert {f.name: f.read_bytes() for f in files} == first


def test_complete_runs_are_skipped_and_changed_configs_rerun(nb201_data_dir, tmp_path):
    c = cfg()
    o1 = runner.execute(c, tmp_path, nb201_data_dir)
    assert not o1.skipped
    assert runner.execute(c, tmp_path, nb201_data_dir).skipped
    assert not runner.execute(c, tmp_path, nb201_data_dir, force=True).skipped
    c2 = cfg(budget=31)
    o3 = runner.execute(c2, tmp_path, nb201_data_dir)
    assert not o3.skipped and len(read(o3.paths)) == 31
    # a trajectory that no longer matches its manifest checksum is rerun
    o3.paths.trajectory.write_bytes(b"garbage")
    assert not runner.execute(c2, tmp_path, nb201_data_dir).skipped


def test_manifest_records_config_and_data(nb201_data_dir, tmp_path):
    o = runner.execute(cfg(), tmp_path, nb201_data_dir)
    m = storage.read_manifest(o.paths.manifest)
    assert m["status"] == "complete" and m["run_id"] == cfg().run_id
    assert m["config"]["dedup"] == "per-call" and m["config"]["budget"] == 30
    assert m["evaluator"]["table_sha256"] and m["schema_version"] == storage.SCHEMA_VERSION
    assert m["harness_version"] and "trajectory_sha256" in m
    timing = pq.read_table(o.paths.timing).to_pandas()
    assert len(timing) == 30 and (timing["wall_s"].diff().dropna() >= 0).all()


def test_no_global_rng_is_touched(nb201_data_dir, tmp_path, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("global RNG used")

    for name in ("random", "randint", "choice", "choices", "shuffle", "sample", "seed", "uniform", "randrange", "gauss"):
        monkeypatch.setattr(random, name, boom)
    for name in ("rand", "randn", "randint", "random", "choice", "shuffle", "permutation", "seed", "normal",
                 "uniform", "random_sample", "binomial", "integers" if hasattr(np.random, "integers") else "bytes"):
        monkeypatch.setattr(np.random, name, boom)
    o = runner.execute(cfg(budget=20, dedup="unique"), tmp_path, nb201_data_dir)
    assert o.n_rows >= 20


def test_time_budget_stops_after_the_crossing_query(nb201_data_dir, tmp_path):
    o = runner.execute(cfg(budget=None, time_budget=20_000.0, fidelity=12), tmp_path, nb201_data_dir)
    df = read(o.paths)
    assert df["cost_cum_s"].iloc[-1] >= 20_000 > df["cost_cum_s"].iloc[-2]
    assert 20 < len(df) < 400  # ~ 12-epoch runs of ~110 s each


class Repeater(Strategy):
    """Always proposes the same cell: exercises duplicates and the dedup policies."""

    def ask(self, n):
        return [(0, 1, 2, 3, 4, 0)] * n


class Liar(Strategy):
    """Returns junk, too few architectures, or crashes, on demand."""

    mode = "junk"

    def ask(self, n):
        if self.mode == "junk":
            return [("not", "an", "arch")] + self.space.sample_many(self.rng, n - 1)
        if self.mode == "short":
            return []
        raise RuntimeError("strategy bug")


@pytest.fixture
def registered():
    STRATEGIES.register("repeater", f"{__name__}:Repeater")
    STRATEGIES.register("liar", f"{__name__}:Liar")
    yield


def test_dedup_policies(nb201_data_dir, tmp_path, registered, monkeypatch):
    from harness import budget

    per_call = read(runner.execute(cfg(strategy="repeater", budget=5), tmp_path, nb201_data_dir).paths)
    assert per_call["status"].tolist() == ["ok"] + ["duplicate"] * 4
    assert per_call["charged"].all() and per_call["duplicate"].tolist() == [False] + [True] * 4
    monkeypatch.setattr(budget, "MAX_FREE_ROWS", 50)
    with pytest.raises(HarnessError, match="uncharged duplicates"):
        runner.execute(cfg(strategy="repeater", budget=5, dedup="unique"), tmp_path / "u", nb201_data_dir)
    assert not cfg(strategy="repeater", dedup="unique").paths(tmp_path / "u").trajectory.exists()


def test_invalid_architectures_are_recorded_and_charged(nb201_data_dir, tmp_path, registered):
    Liar.mode = "junk"
    df = read(runner.execute(cfg(strategy="liar", budget=6, batch_size=3), tmp_path, nb201_data_dir).paths)
    assert df["status"].tolist().count("invalid") == 2
    bad = df[df["status"] == "invalid"]
    assert bad["val_acc"].isna().all() and bad["charged"].all() and (bad["arch"] == "").all()
    assert bad["error"].str.contains("not a valid nb201 architecture").all()


def test_wrong_answer_counts_and_crashes_are_clear(nb201_data_dir, tmp_path, registered):
    Liar.mode = "short"
    with pytest.raises(HarnessError, match=r"returned 0 architectures for ask\(1\)"):
        runner.execute(cfg(strategy="liar"), tmp_path, nb201_data_dir)
    Liar.mode = "crash"
    with pytest.raises(HarnessError, match=r"strategy 'liar' raised RuntimeError in ask\(\): strategy bug"):
        runner.execute(cfg(strategy="liar"), tmp_path, nb201_data_dir)
    assert not cfg(strategy="liar").paths(tmp_path).manifest.exists()


def test_crashing_and_nan_evaluations_are_recorded(nb201_data_dir, tmp_path, monkeypatch):
    from blackboxes.nb201.evaluator import NB201Benchmark

    calls = {"n": 0}
    original = NB201Benchmark.evaluate

    def flaky(self, archs, fidelity, seeds):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ValueError("GPU fell off")
        out = original(self, archs, fidelity, seeds)
        if calls["n"] == 3:
            from harness.contracts import Result
            out[0] = Result(math.nan)
        return out

    monkeypatch.setattr(NB201Benchmark, "evaluate", flaky)
    df = read(runner.execute(cfg(budget=5), tmp_path, nb201_data_dir).paths)
    assert df["status"].tolist() == ["ok", "failed", "failed", "ok", "ok"]
    assert df.loc[1, "error"] == "ValueError: GPU fell off"
    assert "non-finite" in df.loc[2, "error"]


@pytest.mark.parametrize("bad, msg", [
    (dict(budget=0), "--budget"), (dict(budget=None), "needs --budget"), (dict(time_budget=-1.0), "--time-budget"),
    (dict(dedup="sometimes"), "dedup"), (dict(batch_size=0), "batch-size"), (dict(seed=-1), "seed"),
    (dict(bench_seed=-5), "bench-seed"),
])
def test_config_validation(bad, msg):
    with pytest.raises(HarnessError, match=msg):
        cfg(**bad)


def test_unknown_fidelity_and_repeat(nb201_data_dir, tmp_path):
    with pytest.raises(HarnessError, match="fidelity 36 not available"):
        runner.execute(cfg(fidelity=36), tmp_path, nb201_data_dir)
    with pytest.raises(HarnessError, match="bench-seed 1 out of range"):
        runner.execute(cfg(bench_seed=1), tmp_path, nb201_data_dir)


def test_run_id_is_stable_and_sensitive():
    assert cfg().run_id == cfg().run_id
    assert cfg().run_id != cfg(seed=1).run_id != cfg(budget=31).run_id
    assert cfg().run_id != cfg(root_seed=1).run_id


class MultiFidelity(Strategy):
    """Asks alternately at 12 and 200 epochs, one bogus fidelity, and logs an info field."""

    def setup(self, space, seed, context=None):
        super().setup(space, seed, context)
        self.seen_fidelities = context.fidelities
        self.told = []

    def ask(self, n):
        from harness.contracts import Proposal

        out = []
        for _ in range(n):
            k = len(self.told) + len(out)
            fid = (12, 200, 7)[k % 3]
            out.append(Proposal(self.space.sample(self.rng), fidelity=fid, info=(("k", k),)))
        return out

    def tell(self, observations):
        self.told.extend(observations)


def test_proposals_carry_fidelity_and_info(nb201_data_dir, tmp_path):
    STRATEGIES.register("multi", f"{__name__}:MultiFidelity")
    df = read(runner.execute(cfg(strategy="multi", budget=6, batch_size=2), tmp_path, nb201_data_dir).paths)
    assert df["fidelity"].tolist() == [12, 200, 7, 12, 200, 7]
    assert df["status"].tolist() == ["ok", "ok", "invalid"] * 2
    assert "fidelity 7 not available" in df.loc[2, "error"]
    assert [__import__("json").loads(e)["k"] for e in df["extra"]] == list(range(6))
    ev_val12 = df.loc[0, "val_acc"]
    assert 0 < ev_val12 < 100


class TellCrasher(Strategy):
    def ask(self, n):
        return self.space.sample_many(self.rng, n)

    def tell(self, observations):
        raise KeyError("no such key")


def test_tell_errors_are_one_line_and_keep_the_journal(nb201_data_dir, tmp_path):
    STRATEGIES.register("tell_crasher", f"{__name__}:TellCrasher")
    c = cfg(strategy="tell_crasher")
    with pytest.raises(HarnessError, match=r"raised KeyError in tell\(\)"):
        runner.execute(c, tmp_path, nb201_data_dir)
    assert c.paths(tmp_path).journal.is_file(), "the evaluated batch is kept for a resume"


def test_max_failures_stops_the_run(nb201_data_dir, tmp_path, monkeypatch):
    from blackboxes.nb201.evaluator import NB201Benchmark

    def broken(self, archs, fidelity, seeds):
        raise OSError("disk of the benchmark server unplugged")

    monkeypatch.setattr(NB201Benchmark, "evaluate", broken)
    df = read(runner.execute(cfg(budget=5), tmp_path / "a", nb201_data_dir).paths)
    assert (df["status"] == "failed").all() and df["charged"].all()
    with pytest.raises(HarnessError, match=r"more than --max-failures 2\); last error: OSError: disk of the benchmark"):
        runner.execute(cfg(budget=5, max_failures=2), tmp_path / "b", nb201_data_dir)


def test_full_disk_gives_one_line(nb201_data_dir, tmp_path, monkeypatch):
    import errno

    from harness import atomic

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic, "write_parquet", full)
    with pytest.raises(HarnessError, match="No space left on device.*free space"):
        runner.execute(cfg(budget=3), tmp_path, nb201_data_dir)
    monkeypatch.undo()

    class FullFile:
        def __init__(self, *a, **k):
            pass

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def flush(self):
            pass

        def close(self):
            pass

        def fileno(self):
            return 0

    monkeypatch.setattr("builtins.open", lambda *a, **k: FullFile() if "journal" in str(a[0]) else real_open(*a, **k))
    with pytest.raises(HarnessError, match=r"cannot write the journal .* \(No space left on device\)"):
        runner.execute(cfg(budget=3), tmp_path / "j", nb201_data_dir)


import builtins  # noqa: E402

real_open = builtins.open
