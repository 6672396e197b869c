"""The command line: happy paths and one-line errors for bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from harness.cli import main


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_list(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    for word in ("nb201", "nb101", "cifar10-valid", "ImageNet16-120", "random"):
        assert word in out


def test_run_and_rerun_skips(capsys, nb201_data_dir, tmp_path):
    args = ["run", "--space", "nb201", "--seeds", "2", "--budget", "20", "--out", str(tmp_path / "r"),
            "--data-dir", str(nb201_data_dir), "--workers", "1", "--no-progress"]
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    assert "random" in out
    files = sorted((tmp_path / "r" / "nb201" / "cifar10-valid" / "random").glob("seed=*"))
    assert [f.name for f in files] == [f"seed={k}.{ext}" for k in (0, 1) for ext in ("parquet", "run.json", "strategy.npz", "timing.parquet")]
    assert sorted(f.name for f in files[0].parent.glob(".*")) == [".seed=0.lock", ".seed=1.lock"]  # hidden run locks
    mtimes = [f.stat().st_mtime_ns for f in files]
    code, out, _ = run_cli(capsys, *args)
    assert code == 0 and [f.stat().st_mtime_ns for f in files] == mtimes, "complete runs are skipped"


def test_param_sets_one_strategys_arguments(capsys, nb201_data_dir, tmp_path):
    code, _, err = run_cli(capsys, "run", "--space", "nb201", "--strategies", "rea,random", "--seeds", "1", "--budget", "30",
                           "--param", "rea.population_size=20", "--param", "rea.sample_size=5", "--out",
                           str(tmp_path), "--data-dir", str(nb201_data_dir), "--workers", "1", "--no-progress")
    assert code == 0, err
    runs = tmp_path / "nb201" / "cifar10-valid"
    rea = json.loads((runs / "rea" / "seed=0.run.json").read_text())
    assert rea["config"]["strategy_params"] == {"population_size": 20, "sample_size": 5} == rea["strategy_params"]
    assert json.loads((runs / "random" / "seed=0.run.json").read_text())["config"]["strategy_params"] == {}
    code, _, err = run_cli(capsys, "run", "--space", "nb201", "--strategies", "rea", "--seeds", "1", "--param",
                           "rea.populaton_size=20", "--out", str(tmp_path / "x"), "--data-dir", str(nb201_data_dir),
                           "--workers", "1", "--no-progress")
    assert code == 2 and "populaton_size" in err and "Traceback" not in err


@pytest.mark.parametrize("argv, fragment", [
    (["run", "--space", "nb999"], "unknown space 'nb999'; valid:"),
    (["run", "--space", "nb201", "--dataset", "mnist"], "unknown dataset 'mnist' for space nb201"),
    (["run", "--space", "nb201", "--strategies", "magic"], "unknown strategy 'magic'; valid:"),
    (["run", "--space", "nb201", "--budget", "0"], "must be >= 1"),
    (["run", "--space", "nb201", "--budget", "-3"], "must be >= 1"),
    (["run", "--space", "nb201", "--seeds", "0"], "must be >= 1"),
    (["run", "--space", "nb201", "--first-seed", "-1"], "must be >= 0"),
    (["run", "--space", "nb201", "--first-seed", "9999", "--seeds", "5"], "seed indices must stay below"),
    (["run", "--space", "nb201", "--time-budget", "nan"], "positive number of seconds"),
    (["run", "--space", "nb201", "--strategies", "random,random"], "lists a name twice"),
    (["run"], "the following arguments are required: --space"),
    (["run", "--space", "nb201", "--param", "rea=3"], "write STRATEGY.KEY=VALUE"),
    (["run", "--space", "nb201", "--strategies", "random", "--param", "rea.population_size=3"],
     "'rea' is not among the strategies of this run (random)"),
    (["data", "import", "nb303", "x"], "unknown benchmark 'nb303'"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_arguments_give_one_line(capsys, argv, fragment, data_dir):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], err


def test_missing_data_names_the_command(capsys, data_dir, tmp_path):
    code, _, err = run_cli(capsys, "run", "--space", "nb101", "--out", str(tmp_path))  # nb201 ships a table
    assert code == 2 and "python -m harness data import nb101" in err and len(err.strip().splitlines()) == 1


def test_unwritable_output(capsys, nb201_data_dir, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        code, _, err = run_cli(capsys, "run", "--space", "nb201", "--out", str(ro / "x"), "--data-dir", str(nb201_data_dir))
        assert code == 2 and "not writable" in err
    finally:
        ro.chmod(0o700)


def test_output_path_that_is_a_file(capsys, nb201_data_dir, tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    code, _, err = run_cli(capsys, "run", "--space", "nb201", "--out", str(f / "sub"), "--data-dir", str(nb201_data_dir))
    assert code == 2 and "not writable" in err


def test_data_commands(capsys, shared_data, data_dir):
    code, out, err = run_cli(capsys, "data", "import", "nb201", str(shared_data / "nb201" / "nas_landscapes_cifar10-valid_avg.csv"))
    assert code == 0, err
    assert "15625 rows" in out
    code, out, _ = run_cli(capsys, "data", "list")
    assert code == 0 and "nas_landscapes" in out
    code, out, _ = run_cli(capsys, "data", "verify")
    assert code == 0 and "91.607 at index 6111" in out


def test_python_dash_m_entry_point(tmp_path):
    env = dict(os.environ, HARNESS_DATA=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "harness", "run", "--space", "nb101"], capture_output=True,
                          text=True, env=env, cwd=str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: no nb101 table") and "Traceback" not in proc.stderr
    debug = subprocess.run([sys.executable, "-m", "harness", "--debug", "run", "--space", "nb101"],
                           capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert "Traceback" in debug.stderr


def test_background_imports_leave_a_failure_to_the_real_import():
    """``run`` imports the summary's and report's modules in a thread while its workers run; a module
    that fails to import there fails again, with its own error, where it is used."""
    import importlib
    import sys

    from harness.cli import _import_in_background

    sys.modules.pop("colorsys", None)
    _import_in_background(["no_such_module_for_this_test", "colorsys"]).join(timeout=30)
    assert "colorsys" in sys.modules
    with pytest.raises(ModuleNotFoundError, match="no_such_module_for_this_test"):
        importlib.import_module("no_such_module_for_this_test")
