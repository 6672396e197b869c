"""Fault campaign (issue #13, acceptance): several hundred hostile scenarios, each through the CLI in
a subprocess with a timeout, each outcome put into the classes the issue counts.

    python benchmarks/fault_campaign.py            # the full campaign (>= 200 scenarios, < 10 min on 2 cores)
    python benchmarks/fault_campaign.py --quick    # one of every family (< 60 s)

Families: hostile or corrupt data files for every importer (pickles whose unpickling would
``touch`` a marker file, impossible values, truncation, garbage, names that lie about the content),
an imported table tampered with, journals / run manifests / trajectories corrupted or of the wrong
JSON shape, ``kill -9`` / SIGINT / SIGTERM of the main process and of a pool worker at random
points (then the same command again, compared byte for byte with an uninterrupted run), two writers
into one ``--out``, strategies that hang, exit or propose objects, bad arguments, impossible paths
(``/proc``, the read-only ``/sys``, files where folders go), and ``report`` on corrupt results.

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
                    "objects": "trust_fixtures:ProposesObjects", "slow_rea": "ray_cluster_fixtures:SlowEvolution"}

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

    def __init__(self, scen: Scenario, args: list[str], timeout: float):
        self.scen, self.args, self.timeout = scen, args, timeout
        scen.n_cmd += 1
        self.log = scen.dir / f"cmd{scen.n_cmd}"
        self.argv = [sys.executable, "-m", "harness", *args]
        scen.commands.append(shlex.join(["python", "-m", "harness", *args]))
        self.started = time.monotonic()
        with open(f"{self.log}.out", "wb") as out, open(f"{self.log}.err", "wb") as err:
            self.proc = subprocess.Popen(self.argv, cwd=scen.dir, env=scen.env, stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

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

    def start(self, *args: str, timeout: float = 90.0) -> Running:
        return Running(self, [str(a) for a in args], timeout)

    def cli(self, *args: str, timeout: float = 90.0) -> Done:
        return self.start(*args, timeout=timeout).wait()

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

    ref_a = c.refs["A"]
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
                if p.name.endswith(".timing.parquet"):
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
                m.write_text(json.dumps(man))
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
    ["--report", ""],
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


# ------------------------------------------------------------------ running and reporting

FAMILIES = (import_scenarios, table_scenarios, results_scenarios, kill_scenarios, concurrency_scenarios,
            strategy_scenarios, arg_scenarios, path_scenarios)


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
    args = ap.parse_args(argv)
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
