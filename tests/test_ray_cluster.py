"""Ray on a real two-node cluster: the worker node dies mid-study and the study still finishes,
every trajectory byte-identical to a serial run.

The cluster is started as a user starts one: ``ray start --head``, then ``ray start --address``
joining it, each a node of its own (raylet, object store, temp dir) on this one machine, with token
authentication on as Ray defaults to. The study runs through the CLI with ``--ray-address``. Once a
run on the worker node has journalled a few queries, that node's raylet gets SIGKILL. What Ray 2.60
does then: the task's worker process notices its raylet is gone and exits, 1-3 s later here (which
releases the run's lock), the driver marks the task NODE_DIED about two seconds after the kill and
resubmits it (``max_retries``) to the head node, where the run continues from its journal once the
lock is free (``harness.executors``); the GCS declares the node dead some seconds after that.

The worker node is a slow machine: its strategy waits ``WORKER_NODE_DELAY_S`` per ask, so the killed
run is still far from done when its worker exits. With the head's speed the worker finished the
remaining half of a run in those 1-3 s (measured: died 2.6 s after its raylet, manifest written,
``resumed_batches`` 0), and the retry then had nothing left to do.

Node settings follow Ray's own several-nodes-on-one-host helper (ray-project/ray,
python/ray/cluster_utils.py, ``Cluster.add_node``): OS-chosen worker ports, a small object store,
one log monitor per host, a dashboard-agent port per node. Teardown does not call ``ray stop``, which
kills every Ray process on the machine by name (other clusters, other tests' local Ray); it kills
the processes of this cluster, by pid.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from ray_cluster_fixtures import DELAY_ENV

from harness.testing.procs import alive, parent_of, read_proc

pytestmark = pytest.mark.slow

TESTS = Path(__file__).resolve().parent
START_TIMEOUT_S = 180  # `ray start` takes 10-20 s on two busy cores
STUDY_TIMEOUT_S = 300
BUDGET = 80
SEEDS = 4
STRATEGY = "slow_rea"
WORKER_NODE_DELAY_S = 1.0
"""Seconds per ask on the worker node (``ray_cluster_fixtures.DELAY_ENV``): a run there lasts 80 s."""
KILL_AFTER = 3
"""Journalled queries of a worker-node run before its node is killed."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalCluster:
    """A head and a worker node started with ``ray start``; everything they run lives under ``root``."""

    def __init__(self, root: Path, env: dict[str, str]):
        self.root, self.env = root, env

    def start(self, node: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        """``ray start`` for ``node``; its raylet's workers inherit ``env`` (default: the cluster's)."""
        with open(self.root / f"{node}.log", "wb") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "ray.scripts.scripts", "start", *args, "--num-cpus", "1",
                 "--temp-dir", str(self.root / node), "--disable-usage-stats", "--min-worker-port", "0",
                 "--max-worker-port", "0", "--object-store-memory", str(100 * 2**20),
                 "--dashboard-agent-listen-port", str(_free_port())],
                env=env or self.env, stdout=log, stderr=subprocess.STDOUT)

    def wait_started(self, node: str, proc: subprocess.Popen) -> None:
        rc = proc.wait(timeout=START_TIMEOUT_S)
        assert rc == 0, f"ray start ({node}) failed:\n{(self.root / f'{node}.log').read_text()[-3000:]}"

    @property
    def address(self) -> str:
        """The head's GCS address, as ``ray start --head`` recorded it in its temp dir."""
        return (self.root / "head" / "ray_current_cluster").read_text().strip()

    def raylet(self, node: str) -> int:
        flag = f"--temp_dir={self.root / node}".encode()
        for pid in _pids():
            if read_proc(pid, "comm").strip() == b"raylet" and flag in read_proc(pid, "cmdline").split(b"\0"):
                return pid
        raise AssertionError(f"no raylet of the {node} node is running")

    def processes(self) -> list[int]:
        """Every process started for this cluster: its path in the command line, the environment
        (PYTHONPATH) or an open file (Ray's logs); Ray's workers rewrite their command line."""
        key = str(self.root).encode()

        def ours(pid: int) -> bool:
            if key in read_proc(pid, "cmdline") or key in read_proc(pid, "environ"):
                return True
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                return False
            for fd in fds:
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(str(self.root)):
                        return True
                except OSError:
                    continue
            return False

        return [pid for pid in _pids() if pid != os.getpid() and ours(pid)]

    def stop(self) -> list[int]:
        """SIGKILL every process of the cluster and wait until they are gone; those still there."""
        deadline = time.monotonic() + 30
        while (left := [p for p in self.processes() if alive(p)]) and time.monotonic() < deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.5)
        return left


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _cluster_env(root: Path) -> dict[str, str]:
    """The environment of the cluster and of the commands: the slow strategy declared by an entry
    point, token auth with a token of this test's own (~/.ray untouched), no inherited RAY_*."""
    plugins = root / "plugins"
    dist = plugins / "ray_cluster_fixtures-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ray-cluster-fixtures\nVersion: 0\n")
    (dist / "entry_points.txt").write_text(
        f"[nas_harness.strategies]\n{STRATEGY} = ray_cluster_fixtures:SlowEvolution\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    path = [str(TESTS), str(plugins)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    env.update(PYTHONPATH=os.pathsep.join(path), RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32),
               RAY_USAGE_STATS_ENABLED="0", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


@pytest.fixture
def cluster():
    """A cluster's root dir, removed with every process in it, also when the test fails. Not
    pytest's tmp_path: Ray's socket paths under it must stay within the 107 characters of AF_UNIX."""
    pytest.importorskip("ray")
    root = Path(tempfile.mkdtemp(prefix="raytest-", dir="/tmp"))
    c = LocalCluster(root, _cluster_env(root))
    try:
        yield c
    finally:
        left = c.stop()
        shutil.rmtree(root, ignore_errors=True)
        assert not left, f"Ray processes of the test cluster survived SIGKILL: {left}"


def _study(env, out: Path, data_dir: Path, *executor: str, log: Path) -> subprocess.Popen:
    with open(log, "wb") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "harness", "run", "--space", "nb201", "--strategies", f"{STRATEGY},random",
             "--seeds", str(SEEDS), "--budget", str(BUDGET), "--out", str(out), "--data-dir", str(data_dir),
             "--no-progress", "--executor", *executor],
            env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=out.parent)


