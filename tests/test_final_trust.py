"""`python -m harness final` trusts nothing it reads (issue #24): a run's identity is checked against
where it lies and its sealed manifest, trajectory values are range-checked, a misbehaving strategy,
a broken manifest or state and a hung ``recommend`` cost one line and that run alone."""
from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from harness import atomic, runner, statefile, storage
from harness.config import RunConfig
from harness.contracts import Proposal
from harness.errors import DataCorrupt
from strategies.base import Strategy
from strategies.registry import STRATEGIES

MODE = "ok"
"""How ``Misfit`` behaves after the search (set by each test; the final phase runs in this process)."""


class Misfit(Strategy):
    """Random search whose ``recommend`` / ``dag_log_prob`` misbehave as ``MODE`` says."""

    def ask(self, n):
        return self.space.sample_many(self.rng, n)

    def recommend(self, n, rng, history):
        if MODE == "raise":
            raise RuntimeError("the model is gone")
        if MODE == "none":
            return None
        if MODE == "int":
            return 5
        if MODE == "junk":
            return [object(), Proposal("x", info=5)]
        if MODE == "sleep":
            time.sleep(120)
        return self.space.sample_many(rng, n)

    def dag_log_prob(self, dags, rng):
        if MODE == "sleep_exact":
            time.sleep(120)
        return None


RUNS = [("random", 0), ("random", 1), ("rea", 0), ("rea", 1), ("misfit", 0)]


@pytest.fixture(scope="module")
def study(nb201_data_dir, tmp_path_factory) -> Path:
    """Registers "misfit" for the study's runs only: a module fixture runs before the registry's
    per-test restore (conftest) takes its copy, so it must take its name out again itself."""
    STRATEGIES.register("misfit", f"{__name__}:Misfit")
    out = tmp_path_factory.mktemp("trust") / "runs"
    for name, seed in RUNS:
        runner.execute(RunConfig(space="nb201", dataset="cifar10-valid", strategy=name, seed=seed, budget=20,
                                 fidelity=200), out, nb201_data_dir)
    STRATEGIES._entries.pop("misfit", None)
    return out


@pytest.fixture
def out(study, tmp_path) -> Path:
    global MODE
    MODE = "ok"
    STRATEGIES.register("misfit", f"{__name__}:Misfit")
    dest = tmp_path / "runs"
    shutil.copytree(study, dest)
    return dest


def run_dir(out: Path, strategy: str, dataset: str = "cifar10-valid") -> Path:
    return out / "nb201" / dataset / strategy


def final(out: Path, data: Path, capsys, *extra: str) -> tuple[int, list[str]]:
    """Exit code and the ``error:`` lines of `harness final` on ``out`` (in this process)."""
    from harness.cli import main

    capsys.readouterr()
    rc = main(["final", "--results", str(out), "--data-dir", str(data), "--samples", "3", "--workers", "1", *extra])
    err = capsys.readouterr().err
    return rc, [line for line in err.splitlines() if line.startswith("error")]


def rewrite_manifest(path: Path, edit, *, fix_run_id: bool = False) -> None:
    """Edit a manifest and seal it again, as a careful hand (or a script) would: only the checks
    beyond the seal can then catch the edit. ``fix_run_id`` recomputes the run id from the config."""
    m = json.loads(path.read_text())
    edit(m)
    if fix_run_id:
        c = dict(m["config"], strategy_params=tuple(m["config"]["strategy_params"].items()))
        m["run_id"] = RunConfig(**c).run_id
    atomic.write_json(path, storage.seal(m))


# ---------------------------------------------------------------- 1. identity


def test_a_new_manifest_is_sealed_and_any_edit_breaks_the_seal(out):
    path = run_dir(out, "rea") / "seed=0.run.json"
    m = json.loads(path.read_text())
    assert storage.SEAL in m and storage.seal_problem(m) == ""
    m["n_charged"] += 1
    assert "does not match" in storage.seal_problem(m)
    del m[storage.SEAL]
    assert "no manifest_sha256 seal" in storage.seal_problem(m)


