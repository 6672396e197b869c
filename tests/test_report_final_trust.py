"""The after-the-search tables trust no file (issue 24): a search run whose final result or exact
distribution is missing, damaged, of another search run, out of range or not a regular file is named
(a skipped line on the console and in the report's index) and its strategy flagged (†) in Tables 1/2/9
and the exact-distribution table -- never averaged over the seeds that happen to survive, never a
traceback, never a read that waits forever. The same holds for trajectories and manifests."""
from __future__ import annotations

import json
import os
import resource
import shutil
import signal
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from matplotlib.figure import Figure

from harness import atomic, storage
from harness.cli import main
from harness.report import build
from harness.report.build import build_report

GROUP = Path("nb201/cifar10-valid")


@pytest.fixture(scope="module")
def study(nb201_data_dir, tmp_path_factory) -> Path:
    """random and reinforce, 3 seeds each, then their final phase (and reinforce's exact distributions)."""
    out = tmp_path_factory.mktemp("final-trust") / "results"
    assert main(["run", "--space", "nb201", "--dataset", "cifar10-valid", "--strategies", "random,reinforce",
                 "--seeds", "3", "--budget", "20", "--out", str(out), "--data-dir", str(nb201_data_dir),
                 "--no-progress", "--workers", "1", "--executor", "serial"]) == 0
    assert main(["final", "--results", str(out), "--data-dir", str(nb201_data_dir), "--samples", "3",
                 "--workers", "1"]) == 0
    assert (out / GROUP / "reinforce" / "seed=2.exact.parquet").is_file()
    return out


@pytest.fixture
def results(study, tmp_path, monkeypatch) -> Path:
    """A copy of the study to damage. The search's figures are not drawn (these tests read tables and
    index), the after-the-search ones are laid out but saved as a few bytes (fast)."""
    monkeypatch.setattr(Figure, "savefig", lambda fig, path, **kw: Path(path).write_bytes(b"figure"))
    monkeypatch.setattr(build, "_draw_all", lambda jobs, workers: [([], None) for _ in jobs])
    shutil.copytree(study, tmp_path / "results")
    return tmp_path / "results"


class Hung(BaseException):
    """Not an OSError (as TimeoutError is), so no ``except OSError`` in the code under test hides it."""


@contextmanager
def deadline(seconds: float, spare_bytes: int = 2 << 30):
    """A report that waits on a FIFO or reads /dev/zero fails the test (``Hung``, ``MemoryError``)
    instead of hanging it or filling the machine's memory: a time limit, and the address space capped
    at what the process maps now plus ``spare_bytes``."""
    def expire(*_):
        raise Hung(f"the report did not finish within {seconds} s")

    mapped = next(int(line.split()[1]) * 1024 for line in Path("/proc/self/status").read_text().splitlines()
                  if line.startswith("VmSize:"))
    limits = resource.getrlimit(resource.RLIMIT_AS)
    old = signal.signal(signal.SIGALRM, expire)
    resource.setrlimit(resource.RLIMIT_AS, (mapped + spare_bytes, limits[1]))
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        resource.setrlimit(resource.RLIMIT_AS, limits)
        signal.signal(signal.SIGALRM, old)


def report(results: Path) -> tuple[str, Path]:
    """Build the report; (what it said, one line per entry, joined) and the report's group folder."""
    said: list[str] = []
    out = results.parent / "report"
    with deadline(30):
        build_report(results, out, "nb201", "cifar10-valid", say=said.append)
    return "\n".join(said), out


def row(out: Path, table: str, strategy: str) -> str:
    lines = (out / "nb201" / "custom" / "tables" / f"{table}.md").read_text().splitlines()
    return next(line for line in lines if line.startswith(f"| {strategy} |"))


def f(results: Path, strategy: str, name: str) -> Path:
    return results / GROUP / strategy / name


def rewrite_parquet(parquet: Path, manifest: Path, change) -> None:
    """Change a column of a final/exact parquet and record the new file's checksum in its manifest, as a
    careless edit (or a bug) would: only the value checks can catch it."""
    df = pq.read_table(parquet).to_pandas()
    change(df)
    atomic.write_parquet(parquet, pa.Table.from_pandas(df, schema=pq.read_schema(parquet), preserve_index=False))
    m = json.loads(manifest.read_text())
    m["parquet_sha256"] = atomic.sha256_file(parquet)
    manifest.write_text(json.dumps(m))


def edit_json(path: Path, **changes) -> None:
    m = json.loads(path.read_text())
    m.update(changes)
    path.write_text(json.dumps(m))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_bit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))


def fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def dev_zero(path: Path) -> None:
    path.unlink()
    path.symlink_to("/dev/zero")


def fix_checksum(parquet: Path, manifest: Path) -> None:
    edit_json(manifest, parquet_sha256=atomic.sha256_file(parquet))


def set_value(column: str, value: float):
    def change(df):
        df.loc[0, column] = value
    return change


