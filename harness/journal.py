"""Per-run write-ahead journal: every evaluated batch is on disk before the strategy hears of it.

One JSON line per batch, written with write + flush (+ fsync where evaluations are expensive): a
plain append-only file rather than SQLite, since a run has one writer, lines are small, and the
format is readable with ``cat``. A flushed line survives the process being killed (it is in the
OS page cache); fsync adds survival of an OS crash or power loss at ~0.2 ms a call here. Tabular
evaluators, whose queries replay in microseconds, skip it (``Evaluator.journal_fsync``).
On resume the runner replays the journal: it asks the strategy again, checks that it proposes
the same architectures (strategies are deterministic), and tells it the journaled results
instead of evaluating -- so the strategy's state is rebuilt exactly, with no state_dict needed,
and the final trajectory is byte-identical to an uninterrupted run. A torn last line (a crash
mid-write) is dropped; a journal of another configuration is set aside, never deleted.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from pathlib import Path

from harness import statefile
from harness.contracts import Result
from harness.errors import HarnessError
from harness.query import Query


_SHA = "sha256"
"""Each line's own checksum: sha256 of the line's JSON without this field."""


def _line(obj: dict) -> bytes:
    body = json.dumps(obj, separators=(",", ":"))
    return (body[:-1] + f',"{_SHA}":"{hashlib.sha256(body.encode()).hexdigest()}"}}').encode() + b"\n"


def _checked(line: bytes) -> dict | None:
    """The line's object when its checksum holds and it is a JSON object; None otherwise."""
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get(_SHA), str):
        return None
    digest = obj.pop(_SHA)
    body = json.dumps(obj, separators=(",", ":"))
    return obj if hashlib.sha256(body.encode()).hexdigest() == digest else None


def _owner(entries: list[dict], lines: list[bytes]) -> str:
    """Whose journal this is, for the name it is set aside under (also for an unsigned header)."""
    if entries:
        return str(entries[0].get("run_id"))
    try:
        head = json.loads(lines[0])
    except ValueError:
        return "unreadable"
    run_id = head.get("run_id") if isinstance(head, dict) else None
    return run_id if isinstance(run_id, str) and run_id.isalnum() else "unreadable"


_BATCH_KEYS = {"batch": int, "texts": list, "answers": dict, "eval_s": float}


def _well_formed(entry: dict, index: int) -> bool:
    if any(not isinstance(entry.get(k), t) and not (t is float and isinstance(entry.get(k), int))
           for k, t in _BATCH_KEYS.items()):
        return False
    return entry["batch"] == index and all(isinstance(t, str) for t in entry["texts"])