def test_an_edited_strategy_in_a_manifest_is_refused(out, nb201_data_dir, capsys):
    path = run_dir(out, "rea") / "seed=0.run.json"
    path.write_text(path.read_text().replace('"strategy": "rea"', '"strategy": "random"'))
    paths = storage.RunPaths.of(out, "nb201", "cifar10-valid", "rea", 0)
    cfg = RunConfig(space="nb201", dataset="cifar10-valid", strategy="rea", seed=0, budget=20, fidelity=200)
    assert not storage.is_complete(paths, cfg.run_id)
    rc, errors = final(out, nb201_data_dir, capsys, "--strategies", "rea", "--no-exact")
    assert rc == 2 and len(errors) == 1 and "rea/seed=0.run.json" in errors[0] and "seal" in errors[0], errors
    # resealed, with a consistent run id: the folder still names the strategy
    rewrite_manifest(path, lambda m: None, fix_run_id=True)
    rc, errors = final(out, nb201_data_dir, capsys, "--strategies", "rea", "--no-exact")
    assert rc == 2 and len(errors) == 1 and "config.strategy 'random'" in errors[0] and "'rea'" in errors[0], errors
    assert not (run_dir(out, "rea") / "seed=0.final.parquet").exists()
    assert (run_dir(out, "rea") / "seed=1.final.parquet").exists()  # the other seed went on


def test_a_resealed_manifest_whose_run_id_is_not_its_config_is_refused(out, nb201_data_dir, capsys):
    path = run_dir(out, "rea") / "seed=0.run.json"
    rewrite_manifest(path, lambda m: m["config"].update(budget=19))
    rc, errors = final(out, nb201_data_dir, capsys, "--strategies", "rea", "--seeds", "0", "--no-exact")
    assert rc == 2 and len(errors) == 1 and "run_id" in errors[0] and "hashes to" in errors[0], errors


@pytest.mark.parametrize("where", ["dataset", "strategy", "seed"])
def test_a_copied_run_is_refused_not_evaluated_as_another(out, nb201_data_dir, capsys, where):
    src = run_dir(out, "rea")
    if where == "dataset":
        dest, files, select = run_dir(out, "rea", "cifar100"), "seed=0.*", ["--dataset", "cifar100"]
    elif where == "strategy":
        dest, files, select = run_dir(out, "random2"), "seed=0.*", ["--strategies", "random2"]
    else:
        dest, files, select = src, "seed=0.*", ["--strategies", "rea", "--seeds", "7"]
    dest.mkdir(parents=True, exist_ok=True)
    for f in src.glob(files):
        shutil.copy(f, dest / f.name.replace("seed=0.", "seed=7.") if where == "seed" else dest / f.name)
    rc, errors = final(out, nb201_data_dir, capsys, *select, "--no-exact")
    assert rc == 2 and len(errors) == 1, errors
    assert f"config.{where}" in errors[0] and str(dest.relative_to(out)) in errors[0], errors
    assert not list(dest.glob("seed=7.final.*" if where == "seed" else "seed=0.final.*"))


def test_the_state_of_another_seed_is_refused(out, nb201_data_dir, capsys):
    d = run_dir(out, "misfit")
    runner.execute(RunConfig(space="nb201", dataset="cifar10-valid", strategy="misfit", seed=1, budget=20,
                             fidelity=200), out, nb201_data_dir)
    shutil.copy(d / "seed=1.strategy.npz", d / "seed=0.strategy.npz")
    path = d / "seed=0.run.json"
    m = json.loads(path.read_text())
    m["strategy_state_sha256"] = atomic.sha256_file(d / "seed=0.strategy.npz")  # "fixed", not resealed
    path.write_text(json.dumps(m, indent=2, sort_keys=True))
    rc, errors = final(out, nb201_data_dir, capsys, "--strategies", "misfit", "--seeds", "0", "--no-exact")
    assert rc == 2 and len(errors) == 1 and "misfit/seed=0.run.json" in errors[0] and "seal" in errors[0], errors


