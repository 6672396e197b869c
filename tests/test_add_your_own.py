"""The README's "Add your own strategy" example works as written: file, registry, entry point, suite."""
from __future__ import annotations

import re
import sys

import pyarrow.parquet as pq
from conftest import PROJECT_ROOT

from harness.cli import main
from harness.registry import LazyRegistry
from harness.testing import check_strategy
from strategies.registry import STRATEGIES


def _guide_code() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("## Add your own strategy", 1)[1]
    return re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)


def _install_example(tmp_path, monkeypatch, package="my_package"):
    pkg = tmp_path / package
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "greedy_mutation.py").write_text(_guide_code())
    monkeypatch.syspath_prepend(str(tmp_path))
    return f"{package}.greedy_mutation:GreedyMutation"


def test_example_passes_the_conformance_suite(tmp_path, monkeypatch):
    target = _install_example(tmp_path, monkeypatch)
    check_strategy(target)


def test_example_runs_through_the_cli(tmp_path, monkeypatch, nb201_data_dir, capsys):
    target = _install_example(tmp_path, monkeypatch)
    STRATEGIES.register("greedy_mutation", target)
    code = main(["run", "--space", "nb201", "--strategies", "greedy_mutation,random", "--seeds", "3",
                 "--budget", "60", "--out", str(tmp_path / "r"), "--data-dir", str(nb201_data_dir),
                 "--workers", "1", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    best = {}
    for name in ("greedy_mutation", "random"):
        vals = [pq.read_table(tmp_path / "r" / "nb201" / "cifar10-valid" / name / f"seed={k}.parquet")
                .column("val_acc").to_pandas().max() for k in range(3)]
        best[name] = sum(vals) / 3
    assert best["greedy_mutation"] > 85  # it really searched


def test_entry_point_registration(tmp_path, monkeypatch):
    target = _install_example(tmp_path, monkeypatch, package="outside_pkg")
    dist = tmp_path / "outside_pkg-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: outside-pkg\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[nas_harness.strategies]\ngreedy_from_pkg = {target}\n")
    registry = LazyRegistry("strategy", {"random": "strategies.random_search:RandomSearch"},
                            entry_point_group="nas_harness.strategies")
    assert "greedy_from_pkg" in registry.names()
    assert registry.get("greedy_from_pkg").__name__ == "GreedyMutation"
    assert sys.modules.get("outside_pkg.greedy_mutation") is not None


def _check_block() -> str:
    section = (PROJECT_ROOT / "README.md").read_text().split("## Add your own strategy", 1)[1]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)[1]


def test_readme_check_runs_as_a_script_without_main_guard(tmp_path):
    """The guide's check saved as a file without a main guard finishes and passes (multiprocessing's
    spawn would re-import the unguarded script, which would start the check again, forever).
    benchmarks/readme_check.py runs the same block with the file under strategies/ of a fresh clone."""
    import subprocess

    (tmp_path / "my_pkg").mkdir()
    (tmp_path / "my_pkg" / "__init__.py").write_text("")
    (tmp_path / "my_pkg" / "greedy_mutation.py").write_text(_guide_code())
    block = _check_block()
    assert "strategies.greedy_mutation:GreedyMutation" in block and "__main__" not in block
    script = tmp_path / "check_mine.py"
    script.write_text(block.replace("strategies.greedy_mutation", "my_pkg.greedy_mutation")
                      .replace('spaces=["nb201", "nb101"]', 'spaces=["nb201"], checks=["deterministic_across_processes"]'))
    proc = subprocess.run([sys.executable, script.name], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_script_defined_strategy_is_refused_in_one_line(tmp_path):
    import subprocess

    script = tmp_path / "mine.py"
    script.write_text(_guide_code() + "\nfrom harness.testing import check_strategy\n"
                      "check_strategy(GreedyMutation, checks=['deterministic_across_processes'])\n")
    proc = subprocess.run([sys.executable, script.name], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "defined in the script that runs the check" in proc.stderr and "module of its own" in proc.stderr
