"""Fault campaign (issue #13, acceptance): several hundred hostile scenarios, each through the CLI in
a subprocess with a timeout, each outcome put into the classes the issue counts.

    python benchmarks/fault_campaign.py            # the full campaign (>= 400 scenarios)
    python benchmarks/fault_campaign.py --quick    # one of every family
    python benchmarks/fault_campaign.py --list     # scenarios per family, nothing run
    python benchmarks/fault_campaign.py --only final,names --jobs 1   # some families

Families: hostile or corrupt data files for every importer (pickles whose unpickling would
``touch`` a marker file, impossible values, truncation, garbage, names that lie about the content),
an imported table tampered with, journals / run manifests / trajectories corrupted or of the wrong
JSON shape, ``kill -9`` / SIGINT / SIGTERM of the main process and of a pool worker at random
points (then the same command again, compared byte for byte with an uninterrupted run), two writers
into one ``--out``, strategies that hang, exit or propose objects, bad arguments, impossible paths
(``/proc``, the read-only ``/sys``, files where folders go), and ``report`` on corrupt results.
Issue #24 (item 9) adds: ``final`` on edited / copied / forged run files and on plugin strategies
whose ``recommend`` raises, returns None or sleeps (``final``); ``report`` on damaged final-phase
files (``report-final``); strategy names that are paths (``names``); ``os._exit(0)`` inside a
strategy (``exit``); FIFOs and /dev/zero as data files, a local HTTP server that streams forever,
stalls or trickles, 100,000-deep JSON, absurd timeouts (``special``). Checksum-fixed edits also
recompute the manifest's seal (``_resealed``): the seal is no secret. Commands reading forged or
unbounded sources run under a heap limit (RLIMIT_DATA), so a failure is a MemoryError, not a
machine out of memory.

Classes (a scenario can fall in several; "clean" when none):
- silent wrong result: exit 0, but the results differ from the reference bytes of an uninterrupted
  serial run, or an input that is corrupt or an argument that is invalid was accepted;
- code executed from data: the marker file exists (the NATS archive read with the opt-in
  ``--allow-pickle`` is allowed to, and is counted apart);
- traceback: "Traceback" on stdout or stderr;
- hang/orphan: the command ran past its timeout, or a process it started outlived it;
- data lost: a complete run that existed before the command is gone or changed.

Runs use the embedded NB201 table (``data import nb201 --embedded``) and small budgets; the slow
strategies of tests/trust_fixtures.py and tests/ray_cluster_fixtures.py (declared through the
``nas_harness.strategies`` entry point, as an outside package would) make runs last long enough to
be interrupted. Importer scenarios start from small tables cut from the embedded table and, where
/work/shared/data is present, from the real downloaded files (skipped otherwise).
Running as root, permission bits cannot make a folder read-only; ``/sys`` (mounted read-only) and
``/proc`` stand in for read-only filesystems. A full disk is not simulated (it needs a mount).
"""
from __future__ import annotations

import argparse
import bz2
import hashlib
import io
import json
import os
import pickle
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))

from harness.testing.procs import alive, parent_of, read_proc  # noqa: E402

SILENT, CODE, TRACE, HANG, LOST = ("silent wrong result", "code executed from data", "traceback", "hang/orphan",
                                   "data lost")
CLASSES = (SILENT, CODE, TRACE, HANG, LOST)
TAG_VAR = "FAULT_CAMPAIGN_TAG"

STRATEGY_PLUGINS = {"slow": "trust_fixtures:Slow", "hangs": "trust_fixtures:Hangs", "exits": "trust_fixtures:Exits",
                    "objects": "trust_fixtures:ProposesObjects", "slow_rea": "ray_cluster_fixtures:SlowEvolution",
                    **{k: f"fault_campaign_strategies:{v}" for k, v in (
                        ("learner", "Learner"), ("rec_raises", "RecommendRaises"), ("rec_none", "RecommendNone"),
                        ("rec_sleeps", "RecommendSleeps"), ("rec_exits", "RecommendExits"), ("exit_ask", "ExitInAsk"),
                        ("exit_setup", "ExitInSetup"),
                        ("exit_tell", "ExitInTell"), ("exit_state", "ExitInStateDict"))}}

PLUGIN_MODULE = '''"""Strategies of the fault campaign (written into its plugin folder, declared by entry point)."""
import os
import time

from strategies.random_search import RandomSearch


class Learner(RandomSearch):
    """A strategy with a model: ``recommend`` samples what its stored state holds."""

    def setup(self, space, seed, context=None):
        super().setup(space, seed, context)
        self.proposed_ = []

    def ask(self, n):
        archs = super().ask(n)
        self.proposed_ += [self.space.to_str(a) for a in archs]
        return archs

    def state_dict(self):
        return {**super().state_dict(), "proposed": list(self.proposed_)}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.proposed_ = list(state["proposed"])

    def recommend(self, n, rng, history):
        return [self.space.from_str(t) for t in self.proposed_[::-1][:n]]


class RecommendRaises(Learner):
    def recommend(self, n, rng, history):
        raise RuntimeError("recommend failed on purpose")


class RecommendNone(Learner):
    def recommend(self, n, rng, history):
        return None


class RecommendSleeps(Learner):
    def recommend(self, n, rng, history):
        time.sleep(3600)


class RecommendExits(Learner):
    def recommend(self, n, rng, history):
        os._exit(0)


class ExitInAsk(RandomSearch):
    def ask(self, n):
        os._exit(0)


class ExitInSetup(RandomSearch):
    def setup(self, space, seed, context=None):
        os._exit(0)


class ExitInTell(RandomSearch):
    def tell(self, observations):
        os._exit(0)


class ExitInStateDict(RandomSearch):
    def state_dict(self):
        os._exit(0)
'''
STUDY_F = ["--space", "nb201", "--strategies", "random,rea,learner,rec_raises,rec_none,rec_sleeps,rec_exits",
           "--seeds", "3",
           "--budget", "40"]
FINAL_DONE = "random,rea,learner"  # the strategies whose final phase the reference study ran

# The studies the scenarios replay (their reference bytes come from one uninterrupted serial run each).
STUDY_A = ["--space", "nb201", "--strategies", "random,rea", "--seeds", "2", "--budget", "40"]
STUDY_K = ["--space", "nb201", "--strategies", "slow,slow_rea", "--seeds", "2", "--budget", "16",
           "--param", "slow_rea.population_size=4", "--param", "slow_rea.sample_size=2"]
STUDY_K12 = [a if a != "16" else "12" for a in STUDY_K]  # another configuration of the same runs
QUIET = ["--no-progress"]


# ------------------------------------------------------------------ processes

def tagged(tag: str) -> list[int]:
    """Live processes started for one scenario (they inherit its tag in their environment)."""
    key = f"{TAG_VAR}={tag}".encode()
    found = []
    for p in os.listdir("/proc"):
        if p.isdigit() and int(p) != os.getpid() and key in read_proc(int(p), "environ").split(b"\0") and alive(int(p)):
            found.append(int(p))
    return found


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (the pool workers of a main process)."""
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            if parent_of(int(p)) == pid:
                out.append(int(p))
    return out


@dataclass
class Done:
    argv: list[str]
    rc: int | None
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool


class Running:
    """One CLI command started in the background (for kills and concurrent writers)."""

    def __init__(self, scen: Scenario, args: list[str], timeout: float, limit_mb: int | None = None,
                 prog: list[str] | None = None):
        """``prog``: a driver script run instead of ``python -m harness`` (it calls ``harness.cli.main``)."""
        self.scen, self.args, self.timeout = scen, args, timeout
        scen.n_cmd += 1
        self.log = scen.dir / f"cmd{scen.n_cmd}"
        prog = prog or ["-m", "harness"]
        self.argv = [sys.executable, *prog, *args]
        scen.commands.append(shlex.join(["python", *prog, *args]))
        self.started = time.monotonic()
        with open(f"{self.log}.out", "wb") as out, open(f"{self.log}.err", "wb") as err:
            self.proc = subprocess.Popen(self.argv, cwd=scen.dir, env=scen.env, stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         preexec_fn=None if limit_mb is None else _memory_limit(limit_mb))

    def signal(self, sig: int) -> None:
        try:
            os.kill(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def wait(self, timeout: float | None = None) -> Done:
        timed_out = False
        try:
            rc = self.proc.wait(timeout=self.timeout if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            timed_out, rc = True, None
            self.scen.problem(HANG, f"`{shlex.join(self.args[:3])} …` still running after {self.timeout:.0f} s")
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        done = Done(self.argv, rc, Path(f"{self.log}.out").read_text(errors="replace"),
                    Path(f"{self.log}.err").read_text(errors="replace"), time.monotonic() - self.started, timed_out)
        if "Traceback" in done.stdout or "Traceback" in done.stderr:
            self.scen.problem(TRACE, _tail(done.stderr or done.stdout))
        return done


def _memory_limit(mb: int) -> Callable[[], None]:
    """Cap the command's heap (RLIMIT_DATA): a reader that would fill memory from an unbounded or
    forged source fails (MemoryError) instead of taking the machine the campaign shares."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (mb << 20, mb << 20))
    return limit


def _tail(text: str, n: int = 3) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-n:])[-300:]


# ------------------------------------------------------------------ scenarios

@dataclass
class Scenario:
    family: str
    name: str
    body: Callable[[Scenario], None]
    quick: bool = False
    allow_code: bool = False
    dir: Path = None
    env: dict = None
    commands: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    n_cmd: int = 0
    opt_in_code: bool = False
    seconds: float = 0.0

    @property
    def marker(self) -> Path:
        return self.dir / "PWNED"

    def problem(self, cls: str, why: str) -> None:
        self.problems.append((cls, why))

    def start(self, *args: str, timeout: float = 90.0, limit_mb: int | None = None,
              prog: list[str] | None = None) -> Running:
        return Running(self, [str(a) for a in args], timeout, limit_mb, prog)

    def cli(self, *args: str, timeout: float = 90.0, limit_mb: int | None = None,
            prog: list[str] | None = None) -> Done:
        return self.start(*args, timeout=timeout, limit_mb=limit_mb, prog=prog).wait()

    def one_line(self, done: Done, what: str) -> None:
        """A refusal must say why (a line on stderr); exit 0 means ``what`` was accepted."""
        self.refused(done, what)
        if done.rc not in (0, None) and not done.stderr.strip() and "Traceback" not in done.stdout:
            self.problem(SILENT, f"refused {what} without a word (exit {done.rc}, empty stderr)")

    def refused(self, done: Done, what: str) -> None:
        """``done`` must be a refusal: exit 0 means the bad input was accepted."""
        if done.rc == 0:
            self.problem(SILENT, f"accepted {what} (exit 0)")

    def same_results(self, done: Done, out: Path, ref: dict[str, bytes], what: str = "") -> None:
        """Exit 0 means ``out`` must hold exactly the reference bytes."""
        if done.rc == 0:
            got = results(out)
            if got != ref:
                diff = sorted(set(got) ^ set(ref)) or [k for k in ref if got.get(k) != ref[k]]
                self.problem(SILENT, f"exit 0 but results differ from the reference{what}: {', '.join(diff[:4])}")

    def kept(self, before: dict[str, bytes], out: Path) -> None:
        after = complete_runs(out)
        lost = [k for k, v in before.items() if after.get(k) != v]
        if lost:
            self.problem(LOST, f"complete run files gone or changed: {', '.join(lost[:4])}")


def results(out: Path) -> dict[str, bytes]:
    """Every run's trajectory and final strategy state (the timing file holds wall seconds)."""
    if not out.is_dir():
        return {}
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("seed=*"))
            if p.is_file() and (p.name.endswith(".strategy.npz")
                                or (p.name.endswith(".parquet") and not p.name.endswith(".timing.parquet")))}


def complete_runs(out: Path) -> dict[str, bytes]:
    """All files of every run whose manifest says complete."""
    found: dict[str, bytes] = {}
    if not out.is_dir():
        return found
    for m in out.rglob("seed=*.run.json"):
        try:
            manifest = json.loads(m.read_bytes())
        except ValueError:
            continue
        if isinstance(manifest, dict) and manifest.get("status") == "complete":
            stem = m.name.removesuffix(".run.json")
            for p in m.parent.glob(f"{stem}.*"):
                if p.is_file() and "journal" not in p.name:
                    found[str(p.relative_to(out))] = p.read_bytes()
    return found


def subset(ref: dict[str, bytes], strategy: str, seeds=(0,)) -> dict[str, bytes]:
    return {k: v for k, v in ref.items() if f"/{strategy}/" in f"/{k}" and any(f"seed={s}." in k for s in seeds)}


# ------------------------------------------------------------------ the campaign's shared state

