"""NAS-Bench-101 (Ying et al. 2019) in two modes. Tabular (dataset "cifar10"): the official
tfrecords and NASLib's pickle, imported into the harness's table and looked up by module hash.
Trained (datasets "digits", "cifar10-trained"): each cell trained from scratch with
nasbench-pytorch's network.

Modules: ``tfrecord`` (the container) and ``codec`` (its records), ``readers`` (every source file
kind), ``table`` (merge, write, verify), ``evaluator`` (lookups, and the factory of both modes),
``trained`` (the trained oracle); ``schema`` names the columns.
"""
from __future__ import annotations

from blackboxes.entry import Benchmark
from blackboxes.nb101.schema import HOW_TO_GET
from harness.data.download import Source

_NASBENCH_README = "google-research/nasbench README.md, 'Download the dataset' (URL, SHA256, approximate size)"
_NASLIB = ("automl/NASLib README.md 'Queryable Benchmarks' table and scripts/bash_scripts/download_data.sh "
           "(gdown {id}); no size or checksum published")


def _drive(file_id: str) -> str:
    return f"https://drive.google.com/file/d/{file_id}/view"


BENCHMARK = Benchmark(
    name="nb101",
    description="NAS-Bench-101: 423,624 cells of <= 7 nodes and <= 9 edges; cifar10 reads the table, digits and "
    "cifar10-trained train each cell (nasbench-pytorch)",
    space="spaces.nb101:NB101Space",
    evaluator="blackboxes.nb101.evaluator:make_evaluator",
    datasets=("cifar10", "digits", "cifar10-trained"),
    default_budget=300,
    dataset_budgets=(("digits", 10),),
    default_fidelity=108,
    fidelities=(4, 12, 36, 108),
    budget_source="300 queries: GraphPNAS paper Table 4; White et al. 2021 (BANANAS); digits: 10 trained cells, "
    "sized so random, REA and GraphPNAS x 3 seeds finish in minutes on 2 CPU cores "
    "(benchmarks/bench_nb101_trained.py). Fidelities are training epochs in both modes (the table's 4, 12, 36, 108)",
    table=True,
    table_datasets=("cifar10",),
    importer="blackboxes.nb101.table",
    sources=(
        Source(
            "nb101", "nasbench_only108",
            "https://storage.googleapis.com/nasbench/nasbench_only108.tfrecord", "nasbench_only108.tfrecord",
            522_767_376, None, "4c39c3936e36a85269881d659e44e61a245babcb72cb374eacacf75d0e5f4fd1",
            "nasbench-tfrecord",
            f"{_NASBENCH_README}; byte size as pinned by xukp20/sci-modeling-bench "
            "src/sci_modeling_bench/suites/design_bench/cell_dag_nas/build.py (README: ~499 MB)",
            True,
        ),
        Source(
            "nb101", "nasbench_full",
            "https://storage.googleapis.com/nasbench/nasbench_full.tfrecord", "nasbench_full.tfrecord",
            2_085_986_016, "7bff458f43238c7a5f08e9074c903f83",
            "3d64db8180fb1b0207212f9032205064312b6907a3bbc81eabea10db2f5c7e9c",
            "nasbench-tfrecord",
            f"{_NASBENCH_README}; byte size and MD5 as pinned by tiannuo-yang/expgym scripts/download_data.py "
            "(README: ~1.95 GB)",
            True,
        ),
        Source(
            "nb101", "naslib_nb101", _drive("1oORtEmzyfG1GcnPHh0ijCs0gCHKEThNx"), "nasbench_only108.pkl",
            None, None, None, "naslib-pickle", _NASLIB.format(id="1oORtEmzyfG1GcnPHh0ijCs0gCHKEThNx"), False,
        ),
    ),
    how_to_get=HOW_TO_GET,
    default_strategies=("random", "local_search", "bananas", "rnn", "graphpnas"),
    defaults_source="GraphPNAS Table 4 (random, local search, BANANAS, RNN (RL) and GraphPNAS at 300 queries)",
)
