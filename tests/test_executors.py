"""Serial, process-pool and Ray executors give byte-identical trajectories."""
from __future__ import annotations

import pytest

from harness.config import RunConfig
from harness.study import Study, run_study


def _files(out):
    return {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("seed=*.parquet")) if "timing" not in p.name}


@pytest.mark.slow
def test_serial_process_and_ray_agree(nb201_data_dir, tmp_path):
    pytest.importorskip("ray")
    template = RunConfig(space="nb201", dataset="cifar10-valid", strategy="random", seed=0, budget=50, fidelity=200)
    names = ["random", "rea_nb201", "local_search"]
    results = {}
    for executor, workers in (("serial", 1), ("process", 2), ("ray", 2)):
        out = tmp_path / executor
        run_study(Study.build(template, names, range(3), out, nb201_data_dir), workers=workers,
                  show_progress=False, executor=executor)
        results[executor] = _files(out)
    assert len(results["serial"]) == 9
    assert results["serial"] == results["process"] == results["ray"]


def test_executor_flags(capsys, nb201_data_dir, tmp_path):
    from harness.cli import main

    base = ["run", "--space", "nb201", "--out", str(tmp_path), "--data-dir", str(nb201_data_dir)]
    assert main(base + ["--ray-address", "auto"]) == 2
    assert "--ray-address needs --executor ray" in capsys.readouterr().err
    assert main(base + ["--executor", "serial", "--workers", "2"]) == 2
    assert "--executor serial runs one run at a time" in capsys.readouterr().err
    assert main(base + ["--executor", "spark"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_pools_start_the_costliest_runs_first(tmp_path, monkeypatch):
    """Longest-first submission (a worker never idles at the end while another finishes a GraphPNAS
    run): registered cost, highest first; a strategy without a registered cost (a user's, registered
    at run time) counts as the longest; ties keep the study's order, which tables keep anyway."""
    from strategies.registry import STRATEGIES, describe

    monkeypatch.setitem(STRATEGIES._entries, "my_unpriced", "strategies.random_search:RandomSearch")
    template = RunConfig(space="nb201", dataset="cifar10-valid", strategy="random", seed=0, budget=5)
    study = Study.build(template, ["random", "graphpnas", "my_unpriced", "reinforce"], range(2), tmp_path)
    order = [(c.strategy, c.seed) for c in study.longest_first()]
    assert order == [("my_unpriced", 0), ("my_unpriced", 1), ("graphpnas", 0), ("graphpnas", 1),
                     ("reinforce", 0), ("reinforce", 1), ("random", 0), ("random", 1)]
    assert describe("graphpnas").cost_s > describe("reinforce").cost_s > describe("random").cost_s
    assert [c.strategy for c in study.runs][:2] == ["random", "random"]  # the study's own order is kept
