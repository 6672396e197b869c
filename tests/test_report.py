"""Reports: every table value against an independent pandas computation, incumbent logic, flags,
protocol separation, determinism, statistics, and the CLI."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from harness import storage
from harness.cli import main
from harness.errors import HarnessError
from harness.report import stats
from harness.report.build import build_report
from harness.report.incumbent import at_checkpoint, incumbents
from spaces import nb201


def write_run(out, strategy, seed, val, test, *, protocol="", dataset="cifar10-valid", status=None, budget=None,
              extra=None, report_test=None):
    n = len(val)
    rng = np.random.default_rng(seed + 1000 * len(strategy))
    archs = [nb201.arch_str(nb201.arch_from_code(int(c))) for c in rng.integers(0, nb201.N_CELLS, n)]
    status = status or ["ok"] * n
    charged = np.cumsum([True] * n)
    rows = dict(
        schema_version=[storage.SCHEMA_VERSION] * n, run_id=["x"] * n, protocol=[protocol] * n, space=["nb201"] * n,
        dataset=[dataset] * n, strategy=[strategy] * n, seed=[seed] * n, query=list(range(n)), batch=list(range(n)),
        arch=archs, arch_id=archs, status=status, duplicate=[s == "duplicate" for s in status], charged=[True] * n,
        queries_charged=charged.tolist(), fidelity=[200] * n, bench_seed=[-1] * n, val_acc=list(val), test_acc=list(test),
        cost_s=[100.0] * n, cost_cum_s=(100.0 * charged).tolist(), report_val_acc=list(val),
        report_test_acc=list(report_test if report_test is not None else test), error=[""] * n,
        extra=extra or [""] * n,
    )
    timing = dict(query=list(range(n)), wall_s=[0.0] * n, eval_s=[0.0] * n, strategy_s=[0.0] * n)
    cfg = dict(space="nb201", dataset=dataset, strategy=strategy, seed=seed, budget=budget or n, time_budget=None,
               dedup="per-call", protocol=protocol)
    manifest = dict(schema_version=storage.SCHEMA_VERSION, run_id="x", status="complete", config=cfg, fidelity=200,
                    report={"val": [dataset, 200], "test": [dataset, 200], "missing": []})
    paths = storage.RunPaths.of(out, "nb201", dataset, strategy, seed)
    storage.write_run(paths, storage.to_table(rows, storage.TRAJECTORY_SCHEMA),
                      storage.to_table(timing, storage.TIMING_SCHEMA), manifest)


def test_incumbent_is_best_validation_not_best_test(tmp_path):
    write_run(tmp_path, "a", 0, val=[50, 70, 60, 70, 65], test=[99, 40, 98, 97, 96])
    inc = incumbents(storage_rows(tmp_path))
    assert inc["inc_val"].tolist() == [50, 70, 70, 70, 70]
    assert inc["inc_report_test"].tolist() == [99, 40, 40, 40, 40]  # ties keep the first; never the best test
    assert at_checkpoint(inc, 1)["inc_report_test"].item() == 99


def test_failed_and_invalid_rows_never_become_incumbent(tmp_path):
    write_run(tmp_path, "a", 0, val=[50, float("nan"), 99, 60], test=[1, 2, 3, 4],
              status=["ok", "failed", "invalid", "duplicate"])
    inc = incumbents(storage_rows(tmp_path))
    assert inc["inc_val"].tolist() == [50, 50, 50, 60]


def storage_rows(out):
    from harness.report.load import load_results

    return load_results(out).rows


def _independent(out, dataset, q):
    """Mean/std over seeds of the report test of the best-by-val row within q charged queries (pandas only)."""
    res = {}
    for path in sorted(out.glob(f"nb201/{dataset}/*/seed=*.parquet")):
        if "timing" in path.name:
            continue
        df = pd.read_parquet(path)
        df = df[(df["queries_charged"] <= q) & df["status"].isin(["ok", "duplicate"]) & df["val_acc"].notna()]
        best = df.loc[df["val_acc"].idxmax()]
        res.setdefault(best["strategy"], []).append((best["report_val_acc"], best["report_test_acc"]))
    return {s: (np.mean([v for v, _ in r]), np.std([v for v, _ in r]), np.mean([t for _, t in r]), np.std([t for _, t in r]))
            for s, r in res.items()}


def test_table_values_match_pandas_on_real_runs(tmp_path, nb201_data_dir):
    from harness.config import RunConfig
    from harness.study import Study, run_study

    for d in ("cifar10-valid", "cifar100"):
        template = RunConfig(space="nb201", dataset=d, strategy="random", seed=0, budget=40, fidelity=200)
        run_study(Study.build(template, ["random"], range(4), tmp_path / "res", nb201_data_dir), workers=1, show_progress=False)
    build_report(tmp_path / "res", tmp_path / "rep")
    csv = pd.read_csv(tmp_path / "rep" / "nb201" / "custom" / "tables" / "table5_nb201_at40.csv")
    for dataset, title in (("cifar10-valid", "CIFAR-10"), ("cifar100", "CIFAR-100")):
        expected = _independent(tmp_path / "res", dataset, 40)["random"]
        val = csv[(csv["column"] == f"{title} validation") & (csv["strategy"] == "random")].iloc[0]
        assert val["mean"] == pytest.approx(expected[0], abs=1e-6) and val["std"] == pytest.approx(expected[1], abs=1e-6)
        assert val["n"] == 4
        if dataset == "cifar10-valid":
            test = csv[(csv["column"] == f"{title} test") & (csv["strategy"] == "random")].iloc[0]
            assert test["mean"] == pytest.approx(expected[2], abs=1e-6)
    md = (tmp_path / "rep" / "nb201" / "custom" / "tables" / "table5_nb201_at40.md").read_text()
    assert "cifar10-valid: validation column = cifar10-valid val@200" in md
    assert (tmp_path / "rep" / "index.html").is_file()
    html = (tmp_path / "rep" / "nb201" / "custom" / "index.html").read_text()
    assert "data:image/png;base64," in html


def test_missing_seeds_and_short_runs_are_flagged(tmp_path):
    for seed in range(3):
        write_run(tmp_path / "res", "a", seed, val=[50 + seed, 60], test=[1, 2], budget=2)
    write_run(tmp_path / "res", "b", 0, val=[55, 65], test=[3, 4], budget=2)
    write_run(tmp_path / "res", "b", 1, val=[55], test=[5], budget=1)
    groups = build_report(tmp_path / "res", tmp_path / "rep")
    t = groups[0]["tables"][0]
    cells = t.cells[t.cells["column"] == "CIFAR-10 validation"].set_index("strategy")
    assert "missing seeds 2" in cells.loc["b", "flag"] and "seeds 1 stopped before 2 queries" in cells.loc["b", "flag"]
    assert cells.loc["b", "n"] == 1 and cells.loc["b", "mean"] == 65  # the short run is excluded, not averaged
    assert cells.loc["a", "flag"] == ""
    md = (tmp_path / "rep" / "nb201" / "custom" / "tables" / f"{t.name}.md").read_text()
    assert "†" in md and "unequal budget on cifar10-valid" in md


def test_protocols_never_share_a_table(tmp_path):
    write_run(tmp_path / "res", "a", 0, val=[50, 60], test=[1, 2], protocol="nats")
    write_run(tmp_path / "res2", "a", 0, val=[70, 80], test=[1, 2], protocol="white")
    import shutil

    shutil.copytree(tmp_path / "res2", tmp_path / "res", dirs_exist_ok=True, ignore=lambda *_: [])
    # res now holds only the white run at that path; add a nats run for another strategy
    write_run(tmp_path / "res", "b", 0, val=[50, 61], test=[1, 2], protocol="nats")
    groups = build_report(tmp_path / "res", tmp_path / "rep")
    assert {g["dir"].name for g in groups} == {"nats", "white"}
    index = (tmp_path / "rep" / "index.md").read_text()
    assert "runs under 2 protocols" in index


def test_tables_are_byte_identical_across_builds(tmp_path):
    for s in ("a", "b"):
        for seed in range(3):
            write_run(tmp_path / "res", s, seed, val=np.linspace(50, 70 + seed, 6), test=np.linspace(40, 60, 6))
    build_report(tmp_path / "res", tmp_path / "r1")
    build_report(tmp_path / "res", tmp_path / "r2")
    for f in (tmp_path / "r1").rglob("*"):
        if f.suffix in (".md", ".csv", ".tex"):
            assert f.read_bytes() == (tmp_path / "r2" / f.relative_to(tmp_path / "r1")).read_bytes(), f


def test_reproduction_status(tmp_path):
    for seed in range(3):
        write_run(tmp_path / "res", "random", seed, val=[91.0 + 0.05 * seed], test=[float("nan")], protocol="nats")
    build_report(tmp_path / "res", tmp_path / "rep")
    repro = pd.read_csv(tmp_path / "rep" / "nb201" / "nats" / "tables" / "reproduction_status.csv")
    r = repro[(repro["strategy"] == "random") & (repro["dataset"] == "cifar10-valid")].set_index("column")
    assert r.loc["validation", "published_mean"] == 91.07
    assert r.loc["validation", "ours_mean"] == pytest.approx(91.05)
    assert r.loc["validation", "status"] == "within published std"
    assert r.loc["test", "status"].startswith("cannot compare")
    assert (repro.loc[repro["strategy"] == "graphpnas", "status"] == "not run").all()


def test_per_dataset_budgets_read_each_run_at_its_end_and_show_the_deviation(tmp_path):
    """nats-queries: 150 / 80 queries on two datasets in one report; each dataset is read at its own budget,
    and the caption and the reproduction table carry the protocol's deviation from Table 5."""
    for seed in range(2):
        write_run(tmp_path / "res", "random", seed, val=[80.0] * 149 + [90.0 + seed], test=[float("nan")] * 150,
                  protocol="nats-queries")
        write_run(tmp_path / "res", "random", seed, val=[60.0] * 79 + [70.0 + seed], test=[float("nan")] * 80,
                  protocol="nats-queries", dataset="cifar100")
    groups = build_report(tmp_path / "res", tmp_path / "rep")
    (table,) = groups[0]["tables"]
    cells = table.cells.set_index("column")
    assert cells.loc["CIFAR-10 validation", "mean"] == 90.5 and cells.loc["CIFAR-100 validation", "mean"] == 70.5
    assert (cells["flag"] == "").all()  # no run is reported as stopped early
    assert "Deviation from the source: a query count, not seconds" in table.caption
    repro = groups[0]["repro"].set_index(["dataset", "strategy", "column"])
    row = repro.loc[("cifar100", "random", "validation")]
    assert row["ours_mean"] == 70.5 and row["published_mean"] == 71.46 and row["checkpoint"] == "end"
    assert "ours at 80 queries" in row["note"] and "40,000 s" in row["note"]
    md = (tmp_path / "rep" / "nb201" / "nats-queries" / "index.md").read_text()
    assert "| status | source | note |" in md and "ours at 150 queries" in md


