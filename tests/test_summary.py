"""The summary after `run` answers "which won?": ranked by the named report metric, with seeds,
differences, a significance test, skipped runs shown from disk, and the next step."""
from __future__ import annotations

import math

import pytest

from harness.cli import main
from harness.study import StudyRequest
from harness.summary import _min_two_sided_p, min_p_with, summarize


def _run(capsys, *args):
    code = main(["run", "--space", "nb201", "--no-progress", "--executor", "serial", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_main_job_shape_uses_shipped_table_ranks_and_reports(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HARNESS_DATA", str(tmp_path / "empty-data"))
    out_dir, report = tmp_path / "results", tmp_path / "report"
    code, out, err = _run(capsys, "--strategies", "random,rea_nb201", "--seeds", "2", "--budget", "12",
                          "--out", str(out_dir), "--report", str(report))
    assert code == 0, err
    shipped = [line for line in err.splitlines() if "shipped with the harness" in line]
    assert len(shipped) == 1
    assert "ranked by 200-epoch cifar10-valid validation accuracy" in out
    assert "of the architecture with the best 200-epoch reward after 12 queries" in out
    assert "no rank test can reach p < 0.05" in err  # 2 seeds: smallest possible p is 0.33
    assert (report / "index.html").is_file() and (report / "nb201").is_dir()
    assert f"report: {report / 'index.html'}" in err
    # again: every run is skipped as complete, yet its stored numbers are shown, ranked
    code, out2, err2 = _run(capsys, "--strategies", "random,rea_nb201", "--seeds", "2", "--budget", "12",
                            "--out", str(out_dir))
    assert code == 0 and "4 of 4 runs were already complete" in err2
    assert [line for line in out2.splitlines() if "±" in line] == [line for line in out.splitlines() if "±" in line]
    assert "shipped with the harness" not in err2  # imported once
    assert "next: python -m harness report --results" in err2


def test_ranking_and_significance(nb201_data_dir, tmp_path):
    request = StudyRequest(space="nb201", strategies=("random", "local_search"), seeds=6, budget=40,
                           out=str(tmp_path), data_dir=str(nb201_data_dir))
    study = request.resolve()
    from harness.study import run_study

    run_study(study, workers=1, show_progress=False, executor="serial")
    s = summarize(study.runs, tmp_path)
    assert [line.rank for line in s.lines] == [1, 2]
    best, other = s.lines
    assert best.mean >= other.mean and best.diff == 0 and math.isnan(best.p_holm)
    assert other.diff == pytest.approx(other.mean - best.mean)
    assert best.n == other.n == 6 and best.runs == 6
    assert 0 < other.p_holm <= 1
    assert s.tests_can_separate  # 6 vs 6: smallest possible p = 2/924
    assert "200-epoch cifar10-valid validation accuracy" in s.metric and "custom settings" in s.metric


def test_smallest_reachable_p():
    assert _min_two_sided_p(3, 3) == pytest.approx(0.1)  # 2 / C(6, 3)
    assert _min_two_sided_p(10, 10) == pytest.approx(2 / 184756)
    assert min_p_with(3, 5) == pytest.approx(0.4)  # Holm's first step: 4 comparisons
    assert min_p_with(10, 5) < 0.05
