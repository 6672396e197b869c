"""The committed reference study cannot go stale: current code, a re-run gives the same bytes,
its report and the README table regenerate exactly (benchmarks/regenerate_reference.py)."""
from __future__ import annotations

import json
import sys

import pytest
from conftest import PROJECT_ROOT

from harness import storage
from harness.cli import main
from harness.config import RunConfig
from harness.report.build import build_report
from harness.runner import run_code

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import regenerate_reference as reference  # noqa: E402

REGENERATE = "run `python benchmarks/regenerate_reference.py` and commit results/reference, reports/reference, README.md"


def _manifests() -> dict:
    found = {p: json.loads(p.read_text()) for p in sorted(reference.RESULTS.rglob("seed=*.run.json"))}
    if not found:
        pytest.fail(f"the reference study is missing from {reference.RESULTS} ({REGENERATE})")
    return found


def test_reference_covers_every_strategy_with_ten_seeds():
    seeds: dict[str, set] = {}
    for m in _manifests().values():
        seeds.setdefault(m["config"]["strategy"], set()).add(m["config"]["seed"])
    assert sorted(seeds) == sorted(reference.strategies()), REGENERATE
    assert all(s == set(range(10)) for s in seeds.values())


def test_reference_runs_are_current_code():
    stale = []
    for path, m in _manifests().items():
        c = m["config"]  # the fingerprint depends on the space and the strategy only
        cfg = RunConfig(space=c["space"], dataset=c["dataset"], strategy=c["strategy"], seed=c["seed"], budget=1)
        why = storage.stale_because(m, run_code(cfg))
        if why:
            stale.append(f"{path.relative_to(PROJECT_ROOT)}: {why}")
    assert not stale, f"{len(stale)} reference runs are stale ({stale[0]}); {REGENERATE}"


@pytest.mark.slow
def test_rerun_of_seed_zero_is_byte_identical(tmp_path):
    """Every strategy's first seed, run again as the regenerate script runs it, gives the same bytes."""
    out = tmp_path / "rerun"
    assert main([*reference.run_args(reference.strategies(), 1, out), "--data-dir", str(tmp_path / "data"),
                 "--executor", "serial"]) == 0
    fresh = sorted(p for p in out.rglob("seed=0.parquet"))
    assert len(fresh) == len(reference.strategies())
    for path in fresh:
        committed = reference.RESULTS / path.relative_to(out)
        assert path.read_bytes() == committed.read_bytes(), f"{committed} differs from a fresh run ({REGENERATE})"


@pytest.mark.slow
def test_reference_report_regenerates(tmp_path, monkeypatch):
    monkeypatch.chdir(PROJECT_ROOT)  # as the regenerate script builds it: index.md names the results path given
    build_report(reference.RESULTS.relative_to(PROJECT_ROOT), tmp_path / "report")
    committed = sorted(p for p in reference.REPORT.rglob("*") if p.suffix in (".md", ".csv", ".tex"))
    assert committed, f"no committed report under {reference.REPORT}"
    for path in committed:
        fresh = tmp_path / "report" / path.relative_to(reference.REPORT)
        assert fresh.is_file(), f"{path} is no longer produced"
        assert fresh.read_bytes() == path.read_bytes(), f"{path.relative_to(PROJECT_ROOT)} differs when regenerated"


def test_readme_table_is_the_reference_study():
    block = reference.readme_block((PROJECT_ROOT / "README.md").read_text())
    assert block == reference.readme_table(), REGENERATE