def test_graph_model_selection_variants(tmp_path):
    extra = [json.dumps({"graph_model": "er", "p": p}) for p in (0.1, 0.1, 0.4, 0.4, 0.42)]
    write_run(tmp_path / "res", "er", 0, val=[60, 62, 70, 72, 90], test=[1, 2, 3, 4, 5], extra=extra)
    build_report(tmp_path / "res", tmp_path / "rep")
    sel = pd.read_csv(tmp_path / "rep" / "nb201" / "custom" / "tables" / "graph_model_selection.csv").set_index("variant")
    assert sel.loc["ER-TopK", "val_mean"] == pytest.approx(np.mean([90, 72, 70, 62]))
    assert sel.loc["ER-BEST", "setting"] == "p=0.40" and sel.loc["ER-BEST", "val_mean"] == pytest.approx(np.mean([70, 72, 90]))


def test_holm_and_bootstrap():
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    a = stats.bootstrap_ci(np.array([1.0, 2.0, 3.0, 4.0]))
    assert a == stats.bootstrap_ci(np.array([1.0, 2.0, 3.0, 4.0])) and a[0] < 2.5 < a[1]
    pts = pd.DataFrame({"strategy": ["x"] * 5 + ["y"] * 5, "m": [1, 2, 3, 4, 5, 10, 11, 12, 13, 14]})
    pw = stats.pairwise_tests(pts, "m")
    assert pw.loc[0, "p"] < 0.05 and pw.loc[0, "p_holm"] == pw.loc[0, "p"]


