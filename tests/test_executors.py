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
