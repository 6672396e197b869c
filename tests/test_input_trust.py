"""Issue 24: names, a strategy that ends its process, deep input, special files, endless or stalled
downloads, state-file bombs and absurd timeouts each end in one line that blames the right party,
quickly, with nothing written outside ``--out`` and no run reported as a success.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from harness import statefile
from harness.cli import main
from harness.config import RunConfig
from harness.data import download, formats
from harness.data.store import stored
from harness.errors import DataCorrupt, HarnessError
from strategies.base import Strategy
from strategies.registry import STRATEGIES

TESTS = Path(__file__).resolve().parent
RULE = "names are letters, digits, '_', '-', '.' and ':', at most 200 characters, and do not start with '.'"


class ExitsHard(Strategy):
    """Ends its process without a word, as ``os._exit`` in a plugin would."""

    def ask(self, n):
        os._exit(0)


def _one_line(err: str) -> str:
    err = err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def _run(data: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--space", "nb201", "--data-dir", str(data), "--out", str(out), "--no-progress", "--seeds", "1",
            "--budget", "3", "--executor", "serial", *extra]


# ---------------------------------------------------------------- 1. names are not paths


@pytest.mark.parametrize("name", ["../../../escaped", "/tmp/x", ".hidden", "a/b", "", "x" * 201, "a\\b", "a b"])
def test_registering_a_name_that_is_not_one_folder_is_refused(name):
    with pytest.raises(HarnessError, match=re.escape(RULE)):
        STRATEGIES.register(name, "strategies.random_search:RandomSearch")
    with pytest.raises(HarnessError, match=re.escape(RULE)):
        RunConfig(space="nb201", dataset="cifar10-valid", strategy=name, seed=0, budget=1)
    with pytest.raises(HarnessError, match=re.escape(RULE)):
        stored(name, "/nonexistent-data-dir")


def test_usual_names_are_accepted():
    for name in ("random", "rea_nb201", "ImageNet16-120", "my.plugin-2", "conformance:pkg.mod:Class", "x" * 200):
        STRATEGIES.register(name, "strategies.random_search:RandomSearch")
        assert RunConfig(space="nb201", dataset=name, strategy=name, seed=0, budget=1).strategy == name


def test_a_plugin_named_like_a_path_writes_nothing_outside_out(nb201_data_dir, tmp_path, capsys):
    """An entry point is added without ``register``; its name is checked where the run is built."""
    outside = tmp_path / "abs-target"
    names = ["../../../escaped", str(outside)]
    for name in names:
        STRATEGIES._entries[name] = "strategies.random_search:RandomSearch"
    out = tmp_path / "a" / "b" / "c" / "results"
    for name in names:
        assert main(_run(nb201_data_dir, out, "--strategies", name)) == 2
        assert RULE in _one_line(capsys.readouterr().err)
    assert not outside.exists()
    assert not [p for p in tmp_path.rglob("*escaped*")] and not (tmp_path / "a").exists()


def test_an_entry_point_with_a_path_for_a_name_is_refused_when_chosen(monkeypatch):
    import harness.registry as registry

    class EP:
        name, value = "../evil", "strategies.random_search:RandomSearch"

    monkeypatch.setattr(registry, "entry_points", lambda group: [EP()])
    reg = registry.LazyRegistry("strategy", {"random": "strategies.random_search:RandomSearch"}, "some.group")
    assert reg.names() == ["random"]
    with pytest.raises(HarnessError, match=f"{re.escape(RULE)}.*entry point"):
        reg.target("../evil")


# ---------------------------------------------------------------- 2. a strategy cannot end the harness silently


def test_a_strategy_ending_its_process_under_serial_fails_its_run_only(nb201_data_dir, tmp_path):
    script = ("import sys; from strategies.registry import STRATEGIES; "
              "STRATEGIES.register('hard', 'test_input_trust:ExitsHard'); "
              "from harness.cli import main; sys.exit(main(sys.argv[1:]))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "r"
    p = subprocess.run([sys.executable, "-c", script, *_run(nb201_data_dir, out, "--strategies", "hard,random")],
                       capture_output=True, text=True, env=env, timeout=120, cwd=tempfile.gettempdir())
    assert p.returncode == 1, p.stderr
    assert "failed: hard seed=0: its worker process exited with code 0" in p.stderr
    assert "Traceback" not in p.stderr
    base = out / "nb201" / "cifar10-valid"
    assert (base / "random" / "seed=0.parquet").is_file()  # the next run still ran
    assert not (base / "hard" / "seed=0.parquet").exists()


# ---------------------------------------------------------------- 3. deep input is one line, not a traceback


def test_nb101_json_nested_100000_deep_is_one_line(tmp_path, capsys):
    path = tmp_path / "nested.json"
    path.write_text('{"a":' * 100_000 + "1" + "}" * 100_000)
    assert main(["data", "import", "nb101", str(path), "--data-dir", str(tmp_path / "d")]) == 2
    assert "nests lists or objects too deeply" in _one_line(capsys.readouterr().err)


def test_param_nested_100000_deep_is_one_line(nb201_data_dir, tmp_path, capsys):
    from harness.study import MAX_PARAM_DEPTH, strategy_params

    deep = "[" * 100_000 + "]" * 100_000
    assert main(_run(nb201_data_dir, tmp_path / "r", "--strategies", "rea",
                     "--param", f"rea.population_size={deep}")) == 2
    assert f"more than {MAX_PARAM_DEPTH} deep" in _one_line(capsys.readouterr().err)
    nested = lambda k: "[" * k + "1" + "]" * k  # noqa: E731
    with pytest.raises(HarnessError, match="deep"):
        strategy_params([f"rea.x={nested(MAX_PARAM_DEPTH)}"], ["rea"])
    assert strategy_params([f"rea.x={nested(MAX_PARAM_DEPTH - 1)}", "rea.y={\"a\": [1, 2]}", "rea.z=text"], ["rea"])


def test_a_state_file_with_a_100000_deep_tree_is_data_corrupt(tmp_path):
    tree = ('{"l":[' * 100_000 + "]}" * 100_000).encode()
    buf = io.BytesIO()
    np.savez(buf, __tree__=np.frombuffer(tree, dtype=np.uint8))
    path = tmp_path / "seed=0.strategy.npz"
    path.write_bytes(buf.getvalue())
    with pytest.raises(DataCorrupt, match="nested too deeply"):
        statefile.load(path)
    for junk in (b"[1, 2]", b'{"a": 1, "b": 2}', b'{"l": [[]]}'):  # trees of the wrong shape
        buf = io.BytesIO()
        np.savez(buf, __tree__=np.frombuffer(junk, dtype=np.uint8))
        with pytest.raises(DataCorrupt):
            statefile.loads(buf.getvalue())


def test_run_with_a_manifest_lacking_table_sha256_is_one_line(nb201_data_dir, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(nb201_data_dir, data)
    manifest = data / "nb201" / "manifest.json"
    m = json.loads(manifest.read_text())
    del m["table_sha256"], m["n_rows"]
    manifest.write_text(json.dumps(m))
    assert main(_run(data, tmp_path / "r", "--strategies", "random")) == 2
    err = _one_line(capsys.readouterr().err)
    assert "no valid table_sha256" in err and "data import nb201" in err
    assert main(["data", "list", "--data-dir", str(data)]) == 0


# ---------------------------------------------------------------- 4. nothing waits forever or grows without bound


def _unblock_after(fifo: Path, seconds: float, done: threading.Event) -> threading.Thread:
    """Open ``fifo`` for writing after ``seconds`` (then close it), so a reader stuck on it ends."""

    def unblock():
        deadline = time.monotonic() + seconds
        while not done.wait(0.1):
            if time.monotonic() < deadline:
                continue
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:  # no reader (yet)
                continue

    thread = threading.Thread(target=unblock, daemon=True)
    thread.start()
    return thread


def test_data_import_refuses_a_fifo_at_once(tmp_path, capsys):
    fifo = tmp_path / "x.csv"
    os.mkfifo(fifo)
    done = threading.Event()
    watchdog = _unblock_after(fifo, 8.0, done)
    start = time.monotonic()
    try:
        code = main(["data", "import", "nb201", str(fifo), "--data-dir", str(tmp_path / "d")])
    finally:
        done.set()
        watchdog.join()
    assert time.monotonic() - start < 5
    assert code == 2 and "special file" in _one_line(capsys.readouterr().err)


def test_data_import_refuses_a_device_named_like_a_table(tmp_path):
    link = tmp_path / "x.csv"
    link.symlink_to("/dev/zero")
    with pytest.raises(DataCorrupt, match="special file"):
        formats.require_regular(link)

    def limit_memory():  # were /dev/zero read, the child would stop at 4 GB, not the machine
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    p = subprocess.run([sys.executable, "-m", "harness", "data", "import", "nb201", str(link), "--data-dir",
                        str(tmp_path / "d")], capture_output=True, text=True, timeout=60, preexec_fn=limit_memory)
    assert p.returncode == 2 and "special file" in _one_line(p.stderr)


def test_a_nats_directory_holding_a_fifo_is_refused(tmp_path):
    from blackboxes.nb201.official import read_nats_archive

    root = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    root.mkdir()
    os.mkfifo(root / "meta.pickle.pbz2")
    with pytest.raises(DataCorrupt, match="special file"):
        read_nats_archive(root, allow_pickle=True)


class _Endless(BaseHTTPRequestHandler):
    """``/forever``: zeros without Content-Length; ``/trickle``: a byte every 50 ms. Each stops by
    itself after ``server.stop_after`` seconds, so a test that fails never hangs."""

    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        deadline = time.monotonic() + self.server.stop_after
        block = b"\0" * (64 << 10) if self.path == "/forever" else b"\0"
        try:
            while time.monotonic() < deadline and not self.server.stopping.is_set():
                self.wfile.write(block)
                if self.path == "/trickle":
                    self.wfile.flush()
                    time.sleep(0.05)
        except OSError:  # the client gave up
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def endless():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    srv.daemon_threads = True
    srv.stop_after, srv.stopping = 20.0, threading.Event()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield srv
    srv.stopping.set()
    srv.shutdown()
    srv.server_close()


def test_fetch_without_a_published_size_stops_at_the_cap(endless, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "MAX_UNPUBLISHED_BYTES", 2 << 20)
    dest = tmp_path / "f.bin"
    start = time.monotonic()
    with pytest.raises(DataCorrupt, match="sent more than 2,097,152 bytes") as exc:
        download.download(f"{endless.url}/forever", dest, sha256="0" * 64, progress=False)
    assert "\n" not in str(exc.value) and time.monotonic() - start < 10
    assert not dest.exists() and not dest.with_suffix(".bin.part").exists()


def test_fetch_of_a_trickling_server_fails_as_stalled(endless, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "TIMEOUT_S", 1.0)
    start = time.monotonic()
    with pytest.raises(HarnessError, match="stalled after .* bytes") as exc:
        download.download(f"{endless.url}/trickle", tmp_path / "f.bin", sha256="0" * 64, progress=False)
    assert "\n" not in str(exc.value) and "retry (the download resumes)" in str(exc.value)
    assert time.monotonic() - start < 5


def _bomb(declared_bytes: int, real_bytes: int) -> bytes:
    """A state file whose tree is one array, whose header declares ``declared_bytes`` and whose
    member inflates to ``real_bytes`` of zeros (highly compressible: about 1 KB on disk per MB)."""
    tree = io.BytesIO()
    np.save(tree, np.frombuffer(b'{"a":0}', dtype=np.uint8))
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (declared_bytes // 8,)})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("__tree__.npy", tree.getvalue())
        with zf.open("a0.npy", "w", force_zip64=True) as fh:
            fh.write(header.getvalue())
            left = real_bytes
            while left:
                fh.write(b"\0" * min(left, 1 << 20))
                left -= min(left, 1 << 20)
    return buf.getvalue()


def test_a_state_file_that_inflates_past_the_limit_is_refused_before_inflating(monkeypatch):
    monkeypatch.setattr(statefile, "MAX_STATE_BYTES", 16 << 20)
    blob = _bomb(64 << 20, 64 << 20)
    assert len(blob) < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(DataCorrupt, match="would inflate to"):
            statefile.loads(blob, "forged.npz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_a_state_file_whose_array_header_lies_is_refused():
    blob = _bomb(8 << 40, 1 << 10)  # an 8 TB array in a 1 KB member
    with pytest.raises(DataCorrupt, match="declares an array of"):
        statefile.loads(blob, "forged.npz")


# ---------------------------------------------------------------- 5. messages blame the right party


@pytest.mark.parametrize("value", ["1e300", "1e8", "inf", "nan", "0", "-1"])
def test_absurd_timeouts_are_refused_by_the_argument_parser(value, tmp_path, capsys):
    for flag in ("--strategy-timeout", "--eval-timeout"):
        assert main(_run(tmp_path / "d", tmp_path / "r", "--strategies", "random", flag, value)) == 2
        err = _one_line(capsys.readouterr().err)
        assert f"argument {flag}" in err and "strategy" not in err.split(flag, 1)[1]


def test_absurd_timeouts_are_refused_when_the_study_is_built(nb201_data_dir, tmp_path):
    from harness.study import StudyRequest

    with pytest.raises(HarnessError, match="--strategy-timeout must be positive seconds, at most 1e"):
        StudyRequest(space="nb201", strategies=("random",), seeds=1, out=str(tmp_path), data_dir=str(nb201_data_dir),
                     strategy_timeout=1e300).resolve()