class Campaign:
    def __init__(self, root: Path, rng: np.random.Generator, quick: bool):
        self.root, self.rng, self.quick = root, rng, quick
        self.data = root / "data"
        self.plugins = root / "plugins"
        self.refs: dict[str, dict[str, bytes]] = {}
        self.prepared: dict[str, Path] = {}
        self.seq = 0
        self.lock = threading.Lock()

    def env(self, tag: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "HARNESS_"))}
        path = [str(ROOT), str(ROOT / "tests"), str(self.plugins)]
        env.update(PYTHONPATH=os.pathsep.join(path + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])),
                   HARNESS_DATA=str(self.root / "no-default-data"), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   COLUMNS="200", **{TAG_VAR: tag})
        return env

    def new_dir(self, name: str) -> Path:
        with self.lock:
            self.seq += 1
            d = self.root / "s" / f"{self.seq:03d}-{name.replace('/', '_')[:40]}"
        d.mkdir(parents=True)
        return d

    def setup(self) -> None:
        dist = self.plugins / "fault_campaign_plugins-0.dist-info"
        dist.mkdir(parents=True)
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fault-campaign-plugins\nVersion: 0\n")
        (dist / "entry_points.txt").write_text(
            "[nas_harness.strategies]\n" + "".join(f"{k} = {v}\n" for k, v in STRATEGY_PLUGINS.items()))
        (self.plugins / "fault_campaign_strategies.py").write_text(PLUGIN_MODULE)
        boot = Scenario("setup", "setup", lambda s: None)
        boot.dir, boot.env = self.root, self.env("setup")
        done = boot.cli("data", "import", "nb201", "--embedded", "--data-dir", self.data)
        if done.rc != 0:
            raise SystemExit(f"setup failed: {done.stderr[-2000:]}")
        jobs = {"A": STUDY_A, "K": STUDY_K} if self.quick else {"A": STUDY_A, "K": STUDY_K, "K12": STUDY_K12}
        with ThreadPoolExecutor(3) as pool:
            futs = {k: pool.submit(boot.cli, "run", *study, "--executor", "serial", "--out", self.root / f"ref-{k}",
                                   "--data-dir", self.data, *QUIET, timeout=300) for k, study in jobs.items()}
            futs["j-slow"] = pool.submit(self.interrupted, "slow")
            futs["F"] = pool.submit(self.with_final, boot)
            if not self.quick:
                futs["j-slow_rea"] = pool.submit(self.interrupted, "slow_rea")
        for k, f in futs.items():
            done = f.result()
            if isinstance(done, Done) and done.rc != 0:
                raise SystemExit(f"setup run {k} failed: {done.stderr[-2000:]}")
        for k in jobs:
            self.refs[k] = results(self.root / f"ref-{k}")
        if boot.problems:
            raise SystemExit(f"setup failed: {boot.problems}")

    def with_final(self, boot: Scenario) -> Done:
        """``ref-F``: a 3-seed study (``STUDY_F``) and the final phase of ``FINAL_DONE``."""
        out = self.root / "ref-F"
        done = boot.cli("run", *STUDY_F, "--executor", "serial", "--out", out, "--data-dir", self.data, *QUIET,
                        timeout=300)
        if done.rc != 0:
            return done
        return boot.cli("final", "--results", out, "--strategies", FINAL_DONE, "--data-dir", self.data, timeout=300)

    def interrupted(self, strategy: str) -> Path:
        """A results folder holding one run of ``strategy`` killed mid-way (its journal, no manifest)."""
        out = self.root / f"journal-{strategy}"
        s = Scenario("setup", strategy, lambda s: None)
        s.dir, s.env = self.root, self.env(f"setup-{strategy}")
        journal = out / "nb201" / "cifar10-valid" / strategy / "seed=0.journal.jsonl"
        run = s.start("run", *journal_study(strategy), "--executor", "serial", "--out", out, "--data-dir", self.data,
                      *QUIET)
        while run.proc.poll() is None and not (journal.exists() and journal.read_bytes().count(b"\n") >= 9):
            time.sleep(0.005)
        run.signal(signal.SIGKILL)
        run.wait()
        if (out / "nb201" / "cifar10-valid" / strategy / "seed=0.run.json").exists():
            raise SystemExit(f"setup: the {strategy} run finished before it could be interrupted")
        self.prepared[strategy] = out
        return out


def journal_study(strategy: str) -> list[str]:
    study = ["--space", "nb201", "--strategies", strategy, "--seeds", "1", "--budget", "16"]
    if strategy == "slow_rea":
        study += ["--param", "slow_rea.population_size=4", "--param", "slow_rea.sample_size=2"]
    return study


# ------------------------------------------------------------------ hostile data files

class _Evil:
    """Unpickling runs ``touch <target>``: the file appearing means code ran."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.target))}",))


def evil_pickle(target: Path, wrap=None) -> bytes:
    payload = _Evil(target)
    return pickle.dumps(wrap(payload) if wrap else {"0" * 32: payload}, protocol=4)


def nb201_native(n: int = 40):
    """``n`` rows of the embedded NB201 table in the harness-native CSV layout."""
    import pandas as pd
    import pyarrow.parquet as pq

    df = pq.read_table(ROOT / "blackboxes" / "nb201" / "embedded" / "table.parquet").to_pandas()
    keep = ["index", "arch_str"] + [c for c in df.columns if c.startswith("cifar10-valid/")]
    return pd.DataFrame(df[keep].head(n)).reset_index(drop=True)


def csv_bytes(df) -> bytes:
    return df.to_csv(index=False).encode()


def mutated_csv(df, col: str, value, row: int = 3) -> bytes:
    df = df.copy()
    df[col] = df[col].astype(object)
    df.loc[row, col] = value
    return csv_bytes(df)


def _flip(data: bytes, rng: np.random.Generator, n: int = 1) -> bytes:
    b = bytearray(data)
    for i in rng.integers(0, len(b), n):
        b[i] ^= 1 << int(rng.integers(0, 8))
    return bytes(b)


def import_scenarios(c: Campaign) -> list[Scenario]:
    """Every importer fed corrupt, truncated or hostile files: ``must`` ones must be refused, ``fuzz``
    ones (random cuts and flips, which can leave a valid file) may be accepted; an accepted table
    must then pass ``data verify``. A refused import must keep the table already in the data dir."""
    import pandas as pd

    out: list[Scenario] = []
    rng = np.random.default_rng(c.rng.integers(1 << 32))

    def add(bench: str, name: str, filename: str, content, must: bool = True, quick: bool = False,
            extra: tuple = (), allow_code: bool = False):
        def body(s: Scenario) -> None:
            data = s.dir / "data"
            shutil.copytree(c.data, data)
            before = _tree(data)
            path = s.dir / filename
            if callable(content):
                content(s, path)
            else:
                path.write_bytes(content)
            done = s.cli("data", "import", bench, path, *extra, "--data-dir", data)
            if must:
                s.refused(done, f"a corrupt {bench} file ({name})")
            if done.rc != 0 and _tree(data) != before:
                s.problem(LOST, "a refused import changed the data dir's tables")
            if done.rc == 0:  # an accepted (partial, maybe cut) table: verify may flag it, never crash
                s.cli("data", "verify", "--data-dir", data)
        out.append(Scenario("import/" + bench, name, body, quick=quick, allow_code=allow_code))

    # NB201, harness-native CSV cut from the embedded table
    native = nb201_native()
    val = "cifar10-valid/val@200"
    good = csv_bytes(native)
    add("nb201", "empty csv", "t.csv", b"")
    add("nb201", "header-only csv", "t.csv", good.split(b"\n")[0] + b"\n", quick=True)
    add("nb201", "binary garbage .csv", "t.csv", rng.bytes(4000))
    for label, v in (("NaN accuracy", "nan"), ("negative accuracy", -5.0), ("accuracy > 100", 150.0),
                     ("infinite accuracy", "inf"), ("text accuracy", "abc"), ("huge accuracy", 4e307)):
        add("nb201", f"native csv, {label}", "t.csv", mutated_csv(native, val, v), must=label != "NaN accuracy")
    frac = native.copy()
    frac[[c_ for c_ in frac.columns if "/val@" in c_ or "/test@" in c_]] /= 100.0
    add("nb201", "native csv, fractions for percent", "t.csv", csv_bytes(frac))
    time_col = next(c_ for c_ in native.columns if "train_s" in c_)
    add("nb201", "native csv, negative training time", "t.csv", mutated_csv(native, time_col, -3.0))
    add("nb201", "native csv, infinite training time", "t.csv", mutated_csv(native, time_col, "inf"))
    add("nb201", "native csv, bad arch string", "t.csv", mutated_csv(native, "arch_str", "|nope~0|"))
    add("nb201", "native csv, index out of range", "t.csv", mutated_csv(native, "index", 99999))
    add("nb201", "native csv, duplicate cell", "t.csv", csv_bytes(pd.concat([native, native.head(1)])))
    add("nb201", "native csv cut mid-row", "t.csv", good[: good.rfind(b",", 0, len(good) // 2)], must=False)
    for k in range(2 if c.quick else 5):
        add("nb201", f"native csv, random cut {k}", "t.csv", good[: int(rng.integers(1, len(good)))], must=False)
        add("nb201", f"native csv, {k + 1} random byte flips", "t.csv", _flip(good, rng, k + 1), must=False)
    add("nb201", "JSON named .csv", "t.csv", json.dumps({"a": 1}).encode())
    buf = io.BytesIO()
    native.to_parquet(buf)
    add("nb201", "parquet truncated", "t.parquet", buf.getvalue()[: len(buf.getvalue()) // 2])
    add("nb201", "parquet footer flipped", "t.parquet", buf.getvalue()[:-12] + b"\xff" * 4 + buf.getvalue()[-8:])
    for fname in ("t.csv", "t.pkl", "nb201_cifar10_full_training.pickle", "t.parquet", "t.tar", "no_suffix"):
        add("nb201", f"hostile pickle named {fname}", fname,
            lambda s, p: p.write_bytes(evil_pickle(s.marker)), quick=fname == "t.pkl")
    add("nb201", "hostile pickle in a NASLib-shaped dict", "nb201_cifar10_full_training.pickle",
        lambda s, p: p.write_bytes(evil_pickle(s.marker, wrap=lambda x: {"cifar10": {"(|nor_conv_3x3~0|+|)": x}})))

    def nats_dir(s: Scenario, p: Path) -> None:
        p.mkdir()
        (p / "meta.pickle.pbz2").write_bytes(bz2.compress(evil_pickle(s.marker, wrap=lambda x: {"meta_archs": x})))

    def nats_tar(s: Scenario, p: Path) -> None:
        d = s.dir / "NATS-tss-v1_0-3ffb9-simple"
        nats_dir(s, d)
        with tarfile.open(p, "w") as tar:
            tar.add(d, arcname=d.name)

    add("nb201", "NATS archive dir, hostile meta, no opt-in", "NATS-tss-v1_0-3ffb9-simple", nats_dir)
    add("nb201", "NATS archive .tar, hostile meta, no opt-in", "NATS-tss-v1_0-3ffb9-simple.tar", nats_tar, quick=True)
    add("nb201", "NATS archive dir, hostile meta, --allow-pickle (opt-in)", "NATS-tss-v1_0-3ffb9-simple", nats_dir,
        must=False, extra=("--allow-pickle",), allow_code=True)
    add("nb201", "path does not exist", "missing.csv", lambda s, p: None)
    add("nb201", "directory that is no archive", "folder.csv", lambda s, p: p.mkdir())

    # NB201 published layouts (the real downloads, cut to 40 rows)
    if SHARED.is_dir():
        for fname, col in (("nas_landscapes_cifar10-valid_avg.csv", "valid-accuracy"),
                           ("nb201_val_acc_200ep_naslib.csv", "cifar10-valid_val_acc_200ep"),
                           ("nb201_12ep_mini_nasbench201.csv", "cifar10-val")):
            df = pd.read_csv(SHARED / "nb201" / fname, nrows=40)
            for label, v in (("NaN", "nan"), ("negative", -1.0), ("> 100", 101.5), ("inf", "inf")):
                add("nb201", f"{fname}: {label} in {col}", fname, mutated_csv(df, col, v), quick=label == "> 100")
            fr = df.copy()
            fr[col] = fr[col] / 100.0
            add("nb201", f"{fname}: fractions in {col}", fname, csv_bytes(fr))
            add("nb201", f"{fname}: header only", fname, csv_bytes(df.head(0)))

    # NB101
    if SHARED.is_dir():
        stats = json.loads((SHARED / "nb101" / "nb101_30_full_stats.json").read_text())

        def first_run(key: str, value) -> bytes:
            st = json.loads(json.dumps(stats))
            runs = next(iter(st.values()))["computed"]
            runs[max(runs, key=int)][0][key] = value
            return json.dumps(st).encode()  # NaN / Infinity as Python's json writes them

        good_json = json.dumps(stats).encode()
        for key, v in (("final_validation_accuracy", float("nan")), ("final_test_accuracy", float("inf")),
                       ("final_test_accuracy", 93.1), ("final_validation_accuracy", -0.2),
                       ("final_training_time", -2.0), ("final_training_time", float("inf"))):
            add("nb101", f"json, {key} = {v}", "stats.json", first_run(key, v), quick=v == 93.1)
        add("nb101", "json truncated", "stats.json", good_json[: len(good_json) // 2])
        add("nb101", "json of the wrong shape (a list)", "stats.json", b"[1, 2, 3]")
        add("nb101", "json of the wrong shape (null)", "stats.json", b"null")
        add("nb101", "json, a cell of the wrong shape", "stats.json",
            json.dumps({next(iter(stats)): [1, 2]}).encode())
        add("nb101", "json, hash does not match spec", "stats.json",
            json.dumps({"f" * 32: next(iter(stats.values()))}).encode())
        add("nb101", "empty json", "stats.json", b"")
        pkl = (SHARED / "nb101" / "naslib_nb101_dummy_30.pkl").read_bytes()
        add("nb101", "NASLib pickle truncated", "nasbench_only108.pkl", pkl[: len(pkl) // 2])
        add("nb101", "NASLib pickle, 3 byte flips", "nasbench_only108.pkl", _flip(pkl, rng, 3), must=False)
        csv = pd.read_csv(SHARED / "nb101" / "nb101_20k_val_acc_by_hash.csv", nrows=40,
                          dtype={"adjacency_pruned": str, "operations_pruned": str})
        for col, v in (("val_acc_108ep", "nan"), ("val_acc_108ep", 1.5), ("val_acc_12ep", -0.1),
                       ("final_training_time_108ep", -1.0), ("final_training_time_108ep", "inf"),
                       ("trainable_parameters", 1.5), ("val_acc_36ep", "abc")):
            add("nb101", f"csv, {col} = {v}", "t.csv", mutated_csv(csv, col, v))
        add("nb101", "csv, header only", "t.csv", csv_bytes(csv.head(0)), quick=True)
        add("nb101", "csv, duplicate hash", "t.csv", csv_bytes(pd.concat([csv, csv.head(1)])))
        gcsv = csv_bytes(csv)
        add("nb101", "csv cut at random", "t.csv", gcsv[: int(rng.integers(1, len(gcsv)))], must=False)
    for fname in ("nasbench_only108.pkl", "stats.json", "stats.csv", "t.tfrecord", "no_suffix", "t.pickle"):
        add("nb101", f"hostile pickle named {fname}", fname, lambda s, p: p.write_bytes(evil_pickle(s.marker)),
            quick=fname == "stats.json")
    add("nb101", "tfrecord of garbage", "t.tfrecord", rng.bytes(3000))
    add("nb101", "tfrecord, empty", "t.tfrecord", b"")
    add("nb101", "unknown name and content", "notes.txt", b"hello\n")
    add("nb101", "zip holding a hostile pickle", "nasbench_only108.pkl",
        lambda s, p: _zip(p, "nasbench_only108.pkl", evil_pickle(s.marker)))

    # ENAS (D-VAE final_structures6)
    if SHARED.is_dir():
        lines = (SHARED / "enas_macro" / "dvae_final_structures6.txt").read_text().splitlines()[:40]
        good_txt = ("\n".join(lines) + "\n").encode()

        def with_line(i: int, line: str) -> bytes:
            ls = list(lines)
            ls[i] = line
            return ("\n".join(ls) + "\n").encode()

        arch = lines[2][: lines[2].rfind("]") + 1]
        for label, acc in (("accuracy 1.5", "1.5"), ("accuracy -0.1", "-0.1"), ("accuracy nan", "nan"),
                           ("accuracy inf", "inf"), ("accuracy text", "abc"), ("percent accuracy", "73.2")):
            add("enas6", label, "final_structures6.txt", with_line(2, f"{arch}, {acc}"), quick=label == "accuracy nan")
        add("enas6", "no comma", "final_structures6.txt", with_line(2, arch + " 0.7"))
        add("enas6", "bad architecture", "final_structures6.txt", with_line(2, "[[9], [1, 1]], 0.7"))
        add("enas6", "same architecture, two scores", "final_structures6.txt",
            with_line(3, lines[2][: lines[2].rfind(",")] + ", 0.1"))
        add("enas6", "empty file", "final_structures6.txt", b"")
        add("enas6", "binary garbage", "final_structures6.txt", rng.bytes(2000))
        add("enas6", "cut at random", "final_structures6.txt", good_txt[: int(rng.integers(1, len(good_txt)))],
            must=False)
        add("enas6", "hostile pickle named .txt", "final_structures6.txt",
            lambda s, p: p.write_bytes(evil_pickle(s.marker)))
    add("nope", "unknown benchmark", "t.csv", good)
    return out


def _zip(path: Path, name: str, data: bytes) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(name, data)


def _tree(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


# ------------------------------------------------------------------ the imported table tampered with

def table_scenarios(c: Campaign) -> list[Scenario]:
    """The table a run reads is changed after import: every run must refuse (or give the reference
    bytes, which it cannot from a changed table), and ``data verify`` must say so."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(c.rng.integers(1 << 32))
    out: list[Scenario] = []
    ref = lambda: subset(c.refs["A"], "random", (0,))

    def add(name: str, tamper: Callable[[Path], None], quick: bool = False, warm: bool = False,
            must: bool = True):
        """``must``: the table's bytes or checksum changed, so run and verify must both refuse; else
        (a file deleted: the embedded table is installed again; a manifest field nobody reads) a
        run may go on, and then gives the reference bytes."""
        def body(s: Scenario) -> None:
            data = s.dir / "data"
            shutil.copytree(c.data, data)
            run = ["run", "--space", "nb201", "--strategies", "random", "--seeds", "1", "--budget", "40",
                   "--executor", "serial", *QUIET, "--data-dir", data]
            if warm:  # a verified run first: the cached verdict must not hide the change
                s.cli(*run, "--out", s.dir / "warm")
            tamper(data / "nb201")
            done = s.cli(*run, "--out", s.dir / "out")
            s.same_results(done, s.dir / "out", ref())
            verify = s.cli("data", "verify", "--data-dir", data)
            if must:
                s.refused(done, f"a tampered table ({name})")
                s.refused(verify, f"a tampered table in `data verify` ({name})")
        out.append(Scenario("table", name, body, quick=quick))

    def flip_at(frac: float, keep_mtime: bool = False):
        def tamper(d: Path) -> None:
            p = d / "table.parquet"
            st = p.stat()
            b = bytearray(p.read_bytes())
            b[int(frac * (len(b) - 1))] ^= 0x10
            p.write_bytes(bytes(b))
            if keep_mtime:
                os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
        return tamper

    for k, frac in enumerate(rng.uniform(0, 1, 3 if c.quick else 8)):
        add(f"table.parquet byte flip at {frac:.3f}", flip_at(float(frac)), quick=k == 0)
    add("byte flip after a verified run, mtime restored", flip_at(0.5, keep_mtime=True), warm=True, quick=True)

    def plus_one(d: Path) -> None:
        t = pq.read_table(d / "table.parquet")
        col = "cifar10-valid/val@200"
        i = t.schema.get_field_index(col)
        t = t.set_column(i, col, pa.compute.add(t.column(col), 1.0))
        pq.write_table(t, d / "table.parquet")

    add("+1 on the validation column, manifest kept", plus_one)
    add("truncated table", lambda d: (d / "table.parquet").write_bytes((d / "table.parquet").read_bytes()[:5000]))
    add("empty table file", lambda d: (d / "table.parquet").write_bytes(b""))
    add("table deleted", lambda d: (d / "table.parquet").unlink(), must=False)
    add("table is a folder", lambda d: ((d / "table.parquet").unlink(), (d / "table.parquet").mkdir()))

    def manifest(edit: Callable[[dict], object]):
        def tamper(d: Path) -> None:
            m = json.loads((d / "manifest.json").read_text())
            new = edit(m)
            (d / "manifest.json").write_text(json.dumps(m if new is None else new))
        return tamper

    add("manifest deleted", lambda d: (d / "manifest.json").unlink(), must=False)
    add("manifest truncated", lambda d: (d / "manifest.json").write_bytes((d / "manifest.json").read_bytes()[:100]))
    add("manifest is a JSON list", manifest(lambda m: [m]), quick=True)
    add("manifest is null", lambda d: (d / "manifest.json").write_text("null"))
    add("manifest sha256 changed", manifest(lambda m: m.update(table_sha256="0" * 64)))
    add("manifest sha256 is a number", manifest(lambda m: m.update(table_sha256=5)))
    add("manifest n_rows changed", manifest(lambda m: m.update(n_rows=12)), must=False)
    add("manifest columns of the wrong shape", manifest(lambda m: m.update(columns="x", seeds=[1])), must=False)
    return out


