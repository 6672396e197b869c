"""The report is replaced whole or not at all (issue 13 item 11): an interrupted or failing build leaves the
previous report byte-identical, a rebuild drops figures of strategies no longer present, no hidden build
folder stays behind, bad ``--out`` values are one line, skipped runs are said on the console, and NaN /
infinite accuracies never crash a figure."""
from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest
from matplotlib.figure import Figure
from test_report import write_run

from harness import atomic
from harness.cli import main
from harness.errors import HarnessError
from harness.report import build, figures, publish
from harness.report.build import build_report

INF, NAN = float("inf"), float("nan")


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path, with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def two_strategies(results: Path) -> None:
    for seed in (0, 1):
        write_run(results, "alpha", seed, val=[50, 70, 60, 75], test=[49, 69, 59, 74])
        write_run(results, "beta", seed, val=[55, 65, 80, 60], test=[54, 64, 79, 59])


@pytest.fixture(scope="module")
def first_build(tmp_path_factory) -> Path:
    """Results of two strategies and the report built from them, once (tests copy them)."""
    root = tmp_path_factory.mktemp("first-build")
    two_strategies(root / "results")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Figure, "savefig", unrendered_save)
        build_report(root / "results", root / "site" / "report")
    return root


@pytest.fixture
def built(tmp_path, unrendered, first_build) -> tuple[Path, Path, dict[str, bytes]]:
    """A results folder, a report built from it (in its own parent folder) and that report's bytes."""
    shutil.copytree(first_build, tmp_path, dirs_exist_ok=True)
    results, out = tmp_path / "results", tmp_path / "site" / "report"
    return results, out, snapshot(out)


def no_hidden_folders(out: Path) -> None:
    left = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    assert not left, f"a build left {left} beside the report"


@pytest.fixture
def unrendered(monkeypatch):
    """Figures are laid out as usual but saved as a few bytes: rendering is most of a build's time, and
    these tests are about which files exist, not what they show (test_report_figures looks at those)."""
    monkeypatch.setattr(Figure, "savefig", unrendered_save)


def unrendered_save(fig, path, **kwargs) -> None:
    Path(path).write_bytes(f"{fig.get_size_inches()}".encode())


@pytest.mark.parametrize("workers", [1, 2], ids=["in-process", "forked-figure-workers"])
@pytest.mark.parametrize("exc", [KeyboardInterrupt(), RuntimeError("boom")], ids=["ctrl-c", "exception"])
def test_interrupted_build_leaves_the_previous_report_byte_identical(built, monkeypatch, exc, workers):
    results, out, before = built
    write_run(results, "alpha", 2, val=[90, 91, 92, 93], test=[90, 91, 92, 93])  # new tables would differ

    def interrupted(*args, **kwargs):  # tables are written by then: in place, they would be half new
        raise exc

    monkeypatch.setattr(figures, "draw_top_architectures", interrupted)
    with pytest.raises(type(exc)):
        build_report(results, out, workers=workers)
    assert snapshot(out) == before
    no_hidden_folders(out)


def test_full_disk_mid_build_is_one_line_and_keeps_the_previous_report(built, monkeypatch):
    results, out, before = built
    write_run(results, "beta", 2, val=[1, 2, 3, 4], test=[1, 2, 3, 4])
    real, calls = atomic.write_bytes, []

    def fills_up(path, data):
        calls.append(path)
        if len(calls) > 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, data)

    monkeypatch.setattr(build.atomic, "write_bytes", fills_up)
    with pytest.raises(HarnessError) as info:
        build_report(results, out)
    message = str(info.value)
    assert "\n" not in message and "No space left" in message and "previous report is unchanged" in message
    assert snapshot(out) == before
    no_hidden_folders(out)


def test_rebuild_drops_figures_of_strategies_no_longer_present(built):
    results, out, before = built
    assert any("beta" in name for name in before)
    shutil.rmtree(results / "nb201" / "cifar10-valid" / "beta")
    build_report(results, out)
    after = snapshot(out)
    assert not [name for name in after if "beta" in name]
    fresh = out.parent.parent / "fresh"
    build_report(results, fresh)
    assert after == snapshot(fresh)  # a rebuild is exactly what a first build would be
    no_hidden_folders(out)


def test_a_killed_build_leaves_a_folder_the_next_build_removes(built):
    results, out, before = built
    dead = out.parent / f".{out.name}.{2**22 + 12345}.building-x1"  # pid above pid_max: its process is gone
    (dead / "nb201").mkdir(parents=True)
    build_report(results, out)
    after = snapshot(out)
    assert after.pop("index.md") != before.pop("index.md")  # names the copied results folder: rebuilt
    assert after == before
    no_hidden_folders(out)


def test_out_that_is_a_file_is_one_line_and_untouched(tmp_path, unrendered):
    results, out = tmp_path / "results", tmp_path / "report.txt"
    two_strategies(results)
    out.write_text("mine")
    with pytest.raises(HarnessError, match="is a file") as info:
        build_report(results, out)
    assert "\n" not in str(info.value) and out.read_text() == "mine"


def test_out_that_is_not_a_report_is_one_line_and_untouched(tmp_path, unrendered):
    results, out = tmp_path / "results", tmp_path / "papers"
    two_strategies(results)
    (out / "draft").mkdir(parents=True)
    (out / "draft" / "paper.tex").write_text("\\section{}")
    (out / "notes.md").write_text("# my notes")
    before = snapshot(out)
    with pytest.raises(HarnessError, match="not an earlier report") as info:
        build_report(results, out)
    assert "\n" not in str(info.value) and snapshot(out) == before
    no_hidden_folders(out)


