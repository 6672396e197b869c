"""Fuzzing: no command line and no input file makes the harness crash with a traceback."""
from __future__ import annotations

import io

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blackboxes.nb201 import table as nb201_table
from harness.cli import main
from harness.errors import HarnessError

WORDS = ["run", "list", "data", "report", "import", "verify", "nb201", "nb101", "randwire", "spaces",
         "--space", "--dataset", "--seeds", "--budget", "--time-budget", "--fidelity", "--bench-seed", "--dedup",
         "--batch-size", "--protocol", "--strategies", "--workers", "--executor", "--first-seed", "--out",
         "--max-failures", "nats", "white", "unique", "per-call", "random", "serial", "cifar10-valid", "0", "-1",
         "3", "1e9", "nan", "abc", "", "--force", "--embedded", "--no-progress"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(WORDS), min_size=0, max_size=8))
def test_cli_never_tracebacks(tmp_path_factory, argv):
    tmp = tmp_path_factory.mktemp("fuzz")
    import contextlib
    import os

    err = io.StringIO()
    old = os.environ.get("HARNESS_DATA")
    os.environ["HARNESS_DATA"] = str(tmp / "data")  # empty: no run can start, so nothing slow happens
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv + ["--out", str(tmp / "out")] if "run" in argv[:1] else argv)
    finally:
        if old is None:
            os.environ.pop("HARNESS_DATA", None)
        else:
            os.environ["HARNESS_DATA"] = old
    assert code in (0, 1, 2)
    if code == 2:
        lines = err.getvalue().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err.getvalue()


COLUMNS = ["index", "arch_str", "nb201_index", "valid-accuracy", "train-per-time", "test-accuracy", "train-all-time",
           "valid-per-time", "cifar10-valid_val_acc_200ep", "cifar10-val", "cifar100-val", "imagenet-val",
           "cifar10-valid/val@200", "junk"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=6, unique=True),
       st.lists(st.one_of(st.integers(-5, 20000), st.floats(allow_nan=True), st.text(max_size=12),
                          st.just("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")), min_size=1, max_size=18))
def test_nb201_table_importer_fuzz(tmp_path_factory, columns, cells):
    tmp = tmp_path_factory.mktemp("nb201fuzz")
    rows = [cells[i::len(columns)] or cells[:1] for i in range(len(columns))]
    n = max(len(r) for r in rows)
    df = pd.DataFrame({c: (r * n)[:n] for c, r in zip(columns, rows)})
    path = tmp / "t.csv"
    df.to_csv(path, index=False)
    try:
        nb201_table.import_files([path], tmp / "d")
    except HarnessError:
        pass


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300), st.sampled_from([".csv", ".parquet", ".pickle", ".pkl"]))
def test_nb201_importer_random_bytes(tmp_path_factory, blob, suffix):
    tmp = tmp_path_factory.mktemp("nb201bytes")
    path = tmp / f"f{suffix}"
    path.write_bytes(blob)
    try:
        nb201_table.import_files([path], tmp / "d")
    except HarnessError:
        pass