def test_the_state_of_another_seed_is_refused_even_with_the_manifest_resealed(out, nb201_data_dir, capsys):
    """The state file names its run inside: fixing the manifest's checksum and seal does not make
    seed 1's policy pass for seed 0's."""
    d = run_dir(out, "misfit")
    runner.execute(RunConfig(space="nb201", dataset="cifar10-valid", strategy="misfit", seed=1, budget=20,
                             fidelity=200), out, nb201_data_dir)
    shutil.copy(d / "seed=1.strategy.npz", d / "seed=0.strategy.npz")
    rewrite_manifest(d / "seed=0.run.json",
                     lambda m: m.update(strategy_state_sha256=atomic.sha256_file(d / "seed=0.strategy.npz")))
    rc, errors = final(out, nb201_data_dir, capsys, "--strategies", "misfit", "--seeds", "0", "--no-exact")
    assert rc == 2 and len(errors) == 1 and "seed=0.strategy.npz" in errors[0] and "seed 1" in errors[0], errors


@pytest.mark.parametrize("key,value", [("report", {"val": ["cifar100", 200], "test": ["cifar10-valid", 200],
                                                    "missing": []}), ("fidelity", 12)])
def test_report_columns_and_fidelity_must_be_the_configs(out, nb201_data_dir, capsys, key, value):
    rewrite_manifest(run_dir(out, "rea") / "seed=0.run.json", lambda m: m.update({key: value}))
    rc, errors = final(out, nb201_data_dir, capsys, "--strategies", "rea", "--no-exact")
    assert rc == 2 and len(errors) == 1 and f"has {key}" in errors[0] and "edited" in errors[0], errors


def test_a_manifest_without_a_seal_is_refused_with_what_to_do(out, nb201_data_dir, capsys):
    path = run_dir(out, "random") / "seed=0.run.json"
    m = json.loads(path.read_text())
    del m[storage.SEAL]
    path.write_text(json.dumps(m))
    cfg = RunConfig(space="nb201", dataset="cifar10-valid", strategy="random", seed=0, budget=20, fidelity=200)
    assert not storage.is_complete(cfg.paths(out), cfg.run_id)
    rc, errors = final(out, nb201_data_dir, capsys, "--strategies", "random", "--no-exact")
    assert rc == 2 and len(errors) == 1 and "older harness" in errors[0] and "--force" in errors[0], errors


# ---------------------------------------------------------------- 2. values


def _with_value(out: Path, column: str, value: float, row: int = 3) -> Path:
    """rea seed 0's trajectory with one value replaced, its checksum and the manifest's seal fixed."""
    d = run_dir(out, "rea")
    traj = d / "seed=0.parquet"
    table = atomic.read_parquet(traj)
    values = table.column(column).to_pylist()
    values[row] = value
    table = table.set_column(table.schema.get_field_index(column), column, pa.array(values, pa.float64()))
    atomic.write_parquet(traj, table)
    rewrite_manifest(d / "seed=0.run.json", lambda m: m.update(trajectory_sha256=atomic.sha256_file(traj)))
    return traj


def test_an_accuracy_out_of_range_is_refused_though_its_checksums_match(out, nb201_data_dir, capsys):
    traj = _with_value(out, "val_acc", 1000.0)
    with pytest.raises(DataCorrupt, match=r"seed=0\.parquet: row 3 has val_acc 1000\.0"):
        storage.read_trajectory(traj)
    rc, errors = final(out, nb201_data_dir, capsys, "--strategies", "rea", "--seeds", "0", "--no-exact")
    assert rc == 2 and len(errors) == 1 and "val_acc 1000.0" in errors[0] and "--force" in errors[0], errors


