"""Run identity covers the code: a complete run produced by other code is stale, said in one line.

Also the default strategy set (the paper's comparison per space) and `--strategies all`."""
from __future__ import annotations

import json
import sys
import textwrap

import pytest

from harness import fingerprint
from harness.cli import main
from harness.errors import HarnessError
from harness.study import StudyRequest
from strategies.registry import STRATEGIES, describe, everyday


def _package(tmp_path, monkeypatch, util_body: str) -> str:
    """A throwaway package ``fp_pkg`` whose ``main`` imports ``util``; returns main's name."""
    pkg = tmp_path / "fp_pkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "main.py").write_text("def f():\n    from fp_pkg import util\n    return util.g()\n")
    (pkg / "util.py").write_text(textwrap.dedent(util_body))
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("fp_pkg", "fp_pkg.main", "fp_pkg.util"):
        sys.modules.pop(name, None)
    fingerprint._parsed.cache_clear()
    fingerprint.digest.cache_clear()
    return "fp_pkg.main"


def test_digest_follows_imports_and_ignores_docstrings_and_comments(tmp_path, monkeypatch):
    base = _package(tmp_path, monkeypatch, 'def g():\n    """Doc."""\n    return 1\n')
    d0 = fingerprint.digest(base)
    same = _package(tmp_path, monkeypatch, 'def g():\n    """Another doc."""\n    # a comment\n    return 1\n')
    assert fingerprint.digest(same) == d0
    changed = _package(tmp_path, monkeypatch, 'def g():\n    """Doc."""\n    return 2\n')
    assert fingerprint.digest(changed) != d0  # a statement in an imported module (imported inside a function)


@pytest.mark.parametrize("edited, stales", [("strategies.registry", False), ("blackboxes.registry", False),
                                            ("blackboxes.nb101.schema", False), ("harness.fingerprint", False),
                                            ("harness.storage", True), ("harness.journal", True)])
def test_engine_digest_covers_the_engine_not_the_lookup_tables(monkeypatch, edited, stales):
    """Registering a strategy (one registry line) or editing a benchmark's listing must not stale every
    result; editing the engine's storage or journal must."""
    real = fingerprint._parsed.__wrapped__

    def edited_parsed(name):
        parsed = real(name)
        return ("0" * 64, parsed[1]) if name == edited and parsed else parsed

    before = fingerprint.digest.__wrapped__("harness.runner", fingerprint.NOT_ENGINE)
    monkeypatch.setattr(fingerprint, "_parsed", edited_parsed)
    after = fingerprint.digest.__wrapped__("harness.runner", fingerprint.NOT_ENGINE)
    assert (after != before) is stales


def test_changed_parts_names_what_changed():
    now = {"strategy": "a", "space": "b", "evaluator": "c", "engine": "d"}
    assert fingerprint.changed_parts(dict(now), now) == []
    assert fingerprint.changed_parts({**now, "strategy": "x", "engine": "y"}, now) == ["strategy", "engine"]
    assert "predates" in fingerprint.changed_parts(None, now)[0]


def _run(out, *extra):
    return main(["run", "--space", "nb201", "--strategies", "random", "--seeds", "1", "--budget", "5",
                 "--executor", "serial", "--no-progress", "--out", str(out), *extra])


def test_stale_run_is_refused_in_one_line_and_force_reruns(nb201_data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HARNESS_DATA", str(nb201_data_dir))
    out = tmp_path / "results"
    assert _run(out) == 0
    manifest_path = next(out.rglob("seed=0.run.json"))
    trajectory = manifest_path.with_name("seed=0.parquet")
    fresh = trajectory.read_bytes()
    manifest = json.loads(manifest_path.read_text())
    assert set(manifest["code"]) == {"strategy", "space", "evaluator", "engine"}
    manifest["code"]["strategy"] = "0" * 16  # as if strategies/random_search.py had changed since
    manifest_path.write_text(json.dumps(manifest))
    capsys.readouterr()
    assert _run(out) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "produced by other code" in err and "strategy" in err and "--force" in err
    assert _run(out, "--force") == 0
    assert trajectory.read_bytes() == fresh  # same code, same bytes
    assert json.loads(manifest_path.read_text())["code"]["strategy"] != "0" * 16
    assert _run(out) == 0  # now current: nothing to redo


def test_manifest_without_fingerprint_counts_as_stale(nb201_data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HARNESS_DATA", str(nb201_data_dir))
    out = tmp_path / "results"
    assert _run(out) == 0
    manifest_path = next(out.rglob("seed=0.run.json"))
    manifest = json.loads(manifest_path.read_text())
    del manifest["code"]
    manifest_path.write_text(json.dumps(manifest))
    assert _run(out) == 2
    assert "predates code fingerprints" in capsys.readouterr().err


def test_default_strategies_are_the_papers_comparison(nb201_data_dir, tmp_path):
    study = StudyRequest(space="nb201", seeds=1, out=tmp_path, data_dir=nb201_data_dir).resolve()
    assert sorted({c.strategy for c in study.runs}) == sorted(
        ["random", "rea_nb201", "reinforce", "bohb_nb201", "graphpnas"])
    everything = StudyRequest(space="nb201", seeds=1, out=tmp_path, data_dir=nb201_data_dir,
                              strategies=["all"]).resolve()
    names = {c.strategy for c in everything.runs}
    assert names == set(everyday())
    assert "graphpnas_code" not in names and "rnn_graphpnas" not in names
    assert describe("graphpnas_code").opt_in and not describe("graphpnas").opt_in


def test_every_default_strategy_is_registered():
    from blackboxes.registry import BENCHMARKS

    for bench in BENCHMARKS.values():
        if bench.not_runnable:
            assert not bench.default_strategies
            continue
        for name in bench.default_strategies:
            assert name in STRATEGIES.names(), (bench.name, name)
        assert bench.defaults_source


def test_unknown_strategy_is_refused(nb201_data_dir, tmp_path):
    with pytest.raises(HarnessError, match="nonexistent"):
        StudyRequest(space="nb201", seeds=1, out=tmp_path, data_dir=nb201_data_dir,
                     strategies=["nonexistent"]).resolve()
