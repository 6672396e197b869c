"""The committed reference study regenerates its committed report tables exactly."""
from __future__ import annotations

import pytest
from conftest import PROJECT_ROOT

from harness.report.build import build_report

RESULTS = PROJECT_ROOT / "results"
REPORTS = PROJECT_ROOT / "reports"


@pytest.mark.slow
def test_reference_report_regenerates(tmp_path):
    if not any(RESULTS.glob("nb201/cifar10-valid/*/seed=*.parquet")):
        pytest.fail("the reference study is missing from results/ (see README 'Reference study')")
    build_report(RESULTS, tmp_path, space="nb201", dataset="cifar10-valid")
    committed = sorted(p for p in (REPORTS / "nb201").rglob("*") if p.suffix in (".md", ".csv", ".tex"))
    assert committed, "no committed tables under reports/nb201"
    for path in committed:
        fresh = tmp_path / path.relative_to(REPORTS)
        assert fresh.is_file(), f"{path} is no longer produced"
        assert fresh.read_bytes() == path.read_bytes(), f"{path.relative_to(PROJECT_ROOT)} differs when regenerated"
