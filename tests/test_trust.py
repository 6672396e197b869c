"""Issue 13: nothing on disk or from a strategy is trusted, interrupts are clean, one writer per run.

Each test drives the command line in a subprocess, as a user would, and checks the exit code,
that the error is one line, and what is (not) left on disk or running.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest


TESTS = Path(__file__).resolve().parent
REGISTER = ("import sys; from strategies.registry import STRATEGIES; "
            "[STRATEGIES.register(n, 'trust_fixtures:' + c) for n, c in (('slow', 'Slow'), ('killer', 'KillsItsWorker'), "
            "('hangs', 'Hangs'), ('exits', 'Exits'), ('objects', 'ProposesObjects'))]; "
            "from harness.cli import main; sys.exit(main(sys.argv[1:]))")


def _env(marks: Path | None = None) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    if marks is not None:
        env["TRUST_MARKS"] = str(marks)
    return env


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", REGISTER, *args]


def harness(*args: str, marks: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(_cmd(*args), capture_output=True, text=True, env=_env(marks), timeout=timeout,
                          cwd=tempfile.gettempdir())


def one_line_error(p: subprocess.CompletedProcess) -> str:
    err = p.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _pids(marks: Path) -> list[int]:
    return [int(p.name.split("-")[1]) for p in marks.glob("worker-*")]


def _run(data: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--space", "nb201", "--data-dir", str(data), "--out", str(out), "--no-progress", *extra]


# ---------------------------------------------------------------- 1. verified tables


def test_run_refuses_a_table_that_differs_from_its_manifest(nb201_data_dir, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(nb201_data_dir, data)
    table = data / "nb201" / "table.parquet"
    blob = bytearray(table.read_bytes())
    blob[len(blob) // 2] ^= 0x01  # one flipped bit
    table.write_bytes(bytes(blob))
    p = harness(*_run(data, tmp_path / "r", "--strategies", "random", "--seeds", "1", "--budget", "5"))
    assert p.returncode == 2 and "does not match its manifest" in one_line_error(p)
    assert not (tmp_path / "r" / "nb201" / "cifar10-valid" / "random" / "seed=0.parquet").exists()


def test_a_flipped_bit_is_caught_by_the_page_checksums_even_with_a_matching_manifest(nb201_data_dir, tmp_path):
    import shutil

    from harness import atomic

    data = tmp_path / "data"
    shutil.copytree(nb201_data_dir, data)
    table = data / "nb201" / "table.parquet"
    meta = pq.ParquetFile(table).metadata
    col = meta.row_group(0).column(meta.schema.names.index("cifar10-valid/val@200"))
    blob = bytearray(table.read_bytes())
    blob[col.data_page_offset + col.total_compressed_size - 8] ^= 0x10  # inside that column's page data
    table.write_bytes(bytes(blob))
    manifest = json.loads((data / "nb201" / "manifest.json").read_text())
    manifest["table_sha256"] = atomic.sha256_file(table)  # as if the corruption had happened before import
    (data / "nb201" / "manifest.json").write_text(json.dumps(manifest))
    p = harness(*_run(data, tmp_path / "r", "--strategies", "random", "--seeds", "1", "--budget", "5"))
    assert p.returncode == 2 and "cannot be read" in one_line_error(p)


def test_the_run_records_the_checksum_of_the_table_it_read(nb201_data_dir, tmp_path):
    from harness import atomic

    p = harness(*_run(nb201_data_dir, tmp_path / "r", "--strategies", "random", "--seeds", "1", "--budget", "5"))
    assert p.returncode == 0, p.stderr
    m = json.loads((tmp_path / "r" / "nb201" / "cifar10-valid" / "random" / "seed=0.run.json").read_text())
    assert m["evaluator"]["table_sha256"] == atomic.sha256_file(nb201_data_dir / "nb201" / "table.parquet")


# ---------------------------------------------------------------- 4. strategies that end the harness or hide nothing


def test_a_strategy_calling_sys_exit_is_an_error_not_a_success(nb201_data_dir, tmp_path):
    p = harness(*_run(nb201_data_dir, tmp_path / "r", "--strategies", "exits", "--seeds", "1", "--budget", "5"))
    assert p.returncode == 2 and "called sys.exit(0)" in one_line_error(p)


def test_a_run_with_no_answered_query_warns_and_fails_the_command(nb201_data_dir, tmp_path):
    p = harness(*_run(nb201_data_dir, tmp_path / "r", "--strategies", "objects", "--seeds", "1", "--budget", "5",
                      "--workers", "1"))
    assert p.returncode == 1, p.stderr
    assert "none of its 5 queries was answered" in p.stderr
    rows = pq.read_table(tmp_path / "r" / "nb201" / "cifar10-valid" / "objects" / "seed=0.parquet").to_pylist()
    assert {r["status"] for r in rows} == {"invalid"}
    assert all("0x" not in r["error"] and "trust_fixtures.Opaque object" in r["error"] for r in rows)


def test_default_reprs_never_reach_a_trajectory(nb201_data_dir, tmp_path):
    """Two identical runs give byte-identical trajectories although the objects' addresses differ."""
    a = harness(*_run(nb201_data_dir, tmp_path / "a", "--strategies", "objects", "--seeds", "1", "--budget", "3"))
    b = harness(*_run(nb201_data_dir, tmp_path / "b", "--strategies", "objects", "--seeds", "1", "--budget", "3"))
    assert a.returncode == b.returncode == 1
    rel = Path("nb201", "cifar10-valid", "objects", "seed=0.parquet")
    assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


# ---------------------------------------------------------------- 6, 7. interrupts and worker processes


