"""Run every command block of README.md as written, in a fresh clone, and say how each one ended.

    python benchmarks/readme_check.py              # clone HEAD into a temp dir, venv on top of this Python's packages
    python benchmarks/readme_check.py --fresh-venv # a venv without this Python's packages (pip downloads/installs all)
    python benchmarks/readme_check.py --only 1     # just the first block (the main job)

Each bash line runs with ``bash -c`` in the clone's root, in a virtual environment of the clone
(``pip install -e`` installs the clone, not this checkout), with an empty ``HARNESS_DATA``. A
command that names a file the user downloads (the official NATS-Bench archive, NASLib's
pickles, ...) is run too; since the file is not on this machine, it must end with the harness's
one-line "error: ..." and no traceback. The download command (``data fetch``) needs the internet
and is covered by tests/test_fetch.py against a local server; it is listed, not run. The
strategy guide's Python blocks are saved where the README puts them (the strategy file under
``strategies/``, registered with the one registry line the guide asks for) and the check is run
as a script *without* a main guard, as a user would save it.

Prints a line per command (block, exit code, seconds, verdict) and exits 1 if any verdict is bad.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```(bash|python|toml)\n(.*?)```", re.S)
USER_FILES = re.compile(r"NATS-tss|\.pickle\b|\.pkl\b|\.tfrecord\b|\btable\.csv\b")
NOT_RUN = {re.compile(r"\bdata fetch\b"): "needs the internet; tests/test_fetch.py serves the file locally",
           re.compile(r"python -m pytest"): "the test suite: CI runs it (.ci/run)"}
REGISTRY_LINE = '        "greedy_mutation": "strategies.greedy_mutation:GreedyMutation",\n'
TIMEOUT_S = 1800


@dataclass
class Outcome:
    block: int
    command: str
    rc: int | None
    seconds: float
    verdict: str
    ok: bool


def blocks(readme: str) -> list[tuple[int, str, str]]:
    return [(i + 1, m.group(1), m.group(2)) for i, m in enumerate(BLOCK.finditer(readme))]


def bash_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _run(cmd: list[str], cwd: Path, env: dict) -> tuple[int | None, float, str]:
    t = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - t, f"timed out after {TIMEOUT_S} s"
    out = (proc.stdout + proc.stderr)
    return proc.returncode, time.perf_counter() - t, out


def _judge(block: int, command: str, rc: int | None, seconds: float, output: str) -> Outcome:
    traceback = "Traceback (most recent call last)" in output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    if rc is None:
        return Outcome(block, command, rc, seconds, output, False)
    if USER_FILES.search(command):
        ok = rc != 0 and not traceback and len(errors) == 1
        verdict = f"official file not on this machine: {errors[0][:110] if errors else 'no one-line error'}"
        return Outcome(block, command, rc, seconds, verdict, ok)
    if rc == 2 and not traceback and len(errors) == 1 and "python -m harness data import" in errors[0]:
        # the command needs a table imported from an official file that is not on this machine
        return Outcome(block, command, rc, seconds, f"needs an official file's table: {errors[0][:110]}", True)
    last = next((line for line in reversed(output.splitlines()) if line.strip()), "")
    ok = rc == 0 and not traceback
    return Outcome(block, command, rc, seconds, ("ok: " if ok else "FAILED: ") + last[:110], ok)


def make_env(clone: Path, fresh_venv: bool) -> dict:
    venv = clone / ".venv"
    args = [sys.executable, "-m", "venv", str(venv)] + ([] if fresh_venv else ["--system-site-packages"])
    subprocess.run(args, check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv),
               HARNESS_DATA=str(clone / ".harness-data"), OMP_NUM_THREADS="1")
    return env


def check(clone: Path, env: dict, only: set[int] | None) -> list[Outcome]:
    outcomes = []
    readme = (clone / "README.md").read_text()
    for number, kind, text in blocks(readme):
        if only and number not in only:
            continue
        if kind == "toml":
            outcomes.append(Outcome(number, text.strip().splitlines()[0], 0, 0.0,
                                    "entry point: tests/test_add_your_own.py installs a package with it", True))
            continue
        if kind == "python":
            outcomes.append(_python_block(number, text, clone, env))
            continue
        for command in bash_lines(text):
            skip = next((why for rx, why in NOT_RUN.items() if rx.search(command)), None)
            if skip:
                outcomes.append(Outcome(number, command, None, 0.0, f"not run: {skip}", True))
                continue
            rc, seconds, output = _run(["bash", "-c", command], clone, env)
            outcomes.append(_judge(number, command, rc, seconds, output))
            print(_line(outcomes[-1]), flush=True)
    return outcomes


def _python_block(number: int, text: str, clone: Path, env: dict) -> Outcome:
    first = text.splitlines()[0]
    if first.startswith("# ") and first[2:].strip().endswith(".py"):  # a file the guide tells you to create
        path = clone / first[2:].strip()
        path.write_text(text)
        registry = clone / "strategies" / "registry.py"
        source = registry.read_text()
        if REGISTRY_LINE not in source:
            registry.write_text(source.replace("    },\n    entry_point_group", REGISTRY_LINE + "    },\n    entry_point_group", 1))
        return Outcome(number, first, 0, 0.0, f"saved as {path.relative_to(clone)} and registered", True)
    script = clone / f"readme_block_{number}.py"  # no main guard, as a user saves it
    script.write_text(text)
    rc, seconds, output = _run([str(Path(env["VIRTUAL_ENV"]) / "bin" / "python"), script.name], clone, env)
    outcome = _judge(number, f"python {script.name}  ({text.strip().splitlines()[-1][:60]})", rc, seconds, output)
    print(_line(outcome), flush=True)
    return outcome


def _line(o: Outcome) -> str:
    rc = "-" if o.rc is None else str(o.rc)
    return f"[{'ok' if o.ok else 'BAD'}] block {o.block:2d} rc {rc:>3} {o.seconds:7.1f} s  {o.command[:90]}\n        {o.verdict}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fresh-venv", action="store_true")
    ap.add_argument("--only", help="comma-separated block numbers")
    ap.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    ap.add_argument("--working-tree", action="store_true",
                    help="copy the working tree's files (tracked and untracked, not ignored) instead of cloning HEAD")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="readme-check-"))
    clone = tmp / "nas-harness"
    if args.working_tree:
        files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                               capture_output=True).stdout.decode().split("\0")
        for name in filter(None, files):
            if (ROOT / name).is_file():
                (clone / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, clone / name)
        print(f"copy of {ROOT}'s working tree in {clone}", flush=True)
    else:
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True).stdout
        print(f"fresh clone of {ROOT} at {head.strip()} in {clone}", flush=True)
    env = make_env(clone, args.fresh_venv)
    only = {int(x) for x in args.only.split(",")} if args.only else None
    outcomes = check(clone, env, only)
    print("\nsummary:")
    for o in outcomes:
        print(_line(o))
    bad = [o for o in outcomes if not o.ok]
    print(f"\n{len(outcomes)} commands, {len(bad)} bad")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"kept {clone}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