# ------------------------------------------------------------------ results on disk corrupted

def results_scenarios(c: Campaign) -> list[Scenario]:
    """Journals of interrupted runs and files of complete runs edited, cut or of the wrong shape:
    the same command again must refuse in one line or give exactly the reference bytes, and keep
    the runs it did not touch; ``report`` on the corrupt folder must not crash."""
    rng = np.random.default_rng(c.rng.integers(1 << 32))
    out: list[Scenario] = []

    def journal_case(strategy: str, name: str, edit: Callable[[list[bytes]], list[bytes]], quick: bool = False):
        def body(s: Scenario) -> None:
            res = s.dir / "out"
            shutil.copytree(c.prepared[strategy], res)
            j = res / "nb201" / "cifar10-valid" / strategy / "seed=0.journal.jsonl"
            j.write_bytes(b"".join(edit(j.read_bytes().splitlines(keepends=True))))
            done = s.cli("run", *journal_study(strategy), "--executor", "serial", "--out", res, "--data-dir", c.data,
                         *QUIET)
            s.same_results(done, res, subset(c.refs["K"], strategy))
        out.append(Scenario(f"journal/{strategy}", name, body, quick=quick))

    def edit_field(i: int, key: str, value):
        def edit(lines: list[bytes]) -> list[bytes]:
            obj = json.loads(lines[i])
            _set_first(obj, key, value)
            lines[i] = (json.dumps(obj, separators=(",", ":")) + "\n").encode()
            return lines
        return edit

    for strategy in ("slow", "slow_rea"):
        journal_case(strategy, "untouched (plain resume)", lambda ls: ls)
        journal_case(strategy, "val_acc edited in line 3", edit_field(3, "val_acc", 99.5), quick=strategy == "slow")
        journal_case(strategy, "val_acc edited in the last line", edit_field(-1, "val_acc", 99.5))
        journal_case(strategy, "val_acc edited, checksum recomputed", _resigned(3, 99.5), quick=True)
        journal_case(strategy, "last line torn", lambda ls: ls[:-1] + [ls[-1][: len(ls[-1]) // 2]])
        journal_case(strategy, "garbage line appended", lambda ls: ls + [b"\x00\xffgarbage\n"])
        journal_case(strategy, "a middle line deleted", lambda ls: ls[:3] + ls[4:])
        journal_case(strategy, "two lines swapped", lambda ls: ls[:2] + [ls[3], ls[2]] + ls[4:])
        journal_case(strategy, "a line duplicated", lambda ls: ls[:3] + [ls[3]] + ls[3:])
        for label, repl in (("a JSON list", b"[1, 2]\n"), ("null", b"null\n"), ("a string", b'"x"\n'),
                            ("an empty object", b"{}\n")):
            journal_case(strategy, f"line 2 replaced by {label}", lambda ls, r=repl: ls[:2] + [r] + ls[3:])
        journal_case(strategy, "header line replaced by a list", lambda ls: [b"[]\n"] + ls[1:])
        journal_case(strategy, "binary garbage journal", lambda ls: [rng.bytes(500)])
        journal_case(strategy, "empty journal", lambda ls: [])
        cut = int(rng.integers(1, 400))
        journal_case(strategy, f"journal cut at byte {cut}", lambda ls, n=cut: [b"".join(ls)[:n]])

    ref_a = c.refs.get("A")
    run_a = ["run", *STUDY_A, "--executor", "serial", *QUIET]
    victim = "nb201/cifar10-valid/rea/seed=1"

    def complete_case(name: str, tamper: Callable[[Path], None], quick: bool = False, report: bool = False):
        def body(s: Scenario) -> None:
            res = s.dir / "out"
            shutil.copytree(c.root / "ref-A", res)
            before = {k: v for k, v in complete_runs(res).items() if not k.startswith(victim)}
            tamper(res / victim)
            if report:  # a report of corrupt results (a few: a report costs seconds)
                s.cli("report", "--results", res, "--out", s.dir / "report")
            done = s.cli(*run_a, "--out", res, "--data-dir", c.data)
            s.same_results(done, res, ref_a)
            s.kept(before, res)
        out.append(Scenario("complete-run", name, body, quick=quick))

    def f(stem: Path, suffix: str) -> Path:
        return stem.parent / (stem.name + suffix)

    def manifest_edit(edit: Callable[[dict], object]):
        def tamper(stem: Path) -> None:
            m = json.loads(f(stem, ".run.json").read_text())
            new = edit(m)
            f(stem, ".run.json").write_text(json.dumps(m if new is None else new))
        return tamper

    complete_case("run.json truncated", lambda st: f(st, ".run.json").write_bytes(f(st, ".run.json").read_bytes()[:80]), report=True)
    complete_case("run.json is a list", manifest_edit(lambda m: [m]), quick=True)
    complete_case("run.json is null", lambda st: f(st, ".run.json").write_text("null"), report=True)
    complete_case("run.json is {}", lambda st: f(st, ".run.json").write_text("{}"))
    complete_case("run.json deleted", lambda st: f(st, ".run.json").unlink(), report=True)
    complete_case("run.json status failed", manifest_edit(lambda m: m.update(status="failed")))
    complete_case("run.json trajectory_sha256 changed", manifest_edit(lambda m: m.update(trajectory_sha256="0" * 64)))
    complete_case("run.json n_rows changed", manifest_edit(lambda m: m.update(n_rows=3)))
    complete_case("run.json config of the wrong shape", manifest_edit(lambda m: m.update(config=[1, 2])), report=True)
    complete_case("run.json code fingerprint of the wrong shape", manifest_edit(lambda m: m.update(code="x")))
    complete_case("run.json byte flip", lambda st: f(st, ".run.json").write_bytes(
        _flip(f(st, ".run.json").read_bytes(), rng, 1)))
    complete_case("trajectory byte flip", lambda st: f(st, ".parquet").write_bytes(
        _flip(f(st, ".parquet").read_bytes(), rng, 1)), quick=True, report=True)
    complete_case("trajectory truncated", lambda st: f(st, ".parquet").write_bytes(f(st, ".parquet").read_bytes()[:300]), report=True)
    complete_case("trajectory empty", lambda st: f(st, ".parquet").write_bytes(b""))
    complete_case("trajectory deleted", lambda st: f(st, ".parquet").unlink())
    complete_case("trajectory of another seed", lambda st: shutil.copy(st.parent / "seed=0.parquet", f(st, ".parquet")))
    complete_case("strategy state truncated", lambda st: f(st, ".strategy.npz").write_bytes(
        f(st, ".strategy.npz").read_bytes()[:100]))
    complete_case("strategy state deleted", lambda st: f(st, ".strategy.npz").unlink())
    complete_case("timing file deleted", lambda st: f(st, ".timing.parquet").unlink())
    complete_case("trajectory is a folder", lambda st: (f(st, ".parquet").unlink(), f(st, ".parquet").mkdir()), report=True)

    def absurd_case(name: str, values: Callable[[np.ndarray], np.ndarray], quick: bool = False):
        """Absurd values with consistent checksums: ``report`` must still give one line or a report."""
        def body(s: Scenario) -> None:
            import pyarrow as pa
            import pyarrow.parquet as pq

            res = s.dir / "out"
            shutil.copytree(c.root / "ref-A", res)
            for p in res.rglob("seed=*.parquet"):
                if "." in p.name.removesuffix(".parquet"):  # seed=K.<kind>.parquet: timing, dynamics...
                    continue
                t = pq.read_table(p)
                for col in t.column_names:
                    if "acc" in col and pa.types.is_floating(t.schema.field(col).type):
                        arr = t.column(col).to_numpy(zero_copy_only=False).astype(np.float64)
                        t = t.set_column(t.schema.get_field_index(col), t.schema.field(col),
                                         pa.array(values(arr), type=t.schema.field(col).type))
                pq.write_table(t, p)
                m = p.parent / p.name.replace(".parquet", ".run.json")
                man = json.loads(m.read_text())
                man["trajectory_sha256"] = hashlib.sha256(p.read_bytes()).hexdigest()
                m.write_text(json.dumps(_resealed(man)))
            s.cli("report", "--results", res, "--out", s.dir / "report")
        out.append(Scenario("report", name, body, quick=quick))

    absurd_case("NaN accuracies", lambda a: np.full_like(a, np.nan), quick=True)
    absurd_case("infinite accuracies", lambda a: np.where(np.arange(len(a)) % 2 == 0, np.inf, -np.inf))
    absurd_case("accuracies of 4e307", lambda a: np.full_like(a, 4e307))
    absurd_case("all accuracies equal", lambda a: np.full_like(a, 50.0))

    def report_case(name: str, make: Callable[[Path], None]):
        def body(s: Scenario) -> None:
            res = s.dir / "res"
            make(res)
            s.cli("report", "--results", res, "--out", s.dir / "report")
        out.append(Scenario("report", name, body))

    report_case("empty results folder", lambda r: r.mkdir())
    report_case("only a journal", lambda r: shutil.copytree(c.prepared["slow"], r))
    report_case("junk files where runs go", lambda r: (
        (r / "nb201" / "cifar10-valid" / "random").mkdir(parents=True),
        (r / "nb201" / "cifar10-valid" / "random" / "seed=0.parquet").write_bytes(b"junk"),
        (r / "nb201" / "cifar10-valid" / "random" / "seed=0.run.json").write_text("[]")))
    return out


def _set_first(obj, key: str, value) -> bool:
    """Set the first ``key`` found anywhere in a JSON object (journal lines nest their results)."""
    if isinstance(obj, dict):
        if key in obj:
            obj[key] = value
            return True
        return any(_set_first(v, key, value) for v in obj.values())
    if isinstance(obj, list):
        return any(_set_first(v, key, value) for v in obj)
    return False


def _resigned(i: int, value: float):
    """Edit ``val_acc`` in line ``i`` and recompute the line's checksum (``harness.journal``): only
    looking the value up again in the table can catch it."""
    def edit(lines: list[bytes]) -> list[bytes]:
        obj = json.loads(lines[i])
        obj.pop("sha256", None)
        _set_first(obj, "val_acc", value)
        body = json.dumps(obj, separators=(",", ":"))
        lines[i] = (body[:-1] + f',"sha256":"{hashlib.sha256(body.encode()).hexdigest()}"}}').encode() + b"\n"
        return lines
    return edit


# ------------------------------------------------------------------ interrupts

def kill_scenarios(c: Campaign) -> list[Scenario]:
    """SIGKILL / SIGINT / SIGTERM of the main process at a random point (serial and process
    executors), and SIGKILL of a pool worker: the command ends in time without a traceback or
    survivors, runs complete before the signal are kept, and the same command again gives exactly
    the reference bytes."""
    rng = np.random.default_rng(c.rng.integers(1 << 32))
    out: list[Scenario] = []

    def add(executor: str, sig: int, at: float | None, quick: bool = False, worker: bool = False):
        extra = ["--executor", executor] + (["--workers", "2"] if executor == "process" else [])

        def body(s: Scenario) -> None:
            res = s.dir / "out"
            cmd = ["run", *STUDY_K, *extra, "--out", res, "--data-dir", c.data, *QUIET]
            run = s.start(*cmd)
            if worker:
                deadline = time.monotonic() + 60
                while run.proc.poll() is None and time.monotonic() < deadline:
                    workers = [p for p in children(run.proc.pid) if b"spawn_main" in read_proc(p, "cmdline")]
                    if workers and list(res.rglob("*.journal.jsonl")):
                        os.kill(workers[0], signal.SIGKILL)
                        break
                    time.sleep(0.02)
            else:
                time.sleep(at)
                run.signal(sig)
            first = run.wait(timeout=30)
            if not first.timed_out:
                _no_survivors(s)
            if first.rc == 0:
                s.same_results(first, res, c.refs["K"])
            before = complete_runs(res)
            again = s.cli(*cmd)
            if again.rc != 0:
                s.problem(SILENT, f"the same command after the interrupt failed: {_tail(again.stderr)}")
            s.same_results(again, res, c.refs["K"])
            s.kept(before, res)
            leftovers = [p.name for p in res.rglob("*") if p.name.endswith(".tmp") or "journal" in p.name]
            if again.rc == 0 and leftovers:
                s.problem(SILENT, f"files of unfinished runs left after a complete study: {leftovers[:3]}")
        what = "worker SIGKILL" if worker else f"{signal.Signals(sig).name} at {at:.2f} s"
        out.append(Scenario(f"kill/{executor}", what, body, quick=quick))

    for executor, n in (("serial", 2), ("process", 3)):
        for sig in (signal.SIGKILL, signal.SIGINT, signal.SIGTERM):
            for k, at in enumerate(rng.uniform(0.8, 7.0, n)):
                add(executor, sig, float(at), quick=k == 0 and sig == signal.SIGINT and executor == "process")
    for k in range(2):
        add("process", signal.SIGKILL, None, worker=True)
    return out


def _no_survivors(s: Scenario) -> None:
    deadline = time.monotonic() + 5
    while (left := tagged(s.env[TAG_VAR])) and time.monotonic() < deadline:
        time.sleep(0.1)
    if left:
        s.problem(HANG, f"{len(left)} process(es) outlived the command: {[read_proc(p, 'cmdline')[:60] for p in left]}")
        for p in left:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


# ------------------------------------------------------------------ concurrent writers

def concurrency_scenarios(c: Campaign) -> list[Scenario]:
    """A second command into the same ``--out`` while the first runs: every command that exits 0
    must find all of its runs, each exactly its reference bytes; no run mixes the two."""
    rng = np.random.default_rng(c.rng.integers(1 << 32))
    out: list[Scenario] = []

    def add(name: str, second: list[str], ref2: str, first_exec: str = "process", quick: bool = False):
        delay = float(rng.uniform(0.5, 3.0))

        def body(s: Scenario) -> None:
            res = s.dir / "out"
            ex = ["--executor", first_exec] + (["--workers", "2"] if first_exec == "process" else [])
            a = s.start("run", *STUDY_K, *ex, "--out", res, "--data-dir", c.data, *QUIET)
            time.sleep(delay)
            b = s.start(*[str(x).replace("{out}", str(res)).replace("{data}", str(c.data)) for x in second])
            db, da = b.wait(), a.wait()
            _no_survivors(s)
            got = results(res)
            for done, ref in ((da, c.refs["K"]), (db, c.refs.get(ref2))):
                if done.rc == 0 and ref is not None:
                    bad = [k for k, v in ref.items() if got.get(k) != v]
                    if bad:
                        s.problem(LOST, f"`{shlex.join(map(str, done.argv[3:6]))}…` exited 0 but its runs are "
                                        f"gone or changed: {bad[:3]}")
            allowed = {}
            for ref in (c.refs["K"], c.refs.get("K12", {})):
                for k, v in ref.items():
                    allowed.setdefault(k, set()).add(v)
            mixed = [k for k, v in got.items() if v not in allowed.get(k, set())]
            if mixed:
                s.problem(SILENT, f"result files that match neither command: {mixed[:3]}")
        out.append(Scenario("concurrent", f"{name} after {delay:.1f} s", body, quick=quick))

    other = ["run", *STUDY_K12, "--executor", "serial", "--out", "{out}", "--data-dir", "{data}", *QUIET]
    same = ["run", *STUDY_K, "--executor", "serial", "--out", "{out}", "--data-dir", "{data}", *QUIET]
    for k in range(1 if c.quick else 3):
        add("another budget into the same --out", other, "K12")
    add("another budget, first serial", other, "K12", first_exec="serial")
    add("the same command twice", same, "K", quick=True)
    add("the same command twice, both serial", same, "K", first_exec="serial")
    add("the same command with --force", same + ["--force"], "K")
    add("report while running", ["report", "--results", "{out}", "--out", "{out}-report"], "")
    return out


# ------------------------------------------------------------------ misbehaving strategies

def strategy_scenarios(c: Campaign) -> list[Scenario]:
    """Strategies that hang, call ``sys.exit(0)`` or propose objects: never exit 0 with nothing done,
    never hang with ``--strategy-timeout``, stop in seconds on Ctrl-C, and a timed-out run is never
    recorded as complete."""
    out: list[Scenario] = []

    def base(strategy: str, executor: str, seeds: int = 1) -> list[str]:
        ex = ["--executor", executor] + (["--workers", "2"] if executor == "process" else [])
        return ["run", "--space", "nb201", "--strategies", strategy, "--seeds", str(seeds), "--budget", "10", *ex,
                *QUIET]

    def timeout_case(executor: str, quick: bool = False):
        def body(s: Scenario) -> None:
            res = s.dir / "out"
            cmd = [*base("hangs", executor, 2), "--strategy-timeout", "1", "--out", res, "--data-dir", c.data]
            for attempt in range(2):  # a timed-out run is failed, never cached: the rerun times out again
                done = s.cli(*cmd, timeout=40)
                _no_survivors(s)
                s.refused(done, "a run whose strategy timed out")
                if complete_runs(res):
                    s.problem(SILENT, f"a timed-out run was recorded as complete (attempt {attempt + 1})")
        out.append(Scenario("strategy", f"hanging strategy, --strategy-timeout 1, {executor}", body, quick=quick))

    def interrupt_case(executor: str, sig: int, quick: bool = False):
        def body(s: Scenario) -> None:
            run = s.start(*base("hangs", executor, 2), "--out", s.dir / "out", "--data-dir", c.data)
            time.sleep(4.0)
            run.signal(sig)
            done = run.wait(timeout=15)
            _no_survivors(s)
            s.refused(done, "an interrupted run")
        out.append(Scenario("strategy", f"hanging strategy, {signal.Signals(sig).name}, {executor}", body, quick=quick))

    def bad_case(strategy: str, executor: str, quick: bool = False):
        def body(s: Scenario) -> None:
            res = s.dir / "out"
            done = s.cli(*base(strategy, executor), "--out", res, "--data-dir", c.data)
            _no_survivors(s)
            s.refused(done, f"a study whose strategy {'exits' if strategy == 'exits' else 'proposes objects'}")
            if strategy == "exits" and complete_runs(res):
                s.problem(SILENT, "a run whose strategy exited was recorded as complete")
            if any(re.search(rb"0x[0-9a-fA-F]{6,}", v) for v in results(res).values()):  # all invalid, recorded
                s.problem(SILENT, "a memory address landed in the results (not byte-identical across runs)")
        out.append(Scenario("strategy", f"{strategy}, {executor}", body, quick=quick))

    def harmless_timeout(s: Scenario) -> None:
        res = s.dir / "out"
        done = s.cli("run", *STUDY_K, "--executor", "serial", "--strategy-timeout", "5", "--out", res,
                     "--data-dir", c.data, *QUIET)
        if done.rc != 0:
            s.problem(SILENT, f"--strategy-timeout broke a healthy study: {_tail(done.stderr)}")
        s.same_results(done, res, c.refs["K"])

    for ex in ("serial", "process"):
        timeout_case(ex, quick=ex == "serial")
        interrupt_case(ex, signal.SIGINT, quick=ex == "serial")
        interrupt_case(ex, signal.SIGTERM)
        bad_case("exits", ex, quick=ex == "serial")
        bad_case("objects", ex)
    out.append(Scenario("strategy", "healthy study under --strategy-timeout 5", harmless_timeout))
    return out


# ------------------------------------------------------------------ bad arguments and paths

BAD_RUN_ARGS = [
    ["--budget", "0"], ["--budget", "-5"], ["--budget", "abc"], ["--budget", "3000000000"], ["--budget", "1e3"],
    ["--seeds", "0"], ["--seeds", "-1"], ["--first-seed", "-1"], ["--dedup", "unique", "--budget", "20000"],
    ["--dedup", "bogus"], ["--out", ""], ["--space", "nope"], ["--dataset", "nope"], ["--strategies", "nope"],
    ["--strategies", ""], ["--strategies", ","], ["--fidelity", "7"], ["--fidelity", "-1"], ["--batch-size", "0"],
    ["--batch-size", "-2"], ["--workers", "0"], ["--workers", "-1"], ["--executor", "nope"],
    ["--param", "garbage"], ["--param", "rea.nope=1"], ["--param", "nope.x=1"],
    ["--param", "rea.population_size=-3"], ["--param", "rea.population_size=abc"], ["--time-budget", "-1"],
    ["--time-budget", "nan"], ["--time-budget", "0"], ["--max-failures", "-1"], ["--strategy-timeout", "0"],
    ["--strategy-timeout", "-1"], ["--strategy-timeout", "nan"], ["--bench-seed", "99"], ["--bench-seed", "-7"],
    ["--protocol", "nope"], ["--root-seed", "-1"], ["--root-seed", "abc"], ["--bogus-flag"],
    ["--report", ""], ["--trace-every", "-1"], ["--trace-every", "abc"], ["--trace-every", "1.5"],
]
BAD_OTHER_ARGS = [
    ["report", "--results", "{out}", "--space", "nope", "--out", "{dir}/r"],
    ["report", "--results", "{out}", "--dataset", "nope", "--out", "{dir}/r"],
    ["report", "--results", "{out}", "--out", ""],
    ["data", "import", "nope", "{dir}/x.csv"], ["data", "import", "nb201", "--data-dir", "{dir}/d"],
    ["data", "import", "nb101", "--embedded", "--data-dir", "{dir}/d"],
    ["data", "fetch", "nope", "--data-dir", "{dir}/d"], ["data", "verify", "nope", "--data-dir", "{data}"],
    ["data", "fetch", "nb101", "--url", "http://127.0.0.1:9/nasbench_only108.tfrecord", "--data-dir", "{dir}/d"],
    ["list", "nope"], ["nope"], [],
]


def arg_scenarios(c: Campaign) -> list[Scenario]:
    """Invalid arguments: refused (exit != 0) in one line, with the complete runs in --out untouched."""
    out: list[Scenario] = []

    def add(argv: list[str], quick: bool = False):
        def body(s: Scenario) -> None:
            res = s.dir / "out"
            shutil.copytree(c.root / "ref-A", res)
            before = complete_runs(res)
            (s.dir / "x.csv").write_bytes(csv_bytes(nb201_native(5)))
            args = [a.replace("{out}", str(res)).replace("{dir}", str(s.dir)).replace("{data}", str(c.data))
                    for a in argv]
            s.refused(s.cli(*args, timeout=60), f"invalid arguments {shlex.join(argv)}")
            s.kept(before, res)
        out.append(Scenario("args", shlex.join(argv) or "(none)", body, quick=quick))

    for k, bad in enumerate(BAD_RUN_ARGS):
        argv = ["run", *STUDY_A, "--executor", "serial", "--out", "{out}", "--data-dir", "{data}", *QUIET]
        for flag in bad[::2]:
            if flag in argv and flag != "--param":
                i = argv.index(flag)
                del argv[i:i + 2]
        add(argv + bad, quick=k in (0, 10))
    for bad in BAD_OTHER_ARGS:
        add(bad)
    return out


def path_scenarios(c: Campaign) -> list[Scenario]:
    """Paths that cannot work: /proc, the read-only /sys, a file where a folder goes and the
    reverse, a missing data dir. One line (exit != 0), never a traceback."""
    out: list[Scenario] = []

    def add(name: str, make: Callable[[Path], list[str]], must: bool = True, quick: bool = False):
        def body(s: Scenario) -> None:
            argv = [str(a) for a in make(s.dir)]
            done = s.cli(*argv, timeout=60)
            if must:
                s.refused(done, f"an impossible path ({name})")
        out.append(Scenario("paths", name, body, quick=quick))

    def file(d: Path, name: str = "a-file") -> Path:
        (d / name).write_text("not a folder\n")
        return d / name

    def holding_file(d: Path, name: str) -> Path:
        d.mkdir()
        file(d, name)
        return d

    def run(out, data=None, *extra):
        return ["run", "--space", "nb201", "--strategies", "random", "--seeds", "1", "--budget", "10", "--executor",
                "serial", *QUIET, "--out", out, "--data-dir", data or c.data, *extra]

    def seeded_dir_as(d: Path, name: str) -> Path:
        runs = d / "out" / "nb201" / "cifar10-valid" / "random"
        runs.mkdir(parents=True)
        (runs / name).mkdir()
        return d / "out"

    add("run --out under /proc", lambda d: run("/proc/fault-campaign/out"), quick=True)
    add("run --out on read-only /sys", lambda d: run("/sys/fault-campaign-out"))
    add("run --out is a file", lambda d: run(file(d)))
    add("run --out below a file", lambda d: run(file(d) / "sub"))
    add("run --out /dev/null", lambda d: run("/dev/null"))
    add("run --out whose nb201 folder is a file", lambda d: run(holding_file(d / "o", "nb201")))
    add("run with a trajectory path that is a folder", lambda d: run(seeded_dir_as(d, "seed=0.parquet")))
    add("run with a journal path that is a folder", lambda d: run(seeded_dir_as(d, "seed=0.journal.jsonl")))
    add("run with a lock path that is a folder", lambda d: run(seeded_dir_as(d, ".seed=0.lock")))
    add("run --data-dir is a file", lambda d: run(d / "out", file(d)), quick=True)
    add("run --data-dir missing (the embedded table is installed)", lambda d: run(d / "out", d / "missing"),
        must=False)
    add("run --data-dir under /proc", lambda d: run(d / "out", "/proc/fault-campaign"))
    add("import --data-dir is a file", lambda d: ["data", "import", "nb201", "--embedded", "--data-dir", file(d)])
    add("import --data-dir on read-only /sys", lambda d: ["data", "import", "nb201", "--embedded", "--data-dir",
                                                          "/sys/fault-campaign"])
    add("import --data-dir under /proc", lambda d: ["data", "import", "nb201", "--embedded", "--data-dir",
                                                    "/proc/fault-campaign"])
    add("import into a data dir whose nb201 is a file",
        lambda d: ["data", "import", "nb201", "--embedded", "--data-dir", holding_file(d / "dd", "nb201")])
    add("verify --data-dir is a file", lambda d: ["data", "verify", "--data-dir", file(d)])
    add("data list --data-dir is a file", lambda d: ["data", "list", "--data-dir", file(d)])
    add("report --out under /proc", lambda d: ["report", "--results", c.root / "ref-A", "--out", "/proc/fc/r"])
    add("report --out on read-only /sys", lambda d: ["report", "--results", c.root / "ref-A", "--out", "/sys/fc-r"])
    add("report --out is a file", lambda d: ["report", "--results", c.root / "ref-A", "--out", file(d)])
    add("report --results is a file", lambda d: ["report", "--results", file(d), "--out", d / "r"])
    add("report --results missing", lambda d: ["report", "--results", d / "missing", "--out", d / "r"])
    add("run --report on read-only /sys", lambda d: run(d / "out", None, "--report", "/sys/fc-report"), must=False)
    return out


# ------------------------------------------------------------------ the final phase's inputs attacked

RUNS_F = ("nb201", "cifar10-valid")


def _files(out: Path) -> dict[str, bytes]:
    """Every run and final-phase file under ``out`` (not locks, journals or temporary files)."""
    if not out.is_dir():
        return {}
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("seed=*"))
            if p.is_file() and not p.is_symlink() and "journal" not in p.name and not p.name.endswith(".tmp")}


SEAL = "manifest_sha256"


def _resealed(m):
    """``m`` with its seal recomputed (``harness.storage``: sha256 of the canonical JSON without the
    seal) -- the seal is no secret, so a forger can do the same."""
    if isinstance(m, dict) and SEAL in m:
        body = {k: v for k, v in m.items() if k != SEAL}
        m = dict(body, **{SEAL: hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
                          .hexdigest()})
    return m


def _fix_sha(stem: Path, suffix: str, key: str) -> None:
    """Recompute the manifest checksum ``key`` of ``<stem><suffix>`` and the manifest's seal (an
    edit only a reader of the values can catch)."""
    man = stem.parent / (stem.name + (".final.json" if suffix.startswith(".final") else ".run.json"))
    m = json.loads(man.read_text())
    m[key] = hashlib.sha256((stem.parent / (stem.name + suffix)).read_bytes()).hexdigest()
    man.write_text(json.dumps(_resealed(m), indent=2))


def _edit_parquet(path: Path, col: str, value: float, row: int = 0, shift: bool = False) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = pq.read_table(path)
    arr = t.column(col).to_numpy(zero_copy_only=False).astype(np.float64)
    arr[row] = arr[row] + value if shift else value
    t = t.set_column(t.schema.get_field_index(col), t.schema.field(col), pa.array(arr, type=t.schema.field(col).type))
    pq.write_table(t, path)


def _deep_json(depth: int, kind: str = "list") -> str:
    return ('{"a":' * depth + "1" + "}" * depth) if kind == "dict" else "[" * depth + "1" + "]" * depth


def _state_npz(tree: str, arrays: dict | None = None) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, __tree__=np.frombuffer(tree.encode(), dtype=np.uint8), **(arrays or {}))
    return buf.getvalue()