class Journal:
    def __init__(self, path: Path, run_id: str, fsync: bool = True):
        self.path = Path(path)
        self.run_id = run_id
        self.fsync = fsync
        self._fh = None
        self.notes: list[str] = []
        """What ``load`` had to drop, for the run's outcome (a line that failed its checksum...)."""

    def load(self) -> list[dict]:
        """Batches journaled by an earlier, interrupted attempt of this same run (oldest first).

        A line is trusted only when it parses, carries a matching checksum and has the shape of a
        batch; from the first line that does not, the rest is dropped (and evaluated again): a torn
        tail after a crash, or a line edited by hand, never reaches a trajectory."""
        if not self.path.is_file():
            return []
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise HarnessError(f"cannot read the journal {self.path} ({exc.strerror}); rerun with --force") from None
        lines = raw.split(b"\n")
        entries, good_bytes, bad = [], 0, None
        for k, line in enumerate(lines[:-1]):  # the part after the last newline may be a write in progress
            obj = _checked(line) if line else None
            if obj is None or (entries and not _well_formed(obj, len(entries) - 1)):
                bad = k + 1 if line else None
                break
            good_bytes += len(line) + 1
            entries.append(obj)
        if not entries or entries[0].get("run_id") != self.run_id:
            stale = self.path.with_name(self.path.name + f".stale-{_owner(entries, lines)}")
            os.replace(self.path, stale)
            if not entries:
                self.notes.append(f"journal {self.path.name} was unreadable; set aside as {stale.name}, the run starts over")
            return []
        if bad is not None:
            self.notes.append(f"journal {self.path.name}: line {bad} failed its checksum or shape (edited or corrupt); "
                              f"the batches from there on were evaluated again")
        if good_bytes != len(raw):
            with open(self.path, "rb+") as fh:
                fh.truncate(good_bytes)
        return entries[1:]

    def _open(self):
        if self._fh is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                new = not self.path.exists()
                self._fh = open(self.path, "ab")
            except OSError as exc:
                raise HarnessError(f"cannot create the journal {self.path} ({exc.strerror}); free disk space or pass "
                                   f"a writable --out, then rerun the same command") from None
            if new:
                self._write({"run_id": self.run_id})
        return self._fh

    def _write(self, obj: dict) -> None:
        fh = self._fh
        try:
            fh.write(_line(obj))
            fh.flush()
            if self.fsync:
                os.fsync(fh.fileno())
        except OSError as exc:
            raise HarnessError(
                f"cannot write the journal {self.path} ({exc.strerror}); free disk space and rerun the same "
                f"command to continue from what was written"
            ) from None

    def append(self, batch: int, queries: list[Query], eval_s: float) -> None:
        """One line for an evaluated batch: each query's architecture text, and for every evaluated
        query its Result and report values, under their field names."""
        self._open()
        answers = {str(i): {"result": _result_fields(q.result), "report_val": q.report_val, "report_test": q.report_test}
                   for i, q in enumerate(queries) if q.evaluated}
        self._write({"batch": batch, "texts": [q.text for q in queries], "answers": answers, "eval_s": eval_s})

    def restore(self, entry: dict, queries: list[Query], strategy: str) -> float:
        """Fill the batch's results from the journal, after checking the strategy proposed the same
        batch; the journaled evaluator seconds per query."""
        if entry.get("texts") != [q.text for q in queries]:
            raise HarnessError(
                f"strategy {strategy!r} proposed different architectures when resuming batch {entry.get('batch')} "
                f"(it is not deterministic for a fixed seed); rerun with --force"
            )
        answers = entry.get("answers", {})
        if sorted(map(int, answers)) != [i for i, q in enumerate(queries) if q.evaluated]:
            raise HarnessError(f"journal {self.path} does not match batch {entry.get('batch')}; rerun with --force")
        for key, a in answers.items():
            q = queries[int(key)]
            q.result = _result_from(a["result"])
            q.report_val, q.report_test = _f(a["report_val"]), _f(a["report_test"])
        return float(entry["eval_s"])

    def truncate(self, n_batches: int) -> None:
        """Keep the header and the first ``n_batches`` batches (drop what a checkpoint does not cover)."""
        lines = self.path.read_bytes().split(b"\n")
        keep = lines[: 1 + n_batches]
        from harness import atomic

        atomic.write_bytes(self.path, b"\n".join(keep) + b"\n")

    def close(self, remove: bool = False) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if remove and self.path.exists():
            self.path.unlink()


def _f(v) -> float:
    return math.nan if v is None else float(v)


_FLOATS = ("val_acc", "test_acc", "cost_s")


def _result_fields(r: Result) -> dict:
    d = dataclasses.asdict(r)
    d["extra"] = [list(e) for e in r.extra]
    return d


def _result_from(d: dict) -> Result:
    fields = {**d, **{k: _f(d[k]) for k in _FLOATS}, "extra": tuple(tuple(e) for e in d["extra"])}
    return Result(**fields)


class EvaluatorCheckpoint:
    """State of a stateful evaluator (e.g. a weight-sharing supernet) after each journaled batch.

    Written atomically after the batch's journal line, so on resume the checkpoint is either at the
    journal's last batch or one behind it (a crash between the two writes); in the second case the
    last journaled batch is dropped and evaluated again from the checkpointed state.
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    @staticmethod
    def wanted(evaluator) -> bool:
        return evaluator.stateful

    def save(self, evaluator, batch: int) -> None:
        statefile.save(self.path, {"batch": batch, "state": evaluator.state_dict()})

    def restore(self, evaluator, replay: list[dict], journal: "Journal") -> list[dict]:
        """Load the evaluator state matching the journal; returns the batches to replay."""
        if not replay:
            return replay
        if not self.path.is_file():
            journal.truncate(0)
            return []
        saved = statefile.load(self.path)  # never a pickle: a checkpoint holds tensors and plain data only
        last = len(replay) - 1
        if saved["batch"] not in (last, last - 1):
            raise HarnessError(f"evaluator checkpoint {self.path} is at batch {saved['batch']} but the journal at {last}; rerun with --force")
        evaluator.load_state_dict(saved["state"])
        if saved["batch"] == last - 1:
            journal.truncate(last)
            return replay[:last]
        return replay

    def remove(self) -> None:
        if self.path.exists():
            self.path.unlink()