def test_a_plausible_edit_is_caught_by_asking_the_table_again(out, nb201_data_dir, capsys):
    """+0.5 points on one answered query, every checksum fixed: in range, so only the table can tell."""
    traj = _with_value(out, "val_acc", float(atomic.read_parquet(run_dir(out, "rea") / "seed=0.parquet")
                                             .column("val_acc")[3].as_py()) + 0.5)
    rc, errors = final(out, nb201_data_dir, capsys, "--strategies", "rea", "--seeds", "0", "--no-exact")
    assert rc == 2 and len(errors) == 1 and "query 3" in errors[0] and "benchmark answers" in errors[0], errors
    assert traj.is_file()


@pytest.mark.parametrize("column, value, bad", [
    ("test_acc", -0.5, True), ("report_val_acc", 100.5, True), ("report_test_acc", math.inf, True),
    ("val_acc", math.nan, True),  # an ok row's validation is what the strategy was told: never NaN
    ("test_acc", math.nan, False), ("report_val_acc", 100.0, False),
    ("cost_s", -1.0, True), ("cost_cum_s", math.inf, True), ("cost_s", 0.0, False),
    ("cost_s", math.nan, False),  # unknown: NB201 cifar100 at 200 epochs records no training time
])
def test_trajectory_values_are_range_checked(out, column, value, bad):
    traj = _with_value(out, column, value)
    problem = storage.trajectory_problem(atomic.read_parquet(traj))
    assert (column in problem) if bad else problem == "", problem


def test_the_committed_reference_trajectories_pass_the_checks():
    from conftest import PROJECT_ROOT

    found = sorted((PROJECT_ROOT / "results" / "reference").rglob("seed=*[0-9].parquet"))
    assert found
    for path in found:
        storage.read_trajectory(path)


# ---------------------------------------------------------------- 3. no traceback


@pytest.mark.parametrize("mode, says", [("raise", "raised RuntimeError in recommend(): the model is gone"),
                                        ("none", "recommend() returned None"), ("int", "recommend() returned 5")])
def test_a_misbehaving_recommend_costs_its_run_alone(out, nb201_data_dir, capsys, mode, says):
    global MODE
    MODE = mode
    rc, errors = final(out, nb201_data_dir, capsys, "--strategies", "misfit,random", "--no-exact")
    assert rc == 2 and len(errors) == 1, errors
    assert "nb201/cifar10-valid/misfit seed=0" in errors[0] and says in errors[0], errors
    assert all((run_dir(out, "random") / f"seed={k}.final.json").is_file() for k in (0, 1))


def test_proposals_of_the_wrong_type_become_invalid_rows(out, nb201_data_dir, capsys):
    import pyarrow.parquet as pq

    global MODE
    MODE = "junk"
    rc, errors = final(out, nb201_data_dir, capsys, "--strategies", "misfit", "--no-exact")
    assert rc == 0 and not errors, errors
    rows = pq.read_table(run_dir(out, "misfit") / "seed=0.final.parquet").to_pylist()
    assert [r["status"] for r in rows] == ["invalid", "invalid"]


@pytest.mark.parametrize("edit, says", [
    (lambda m: m.pop("config"), "no 'config' object"),
    (lambda m: m["config"]["strategy_params"].update(nonsense=1), "raised TypeError in __init__()"),
    (lambda m: m.update(fidelity="abc"), "fidelity 'abc'"),
    (lambda m: m["config"].update(seed="0"), "config.seed '0'"),
    (lambda m: m.update(report={"val": ["cifar10-valid", 200]}), "report"),
])
def test_a_broken_resealed_manifest_is_one_line(out, nb201_data_dir, capsys, edit, says):
    path = run_dir(out, "rea") / "seed=0.run.json"
    keeps_config = json.loads(path.read_text())
    edit(keeps_config)
    fixable = isinstance(keeps_config.get("config"), dict) and isinstance(keeps_config["config"].get("seed"), int)
    rewrite_manifest(path, edit, fix_run_id=fixable)
    rc, errors = final(out, nb201_data_dir, capsys, "--strategies", "rea", "--no-exact")
    assert rc == 2 and len(errors) == 1 and "rea seed=0" in errors[0] and says in errors[0], errors
    assert (run_dir(out, "rea") / "seed=1.final.parquet").exists()