FINAL_DAMAGE = {  # reinforce seed=0's final result, damaged: why the report must refuse it
    "truncated parquet": (lambda r: truncate(f(r, "reinforce", "seed=0.final.parquet")), "checksum"),
    "flipped bit in the parquet": (lambda r: flip_bit(f(r, "reinforce", "seed=0.final.parquet")), "checksum"),
    "parquet deleted": (lambda r: f(r, "reinforce", "seed=0.final.parquet").unlink(), "seed=0.final.parquet missing"),
    "manifest deleted": (lambda r: f(r, "reinforce", "seed=0.final.json").unlink(), "unfinished"),
    "status running": (lambda r: edit_json(f(r, "reinforce", "seed=0.final.json"), status="running"), "'running'"),
    "manifest not JSON": (lambda r: f(r, "reinforce", "seed=0.final.json").write_text("{garb"), "not a JSON object"),
    "manifest a JSON list": (lambda r: f(r, "reinforce", "seed=0.final.json").write_text("[1,2]"), "not a JSON object"),
    "run_id of another search": (lambda r: edit_json(f(r, "reinforce", "seed=0.final.json"), run_id="0" * 16),
                                 "another search run"),
    "val_acc 1000 under a fixed checksum": (
        lambda r: rewrite_parquet(f(r, "reinforce", "seed=0.final.parquet"), f(r, "reinforce", "seed=0.final.json"),
                                  set_value("val_acc", 1000.0)), "val_acc 1000.0 outside [0, 100]"),
    "test_acc inf under a fixed checksum": (
        lambda r: rewrite_parquet(f(r, "reinforce", "seed=0.final.parquet"), f(r, "reinforce", "seed=0.final.json"),
                                  set_value("test_acc", float("inf"))), "test_acc inf outside [0, 100]"),
    "rows of another seed under a fixed checksum": (
        lambda r: rewrite_parquet(f(r, "reinforce", "seed=0.final.parquet"), f(r, "reinforce", "seed=0.final.json"),
                                  set_value("seed", 1)), "seed is not 0"),
    "parquet a link to /dev/zero": (lambda r: dev_zero(f(r, "reinforce", "seed=0.final.parquet")), "not a regular file"),
    "parquet a FIFO": (lambda r: fifo(f(r, "reinforce", "seed=0.final.parquet")), "not a regular file"),
    "manifest a FIFO": (lambda r: fifo(f(r, "reinforce", "seed=0.final.json")), "not a regular file"),
}


@pytest.mark.parametrize("damage", FINAL_DAMAGE, ids=list(FINAL_DAMAGE))
def test_a_damaged_final_result_is_named_and_flagged_never_averaged(results, damage):
    do, why = FINAL_DAMAGE[damage]
    do(results)
    said, out = report(results)
    assert "skipped 1 final result of nb201/cifar10-valid/reinforce (seed=0.final):" in said
    entry = next(line for line in (out / "index.md").read_text().splitlines()
                 if line.startswith("- nb201/cifar10-valid/reinforce/seed=0.final.parquet: "))
    assert why in entry, entry
    for table in ("final_table1", "final_table2", "final_table9"):
        assert "†" in row(out, table, "reinforce"), table
        assert "†" not in row(out, table, "random"), table
    assert "† reinforce: missing seeds 0" in (out / "nb201" / "custom" / "tables" / "final_table1.md").read_text()


def test_final_of_one_seed_of_three_is_flagged_not_averaged(results):
    """As `final --seeds 0` leaves it: seeds 1 and 2 have no final result."""
    for strategy in ("random", "reinforce"):
        for seed in (1, 2):
            for kind in ("final.parquet", "final.json", "exact.parquet", "exact.json"):
                f(results, strategy, f"seed={seed}.{kind}").unlink(missing_ok=True)
    said, out = report(results)
    assert "skipped 2 final results of nb201/cifar10-valid/random (seed=1.final, seed=2.final): 2 none stored" in said
    assert "skipped 2 exact distributions of nb201/cifar10-valid/reinforce (seed=1.exact, seed=2.exact)" in said
    for table in ("final_table1", "final_table2", "final_table9"):
        for strategy in ("random", "reinforce"):
            assert "†" in row(out, table, strategy)
    assert "†" in row(out, "exact_distribution", "reinforce")