_BOMB: dict[str, bytes] = {}


def _bomb_npz(gib: int = 4) -> bytes:
    """A state file of a few MB whose ``__tree__`` entry inflates to ``gib`` GiB (a deflate bomb)."""
    if gib not in _BOMB:
        import zlib

        hdr = io.BytesIO()
        np.lib.format.write_array_header_1_0(hdr, {"descr": "|u1", "fortran_order": False, "shape": (gib << 30,)})
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        zero = bytes(1 << 24)
        body = [comp.compress(hdr.getvalue())] + [comp.compress(zero) for _ in range(gib << 6)] + [comp.flush()]
        data = b"".join(body)
        size, crc = len(hdr.getvalue()) + (gib << 30), 0
        crc = zlib.crc32(hdr.getvalue())
        for _ in range(gib << 6):
            crc = zlib.crc32(zero, crc)
        name = b"__tree__.npy"
        import struct

        # ZIP64: the inflated size exceeds 4 GiB
        extra = struct.pack("<HHQQ", 1, 16, size, len(data))
        local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 8, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(name),
                            len(extra)) + name + extra
        cextra = struct.pack("<HHQQQ", 1, 24, size, len(data), 0)
        central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 8, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                              len(name), len(cextra), 0, 0, 0, 0, 0xFFFFFFFF) + name + cextra
        cd_off = len(local) + len(data)
        z64 = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, 1, 1, len(central), cd_off)
        loc64 = struct.pack("<IIQI", 0x07064B50, 0, cd_off + len(central), 1)
        end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), 0xFFFFFFFF, 0)
        _BOMB[gib] = local + data + central + z64 + loc64 + end
    return _BOMB[gib]