def _holder(lock: Path) -> int | None:
    """The pid a run's lock file names (``harness.locks`` writes "pid N: command")."""
    try:
        m = re.match(rb"pid (\d+):", lock.read_bytes())
    except OSError:
        return None
    return int(m.group(1)) if m else None


def _kill_worker_node_mid_run(cluster: LocalCluster, runs: Path, study: subprocess.Popen,
                              log: Path) -> tuple[int, int]:
    """SIGKILL the worker node's raylet once a process of that node has journalled ``KILL_AFTER``
    queries of a run; (that run's seed, that process's pid)."""
    raylet = cluster.raylet("worker")
    deadline = time.monotonic() + STUDY_TIMEOUT_S
    while study.poll() is None and time.monotonic() < deadline:
        for lock in runs.glob(".seed=*.lock"):
            seed = int(lock.name.removeprefix(".seed=").removesuffix(".lock"))
            pid = _holder(lock)
            journal = runs / f"seed={seed}.journal.jsonl"
            if (pid and parent_of(pid) == raylet and not (runs / f"seed={seed}.run.json").exists()
                    and journal.exists() and journal.read_bytes().count(b"\n") >= KILL_AFTER):
                os.kill(raylet, signal.SIGKILL)
                return seed, pid
        time.sleep(0.05)
    pytest.fail(f"no run was seen under way on the worker node (study exit {study.poll()}):\n"
                f"{log.read_text()[-3000:]}")


def _results(out: Path) -> dict[Path, bytes]:
    """Every run's trajectory and final strategy state (the timing file holds wall seconds)."""
    return {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("seed=*"))
            if p.name.endswith((".strategy.npz", ".parquet")) and not p.name.endswith(".timing.parquet")}


def test_worker_node_killed_mid_study(cluster, nb201_data_dir):
    env, root = cluster.env, cluster.root
    started = time.monotonic()
    head = cluster.start("head", "--head", "--port", str(_free_port()), "--include-dashboard=false",
                         "--dashboard-port", str(_free_port()))
    serial = _study(env, root / "serial", nb201_data_dir, "serial", log=root / "serial.log")
    cluster.wait_started("head", head)
    slow = {**env, DELAY_ENV: str(WORKER_NODE_DELAY_S)}
    worker = cluster.start("worker", "--address", cluster.address, "--include-log-monitor=false", env=slow)
    cluster.wait_started("worker", worker)
    assert serial.wait(timeout=STUDY_TIMEOUT_S) == 0, (root / "serial.log").read_text()[-3000:]
    cluster_up = time.monotonic()

    out = root / "ray"
    study = _study(env, out, nb201_data_dir, "ray", "--ray-address", cluster.address, log=root / "ray.log")
    runs = out / "nb201" / "cifar10-valid" / STRATEGY
    seed, victim = _kill_worker_node_mid_run(cluster, runs, study, root / "ray.log")
    rc = study.wait(timeout=STUDY_TIMEOUT_S)
    print(f"cluster up in {cluster_up - started:.0f} s, study under fault {time.monotonic() - cluster_up:.0f} s; "
          f"{STRATEGY} seed={seed} was killed on the worker node")

    assert rc == 0, f"the study did not survive the lost node:\n{(root / 'ray.log').read_text()[-3000:]}"
    deadline = time.monotonic() + 10
    while alive(victim) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(victim), "the killed node's worker outlived its raylet and may still write into --out"
    assert _holder(runs / f".seed={seed}.lock") not in (None, victim), "the killed run was not finished elsewhere"
    manifest = json.loads((runs / f"seed={seed}.run.json").read_text())
    assert 0 < manifest["resumed_batches"] < BUDGET, "the retried run did not continue from the killed run's journal"

    expected = _results(root / "serial")
    assert len(expected) == 2 * 2 * SEEDS
    assert _results(out) == expected
    assert len(list(out.rglob("seed=*.run.json"))) == 2 * SEEDS
    leftovers = [p.name for p in out.rglob("*") if p.name.endswith(".tmp") or "journal" in p.name]
    assert not leftovers, f"half-written files left behind: {leftovers}"
