"""``data fetch``: resumable, verified downloads from a local HTTP server, then the importer call."""
from __future__ import annotations

import hashlib
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from blackboxes.registry import BENCHMARKS, table_benchmark, with_tables
from harness import cli
from harness.data.download import Source, download, unpack
from harness.errors import DataCorrupt, HarnessError

BODY = bytes(range(256)) * 40  # 10,240 bytes
SHA = hashlib.sha256(BODY).hexdigest()
MD5 = hashlib.md5(BODY).hexdigest()
_RANGE = re.compile(r"^bytes=(\d+)-$")


# ---------------------------------------------------------------- a tiny HTTP server with Range support

class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.files``; honours ``Range: bytes=N-`` unless ``server.honour_range`` is off.

    ``server.drop_first``: paths whose first answer stops halfway (the connection is closed).
    ``server.content_type``: per path, the Content-Type sent (default octet-stream).
    ``server.no_length``: paths answered without Content-Length (the end is the closed connection).
    """

    def do_GET(self):  # noqa: N802 - http.server's name
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        body = srv.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        status, start = 200, 0
        m = _RANGE.match(self.headers.get("Range") or "")
        if m and srv.honour_range:
            start = int(m.group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        self.send_response(status)
        self.send_header("Content-Type", srv.content_type.get(self.path, "application/octet-stream"))
        if self.path not in srv.no_length:
            self.send_header("Content-Length", str(len(body) - start))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.end_headers()
        payload = body[start:]
        if self.path in srv.drop_first:
            srv.drop_first.discard(self.path)
            payload = payload[: len(payload) // 2]
            self.close_connection = True
        self.wfile.write(payload)

    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.files, srv.requests, srv.drop_first, srv.content_type = {"/f.bin": BODY}, [], set(), {}
    srv.no_length = set()
    srv.honour_range = True
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and msg
    return msg


# ---------------------------------------------------------------- download()

def test_full_download_is_verified_and_atomic(server, tmp_path):
    dest = tmp_path / "sub" / "f.bin"
    assert download(f"{server.url}/f.bin", dest, sha256=SHA, md5=MD5, size=len(BODY), progress=False) == dest
    assert dest.read_bytes() == BODY
    assert not dest.with_suffix(".bin.part").exists()
    assert server.requests == [("/f.bin", None)]


def test_progress_bar_and_unverified_sha256_note(server, tmp_path, capsys):
    download(f"{server.url}/f.bin", tmp_path / "f.bin", progress=True)
    err = capsys.readouterr().err
    assert SHA in err and "not verified" in err


def test_resume_with_range(server, tmp_path):
    dest = tmp_path / "f.bin"
    dest.with_suffix(".bin.part").write_bytes(BODY[:3000])
    download(f"{server.url}/f.bin", dest, sha256=SHA, progress=False)
    assert dest.read_bytes() == BODY
    assert server.requests == [("/f.bin", "bytes=3000-")]


def test_server_ignoring_range_restarts(server, tmp_path):
    server.honour_range = False
    dest = tmp_path / "f.bin"
    dest.with_suffix(".bin.part").write_bytes(b"x" * 3000)  # not a prefix of BODY: must be discarded
    download(f"{server.url}/f.bin", dest, sha256=SHA, size=len(BODY), progress=False)
    assert dest.read_bytes() == BODY


def test_complete_part_needs_no_request_and_longer_part_restarts(server, tmp_path):
    dest = tmp_path / "f.bin"
    part = dest.with_suffix(".bin.part")
    part.write_bytes(BODY)
    download(f"{server.url}/f.bin", dest, sha256=SHA, size=len(BODY), progress=False)
    assert dest.read_bytes() == BODY and server.requests == []
    dest.unlink()
    part.write_bytes(BODY + b"extra")  # size unknown: the server's 416 tells us the part is too long
    download(f"{server.url}/f.bin", dest, sha256=SHA, progress=False)
    assert dest.read_bytes() == BODY
    assert server.requests == [("/f.bin", f"bytes={len(BODY) + 5}-"), ("/f.bin", None)]


def test_whole_part_is_recognised_from_416(server, tmp_path):
    dest = tmp_path / "f.bin"
    dest.with_suffix(".bin.part").write_bytes(BODY)
    download(f"{server.url}/f.bin", dest, sha256=SHA, progress=False)
    assert dest.read_bytes() == BODY and server.requests == [("/f.bin", f"bytes={len(BODY)}-")]


def test_dropped_connection_keeps_the_part_and_resumes(server, tmp_path):
    server.drop_first.add("/f.bin")
    dest = tmp_path / "f.bin"
    with pytest.raises(HarnessError) as exc:
        download(f"{server.url}/f.bin", dest, sha256=SHA, progress=False)
    msg = _one_line(exc)
    assert "could not download" in msg and "resumes" in msg and "data import" in msg
    part = dest.with_suffix(".bin.part")
    assert part.read_bytes() == BODY[: len(BODY) // 2]
    download(f"{server.url}/f.bin", dest, sha256=SHA, progress=False)
    assert dest.read_bytes() == BODY and not part.exists()
    assert server.requests[-1] == ("/f.bin", f"bytes={len(BODY) // 2}-")


@pytest.mark.parametrize("kind", ["sha256", "md5", "size"])
def test_wrong_checksum_deletes_everything(server, tmp_path, kind):
    dest = tmp_path / "f.bin"
    wrong = {"sha256": {"sha256": "0" * 64}, "md5": {"md5": "0" * 32}, "size": {"size": len(BODY) + 1}}[kind]
    with pytest.raises(DataCorrupt) as exc:
        download(f"{server.url}/f.bin", dest, progress=False, **wrong)
    assert kind in _one_line(exc)
    assert list(tmp_path.iterdir()) == []


def test_resumed_download_with_bad_prefix_fails_its_checksum(server, tmp_path):
    dest = tmp_path / "f.bin"
    dest.with_suffix(".bin.part").write_bytes(b"x" * 100)  # the server honours Range: prefix kept
    with pytest.raises(DataCorrupt):
        download(f"{server.url}/f.bin", dest, sha256=SHA, progress=False)
    assert list(tmp_path.iterdir()) == []  # the next try starts from scratch


def test_size_is_checked_without_content_length(server, tmp_path):
    server.no_length.add("/f.bin")
    download(f"{server.url}/f.bin", tmp_path / "ok.bin", sha256=SHA, size=len(BODY), progress=False)
    assert (tmp_path / "ok.bin").read_bytes() == BODY
    with pytest.raises(HarnessError) as exc:  # without a length, a short file looks like a lost connection
        download(f"{server.url}/f.bin", tmp_path / "f.bin", size=len(BODY) + 1, progress=False)
    assert "connection closed after 10,240 of 10,241 bytes" in _one_line(exc)
    with pytest.raises(DataCorrupt) as exc:  # the retry learns the real size from the server's 416
        download(f"{server.url}/f.bin", tmp_path / "f.bin", size=len(BODY) + 1, progress=False)
    assert "size 10,240 bytes, expected 10,241" in _one_line(exc)
    with pytest.raises(DataCorrupt) as exc:
        download(f"{server.url}/f.bin", tmp_path / "f.bin", size=len(BODY) - 1, progress=False)
    assert "more than the expected 10,239 bytes" in _one_line(exc)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.bin"]


def test_server_size_differs_from_the_published_one(server, tmp_path):
    with pytest.raises(DataCorrupt) as exc:
        download(f"{server.url}/f.bin", tmp_path / "f.bin", size=5, progress=False)
    assert "check the URL" in _one_line(exc)
    assert list(tmp_path.iterdir()) == []


def test_connection_refused_is_one_line(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(HarnessError) as exc:
        download(f"http://127.0.0.1:{port}/f.bin", tmp_path / "f.bin", progress=False)
    msg = _one_line(exc)
    assert msg.startswith(f"could not download http://127.0.0.1:{port}/f.bin: ") and "refused" in msg.lower()
    assert "retry (the download resumes)" in msg


def test_404_is_one_line(server, tmp_path):
    with pytest.raises(HarnessError) as exc:
        download(f"{server.url}/missing.bin", tmp_path / "missing.bin", progress=False)
    assert "HTTP 404" in _one_line(exc)
    assert list(tmp_path.iterdir()) == []


def test_web_page_instead_of_file(server, tmp_path):
    server.files["/page"] = b"<html>confirm</html>"
    server.content_type["/page"] = "text/html; charset=utf-8"
    with pytest.raises(HarnessError) as exc:
        download(f"{server.url}/page", tmp_path / "f.bin", progress=False)
    assert "web page" in _one_line(exc)


def test_only_http(tmp_path):
    with pytest.raises(HarnessError):
        download(f"file://{tmp_path}/x", tmp_path / "x", progress=False)


# ---------------------------------------------------------------- the registry

def test_registry_is_consistent():
    for entry in with_tables():
        entries = entry.sources
        assert len({s.name for s in entries}) == len({s.filename for s in entries}) == len(entries)
        for s in entries:
            assert s.benchmark == entry.name and s.citation
            assert s.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", s.sha256)
            assert s.md5 is None or re.fullmatch(r"[0-9a-f]{32}", s.md5)
            assert s.url.startswith("https://")
            assert s.fetchable == ("drive.google.com" not in s.url)
            assert entry.find_source(s.name) is s is entry.find_source(s.filename)
    nb101 = BENCHMARKS["nb101"].default_source()
    assert nb101.fetchable and nb101.filename == "nasbench_only108.tfrecord" and nb101.sha256
    assert BENCHMARKS["nb201"].default_source().filename == "NATS-tss-v1_0-3ffb9-simple.tar"
    with pytest.raises(HarnessError):
        BENCHMARKS["enas6"].default_source()
    with pytest.raises(HarnessError):
        table_benchmark("nb999")


def fetch(benchmark: str, data_dir, **kw):
    return table_benchmark(benchmark).fetch(data_dir, **kw)


def _with_sources(monkeypatch, benchmark: str, *sources: Source) -> None:
    import dataclasses

    monkeypatch.setitem(BENCHMARKS, benchmark, dataclasses.replace(BENCHMARKS[benchmark], sources=sources))


# ---------------------------------------------------------------- fetch(): download + import

@pytest.fixture
def importers(monkeypatch):
    """Replace both importers by stubs recording (benchmark, paths, data_dir)."""
    from blackboxes.nb101 import table as nb101_table
    from blackboxes.nb201 import table as nb201_table

    calls = []
    for name, mod in (("nb101", nb101_table), ("nb201", nb201_table)):
        monkeypatch.setattr(mod, "import_files", lambda paths, data_dir=None, _n=name, **kw: calls.append((_n, list(paths), data_dir)))
    return calls


def test_fetch_url_downloads_into_downloads_then_imports(server, tmp_path, importers):
    server.files["/tiny.tfrecord"] = BODY
    path = fetch("nb101", tmp_path, url=f"{server.url}/tiny.tfrecord", sha256=SHA, progress=False)
    assert path == tmp_path / "downloads" / "tiny.tfrecord" and path.read_bytes() == BODY
    assert importers == [("nb101", [path], tmp_path)]
    fetch("nb101", tmp_path, url=f"{server.url}/tiny.tfrecord", sha256=SHA, progress=False)
    assert len(server.requests) == 1 and len(importers) == 2  # present and verified: no new download


def test_fetch_default_source(server, tmp_path, importers, monkeypatch):
    server.files["/nats.tar"] = BODY
    test_source = Source("nb201", "test", f"{server.url}/nats.tar", "NATS-test.tar", len(BODY), MD5, SHA,
                         "nats-tss-archive", "test", True)
    _with_sources(monkeypatch, "nb201", test_source)
    path = fetch("nb201", tmp_path, progress=False)
    assert importers == [("nb201", [tmp_path / "downloads" / "NATS-test.tar"], tmp_path)]
    assert path.read_bytes() == BODY
    assert fetch("nb201", tmp_path, source="test", progress=False) == path


def test_mirror_of_an_official_file_must_match_the_published_checksum(server, tmp_path, importers):
    server.files["/nasbench_only108.tfrecord"] = BODY  # not the real 522,767,376-byte file
    with pytest.raises(DataCorrupt):
        fetch("nb101", tmp_path, url=f"{server.url}/nasbench_only108.tfrecord", progress=False)
    assert importers == [] and not (tmp_path / "downloads" / "nasbench_only108.tfrecord").exists()


def test_drive_only_source_gives_the_page_and_the_import_command(tmp_path, importers):
    with pytest.raises(HarnessError) as exc:
        fetch("nb201", tmp_path, progress=False)
    msg = _one_line(exc)
    assert "https://drive.google.com/file/d/17_saCsj_krKjlCBLOJEpNtzPXArMCqxU/view" in msg
    assert "python -m harness data import nb201" in msg and str(tmp_path / "downloads") in msg
    with pytest.raises(HarnessError) as exc:
        fetch("nb201", tmp_path, url="https://drive.google.com/file/d/abc/view", progress=False)
    assert "browser" in _one_line(exc)
    assert importers == []


def test_drive_only_file_put_in_downloads_is_verified_and_imported(tmp_path, importers, monkeypatch):
    test_source = Source("nb201", "drive", "https://drive.google.com/file/d/x/view", "NATS-x.tar", len(BODY),
                         None, SHA, "nats-tss-archive", "test", False)
    _with_sources(monkeypatch, "nb201", test_source)
    dest = tmp_path / "downloads" / "NATS-x.tar"
    dest.parent.mkdir()
    dest.write_bytes(BODY[:-1] + b"?")
    with pytest.raises(DataCorrupt):
        fetch("nb201", tmp_path, progress=False)
    dest.write_bytes(BODY)
    assert fetch("nb201", tmp_path, progress=False) == dest
    assert importers == [("nb201", [dest], tmp_path)]


def test_fetch_argument_errors(tmp_path, importers):
    for kwargs in ({"sha256": "abc"}, {"source": "no-such-source"}, {"url": "http://127.0.0.1:1/"}):
        with pytest.raises(HarnessError) as exc:
            fetch("nb101", tmp_path, progress=False, **kwargs)
        _one_line(exc)
    with pytest.raises(HarnessError):
        fetch("nb999", tmp_path)
    assert importers == []


def test_cli_fetch_prints_one_line(tmp_path, capsys):
    assert cli.main(["data", "fetch", "nb201", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "drive.google.com" in err and "\n" not in err


def test_cli_fetch_url(server, tmp_path, importers, capsys):
    server.files["/tiny.tfrecord"] = BODY
    argv = ["data", "fetch", "nb101", "--url", f"{server.url}/tiny.tfrecord", "--sha256", SHA, "--data-dir", str(tmp_path)]
    assert cli.main(argv) == 0
    assert importers == [("nb101", [tmp_path / "downloads" / "tiny.tfrecord"], tmp_path)]


# ---------------------------------------------------------------- end to end with the real NB101 importer

def _tiny_nb101_tfrecord(path: Path) -> int:
    """A real-format nasbench tfrecord: 3 chain cells x 3 repeats at 108 epochs; the cell count."""
    from blackboxes.nb101 import codec as nb101_codec
    from blackboxes.nb101 import tfrecord
    from spaces import nb101

    E, M = nb101_codec.EvaluationData, nb101_codec.ModelMetrics
    records = []
    for k, middle in enumerate((["conv3x3-bn-relu"], ["conv1x1-bn-relu", "maxpool3x3"], ["maxpool3x3"] * 3)):
        n = len(middle) + 2
        adjacency = "".join("1" if j == i + 1 else "0" for i in range(n) for j in range(n))
        operations = ",".join(["input", *middle, "output"])
        spec = nb101.spec_from_strings(adjacency, operations)
        h = nb101.module_hash(spec.matrix, spec.ops)
        for r in range(3):
            final = E(108.0, 1000.0 + k, 1.0, 0.80 + 0.01 * k + 0.001 * r, 0.79 + 0.01 * k, "")
            metrics = M((E(), E(54.0, 500.0, 0.5, 0.5, 0.5, ""), final), 100_000 + k, 1100.0)
            records.append(nb101_codec.make_record(h, 108, adjacency, operations, metrics))
    tfrecord.write_records(path, records)
    return 3


def test_fetch_then_real_nb101_import(server, tmp_path):
    from harness.data.store import stored

    src = tmp_path / "src.tfrecord"
    n_cells = _tiny_nb101_tfrecord(src)
    data = src.read_bytes()
    server.files["/tiny108.tfrecord"] = data
    data_dir = tmp_path / "data"
    path = fetch("nb101", data_dir, url=f"{server.url}/tiny108.tfrecord",
                 sha256=hashlib.sha256(data).hexdigest(), progress=False)
    table = stored("nb101", data_dir)
    assert table.exists() and table.manifest()["n_rows"] == n_cells
    (source,) = table.manifest()["sources"]
    assert Path(source["path"]) == path and source["sha256"] == hashlib.sha256(data).hexdigest()
    val = sorted(table.read(["val@108/r0"]).column("val@108/r0").to_pylist())
    assert val == pytest.approx([80.0, 81.0, 82.0])



# ---------------------------------------------------------------- image datasets

def _cifar_tarball(tmp_path) -> bytes:
    import io
    import tarfile

    from test_training import _write_cifar

    root = tmp_path / "build"
    d = _write_cifar(root)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(d, arcname="cifar-10-batches-py")
    return buf.getvalue()


def test_fetch_cifar10_unpacks_where_the_loader_looks(server, tmp_path, monkeypatch):
    import hashlib

    from blackboxes.training import fetch as fetch_mod
    from blackboxes.training.data import load_dataset

    blob = _cifar_tarball(tmp_path)
    server.files["/cifar-10-python.tar.gz"] = blob
    src = fetch_mod.DATASET_SOURCES["cifar10"]
    monkeypatch.setitem(fetch_mod.DATASET_SOURCES, "cifar10", src.__class__(**{
        **src.__dict__, "url": f"{server.url}/cifar-10-python.tar.gz", "md5": hashlib.md5(blob).hexdigest()}))
    where = fetch_mod.fetch_dataset("cifar10", tmp_path / "data", progress=False)
    ds = load_dataset("cifar10", tmp_path / "data")
    assert where == tmp_path / "data" / "cifar10" and ds.n_classes == 10 and len(ds.train.labels) == 20


def test_fetch_dataset_wrong_checksum_and_evil_archive(server, tmp_path, monkeypatch):
    import io
    import tarfile

    from blackboxes.training import fetch as fetch_mod

    server.files["/cifar-10-python.tar.gz"] = b"not the archive"
    src = fetch_mod.DATASET_SOURCES["cifar10"]
    monkeypatch.setitem(fetch_mod.DATASET_SOURCES, "cifar10", src.__class__(**{
        **src.__dict__, "url": f"{server.url}/cifar-10-python.tar.gz"}))
    with pytest.raises(DataCorrupt):
        fetch_mod.fetch_dataset("cifar10", tmp_path / "data", progress=False)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    evil = tmp_path / "evil.tar.gz"
    evil.write_bytes(buf.getvalue())
    with pytest.raises(DataCorrupt, match="outside"):
        unpack(evil, tmp_path / "target")
    assert not (tmp_path / "escape.txt").exists()
    with pytest.raises(HarnessError, match="unknown dataset"):
        fetch_mod.fetch_dataset("mnist", tmp_path / "data")