def final_scenarios(c: Campaign) -> list[Scenario]:
    """After ``run`` + ``final`` (``ref-F``), the files ``final`` reads are edited, copied where they
    do not belong or forged, and plugin strategies' ``recommend`` raises, returns None or sleeps:
    ``final`` must refuse in one line (exit != 0, no traceback, no hang) and keep every file that
    was already written. The victim's own final files are deleted first (its final phase is still to
    do), so a finished final phase cannot hide the edit; ``--force`` variants redo every run."""
    out: list[Scenario] = []

    def add(name: str, tamper: Callable[[Path, Scenario], None], victim: str = "rea", seed: int = 0,
            force: bool = False, extra: tuple = (), says: str | None = None, never: str | None = None,
            quick: bool = False, limit_mb: int | None = 3072, timeout: float = 60.0, also: str = ""):
        """``also``: a strategy folder the tamper creates (``final`` is asked for the final-phase
        strategies of ``ref-F``, the victim and this one, never the other misbehaving plugins)."""
        strategies = ",".join(dict.fromkeys([*FINAL_DONE.split(","), victim, *filter(None, [also])]))

        def body(s: Scenario) -> None:
            res = s.dir / "out"
            shutil.copytree(c.root / "ref-F", res, symlinks=True)
            d = res.joinpath(*RUNS_F, victim)
            for suffix in (".final.json", ".final.parquet"):
                (d / f"seed={seed}{suffix}").unlink(missing_ok=True)
            tamper(d / f"seed={seed}", s)
            before = _files(res)
            done = s.cli("final", "--results", res, "--strategies", strategies, "--data-dir", c.data,
                         *(["--force"] if force else []), *extra,
                         timeout=timeout, limit_mb=limit_mb)
            _no_survivors(s)
            if "unrecognized arguments" in done.stderr:  # the refusal is of the flag, not of the attack
                s.problem(HANG if "--strategy-timeout" in extra else SILENT,
                          f"final does not know {' '.join(map(str, extra))}: nothing bounds the attack")
            s.one_line(done, f"a final phase on {name}")
            said = done.stdout + done.stderr
            if done.rc not in (0, None) and says and not re.search(says, said, re.I):
                s.problem(SILENT, f"the refusal does not say {says!r}: {_tail(done.stderr)}")
            if never and re.search(never, said, re.I):
                s.problem(SILENT, f"the message gives a wrong reason ({never!r}): {_tail(said)}")
            after = _files(res)
            wall = (".final.json",) if force else ()  # a redone final phase records new wall times
            lost = [k for k, v in before.items() if not k.endswith(wall) and after.get(k) != v]
            if lost:
                s.problem(LOST, f"files written before the command are gone or changed: {', '.join(lost[:4])}")
        out.append(Scenario("final", name + (" (--force)" if force else ""), body, quick=quick))

    def manifest(edit: Callable[[dict], object], reseal: bool = True):
        def tamper(stem: Path, s: Scenario) -> None:
            p = stem.parent / (stem.name + ".run.json")
            m = json.loads(p.read_text())
            new = edit(m)
            new = m if new is None else new
            p.write_text(json.dumps(_resealed(new) if reseal else new, indent=2))
        return tamper

    def cfg(key: str, value=None, delete: bool = False):
        def edit(m: dict) -> None:
            if delete:
                m["config"].pop(key, None)
            else:
                m["config"][key] = value
        return edit

    edits = [
        ("manifest config.strategy rea -> random", manifest(cfg("strategy", "random")), "rea"),
        ("manifest config.strategy learner -> random", manifest(cfg("strategy", "random")), "learner"),
        ("manifest config deleted", manifest(lambda m: m.pop("config")), "rea"),
        ("manifest config is a list", manifest(lambda m: m.update(config=[1, 2])), "rea"),
        ("manifest config.seed deleted", manifest(cfg("seed", delete=True)), "rea"),
        ("manifest config.seed 0 -> 1", manifest(cfg("seed", 1)), "rea"),
        ("manifest config.root_seed is text", manifest(cfg("root_seed", "abc")), "rea"),
        ("manifest config.dataset -> cifar100", manifest(cfg("dataset", "cifar100")), "rea"),
        ("manifest config.space -> nb101", manifest(cfg("space", "nb101")), "rea"),
        ("manifest unknown strategy_params key", manifest(cfg("strategy_params", {"bogus": 1})), "rea"),
        ("manifest strategy_params of the wrong type", manifest(cfg("strategy_params", {"population_size": "x"})),
         "rea"),
        ("manifest strategy_params is a list", manifest(cfg("strategy_params", [1])), "rea"),
        ("manifest fidelity \"abc\"", manifest(lambda m: m.update(fidelity="abc")), "rea"),
        ("manifest fidelity 7 (not offered)", manifest(lambda m: m.update(fidelity=7)), "rea"),
        ("manifest fidelity deleted", manifest(lambda m: m.pop("fidelity")), "rea"),
        ("manifest report of the wrong shape", manifest(lambda m: m.update(report="x")), "rea"),
        ("manifest report.val names another dataset", manifest(lambda m: m["report"].update(val=["cifar100", 200])),
         "rea"),
        ("manifest run_id deleted", manifest(lambda m: m.pop("run_id")), "rea"),
        ("manifest strategy_state_sha256 deleted", manifest(lambda m: m.pop("strategy_state_sha256")), "learner"),
    ]
    for k, (name, tamper, victim) in enumerate(edits):
        add(f"{name}", tamper, victim=victim, quick=k == 0)
    for name, tamper, victim in edits[:3]:
        add(name, tamper, victim=victim, force=True)
    add("manifest config.strategy rea -> random, seal not fixed", manifest(cfg("strategy", "random"), reseal=False))
    add("manifest seal deleted", manifest(lambda m: m.pop(SEAL, None), reseal=False))

    def copied(dest: Callable[[Path], Path], finals: bool = False, seed_to: int | None = None):
        """The victim's run files copied to ``dest(run folder)``, (with its final files)."""
        def tamper(stem: Path, s: Scenario) -> None:
            src = c.root.joinpath("ref-F", *RUNS_F, stem.parent.name)
            target = dest(stem.parent)
            target.mkdir(parents=True, exist_ok=True)
            for p in src.glob(f"{stem.name}.*"):
                if finals or ".final." not in p.name:
                    name = p.name if seed_to is None else p.name.replace(stem.name, f"seed={seed_to}", 1)
                    shutil.copy(p, target / name)
        return tamper

    add("run folder copied under nb201/cifar100/rea", copied(lambda d: d.parents[1] / "cifar100" / "rea"))
    add("run folder copied under nb201/cifar100/rea, final files too",
        copied(lambda d: d.parents[1] / "cifar100" / "rea", finals=True))
    add("run folder copied under nb201/ImageNet16-120/rea", copied(lambda d: d.parents[1] / "ImageNet16-120" / "rea"))
    add("run folder copied under nb101/cifar10/rea", copied(lambda d: d.parents[2] / "nb101" / "cifar10" / "rea"))
    add("run folder copied under strategy name random2/", copied(lambda d: d.parent / "random2"), victim="random",
        also="random2")
    add("run folder copied under strategy name random2/, final files too",
        copied(lambda d: d.parent / "random2", finals=True), victim="random", also="random2")
    add("rea run copied under strategy name random/ as seed=7", copied(lambda d: d.parent / "random", seed_to=7))
    add("seed=0.* copied to seed=7.*", copied(lambda d: d, seed_to=7))
    add("seed=0.* copied to seed=7.*, final files too", copied(lambda d: d, finals=True, seed_to=7))
    add("learner seed=0.* copied to seed=7.*", copied(lambda d: d, seed_to=7), victim="learner")

    def state_from(other: int):
        def tamper(stem: Path, s: Scenario) -> None:
            shutil.copy(stem.parent / f"seed={other}.strategy.npz", stem.parent / (stem.name + ".strategy.npz"))
            _fix_sha(stem, ".strategy.npz", "strategy_state_sha256")
        return tamper

    add("seed 1's strategy.npz over seed 0's, manifest sha fixed", state_from(1))
    add("learner: seed 1's strategy.npz over seed 0's, manifest sha fixed", state_from(1), victim="learner")
    add("learner: seed 1's strategy.npz over seed 0's, manifest sha fixed", state_from(1), victim="learner",
        force=True)

    def state_gone(stem: Path, s: Scenario) -> None:
        (stem.parent / (stem.name + ".strategy.npz")).unlink()

    for victim in ("rea", "learner"):
        add(f"{victim}: strategy.npz deleted", state_gone, victim=victim, says="missing",
            never="made before states were kept")
    add("learner: strategy.npz deleted", state_gone, victim="learner", force=True, says="missing",
        never="made before states were kept")

    def state_is(make: Callable[[Path], bytes]):
        def tamper(stem: Path, s: Scenario) -> None:
            p = stem.parent / (stem.name + ".strategy.npz")
            p.write_bytes(make(p))
            _fix_sha(stem, ".strategy.npz", "strategy_state_sha256")
        return tamper

    def tree_of(p: Path) -> dict:
        with np.load(p) as z:
            return json.loads(z["__tree__"].tobytes())

    def retyped(path: tuple, node) -> Callable[[Path], bytes]:
        def make(p: Path) -> bytes:
            tree = tree_of(p)
            at = tree
            for key in path[:-1]:
                at = at[key]
            at[path[-1]] = node
            return _state_npz(json.dumps(tree))
        return make

    for victim in ("rea", "learner"):
        add(f"{victim}: state file holding a 100,000-deep JSON list",
            state_is(lambda p: _state_npz(_deep_json(100_000))), victim=victim)
        add(f"{victim}: state file holding a 100,000-deep state tree",
            state_is(lambda p: _state_npz('{"d":{"x":' * 100_000 + '{"v":1}' + "}}" * 100_000)), victim=victim)
    S = ("d", "state", "d")  # the strategy's state_dict inside the state file (storage.pack_state: run id, seed, state)
    wrong = [("rng is a string", S + ("rng",), {"v": "PCG64"}),
             ("rng state is a list", S + ("rng",), {"l": [{"i": "1"}]}),
             ("an int node holding text", S + ("rng", "d", "state", "d", "state"), {"i": "not a number"}),
             ("an unknown node kind", S + ("rng",), {"zz": 1}),
             ("an array reference that is not there", S + ("rng",), {"a": 99}),
             ("a float node holding garbage", S + ("rng",), {"f": "0xzz"}),
             ("its run id edited", ("d", "run_id"), {"v": "0000000000000000"}),
             ("its run id deleted", ("d",), None)]
    for label, path, node in wrong:
        add(f"rea: state with {label}", state_is(retyped(path, node) if node is not None else lambda p: _state_npz(
            json.dumps({"d": {k: v for k, v in tree_of(p)["d"].items() if k != "run_id"}}))))
    add("learner: state 'proposed' is an int", state_is(retyped(S + ("proposed",), {"i": "5"})), victim="learner")
    add("learner: state 'proposed' holds numbers", state_is(retyped(S + ("proposed",), {"l": [{"i": "5"}]})),
        victim="learner")
    add("learner: state 'proposed' holds bad architecture strings",
        state_is(retyped(S + ("proposed",), {"l": [{"v": "|nope~0|"}]})), victim="learner")

    def without_proposed(p: Path) -> bytes:
        tree = tree_of(p)
        del tree["d"]["state"]["d"]["proposed"]
        return _state_npz(json.dumps(tree))

    add("learner: state 'proposed' deleted", state_is(without_proposed), victim="learner")
    add("state tree is a JSON list", state_is(lambda p: _state_npz("[1, 2]")))
    add("state tree is not JSON", state_is(lambda p: _state_npz("{garb")))
    add("state file is not a zip", state_is(lambda p: b"PK\x03\x04 not really a zip"))
    add("forged npz whose entry claims 10**12 bytes", state_is(lambda p: _forged_header(10 ** 12)), limit_mb=2048)
    add("forged npz inflating to 4 GiB (deflate bomb)", state_is(lambda p: _bomb_npz(4)), limit_mb=2048)
    add("learner: forged npz inflating to 4 GiB (deflate bomb)", state_is(lambda p: _bomb_npz(4)), victim="learner",
        limit_mb=2048)

    nothing = lambda stem, s: None  # noqa: E731 - the victim's strategy misbehaves, its files are intact
    add("plugin recommend() raises", nothing, victim="rec_raises")
    add("plugin recommend() returns None", nothing, victim="rec_none")
    add("plugin recommend() sleeps forever, final --strategy-timeout 2", nothing, victim="rec_sleeps",
        extra=("--strategy-timeout", "2"), timeout=40)
    add("plugin recommend() sleeps forever, final --strategy-timeout 2 --workers 2", nothing, victim="rec_sleeps",
        extra=("--strategy-timeout", "2", "--workers", "2"), timeout=40)

    def traj(col: str, value: float, shift: bool = False):
        def tamper(stem: Path, s: Scenario) -> None:
            _edit_parquet(stem.parent / (stem.name + ".parquet"), col, value, row=3, shift=shift)
            _fix_sha(stem, ".parquet", "trajectory_sha256")
        return tamper

    add("val_acc=1000 in the trajectory, checksums fixed", traj("val_acc", 1000.0))
    add("learner: val_acc=1000 in the trajectory, checksums fixed", traj("val_acc", 1000.0), victim="learner")
    add("val_acc=-5 in the trajectory, checksums fixed", traj("val_acc", -5.0))
    add("val_acc=NaN in the trajectory of an ok row, checksums fixed", traj("val_acc", float("nan")))
    add("val_acc +0.5 in the trajectory (plausible, wrong), checksums fixed", traj("val_acc", 0.5, shift=True))
    add("cost_s=-1 in the trajectory, checksums fixed", traj("cost_s", -1.0))
    add("val_acc=1000 in the trajectory, checksums fixed", traj("val_acc", 1000.0), force=True)
    return out