def test_report_cli(tmp_path, capsys):
    assert main(["report", "--results", str(tmp_path / "none")]) == 2
    assert "no results directory" in capsys.readouterr().err
    write_run(tmp_path / "res", "a", 0, val=[50, 60], test=[1, 2])
    assert main(["report", "--results", str(tmp_path / "res"), "--out", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "index.md").is_file()


def test_unfinished_runs_are_skipped_and_listed(tmp_path):
    write_run(tmp_path / "res", "a", 0, val=[50, 60], test=[1, 2])
    write_run(tmp_path / "res", "a", 1, val=[50, 60], test=[1, 2])
    (tmp_path / "res" / "nb201" / "cifar10-valid" / "a" / "seed=1.run.json").unlink()
    build_report(tmp_path / "res", tmp_path / "rep")
    assert "seed=1.parquet: no complete manifest" in (tmp_path / "rep" / "index.md").read_text()
    with pytest.raises(HarnessError):
        build_report(tmp_path / "nothing", tmp_path / "rep2")


def test_lower_fidelity_rows_never_become_incumbent(tmp_path):
    write_run(tmp_path, "bohb", 0, val=[80, 95, 85], test=[1, 2, 3])
    import pyarrow.parquet as pq

    path = tmp_path / "nb201" / "cifar10-valid" / "bohb" / "seed=0.parquet"
    table = pq.read_table(path).to_pandas()
    table["fidelity"] = [200, 12, 200]  # the 95 was a 12-epoch (BOHB low rung) answer
    from harness import atomic

    manifest = storage.read_manifest(path.with_name("seed=0.run.json"))
    storage.write_run(storage.RunPaths.of(tmp_path, "nb201", "cifar10-valid", "bohb", 0),
                      __import__("pyarrow").Table.from_pandas(table, schema=storage.TRAJECTORY_SCHEMA, preserve_index=False),
                      storage.to_table(dict(query=[0, 1, 2], wall_s=[0.0] * 3, eval_s=[0.0] * 3, strategy_s=[0.0] * 3),
                                       storage.TIMING_SCHEMA), manifest)
    assert atomic
    inc = incumbents(storage_rows(tmp_path))
    assert inc["inc_val"].tolist() == [80, 80, 85]
