"""The learning-dynamics trace (harness.dynamics) and its report figure (harness.report.dynamics)."""
from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from harness import atomic, dynamics, runner
from harness.config import RunConfig
from harness.exact import ExactRun
from harness.report import dynamics as report_dynamics
from harness.report.plotting import NotDrawn

BUDGET, EVERY = 24, 10


def cfg(strategy="graphpnas", **kw):
    base = dict(space="nb201", dataset="cifar10-valid", strategy=strategy, seed=0, budget=BUDGET, fidelity=12,
                report_val=("cifar10-valid", 200), report_test=("cifar10-valid", 200))
    base.update(kw)
    return RunConfig(**base)


def _run(out, data_dir, every, **kw):
    return runner.Run(cfg(**kw), out, data_dir, trace_every=every).execute()


def _trace(out, **kw):
    return pd.read_parquet(cfg(**kw).paths(out).trajectory.with_name("seed=0.dynamics.parquet"))


@pytest.fixture(scope="module")
def traced(nb201_data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("traced")
    _run(out, nb201_data_dir, EVERY)
    return out


def test_the_trace_changes_nothing_the_search_writes(traced, nb201_data_dir, tmp_path):
    """Same trajectory and final strategy state, byte for byte, with the trace off."""
    _run(tmp_path, nb201_data_dir, 0)
    a, b = cfg().paths(traced), cfg().paths(tmp_path)
    assert a.trajectory.read_bytes() == b.trajectory.read_bytes()
    assert a.strategy_state.read_bytes() == b.strategy_state.read_bytes()
    assert not b.trajectory.with_name("seed=0.dynamics.parquet").exists()
    assert "dynamics_sha256" not in json.loads(b.manifest.read_text())


def test_points_every_k_queries_and_at_the_end_agree_with_the_final_phase(traced, nb201_data_dir):
    t = _trace(traced)
    assert t["query"].tolist() == [10, 20, 24]
    assert dynamics.check_table(pa.Table.from_pandas(t)) is None
    manifest = json.loads(cfg().paths(traced).manifest.read_text())
    assert manifest["dynamics_sha256"] == atomic.sha256_file(cfg().paths(traced).trajectory.with_name("seed=0.dynamics.parquet"))
    # the last point is the distribution of the stored final state, as the final phase computes it
    exact = ExactRun(cfg().paths(traced), nb201_data_dir).execute()
    last = t.iloc[-1]
    for key in ("entropy_nats", "mass_top10", "expected_val", "modal_rank"):
        assert last[key] == pytest.approx(exact[key], rel=1e-9, abs=1e-12), key
    # the generator learns: the distribution narrows from the uniform initial guess
    assert t["entropy_nats"].iloc[-1] < np.log(15_625)


def test_a_resumed_run_traces_the_same_points(traced, nb201_data_dir, tmp_path, monkeypatch):
    from blackboxes.nb201.evaluator import NB201Benchmark

    class Crash(BaseException):
        pass

    original, calls = NB201Benchmark.evaluate, {"n": 0}

    def dying(self, *a):
        calls["n"] += 1
        if calls["n"] == 15:
            raise Crash
        return original(self, *a)

    monkeypatch.setattr(NB201Benchmark, "evaluate", dying)
    with pytest.raises(Crash):
        _run(tmp_path, nb201_data_dir, EVERY)
    monkeypatch.setattr(NB201Benchmark, "evaluate", original)
    _run(tmp_path, nb201_data_dir, EVERY)
    pd.testing.assert_frame_equal(_trace(tmp_path).drop(columns="trace_s"), _trace(traced).drop(columns="trace_s"))


def test_strategies_without_a_generative_model_are_not_traced(nb201_data_dir, tmp_path):
    _run(tmp_path, nb201_data_dir, EVERY, strategy="random")
    assert not cfg(strategy="random").paths(tmp_path).trajectory.with_name("seed=0.dynamics.parquet").exists()


@pytest.mark.parametrize("column,value", [("mass_top10", 1.5), ("expected_val", 101.0), ("entropy_nats", -1.0),
                                          ("mass_top1pct", float("nan"))])
def test_impossible_values_are_refused(traced, column, value):
    t = _trace(traced)
    t.loc[1, column] = value
    assert column in dynamics.check_table(pa.Table.from_pandas(t))


def test_query_counts_must_increase(traced):
    t = _trace(traced)
    t.loc[2, "query"] = 10
    assert "increasing" in dynamics.check_table(pa.Table.from_pandas(t))


def _manifests(out):
    m = json.loads(cfg().paths(out).manifest.read_text())
    return {("nb201", "cifar10-valid", "", "graphpnas", 0): m}


def test_report_loads_verified_traces_and_names_the_others(traced, tmp_path):
    traces, problems = report_dynamics.load_traces(traced, _manifests(traced), "nb201", "cifar10-valid", "")
    assert len(traces) == 3 and not problems
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(traced, bad)
    path = cfg().paths(bad).trajectory.with_name("seed=0.dynamics.parquet")
    t = _trace(bad)
    t.loc[0, "entropy_nats"] += 1e-3  # edited after the run: its sha no longer matches
    t.to_parquet(path)
    traces, problems = report_dynamics.load_traces(bad, _manifests(bad), "nb201", "cifar10-valid", "")
    assert traces.empty and "sha256" in problems[0]
    path.unlink()
    os.symlink("/dev/zero", path)  # a special file is never read (it would never end)
    traces, problems = report_dynamics.load_traces(bad, _manifests(bad), "nb201", "cifar10-valid", "")
    assert traces.empty and "regular file" in problems[0]


def test_the_figure_is_drawn_and_says_when_it_cannot_be(traced, tmp_path):
    traces, problems = report_dynamics.load_traces(traced, _manifests(traced), "nb201", "cifar10-valid", "")
    final = pd.DataFrame({"strategy": ["graphpnas"], "seed": [0], "inc_report_val": [91.0]})
    files = report_dynamics.plot_dynamics(traces, final, problems, "t", tmp_path, "dyn")
    assert {f.suffix for f in files} == {".png", ".pdf"} and all(f.stat().st_size > 1000 for f in files)
    with pytest.raises(NotDrawn, match="no run"):
        report_dynamics.plot_dynamics(pd.DataFrame(), final, ["graphpnas seed=0: trace missing"], "t", tmp_path, "d2")
