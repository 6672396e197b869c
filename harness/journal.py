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
import json
import math
import os
from pathlib import Path

from harness.contracts import Result
from harness.errors import HarnessError
from harness.query import Query


class Journal:
    def __init__(self, path: Path, run_id: str, fsync: bool = True):
        self.path = Path(path)
        self.run_id = run_id
        self.fsync = fsync
        self._fh = None

    def load(self) -> list[dict]:
        """Batches journaled by an earlier, interrupted attempt of this same run (oldest first)."""
        if not self.path.is_file():
            return []
        raw = self.path.read_bytes()
        lines = raw.split(b"\n")
        entries, good_bytes = [], 0
        for k, line in enumerate(lines):
            if not line:
                good_bytes += 1 if k < len(lines) - 1 else 0
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                break  # torn tail: everything after the last complete line is dropped
            if k == len(lines) - 1:
                break  # no newline yet: the write may not have completed
            good_bytes += len(line) + 1
            entries.append(obj)
        if not entries or entries[0].get("run_id") != self.run_id:
            stale = self.path.with_name(self.path.name + f".stale-{entries[0].get('run_id') if entries else 'unreadable'}")
            os.replace(self.path, stale)
            return []
        if good_bytes != len(raw):
            with open(self.path, "rb+") as fh:
                fh.truncate(good_bytes)
        batches = entries[1:]
        for i, b in enumerate(batches):
            if b.get("batch") != i:
                raise HarnessError(f"journal {self.path} is out of order at batch {i}; delete it or rerun with --force")
        return batches

    def _open(self):
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            new = not self.path.exists()
            self._fh = open(self.path, "ab")
            if new:
                self._write({"run_id": self.run_id})
        return self._fh

    def _write(self, obj: dict) -> None:
        fh = self._fh
        try:
            fh.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")
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
        import io

        import torch

        from harness import atomic

        buf = io.BytesIO()
        torch.save({"batch": batch, "state": evaluator.state_dict()}, buf)
        atomic.write_bytes(self.path, buf.getvalue())

    def restore(self, evaluator, replay: list[dict], journal: "Journal") -> list[dict]:
        """Load the evaluator state matching the journal; returns the batches to replay."""
        if not replay:
            return replay
        if not self.path.is_file():
            journal.truncate(0)
            return []
        import torch

        saved = torch.load(self.path, weights_only=False)
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
