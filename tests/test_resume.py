"""Crash safety: the journal, resuming after a crash or SIGKILL, and byte-identical results."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from harness import runner
from harness.config import RunConfig
from harness.contracts import Evaluator
from harness.errors import HarnessError
from strategies.registry import STRATEGIES

GREEDY = "tests_greedy"


@pytest.fixture(autouse=True)
def greedy():
    # a stateful strategy (the README example): resuming must rebuild its state exactly
    STRATEGIES.register(GREEDY, "test_resume:Greedy")


from strategies.base import Strategy  # noqa: E402


class Greedy(Strategy):
    def setup(self, space, seed, context=None):
        super().setup(space, seed, context)
        self.best, self.best_val = None, -1.0

    def ask(self, n):
        if self.best is None:
            return self.space.sample_many(self.rng, n)
        return [self.space.mutate(self.best, self.rng) for _ in range(n)]

    def tell(self, obs):
        for o in obs:
            if o.ok and o.val_acc > self.best_val:
                self.best, self.best_val = o.arch, o.val_acc


def cfg(**kw):
    base = dict(space="nb201", dataset="cifar10-valid", strategy=GREEDY, seed=0, budget=40, fidelity=200, batch_size=3)
    base.update(kw)
    return RunConfig(**base)


class Crash(BaseException):  # not an Exception: the runner must not record it as a failed query
    pass


@pytest.mark.parametrize("relookup", [False, True], ids=["trust-journal", "relookup"])
def test_resume_after_a_crash_is_byte_identical(nb201_data_dir, tmp_path, monkeypatch, relookup):
    """Replayed batches come from the journal -- or, for a table (cheap, deterministic), from the
    table again: either way the trajectory is the uninterrupted one."""
    ref = runner.execute(cfg(), tmp_path / "ref", nb201_data_dir)
    from blackboxes.nb201.evaluator import NB201Benchmark

    monkeypatch.setattr(NB201Benchmark, "relookup_on_replay", relookup)

    original = NB201Benchmark.evaluate
    calls = {"n": 0}

    def dying(self, archs, fidelity, seeds):
        calls["n"] += 1
        if calls["n"] == 6:
            raise Crash("power cut")
        return original(self, archs, fidelity, seeds)

    monkeypatch.setattr(NB201Benchmark, "evaluate", dying)
    with pytest.raises(Crash):
        runner.execute(cfg(), tmp_path / "crash", nb201_data_dir)
    paths = cfg().paths(tmp_path / "crash")
    assert paths.journal.is_file() and not paths.trajectory.exists()
    lines = paths.journal.read_text().splitlines()
    assert len(lines) == 1 + 5  # header + the five batches evaluated before the crash
    monkeypatch.setattr(NB201Benchmark, "evaluate", original)
    calls["n"] = 0
    counted = {"n": 0}

    def counting(self, archs, fidelity, seeds):
        counted["n"] += 1
        return original(self, archs, fidelity, seeds)

    monkeypatch.setattr(NB201Benchmark, "evaluate", counting)
    out = runner.execute(cfg(), tmp_path / "crash", nb201_data_dir)
    assert paths.trajectory.read_bytes() == ref.paths.trajectory.read_bytes()
    assert counted["n"] == (14 if relookup else 14 - 5), "journaled batches are evaluated again only by a table"
    assert not paths.journal.exists()
    import json

    assert json.loads(out.paths.manifest.read_text())["resumed_batches"] == 5


def _crash_after(monkeypatch, n_calls):
    from blackboxes.nb201.evaluator import NB201Benchmark

    original = NB201Benchmark.evaluate
    calls = {"n": 0}

    def dying(self, archs, fidelity, seeds):
        calls["n"] += 1
        if calls["n"] > n_calls:
            raise Crash("power cut")
        return original(self, archs, fidelity, seeds)

    monkeypatch.setattr(NB201Benchmark, "evaluate", dying)
    return lambda: monkeypatch.setattr(NB201Benchmark, "evaluate", original)


def test_torn_journal_tail_is_dropped(nb201_data_dir, tmp_path, monkeypatch):
    ref = runner.execute(cfg(), tmp_path / "ref", nb201_data_dir)
    restore = _crash_after(monkeypatch, 4)
    with pytest.raises(Crash):
        runner.execute(cfg(), tmp_path / "t", nb201_data_dir)
    restore()
    paths = cfg().paths(tmp_path / "t")
    with open(paths.journal, "ab") as fh:
        fh.write(b'{"batch": 4, "texts": ["|nor_conv')  # the crash hit mid-write
    runner.execute(cfg(), tmp_path / "t", nb201_data_dir)
    assert paths.trajectory.read_bytes() == ref.paths.trajectory.read_bytes()


def _crash_and_tamper(monkeypatch, tmp_path, data_dir, *, resign: bool):
    """Crash after 3 batches, then make journaled batch 1 name an architecture the strategy never
    proposed; ``resign`` recomputes the line's checksum (what a strategy that proposed something else
    would have written), else the edit is a hand edit the checksum catches."""
    from harness import journal

    restore = _crash_after(monkeypatch, 3)
    with pytest.raises(Crash):
        runner.execute(cfg(), tmp_path, data_dir)
    restore()
    paths = cfg().paths(tmp_path)
    lines = paths.journal.read_text().splitlines()
    if resign:
        entry = json.loads(lines[2])
        entry.pop("sha256")
        entry["texts"][0] = entry["texts"][0].replace("|", "#", 1)
        lines[2] = journal._line(entry).decode().rstrip("\n")
    else:
        lines[2] = lines[2].replace("|", "#", 1)
    paths.journal.write_text("\n".join(lines) + "\n")
    return paths


def test_a_nondeterministic_strategy_cannot_resume(nb201_data_dir, tmp_path, monkeypatch):
    _crash_and_tamper(monkeypatch, tmp_path, nb201_data_dir, resign=True)
    with pytest.raises(HarnessError, match="not deterministic"):
        runner.execute(cfg(), tmp_path, nb201_data_dir)


def test_a_hand_edited_journal_line_is_caught_by_its_checksum(nb201_data_dir, tmp_path, monkeypatch):
    """Before journal checksums, an edited line was replayed (or blamed on the strategy)."""
    ref = runner.execute(cfg(), tmp_path / "ref", nb201_data_dir)
    out = tmp_path / "x"
    paths = _crash_and_tamper(monkeypatch, out, nb201_data_dir, resign=False)
    outcome = runner.execute(cfg(), out, nb201_data_dir)
    assert paths.trajectory.read_bytes() == ref.paths.trajectory.read_bytes()
    assert any("line 3 failed its checksum" in n for n in outcome.notes)


def test_an_edited_value_in_a_resigned_line_is_looked_up_again(nb201_data_dir, tmp_path, monkeypatch):
    """Even a journal line with a valid checksum cannot put a number into a table-backed trajectory."""
    from harness import journal

    ref = runner.execute(cfg(), tmp_path / "ref", nb201_data_dir)
    restore = _crash_after(monkeypatch, 3)
    with pytest.raises(Crash):
        runner.execute(cfg(), tmp_path / "x", nb201_data_dir)
    restore()
    paths = cfg().paths(tmp_path / "x")
    lines = paths.journal.read_text().splitlines()
    entry = json.loads(lines[-1])
    entry.pop("sha256")
    for a in entry["answers"].values():
        a["result"]["val_acc"] = 99.9
    lines[-1] = journal._line(entry).decode().rstrip("\n")
    paths.journal.write_text("\n".join(lines) + "\n")
    outcome = runner.execute(cfg(), tmp_path / "x", nb201_data_dir)
    assert paths.trajectory.read_bytes() == ref.paths.trajectory.read_bytes()
    assert any("differs from the benchmark's answer" in n for n in outcome.notes)


def test_stale_journal_is_set_aside(nb201_data_dir, tmp_path):
    paths = cfg().paths(tmp_path)
    paths.journal.parent.mkdir(parents=True)
    paths.journal.write_text('{"run_id":"someoneelse"}\n{"batch":0}\n')
    ref = runner.execute(cfg(), tmp_path / "ref", nb201_data_dir)
    runner.execute(cfg(), tmp_path, nb201_data_dir)
    assert paths.trajectory.read_bytes() == ref.paths.trajectory.read_bytes()
    assert (paths.journal.parent / (paths.journal.name + ".stale-someoneelse")).is_file()


def test_sigkill_mid_study_several_times(nb201_data_dir, tmp_path):
    seeds = range(8)
    ref, out = tmp_path / "reference", tmp_path / "killed"
    cmd = lambda out: [sys.executable, "-c",
           "import sys; from strategies.registry import STRATEGIES; "
           f"STRATEGIES.register('{GREEDY}', 'test_resume:Greedy'); "
           "from harness.cli import main; sys.exit(main(sys.argv[1:]))",
           "run", "--space", "nb201", "--strategies", GREEDY, "--seeds", "8", "--budget", "300",
           "--out", str(out), "--data-dir", str(nb201_data_dir), "--workers", "1", "--no-progress"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(os.path.dirname(__file__)), os.environ.get("PYTHONPATH", "")]))
    subprocess.run(cmd(ref), env=env, check=True, capture_output=True)
    rng = np.random.default_rng(7)
    kills = 0

    def lines_in(f) -> int:
        try:
            return f.read_bytes().count(b"\n")
        except FileNotFoundError:  # the run finished and removed its journal meanwhile
            return 0

    def journal_lines() -> int:
        """Monotonic progress: journaled queries of running runs + all queries of finished ones."""
        running = sum(lines_in(f) for f in out.rglob("*.journal.jsonl"))
        return running + 301 * len(list(out.rglob("seed=*.run.json")))

    for attempt in range(40):
        proc = subprocess.Popen(cmd(out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        start = journal_lines()
        target = int(rng.integers(30, 250))  # kill after this many more journaled queries
        while proc.poll() is None and journal_lines() - start < target:
            time.sleep(0.005)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
            continue
        assert proc.returncode == 0, proc.stderr.read().decode()
        break
    else:
        pytest.fail("study never finished")
    assert kills >= 5, f"only {kills} kills landed; make the study longer"
    for s in seeds:
        a = cfg(seed=s).paths(out).trajectory.read_bytes()
        b = cfg(seed=s).paths(ref).trajectory.read_bytes()
        assert a == b, f"seed {s} differs after {kills} kills"
    print(f"survived {kills} SIGKILLs")


class Drifting(Evaluator):
    """A stateful evaluator (like a supernet): its answers depend on how many batches it has seen."""

    fidelities = (200,)
    default_fidelity = 200
    dataset = "cifar10-valid"
    journal_fsync = True
    stateful = True

    def __init__(self, space, crash_at=None):
        from harness.testing import SyntheticBenchmark

        self.inner = SyntheticBenchmark(space, fidelities=(200,))
        self.steps = 0
        self.crash_at = crash_at

    def evaluate(self, archs, fidelity, seeds):
        self.steps += 1
        if self.crash_at is not None and self.steps == self.crash_at:
            raise Crash("mid-evaluation")
        out = self.inner.evaluate(archs, fidelity, seeds)
        from harness.contracts import Result

        return [Result(r.val_acc + 0.01 * self.steps, r.test_acc, 1.0) for r in out]

    def report_values(self, archs, dataset, fidelity, metric):
        return None

    def report_missing(self, dataset, fidelity, metric):
        return None

    def n_repeats(self, fidelity):
        return 1

    def describe(self):
        return {"benchmark": "drifting"}

    def state_dict(self):
        return {"steps": self.steps}

    def load_state_dict(self, state):
        self.steps = state["steps"]


def _space():
    from spaces.nb201 import NB201Space

    return NB201Space()


def test_stateful_evaluator_resumes_from_its_checkpoint(tmp_path):
    c = cfg(budget=30)
    ref = runner.execute(c, tmp_path / "ref", evaluator=Drifting(_space()))
    with pytest.raises(Crash):
        runner.execute(c, tmp_path / "x", evaluator=Drifting(_space(), crash_at=5))
    assert c.paths(tmp_path / "x").evaluator_state.is_file()
    runner.execute(c, tmp_path / "x", evaluator=Drifting(_space()))
    assert c.paths(tmp_path / "x").trajectory.read_bytes() == ref.paths.trajectory.read_bytes()
    assert not c.paths(tmp_path / "x").evaluator_state.exists()


def test_crash_between_journal_and_checkpoint(tmp_path, monkeypatch):
    from harness.journal import EvaluatorCheckpoint

    c = cfg(budget=30)
    ref = runner.execute(c, tmp_path / "ref", evaluator=Drifting(_space()))
    original = EvaluatorCheckpoint.save

    def dying_save(self, evaluator, batch):
        if batch == 4:
            raise Crash("between the journal line and the checkpoint")
        return original(self, evaluator, batch)

    monkeypatch.setattr(EvaluatorCheckpoint, "save", dying_save)
    with pytest.raises(Crash):
        runner.execute(c, tmp_path / "x", evaluator=Drifting(_space()))
    monkeypatch.setattr(EvaluatorCheckpoint, "save", original)
    runner.execute(c, tmp_path / "x", evaluator=Drifting(_space()))
    assert c.paths(tmp_path / "x").trajectory.read_bytes() == ref.paths.trajectory.read_bytes()


def test_force_sets_an_interrupted_journal_aside(nb201_data_dir, tmp_path, monkeypatch):
    paths = _crash_and_tamper(monkeypatch, tmp_path, nb201_data_dir, resign=True)
    runner.execute(cfg(), tmp_path, nb201_data_dir, force=True)
    assert paths.trajectory.is_file()
    assert (paths.journal.parent / (paths.journal.name + ".stale-forced")).is_file()