def test_a_state_that_loads_but_does_not_fit_is_one_line(out, nb201_data_dir, capsys):
    d = run_dir(out, "misfit")
    bound = statefile.load(d / "seed=0.strategy.npz")
    bound["state"]["rng"]["bit_generator"] = "MT19937"
    atomic.write_bytes(d / "seed=0.strategy.npz", statefile.dumps(bound))
    rewrite_manifest(d / "seed=0.run.json",
                     lambda m: m.update(strategy_state_sha256=atomic.sha256_file(d / "seed=0.strategy.npz")))
    rc, errors = final(out, nb201_data_dir, capsys, "--strategies", "misfit", "--no-exact")
    assert rc == 2 and len(errors) == 1 and "in load_state_dict()" in errors[0] and "PCG64" in errors[0], errors


# ---------------------------------------------------------------- 4. --strategy-timeout


def test_final_honours_strategy_timeout_and_a_rerun_retries(out, nb201_data_dir, capsys):
    global MODE
    MODE = "sleep"
    t0 = time.perf_counter()
    rc, errors = final(out, nb201_data_dir, capsys, "--strategies", "misfit,random", "--no-exact",
                       "--strategy-timeout", "0.5")
    assert time.perf_counter() - t0 < 60
    assert rc == 2 and len(errors) == 1, errors
    assert "misfit seed=0" in errors[0] and "recommend() ran longer than --strategy-timeout 0.5 s" in errors[0]
    assert (run_dir(out, "random") / "seed=0.final.json").is_file()
    MODE = "ok"
    rc, errors = final(out, nb201_data_dir, capsys, "--strategies", "misfit", "--no-exact", "--strategy-timeout", "30")
    assert rc == 0 and not errors and (run_dir(out, "misfit") / "seed=0.final.parquet").is_file()


def test_a_hung_dag_log_prob_is_timed_out_and_keeps_the_final_rows(out, nb201_data_dir, capsys):
    global MODE
    MODE = "sleep_exact"
    rc, errors = final(out, nb201_data_dir, capsys, "--strategies", "misfit", "--strategy-timeout", "0.5")
    assert rc == 2 and len(errors) == 1 and "exact distribution" in errors[0] and "dag_log_prob()" in errors[0], errors
    assert (run_dir(out, "misfit") / "seed=0.final.parquet").is_file()


# ---------------------------------------------------------------- 5. the right party


def test_a_deleted_state_is_reported_missing_not_as_an_old_run(out, nb201_data_dir, capsys):
    (run_dir(out, "rea") / "seed=0.strategy.npz").unlink()
    rc, errors = final(out, nb201_data_dir, capsys, "--strategies", "rea", "--no-exact")
    assert rc == 2 and len(errors) == 1, errors
    assert "seed=0.strategy.npz is missing (deleted or moved?)" in errors[0] and "--force" in errors[0], errors
    assert "before states were kept" not in errors[0]


def test_log_p_of_the_wrong_shape_is_refused():
    from harness.errors import HarnessError
    from harness.exact import checked_log_p

    assert checked_log_p([-1.0, -2.0], 2, "x").dtype == np.float64
    for bad in ([-1.0], [[-1.0, -2.0]], ["a", "b"], [math.nan, -1.0], [0.5, -1.0]):
        with pytest.raises(HarnessError, match="dag_log_prob"):
            checked_log_p(bad, 2, "x")