def _same_rows(s: Scenario, res: Path, ref: Path, stem: str) -> None:
    """The run's trajectory equals the reference's but for ``run_id``, and so does its state file (which
    names its run: ``storage.pack_state``)."""
    import pyarrow.parquet as pq

    got, want = res / f"{stem}.parquet", ref / f"{stem}.parquet"
    if not got.is_file():
        s.problem(SILENT, f"exit 0 but {stem}.parquet is missing")
        return
    drop = lambda t: t.drop_columns([c_ for c_ in ("run_id",) if c_ in t.column_names])  # noqa: E731
    if not drop(pq.read_table(got)).equals(drop(pq.read_table(want))):
        s.problem(SILENT, f"exit 0 but {stem}.parquet differs from the reference (run_id aside)")
    from harness import statefile

    state = lambda p: statefile.dumps(statefile.load(p)["state"])  # noqa: E731 - the strategy's own state
    if state(res / f"{stem}.strategy.npz") != state(ref / f"{stem}.strategy.npz"):
        s.problem(SILENT, f"exit 0 but {stem}.strategy.npz differs from the reference (run id aside)")


def _forged_header(n: int) -> bytes:
    """A state file whose ``__tree__`` array header claims ``n`` bytes it does not hold."""
    hdr = io.BytesIO()
    np.lib.format.write_array_header_1_0(hdr, {"descr": "|u1", "fortran_order": False, "shape": (n,)})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("__tree__.npy", hdr.getvalue() + b"{}")
    return buf.getvalue()


# ------------------------------------------------------------------ report on damaged final-phase files