def _start(data: Path, out: Path, marks: Path, *extra: str) -> subprocess.Popen:
    marks.mkdir(exist_ok=True)
    return subprocess.Popen(_cmd(*_run(data, out, *extra)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env(marks), cwd=tempfile.gettempdir())


def _wait_for_workers(marks: Path, n: int, proc: subprocess.Popen, limit: float = 60.0) -> list[int]:
    deadline = time.monotonic() + limit
    while len(_pids(marks)) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "workers did not start"
        time.sleep(0.1)
    return _pids(marks)


def test_ctrl_c_under_the_process_executor_stops_queued_and_running_runs(nb201_data_dir, tmp_path):
    marks, out = tmp_path / "marks", tmp_path / "r"
    proc = _start(nb201_data_dir, out, marks, "--strategies", "slow", "--seeds", "8", "--budget", "30",
                  "--workers", "2", "--executor", "process")
    _wait_for_workers(marks, 2, proc)
    t = time.monotonic()
    proc.send_signal(signal.SIGINT)  # as `kill -INT` from another shell; a terminal's Ctrl-C also reaches workers
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - t < 10, "a Ctrl-C must end the study within seconds"
    assert proc.returncode == 130 and "completed runs are kept" in err, err
    done = list((out / "nb201" / "cifar10-valid" / "slow").glob("seed=*.run.json"))
    assert len(done) < 8, "queued runs must not run after Ctrl-C"
    time.sleep(1.0)
    assert not [p for p in _pids(marks) if _alive(p)], "no worker outlives the interrupted study"
    again = harness(*_run(nb201_data_dir, out, "--strategies", "slow", "--seeds", "8", "--budget", "30",
                          "--workers", "2"), marks=marks, timeout=600)
    assert again.returncode == 0, again.stderr  # and the same command finishes the study


def test_killing_the_main_process_leaves_no_worker_behind(nb201_data_dir, tmp_path):
    marks = tmp_path / "marks"
    proc = _start(nb201_data_dir, tmp_path / "r", marks, "--strategies", "slow", "--seeds", "4", "--budget", "500",
                  "--workers", "2", "--executor", "process")
    workers = _wait_for_workers(marks, 2, proc)
    proc.kill()
    proc.communicate()
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in workers if _alive(p)], "workers must die with their parent"


def test_a_worker_killed_by_the_kernel_is_one_line(nb201_data_dir, tmp_path):
    p = harness(*_run(nb201_data_dir, tmp_path / "r", "--strategies", "killer,random", "--seeds", "2", "--budget", "5",
                      "--workers", "2", "--executor", "process"))
    assert p.returncode == 2
    assert "worker process died (killed, out of memory?)" in one_line_error(p)


# ---------------------------------------------------------------- 8. one writer per run


def test_a_second_writer_of_the_same_runs_is_refused(nb201_data_dir, tmp_path):
    marks, out = tmp_path / "marks", tmp_path / "r"
    first = _start(nb201_data_dir, out, marks, "--strategies", "slow", "--seeds", "1", "--budget", "100",
                   "--workers", "1")
    _wait_for_workers(marks, 1, first)
    second = harness(*_run(nb201_data_dir, out, "--strategies", "slow", "--seeds", "1", "--budget", "50",
                           "--workers", "1"))
    assert second.returncode == 2 and "is being written by another command" in one_line_error(second)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    rows = pq.read_table(out / "nb201" / "cifar10-valid" / "slow" / "seed=0.parquet")
    assert rows.num_rows == 100, "the first writer's run is intact"


# ---------------------------------------------------------------- 9. a hanging strategy


def test_strategy_timeout_records_a_failed_run_and_the_study_goes_on(nb201_data_dir, tmp_path):
    out = tmp_path / "r"
    args = _run(nb201_data_dir, out, "--strategies", "hangs,random", "--seeds", "1", "--budget", "5", "--workers", "1",
                "--strategy-timeout", "1")
    t = time.monotonic()
    p = harness(*args)
    assert time.monotonic() - t < 60
    assert p.returncode == 1 and "longer than --strategy-timeout 1 s" in p.stderr, p.stderr
    m = json.loads((out / "nb201" / "cifar10-valid" / "hangs" / "seed=0.run.json").read_text())
    assert m["status"] == "failed" and not (out / "nb201" / "cifar10-valid" / "hangs" / "seed=0.parquet").exists()
    assert (out / "nb201" / "cifar10-valid" / "random" / "seed=0.parquet").exists()
    again = harness(*args)
    assert again.returncode == 1 and "longer than" in again.stderr  # never cached: retried, and fails again


# ---------------------------------------------------------------- 10. arguments and the filesystem


@pytest.mark.parametrize("extra,message", [
    (["--budget", "3000000000"], "more queries than a trajectory can number"),
    (["--dedup", "unique", "--budget", "20000"], "can never be spent"),
])
def test_impossible_budgets_are_refused(nb201_data_dir, tmp_path, extra, message):
    p = harness(*_run(nb201_data_dir, tmp_path / "r", "--strategies", "random", "--seeds", "1", *extra))
    assert p.returncode == 2 and message in one_line_error(p)


def test_bad_paths_are_one_line(nb201_data_dir, tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    empty_out = ["run", "--space", "nb201", "--data-dir", str(nb201_data_dir), "--out", "", "--strategies", "random"]
    for args, message in ((empty_out, "--out is empty"),
                          (["run", "--space", "nb201", "--data-dir", str(a_file)], "is not a directory"),
                          (_run(nb201_data_dir, a_file / "sub", "--strategies", "random", "--budget", "3"), ""),
                          (_run(nb201_data_dir, Path("/proc/x"), "--strategies", "random", "--budget", "3"), "")):
        p = harness(*args)
        assert p.returncode == 2 and message in one_line_error(p), args