def test_out_holding_the_results_is_refused(tmp_path, unrendered):
    results = tmp_path / "study" / "results"
    two_strategies(results)
    with pytest.raises(HarnessError, match="holds --results"):
        build_report(results, tmp_path / "study")
    assert sorted(p.name for p in (tmp_path / "study").iterdir()) == ["results"]


def test_read_only_filesystem_is_one_line(built, monkeypatch, capsys):
    """A read-only destination (simulated: the tests may run as root, whom chmod does not stop)."""
    results, out, before = built

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(out.parent))

    monkeypatch.setattr(publish.tempfile, "mkdtemp", read_only)
    assert main(["report", "--results", str(results), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write the report") and "Read-only file system" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert snapshot(out) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders; the simulated case covers it")
def test_read_only_parent_is_one_line(tmp_path, capsys, unrendered):
    results, parent = tmp_path / "results", tmp_path / "ro"
    two_strategies(results)
    parent.mkdir()
    parent.chmod(0o555)
    try:
        assert main(["report", "--results", str(results), "--out", str(parent / "report")]) == 2
    finally:
        parent.chmod(0o755)
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write the report") and err.count("\n") == 1
    assert list(parent.iterdir()) == []


def test_cli_says_skipped_runs_on_stderr(tmp_path, capsys, unrendered):
    results, out = tmp_path / "results", tmp_path / "report"
    two_strategies(results)
    write_run(results, "gamma", 0, val=[1, 2], test=[1, 2])
    write_run(results, "gamma", 3, val=[1, 2], test=[1, 2])
    (results / "nb201" / "cifar10-valid" / "gamma" / "seed=0.run.json").unlink()  # unfinished
    with open(results / "nb201" / "cifar10-valid" / "gamma" / "seed=3.parquet", "ab") as fh:
        fh.write(b"x")  # no longer matches its manifest
    assert main(["report", "--results", str(results), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    err = " ".join(captured.err.split())  # the console may wrap a long line at its width
    assert "skipped 2 runs of nb201/cifar10-valid/gamma (seed=0, seed=3):" in err
    assert "no complete manifest (unfinished run)" in err and "does not match its manifest checksum" in err
    assert "2 runs skipped in all" in err
    assert "skipped 2" not in captured.out  # stdout lists what was written; problems go to stderr
    assert "seed=0.parquet: no complete manifest" in (out / "index.md").read_text()


def test_impossible_accuracies_skip_their_run_and_the_rest_is_drawn(tmp_path):
    """An infinite accuracy is no accuracy (``storage.trajectory_problem``): its run is a named skipped
    run, never a number in a table or a crash in a figure; NaN where nothing was measured is fine."""
    results, out, said = tmp_path / "results", tmp_path / "report", []
    write_run(results, "alpha", 0, val=[50, INF, 70, 60, 65], test=[40, 50, INF, 60, -INF])
    write_run(results, "alpha", 1, val=[50, 60, 70, 80, 65], test=[40, 50, 60, 70, 80])
    write_run(results, "gamma", 0, val=[60, NAN, 62, 63, 64], test=[60, 61, NAN, 63, 64],
              status=["ok", "failed", "ok", "ok", "ok"])
    write_run(results, "gamma", 1, val=[60, 61, 62, 63, 64], test=[60, 61, 62, 63, 64])
    groups = build_report(results, out, say=said.append)
    names = {f.name for f in groups[0]["files"]}
    assert {"curves_cifar10-valid_vs_queries.png", "ranks_cifar10-valid.png"} <= names
    assert not [line for line in said if "curves" in line or "ranks" in line]
    skipped = [line for line in said if "alpha" in line and "seed=0" in line]
    assert skipped and "trajectory unreadable" in skipped[0], said


def test_no_finite_accuracy_is_one_line_about_the_figure(tmp_path):
    results, out, said = tmp_path / "results", tmp_path / "report", []
    write_run(results, "beta", 0, val=[NAN] * 5, test=[NAN] * 5, status=["failed"] * 5)
    write_run(results, "gamma", 0, val=[NAN] * 5, test=[NAN] * 5, status=["invalid"] * 5)
    groups = build_report(results, out, say=said.append)
    curve_lines = [line for line in said if "curves_cifar10-valid" in line]
    assert curve_lines == ["nb201/custom: figure curves_cifar10-valid not drawn "
                           "(no run has a finite validation or test accuracy)"]
    assert not any(f.name.startswith("curves_") for f in groups[0]["files"])
    assert "Figures not drawn:" in (out / "nb201" / "custom" / "index.md").read_text()


def test_figures_drawn_by_forked_workers_are_the_files_one_process_draws(tmp_path):
    """Rendered for real (PNG, PDF, the figures inlined in index.html): the same bytes either way."""
    two_strategies(tmp_path / "results")
    build_report(tmp_path / "results", tmp_path / "serial", workers=1)
    build_report(tmp_path / "results", tmp_path / "forked", workers=2)
    serial, forked = snapshot(tmp_path / "serial"), snapshot(tmp_path / "forked")
    assert any(name.endswith(".png") for name in serial)
    assert serial == forked