EXACT_DAMAGE = {
    "garbled summary": (lambda r: f(r, "reinforce", "seed=0.exact.json").write_text("{garb"), "not a JSON object"),
    "truncated parquet": (lambda r: truncate(f(r, "reinforce", "seed=0.exact.parquet")), "checksum"),
    "truncated parquet under a fixed checksum (ArrowInvalid)": (
        lambda r: (truncate(f(r, "reinforce", "seed=0.exact.parquet")),
                   fix_checksum(f(r, "reinforce", "seed=0.exact.parquet"), f(r, "reinforce", "seed=0.exact.json"))),
        "unreadable"),
    "log_p above 0 under a fixed checksum": (
        lambda r: rewrite_parquet(f(r, "reinforce", "seed=0.exact.parquet"), f(r, "reinforce", "seed=0.exact.json"),
                                  set_value("log_p", 1.0)), "log_p"),
    "val_acc 1000 under a fixed checksum": (
        lambda r: rewrite_parquet(f(r, "reinforce", "seed=0.exact.parquet"), f(r, "reinforce", "seed=0.exact.json"),
                                  set_value("val_acc", 1000.0)), "val_acc 1000.0 outside [0, 100]"),
    "summary number edited": (lambda r: edit_json(f(r, "reinforce", "seed=0.exact.json"), expected_val=99.0),
                              "expected_val 99.0 is not what its cells give"),
    "summary of another search run": (
        lambda r: edit_json(f(r, "reinforce", "seed=0.exact.json"), identity={"run_id": "0" * 16, "state": None}),
        "another search run"),
    "parquet a link to /dev/zero": (lambda r: dev_zero(f(r, "reinforce", "seed=0.exact.parquet")), "not a regular file"),
    "summary a FIFO": (lambda r: fifo(f(r, "reinforce", "seed=0.exact.json")), "not a regular file"),
    "summary deleted": (lambda r: f(r, "reinforce", "seed=0.exact.json").unlink(), "unfinished"),
}


@pytest.mark.parametrize("damage", EXACT_DAMAGE, ids=list(EXACT_DAMAGE))
def test_a_damaged_exact_distribution_is_named_and_flagged(results, damage):
    do, why = EXACT_DAMAGE[damage]
    do(results)
    said, out = report(results)
    assert "skipped 1 exact distribution of nb201/cifar10-valid/reinforce (seed=0.exact):" in said
    entry = next(line for line in (out / "index.md").read_text().splitlines()
                 if line.startswith("- nb201/cifar10-valid/reinforce/seed=0.exact.parquet: "))
    assert why in entry, entry
    assert "†" in row(out, "exact_distribution", "reinforce")
    assert "†" not in row(out, "final_table1", "reinforce")  # its final result is fine


def test_an_intact_study_has_no_flag_and_no_skipped_line(results):
    said, out = report(results)
    assert said == ""
    for table in ("final_table1", "final_table2", "final_table9", "exact_distribution"):
        text = (out / "nb201" / "custom" / "tables" / f"{table}.md").read_text()
        assert "†" not in text, table
    assert "Skipped" not in (out / "index.md").read_text()
    figures = out / "nb201" / "custom" / "figures"
    assert (figures / "final_samples.png").is_file() and (figures / "exact_p_vs_accuracy.png").is_file()


def out_of_range_trajectory(r: Path) -> None:
    """val_acc 1000 in reinforce seed=0's trajectory, its checksum recorded and the manifest resealed."""
    path = f(r, "reinforce", "seed=0.parquet")
    df = pq.read_table(path).to_pandas()
    df.loc[0, "val_acc"] = 1000.0
    atomic.write_parquet(path, pa.Table.from_pandas(df, schema=storage.TRAJECTORY_SCHEMA, preserve_index=False))
    manifest = json.loads(f(r, "reinforce", "seed=0.run.json").read_text())
    manifest["trajectory_sha256"] = atomic.sha256_file(path)
    f(r, "reinforce", "seed=0.run.json").write_text(json.dumps(storage.seal(manifest)))


def oversized(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(17 << 20)  # sparse: 17 MiB of zeros after the JSON


SEARCH_DAMAGE = {
    "trajectory val_acc 1000 under a fixed checksum": (out_of_range_trajectory, "val_acc"),
    "trajectory a link to /dev/zero": (lambda r: dev_zero(f(r, "reinforce", "seed=0.parquet")), "not a regular file"),
    "trajectory a FIFO": (lambda r: fifo(f(r, "reinforce", "seed=0.parquet")), "not a regular file"),
    "manifest a FIFO": (lambda r: fifo(f(r, "reinforce", "seed=0.run.json")), "not a regular file"),
    "manifest a link to /dev/zero": (lambda r: dev_zero(f(r, "reinforce", "seed=0.run.json")), "not a regular file"),
    "manifest larger than 16 MiB": (lambda r: oversized(f(r, "reinforce", "seed=0.run.json")), "larger than 16 MiB"),
}


@pytest.mark.parametrize("damage", SEARCH_DAMAGE, ids=list(SEARCH_DAMAGE))
def test_a_damaged_or_special_search_file_is_a_named_skipped_run(results, damage):
    do, why = SEARCH_DAMAGE[damage]
    do(results)
    said, out = report(results)
    assert "skipped 1 run of nb201/cifar10-valid/reinforce (seed=0):" in said
    entry = next(line for line in (out / "index.md").read_text().splitlines()
                 if line.startswith("- nb201/cifar10-valid/reinforce/seed=0.parquet: "))
    assert why in entry, entry
    assert "†" in row(out, "final_table1", "reinforce")  # its final result is not averaged in without its search
    assert "†" in row(out, "exact_distribution", "reinforce")