def report_final_scenarios(c: Campaign) -> list[Scenario]:
    """``report`` after run + final on the 3-seed ``ref-F`` with one run's final-phase files (or
    its trajectory) damaged: exit 0 with the damaged run named (a skipped line) and no unmarked
    average over the surviving seeds in the final tables, or a one-line refusal. A silent average
    (fewer samples than the study holds, no † and no line naming the run) is a silent wrong result."""
    out: list[Scenario] = []
    samples = 30  # 3 seeds x 10 proposals (the tabular protocol)

    def add(name: str, tamper: Callable[[Path, Scenario], None], victim: str = "rea", seed: int = 0,
            quick: bool = False, limit_mb: int | None = 3072):
        def body(s: Scenario) -> None:
            res = s.dir / "out"
            shutil.copytree(c.root / "ref-F", res, symlinks=True)
            tamper(res.joinpath(*RUNS_F, victim) / f"seed={seed}", s)
            before = _files(res)
            done = s.cli("report", "--results", res, "--out", s.dir / "report", timeout=120, limit_mb=limit_mb)
            _no_survivors(s)
            if _files(res) != before:
                s.problem(LOST, "report changed the results folder")
            if done.rc != 0:
                if not done.timed_out and not done.stderr.strip() and "Traceback" not in done.stdout:
                    s.problem(SILENT, f"report refused without a word (exit {done.rc})")
                return
            said = [ln for ln in (done.stdout + done.stderr).splitlines()
                    if re.search(rf"(?<![\w]){victim}(?![\w])", ln) and re.search(rf"skip|seed[= ]?{seed}\b", ln, re.I)]
            if not said:
                s.problem(SILENT, f"exit 0 and no line names the damaged {victim} seed={seed}")
            for csv in sorted((s.dir / "report").rglob("final_table1.csv")):
                import pandas as pd

                t = pd.read_csv(csv, keep_default_na=False)
                rows = t[(t["strategy"] == victim) & t["column"].astype(str).str.contains("Final")]
                md = csv.with_suffix(".md").read_text() if csv.with_suffix(".md").is_file() else ""
                marked = any(ln.startswith(f"| {victim} ") and "†" in ln for ln in md.splitlines())
                short = [r for r in rows.itertuples() if str(r.n).isdigit() and 0 < int(r.n) < samples]
                if short and not marked and not any(str(r.flag).strip() for r in short):
                    r = short[0]
                    s.problem(SILENT, f"{csv.name}: {victim} {r.column} averaged over {r.n} of {samples} samples "
                                      f"(std {r.std}) without †")
                vals = [float(r.mean) for r in rows.itertuples() if r.mean not in ("", None)]
                if any(v > 100 or v < 0 for v in vals):
                    s.problem(SILENT, f"{csv.name}: {victim} shows an impossible accuracy {max(vals):g}")
        out.append(Scenario("report-final", f"{victim} seed={seed}: {name}", body, quick=quick))

    def f(stem: Path, suffix: str) -> Path:
        return stem.parent / (stem.name + suffix)

    def cut(suffix: str, keep: float = 0.5):
        def tamper(st: Path, s: Scenario) -> None:
            b = f(st, suffix).read_bytes()
            f(st, suffix).write_bytes(b[: int(len(b) * keep)])
        return tamper

    def flip(suffix: str):
        def tamper(st: Path, s: Scenario) -> None:
            b = bytearray(f(st, suffix).read_bytes())
            b[len(b) // 2] ^= 0x08
            f(st, suffix).write_bytes(bytes(b))
        return tamper

    def write(suffix: str, text: str):
        return lambda st, s: f(st, suffix).write_text(text)

    def final_status(value: str):
        def tamper(st: Path, s: Scenario) -> None:
            m = json.loads(f(st, ".final.json").read_text())
            m["status"] = value
            f(st, ".final.json").write_text(json.dumps(m))
        return tamper

    def exact(text: str | None, parquet_cut: bool = False):
        """An exact-distribution summary beside the run (only learned generators write one; here a
        forged one), garbled, or a cut exact table."""
        def tamper(st: Path, s: Scenario) -> None:
            if parquet_cut:
                import pandas as pd

                buf = io.BytesIO()
                pd.DataFrame({"arch": ["x"] * 50, "log_p": np.linspace(-9, -1, 50), "val_acc": 90.0,
                              "test_acc": 89.0}).to_parquet(buf)
                f(st, ".exact.parquet").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
            if text is not None:
                f(st, ".exact.json").write_text(text)
        return tamper

    def value(suffix: str, col: str, v: float, key: str):
        def tamper(st: Path, s: Scenario) -> None:
            _edit_parquet(f(st, suffix), col, v, row=2)
            _fix_sha(st, suffix, key)
        return tamper

    def dev_zero(st: Path, s: Scenario) -> None:
        f(st, ".parquet").unlink()
        f(st, ".parquet").symlink_to("/dev/zero")

    cases = [
        ("seed=0.final.parquet truncated", cut(".final.parquet")),
        ("seed=0.final.parquet cut to 8 bytes", cut(".final.parquet", 0.001)),
        ("seed=0.final.parquet bit-flipped", flip(".final.parquet")),
        ("seed=0.final.parquet deleted", lambda st, s: f(st, ".final.parquet").unlink()),
        ("seed=0.final.json deleted", lambda st, s: f(st, ".final.json").unlink()),
        ("seed=0.final.json status running", final_status("running")),
        ("seed=0.final.json status failed", final_status("failed")),
        ("seed=0.final.json holding {garb", write(".final.json", "{garb")),
        ("seed=0.final.json holding [1,2]", write(".final.json", "[1,2]")),
        ("seed=0.final.json holding null", write(".final.json", "null")),
        ("seed=0.exact.json garbled", exact("{\x00garbled")),
        ("seed=0.exact.json holding [1,2]", exact("[1,2]")),
        ("seed=0.exact.parquet truncated", exact(None, parquet_cut=True)),
        ("trajectory symlinked to /dev/zero", dev_zero),
        ("val_acc=1000 in the trajectory, checksums fixed", value(".parquet", "val_acc", 1000.0, "trajectory_sha256")),
        ("val_acc=1000 in final.parquet, checksums fixed",
         value(".final.parquet", "val_acc", 1000.0, "parquet_sha256")),
        ("test_acc=-3 in final.parquet, checksums fixed", value(".final.parquet", "test_acc", -3.0, "parquet_sha256")),
    ]
    for k, (name, tamper) in enumerate(cases):
        add(name.replace("seed=0", "seed=K"), tamper, quick=k == 0)
    for name, tamper in cases[:10] + cases[13:16]:
        add(name.replace("seed=0", "seed=K"), tamper, victim="learner", seed=2)

    def only_seed0(s: Scenario) -> None:
        """``final --seeds 0`` on a 3-seed study: the report's final tables hold seed 0 only."""
        res = s.dir / "out"
        shutil.copytree(c.root / "ref-F", res, symlinks=True)
        for p in res.rglob("seed=*.final.*"):
            p.unlink()
        s.cli("final", "--results", res, "--strategies", FINAL_DONE, "--seeds", "0", "--data-dir", c.data)
        done = s.cli("report", "--results", res, "--out", s.dir / "report", timeout=120)
        if done.rc != 0:
            return
        for csv in sorted((s.dir / "report").rglob("final_table1.csv")):
            import pandas as pd

            t = pd.read_csv(csv, keep_default_na=False)
            md = csv.with_suffix(".md").read_text() if csv.with_suffix(".md").is_file() else ""
            for r in t[t["column"].astype(str).str.contains("Final")].itertuples():
                marked = "†" in md or str(r.flag).strip()
                if str(r.n).isdigit() and 0 < int(r.n) < samples and not marked:
                    s.problem(SILENT, f"{csv.name}: {r.strategy} {r.column} averaged over seed 0 only "
                                      f"({r.n} samples, std {r.std}) without †")
                    return
        if not any(re.search(r"final", ln, re.I) and re.search(r"skip|missing|no final|without|lack", ln, re.I)
                   for ln in (done.stdout + done.stderr).splitlines()):
            s.problem(SILENT, "exit 0: no line says seeds 1 and 2 have no final phase")
    out.append(Scenario("report-final", "final --seeds 0 only on a 3-seed study", only_seed0))
    return out


# ------------------------------------------------------------------ strategy names that are paths

ESCAPES = ["../../../escaped", "../../../../../escaped", "..", "x/../../../../escaped", "sub/dir", ".",
           "seed=0.parquet", "-rf"]


def name_scenarios(c: Campaign) -> list[Scenario]:
    """A plugin strategy registered under a name that is a path (``../../../escaped``, an absolute
    path...), by entry point or by ``STRATEGIES.register`` in a driver script: refused, and nothing
    written outside ``--out``."""
    out: list[Scenario] = []

    def add(name: str, how: str, cmd: str = "run", quick: bool = False):
        def body(s: Scenario) -> None:
            strategy = name.replace("{abs}", str(s.dir / "abs-escaped"))
            res = s.dir / "a" / "b" / "c" / "out"
            res.parent.mkdir(parents=True)
            plug = s.dir / "plug"
            plug.mkdir()
            if how == "entry point":
                dist = plug / "fc_names-0.dist-info"
                dist.mkdir()
                (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fc-names\nVersion: 0\n")
                (dist / "entry_points.txt").write_text(
                    f"[nas_harness.strategies]\n{strategy} = strategies.random_search:RandomSearch\n")
                s.env = {**s.env, "PYTHONPATH": os.pathsep.join([str(plug), s.env["PYTHONPATH"]])}
            else:
                (plug / "driver.py").write_text(  # a refused registration is a refusal, said in one line
                    "import sys\nfrom harness.errors import HarnessError\nfrom strategies.registry import STRATEGIES\n"
                    f"try:\n    STRATEGIES.register({strategy!r}, 'strategies.random_search:RandomSearch')\n"
                    "except HarnessError as exc:\n    sys.exit(f'error: {exc}')\n"
                    "from harness.cli import main\nsys.exit(main(sys.argv[1:]))\n")
            before = {p for p in s.dir.rglob("*")}
            argv = ["run", "--space", "nb201", "--strategies", strategy, "--seeds", "1", "--budget", "10",
                    "--executor", "serial", *QUIET, "--out", res, "--data-dir", c.data]
            if cmd == "run+report":
                argv += ["--report", s.dir / "a" / "rep"]
            done = s.cli(*argv, prog=None if how == "entry point" else [str(plug / "driver.py")])
            s.one_line(done, f"a strategy named {strategy!r}")
            outside = [p for p in s.dir.rglob("*") if p not in before and not p.is_relative_to(res)
                       and not p.name.startswith("cmd") and not p.is_relative_to(s.dir / "a" / "rep")]
            if Path(strategy).is_absolute() and Path(strategy).exists():
                outside.append(Path(strategy))
            if outside:
                s.problem(SILENT, f"wrote outside --out: {[str(p.relative_to(s.dir)) for p in outside[:3]]}")
        out.append(Scenario("names", f"{name} via {how}" + (f" ({cmd})" if cmd != "run" else ""), body, quick=quick))

    for k, name in enumerate(ESCAPES[:1] + ["{abs}"] + ESCAPES[1:]):
        add(name, "entry point", quick=k == 0)
        if k < 5:
            add(name, "STRATEGIES.register")
    add("../../../escaped", "entry point", cmd="run+report")
    add("{abs}", "STRATEGIES.register", cmd="run+report")
    return out


# ------------------------------------------------------------------ strategies that end the harness

def exit_scenarios(c: Campaign) -> list[Scenario]:
    """``os._exit(0)`` in a strategy's setup / ask / tell / state_dict: the command never exits 0
    with nothing done, and no run is recorded as complete."""
    out: list[Scenario] = []

    def add(strategy: str, executor: str, quick: bool = False):
        def body(s: Scenario) -> None:
            res = s.dir / "out"
            ex = ["--executor", executor] + (["--workers", "2"] if executor == "process" else [])
            done = s.cli("run", "--space", "nb201", "--strategies", strategy, "--seeds", "2", "--budget", "10", *ex,
                         *QUIET, "--out", res, "--data-dir", c.data, timeout=60)
            _no_survivors(s)
            s.one_line(done, f"a study whose strategy calls os._exit(0) ({strategy})")
            if complete_runs(res):
                s.problem(SILENT, "a run whose strategy exited was recorded as complete")
        out.append(Scenario("exit", f"os._exit(0) in {strategy.removeprefix('exit_')}(), {executor}", body,
                            quick=quick))

    for strategy in ("exit_ask", "exit_setup", "exit_tell", "exit_state"):
        for executor in ("serial", "process"):
            add(strategy, executor, quick=strategy == "exit_ask" and executor == "serial")

    def final_exit(s: Scenario) -> None:
        res = s.dir / "out"
        shutil.copytree(c.root / "ref-F", res, symlinks=True)
        done = s.cli("final", "--results", res, "--strategies", "rec_exits", "--data-dir", c.data, timeout=60)
        _no_survivors(s)
        s.one_line(done, "a final phase whose strategy's recommend() calls os._exit(0)")
        if list(res.rglob("rec_exits/seed=*.final.json")):
            s.problem(SILENT, "a final phase whose strategy exited was recorded")
    out.append(Scenario("exit", "os._exit(0) in recommend(), final", final_exit))
    return out


# ------------------------------------------------------------------ special files and unbounded sources

class _Server:
    """A local HTTP server (a thread of the campaign) that misbehaves: ``forever`` streams zeros
    without a length, ``stall`` sends headers and a little data then nothing, ``trickle`` sends a
    byte a second, ``long`` announces the published size then sends more. It stops itself after
    ``bound`` seconds or ``cap`` bytes, so the campaign never hangs on it."""

    def __init__(self, mode: str, bound: float, cap: int = 600 << 20, length: int | None = None):
        import http.server

        self.mode, self.cap, self.length, self.stop = mode, cap, length, threading.Event()
        me = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_GET(self):  # noqa: N802 - the http.server name
                self.send_response(200)
                if me.length is not None:
                    self.send_header("Content-Length", str(me.length))
                self.end_headers()
                sent, chunk = 0, bytes(1 << 20)
                try:
                    while not me.stop.is_set() and sent < me.cap:
                        if me.mode == "stall":
                            if sent == 0:
                                self.wfile.write(chunk[:1000])
                                sent = 1000
                            me.stop.wait(0.5)
                        elif me.mode == "trickle":
                            self.wfile.write(b"\0")
                            self.wfile.flush()
                            sent += 1
                            me.stop.wait(1.0)
                        else:
                            self.wfile.write(chunk)
                            sent += len(chunk)
                            time.sleep(0.01)  # ~100 MB/s at most
                except OSError:
                    pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.timer = threading.Timer(bound, self.close)
        self.timer.daemon = True
        self.timer.start()

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.timer.cancel()


def special_scenarios(c: Campaign) -> list[Scenario]:
    """FIFOs and /dev/zero given as data files, downloads from a local server that streams forever,
    stalls or trickles, 100,000-deep JSON in arguments and files, absurd timeouts, a data manifest
    without its checksum: each command ends in bounded time with one line, never a hang."""
    out: list[Scenario] = []

    def special(name: str, bench: str, filename: str, make: Callable[[Path], None], quick: bool = False):
        def body(s: Scenario) -> None:
            data = s.dir / "data"
            shutil.copytree(c.data, data)
            before = _tree(data)
            path = s.dir / filename
            make(path)
            done = s.cli("data", "import", bench, path, "--data-dir", data, timeout=30, limit_mb=3072)
            s.one_line(done, f"{name} as a {bench} file")
            if _tree(data) != before:
                s.problem(LOST, "a refused import changed the data dir's tables")
        out.append(Scenario("special", f"data import {bench} {name} named {filename}", body, quick=quick))

    fifo = lambda p: os.mkfifo(p)  # noqa: E731
    zero = lambda p: p.symlink_to("/dev/zero")  # noqa: E731
    for bench, filename in (("nb201", "t.csv"), ("nb201", "t.parquet"), ("nb201", "t.pkl"), ("nb101", "stats.json"),
                            ("nb101", "t.csv"), ("nb101", "t.tfrecord"), ("enas6", "final_structures6.txt")):
        special("a FIFO", bench, filename, fifo, quick=filename == "t.csv" and bench == "nb201")
        special("/dev/zero", bench, filename, zero)
    special("/dev/urandom", "nb201", "t.csv", lambda p: p.symlink_to("/dev/urandom"))
    special("a FIFO inside a NATS archive folder", "nb201", "NATS-tss-v1_0-3ffb9-simple",
            lambda p: (p.mkdir(), os.mkfifo(p / "meta.pickle.pbz2")))
    special("a 100,000-deep JSON list", "nb101", "nested.json", lambda p: p.write_text(_deep_json(100_000)))
    special("a 100,000-deep JSON object", "nb101", "nested.json", lambda p: p.write_text(_deep_json(100_000, "dict")))
    special("a 100,000-deep JSON list", "nb201", "nested.json", lambda p: p.write_text(_deep_json(100_000)))

    def fetch(name: str, mode: str, filename: str, size: int | None, sha: bool, length: int | None = None,
              bound: float = 45.0, quick: bool = False):
        """``size``: the published size of ``filename`` (None: unregistered, pinned by --sha256)."""
        def body(s: Scenario) -> None:
            srv = _Server(mode, bound + 15, length=length)
            try:
                data = s.dir / "data"
                argv = ["data", "fetch", "nb101", "--url", f"http://127.0.0.1:{srv.port}/{filename}",
                        *(["--sha256", "ab" * 32] if sha else []), "--data-dir", data]
                t0 = time.monotonic()
                done = s.cli(*argv, timeout=bound, limit_mb=2048)
                took = time.monotonic() - t0
            finally:
                srv.close()
            s.one_line(done, f"a download from a server that {name}")
            written = sum(p.stat().st_size for p in data.rglob("*") if p.is_file()) if data.is_dir() else 0
            if size is not None and written > size * 1.01 + (1 << 20):
                s.problem(SILENT, f"{written:,} bytes written for a file published as {size:,}")
            if not done.timed_out and took > bound:
                s.problem(HANG, f"took {took:.0f} s")
        out.append(Scenario("special", f"data fetch: server {name} ({filename})", body, quick=quick))

    only108 = 522_767_376
    fetch("streams forever, no length", "forever", "nasbench_only108.tfrecord", only108, False, bound=60)
    fetch("streams forever, no length, unregistered file + --sha256", "forever", "other.tfrecord", None, True,
          bound=30)
    fetch("announces the published size, sends more", "long", "nasbench_only108.tfrecord", only108, False,
          length=only108, bound=60)
    fetch("stalls after 1000 bytes", "stall", "nasbench_only108.tfrecord", only108, False, bound=100)
    fetch("stalls after 1000 bytes, unregistered file + --sha256", "stall", "other.tfrecord", None, True, bound=100)
    fetch("trickles a byte a second", "trickle", "nasbench_only108.tfrecord", only108, False, bound=100)
    fetch("trickles a byte a second, unregistered file + --sha256", "trickle", "other.tfrecord", None, True,
          bound=100)

    def run_case(name: str, extra: list[str], tamper: Callable[[Path], None] | None = None, expect: str = "refuse",
                 deep: str | None = None, quick: bool = False):
        """``expect``: "refuse" (one line), "same" (a valid value: exit 0 must give the reference
        rows, the run id aside, since it hashes the configuration), "either" (no traceback or hang).
        ``deep``: a value too long for one command-line argument (the kernel caps one at 128 KiB),
        put in place of ``@DEEP@`` by a driver script that calls ``harness.cli.main``."""
        def body(s: Scenario) -> None:
            data = c.data
            if tamper is not None:
                data = s.dir / "data"
                shutil.copytree(c.data, data)
                tamper(data / "nb201")
            res = s.dir / "out"
            prog = None
            if deep is not None:
                (s.dir / "deep.txt").write_text(deep)
                (s.dir / "driver.py").write_text(
                    "import sys\nfrom pathlib import Path\nfrom harness.cli import main\n"
                    "deep = Path(__file__).with_name('deep.txt').read_text()\n"
                    "sys.exit(main([a.replace('@DEEP@', deep) for a in sys.argv[1:]]))\n")
                prog = [str(s.dir / "driver.py")]
            done = s.cli("run", "--space", "nb201", "--strategies", "rea", "--seeds", "1", "--budget", "40",
                         "--executor", "serial", *QUIET, "--out", res, "--data-dir", data, *extra, timeout=60,
                         prog=prog)
            _no_survivors(s)
            if expect == "refuse":
                s.one_line(done, name)
            elif expect == "same" and done.rc == 0:
                _same_rows(s, res, c.root / "ref-A", "nb201/cifar10-valid/rea/seed=0")
        out.append(Scenario("special", name, body, quick=quick))

    run_case("--param rea.population_size=[[[...]]] 100,000 deep (in-process argv)",
             ["--param", "rea.population_size=@DEEP@"], deep=_deep_json(100_000))
    run_case("--param rea.population_size={\"a\":{...}} 100,000 deep (in-process argv)",
             ["--param", "rea.population_size=@DEEP@"], deep=_deep_json(100_000, "dict"))
    run_case("--param rea.population_size=[[[...]]] 65,000 deep (the longest argument the kernel passes)",
             ["--param", f"rea.population_size={_deep_json(65_000)}"])
    run_case("--param rea.sample_size={\"a\":{...}} 20,000 deep",
             ["--param", f"rea.sample_size={_deep_json(20_000, 'dict')}"])
    run_case("--param rea.population_size=1e999", ["--param", "rea.population_size=1e999"])
    run_case("--param rea.population_size=10**100", ["--param", "rea.population_size=" + "9" * 100], expect="either")
    run_case("--strategy-timeout 1e300 (valid: the study runs)", ["--strategy-timeout", "1e300"], expect="same")
    run_case("--strategy-timeout inf", ["--strategy-timeout", "inf"], expect="same")
    run_case("--time-budget 1e300 (valid: the study runs)", ["--time-budget", "1e300"], expect="same")
    run_case("--budget 1e300", ["--budget", "1" + "0" * 300])

    def manifest_without(key: str):
        def tamper(d: Path) -> None:
            m = json.loads((d / "manifest.json").read_text())
            m.pop(key, None)
            (d / "manifest.json").write_text(json.dumps(m))
        return tamper

    run_case("run after the data manifest lost its table_sha256", [], tamper=manifest_without("table_sha256"),
             quick=True)
    run_case("run after the data manifest's table_sha256 became null", [],
             tamper=lambda d: (d / "manifest.json").write_text(json.dumps(
                 {**json.loads((d / "manifest.json").read_text()), "table_sha256": None})))
    return out


# ------------------------------------------------------------------ running and reporting

def dynamics_scenarios(c: Campaign) -> list[Scenario]:
    """``report`` on a study whose learning-dynamics traces (``seed=K.dynamics.parquet``) were damaged:
    exit 0 with the damaged trace named in one line (never drawn), the results untouched, no
    traceback or hang; and the same study with ``--trace-every 0`` gives the same trajectories."""
    out: list[Scenario] = []
    lock = threading.Lock()
    study = c.root / "ref-D"

    def prepared() -> Path:
        with lock:  # built once, by the first scenario that needs it (2 REINFORCE seeds, a point every 5)
            if not study.exists():
                s = Scenario("setup", "dynamics", lambda s: None)
                s.dir, s.env = c.root, c.env("setup-dynamics")
                done = s.cli("run", "--space", "nb201", "--strategies", "reinforce", "--seeds", "2", "--budget", "20",
                             "--trace-every", "5", "--executor", "serial", *QUIET, "--out", study.with_suffix(".tmp"),
                             "--data-dir", c.data, timeout=300)
                if done.rc != 0:
                    raise SystemExit(f"setup: the traced study failed: {done.stderr[-300:]}")
                os.replace(study.with_suffix(".tmp"), study)
        return study

    def add(name: str, tamper: Callable[[Path], None], quick: bool = False):
        def body(s: Scenario) -> None:
            res = s.dir / "out"
            shutil.copytree(prepared(), res, symlinks=True)
            tamper(res / "nb201" / "cifar10-valid" / "reinforce" / "seed=0")
            before = _files(res)
            done = s.cli("report", "--results", res, "--out", s.dir / "report", timeout=120, limit_mb=3072)
            _no_survivors(s)
            if _files(res) != before:
                s.problem(LOST, "report changed the results folder")
            if done.rc != 0:
                s.problem(SILENT if not done.timed_out else HANG, f"report exited {done.rc} on a damaged trace")
                return
            if not re.search(r"trace left out: reinforce seed=0\b", done.stdout + done.stderr):
                s.problem(SILENT, "exit 0 and no line names the damaged trace of reinforce seed=0")
        out.append(Scenario("dynamics", name, body, quick=quick))

    def trace(stem: Path) -> Path:
        return stem.parent / (stem.name + ".dynamics.parquet")

    def cut(stem: Path) -> None:
        b = trace(stem).read_bytes()
        trace(stem).write_bytes(b[: len(b) // 2])

    def flip(stem: Path) -> None:
        b = bytearray(trace(stem).read_bytes())
        b[len(b) // 2] ^= 0x10
        trace(stem).write_bytes(bytes(b))

    def special(target: str):
        def tamper(stem: Path) -> None:
            trace(stem).unlink()
            if target == "fifo":
                os.mkfifo(trace(stem))
            else:
                os.symlink(target, trace(stem))
        return tamper

    def value(col: str, v: float, row: int = 1):
        def tamper(stem: Path) -> None:
            _edit_parquet(trace(stem), col, v, row)
            _fix_sha(stem, ".dynamics.parquet", "dynamics_sha256")
        return tamper

    def big(stem: Path) -> None:
        trace(stem).write_bytes(b"PAR1" + b"\0" * (17 << 20) + b"PAR1")
        _fix_sha(stem, ".dynamics.parquet", "dynamics_sha256")

    add("trace truncated", cut, quick=True)
    add("trace bit-flipped", flip)
    add("trace deleted", lambda stem: trace(stem).unlink())
    add("trace a link to /dev/zero", special("/dev/zero"))
    add("trace a FIFO", special("fifo"))
    add("trace a link to a folder", special("/tmp"))
    add("mass on the 10 best cells 5, checksums fixed", value("mass_top10", 5.0))
    add("negative entropy, checksums fixed", value("entropy_nats", -1.0))
    add("expected validation NaN, checksums fixed", value("expected_val", float("nan")))
    add("query counts not increasing, checksums fixed", value("query", 0.0, row=2))
    add("17 MiB of zeros as the trace, checksums fixed", big)

    def untraced(s: Scenario) -> None:
        res = s.dir / "out"
        done = s.cli("run", "--space", "nb201", "--strategies", "reinforce", "--seeds", "2", "--budget", "20",
                     "--trace-every", "0", "--executor", "serial", *QUIET, "--out", res, "--data-dir", c.data,
                     timeout=300)
        if done.rc != 0:
            s.problem(SILENT, f"--trace-every 0 failed (exit {done.rc})")
            return
        for k in (0, 1):
            rel = f"nb201/cifar10-valid/reinforce/seed={k}"
            if (res / f"{rel}.parquet").read_bytes() != (prepared() / f"{rel}.parquet").read_bytes():
                s.problem(SILENT, f"{rel}.parquet differs with the trace off")
            if (res / f"{rel}.dynamics.parquet").exists():
                s.problem(SILENT, f"{rel}.dynamics.parquet written with --trace-every 0")
    out.append(Scenario("dynamics", "--trace-every 0 gives the traced study's trajectories", untraced))
    return out


FAMILIES = (import_scenarios, table_scenarios, results_scenarios, kill_scenarios, concurrency_scenarios,
            strategy_scenarios, arg_scenarios, path_scenarios, final_scenarios, report_final_scenarios,
            name_scenarios, exit_scenarios, special_scenarios, dynamics_scenarios)


def run_one(c: Campaign, s: Scenario) -> Scenario:
    s.dir = c.new_dir(f"{s.family}-{s.name}")
    s.env = c.env(f"{s.dir.name}-{os.getpid()}")
    t0 = time.monotonic()
    try:
        s.body(s)
    except Exception as exc:  # noqa: BLE001 - a bug of the campaign itself, reported as such
        s.problems.append(("campaign error", f"{type(exc).__name__}: {exc}"))
    _no_survivors(s)
    if s.marker.exists():
        if s.allow_code:
            s.opt_in_code = True
        else:
            s.problem(CODE, "the marker file exists: a data file ran code")
    s.seconds = time.monotonic() - t0
    return s


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one scenario of every family (< 60 s)")
    ap.add_argument("--jobs", type=int, default=2, help="scenarios run at once (default 2)")
    ap.add_argument("--seed", type=int, default=13, help="seed of the random cuts, flips and kill times")
    ap.add_argument("--only", default="", help="comma-separated family prefixes (e.g. kill,journal)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (printed) for inspection")
    ap.add_argument("--list", action="store_true", help="print the number of scenarios per family, run nothing")
    args = ap.parse_args(argv)
    # A campaign started in the background of a non-interactive shell inherits SIGINT ignored, and so
    # would every command it starts (exec keeps an ignored signal): the Ctrl-C scenarios would then
    # test nothing. A handler here is reset to the default in each child.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.list:
        c = Campaign(Path(tempfile.gettempdir()) / "fault-campaign-list", np.random.default_rng(args.seed), args.quick)
        counts = Counter(s.family for fam in FAMILIES for s in fam(c))
        for fam, n in counts.items():
            print(f"{fam:<22} {n:>4}")
        print(f"{'total':<22} {sum(counts.values()):>4}")
        return 0
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="fault-campaign-"))
    c = Campaign(root, np.random.default_rng(args.seed), args.quick)
    try:
        c.setup()
        scenarios = [s for fam in FAMILIES for s in fam(c)]
        if args.quick:  # the first quick one of each family
            firsts: dict[str, Scenario] = {}
            for s in scenarios:
                if s.quick and s.family not in {"journal/slow_rea"}:
                    firsts.setdefault(s.family, s)
            scenarios = list(firsts.values())
        if args.only:
            scenarios = [s for s in scenarios if s.family.startswith(tuple(args.only.split(",")))]
        print(f"{len(scenarios)} scenarios (setup {time.monotonic() - started:.0f} s)", flush=True)
        with ThreadPoolExecutor(args.jobs) as pool:
            done = list(pool.map(lambda s: run_one(c, s), scenarios))
        return report(done, time.monotonic() - started)
    finally:
        if args.keep:
            print(f"work folder kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def report(done: list[Scenario], seconds: float) -> int:
    totals = Counter(cls for s in done for cls in {p[0] for p in s.problems})
    clean = sum(not s.problems for s in done)
    print(f"\n{len(done)} scenarios in {seconds:.0f} s: {clean} clean")
    for cls in CLASSES + ("campaign error",):
        if cls in CLASSES or totals[cls]:
            print(f"  {cls:<24} {totals[cls]}")
    opt_in = sum(s.opt_in_code for s in done)
    print(f"  (code run by the opt-in --allow-pickle NATS path: {opt_in}, allowed)")
    fams = sorted({s.family for s in done})
    print(f"\n{'family':<22} {'n':>4} {'s':>5} {'clean':>6}  " + "  ".join(f"{c_[:12]:>12}" for c_ in CLASSES))
    for fam in fams:
        group = [s for s in done if s.family == fam]
        counts = Counter(cls for s in group for cls in {p[0] for p in s.problems})
        print(f"{fam:<22} {len(group):>4} {sum(s.seconds for s in group):>5.0f} {sum(not s.problems for s in group):>6}  "
              + "  ".join(f"{counts[c_]:>12}" for c_ in CLASSES))
    failing = [s for s in done if s.problems]
    if failing:
        print("\nfailing scenarios:")
        for s in failing:
            print(f"- [{s.family}] {s.name}")
            for cls, why in s.problems:
                print(f"    {cls}: {why}")
            for cmd in s.commands:
                print(f"    $ {cmd}")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
