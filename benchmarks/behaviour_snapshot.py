"""Fingerprint what the harness produces, to prove a refactor changed nothing (issue 12).

    python benchmarks/behaviour_snapshot.py --out /tmp/snap-before.json
    ... change the code ...
    python benchmarks/behaviour_snapshot.py --out /tmp/snap-after.json --compare /tmp/snap-before.json

Runs every registered strategy, one seed each, through the command line on every space: NB201
(the embedded table), NB101 (the real 20k-cell CSV of ../shared/data: cells outside it are
recorded as failed queries, which exercises that path too), RandWire and ENAS on digits (real
training, small budgets). Each (space, strategy) is its own command, so a strategy that refuses a
space is recorded with its one-line error instead of stopping the snapshot. The fingerprint of a
run is a sha256 per trajectory column over its *content* (every row, in order), so it also
compares across parquet writer options. Trained evaluators charge measured seconds, which never
repeat: for them ``cost_s``, ``cost_cum_s`` and the ``train_s`` extra are left out (everything
else, accuracies included, must match). ``--compare`` prints every difference and exits 1 if any.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HARNESS_SHARED_DATA", ROOT.parent / "shared" / "data"))

SPACES = {
    # space: (dataset, extra CLI arguments)
    "nb201": ("cifar10-valid", ["--budget", "30"]),
    "nb101": ("cifar10", ["--budget", "30"]),
    "randwire": ("digits", ["--budget", "4"]),
    "enas": ("digits", ["--budget", "200"]),
}


def _strategies() -> list[str]:
    out = subprocess.run([sys.executable, "-c", "from strategies.registry import STRATEGIES; print(*STRATEGIES.names())"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.split()


MEASURED = {"cost_s", "cost_cum_s"}
"""Columns holding measured seconds on trained spaces (left out of their fingerprint)."""
TRAINED = {"randwire", "enas"}


def _content_sha(path: Path, trained: bool) -> dict[str, str]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    out = {}
    for name in table.column_names:
        values = table.column(name).to_pylist()
        if trained and name in MEASURED:
            continue
        if trained and name == "extra":
            values = [json.dumps({k: v for k, v in json.loads(v).items() if k != "train_s"}, sort_keys=True) if v else v
                      for v in values]
        out[name] = hashlib.sha256(json.dumps(values, default=str).encode()).hexdigest()[:16]
    return out


def _harness(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, capture_output=True, text=True, env=env)


def snapshot(spaces: list[str], strategies: list[str] | None) -> dict:
    env = dict(os.environ, HARNESS_MALLOC_TUNING=os.environ.get("HARNESS_MALLOC_TUNING", "1"))
    work = Path(tempfile.mkdtemp(prefix="snapshot-"))
    data, out = work / "data", work / "results"
    env["HARNESS_DATA"] = str(data)
    setup = [["data", "import", "nb201", "--embedded", "--data-dir", str(data)],
             ["data", "import", "nb101", str(SHARED / "nb101" / "nb101_20k_val_acc_by_hash.csv"), "--data-dir", str(data)]]
    for cmd in setup:
        p = _harness(cmd, env)
        if p.returncode:
            raise SystemExit(f"setup failed: {' '.join(cmd)}: {p.stderr.strip()}")
    names = strategies or _strategies()
    runs: dict[str, dict] = {}
    for space in spaces:
        dataset, extra = SPACES[space]
        for name in names:
            t = time.perf_counter()
            p = _harness(["run", "--space", space, "--dataset", dataset, "--strategies", name, "--seeds", "1",
                          "--out", str(out), "--data-dir", str(data), "--no-progress", "--workers", "1", *extra], env)
            key = f"{space}/{name}"
            traj = out / space / dataset / name / "seed=0.parquet"
            if p.returncode == 0 and traj.is_file():
                runs[key] = {"columns": _content_sha(traj, space in TRAINED)}
            else:
                runs[key] = {"error": (p.stderr.strip().splitlines() or ["(no output)"])[-1]}
            shown = runs[key].get("error") or hashlib.sha256(json.dumps(runs[key], sort_keys=True).encode()).hexdigest()[:16]
            print(f"{key:32s} {time.perf_counter() - t:6.1f} s  {shown}", flush=True)
    return {"runs": runs}


def compare(now: dict, before: dict) -> int:
    diffs = 0
    for key in sorted(set(now["runs"]) | set(before["runs"])):
        a, b = before["runs"].get(key), now["runs"].get(key)
        if a != b:
            diffs += 1
            print(f"DIFFERS {key}: before {a} / now {b}")
    print(f"{len(now['runs'])} runs compared, {diffs} differ")
    return 1 if diffs else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path, help="where to write the snapshot JSON")
    ap.add_argument("--compare", type=Path, help="an earlier snapshot to compare with")
    ap.add_argument("--spaces", default=",".join(SPACES))
    ap.add_argument("--strategies", help="comma-separated (default: every registered strategy)")
    a = ap.parse_args()
    snap = snapshot(a.spaces.split(","), a.strategies.split(",") if a.strategies else None)
    a.out.write_text(json.dumps(snap, indent=1, sort_keys=True))
    return compare(snap, json.loads(a.compare.read_text())) if a.compare else 0


if __name__ == "__main__":
    sys.exit(main())
