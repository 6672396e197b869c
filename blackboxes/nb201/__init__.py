"""NAS-Bench-201 / NATS-Bench topology (Dong & Yang 2020; Dong et al. 2021): the NATS archive,
NASLib's pickles and plain tables imported into the harness's table, plus the table shipped with
the harness (``embedded/``), looked up per dataset.

Modules: ``official`` (NATS archive and NASLib pickles, the official index order), ``readers``
(every source kind, with the column mapping), ``table`` (merge, write, embedded table, verify),
``evaluator`` (lookups); ``schema`` names the columns.
"""
from __future__ import annotations

from blackboxes.entry import Benchmark
from blackboxes.nb201.schema import HOW_TO_GET
from harness.data.download import Source

_NASLIB = ("automl/NASLib README.md 'Queryable Benchmarks' table and scripts/bash_scripts/download_data.sh "
           "(gdown {id}); no size or checksum published")


def _drive(file_id: str) -> str:
    return f"https://drive.google.com/file/d/{file_id}/view"


BENCHMARK = Benchmark(
    name="nb201",
    description="NAS-Bench-201 / NATS-Bench topology: 15,625 cells, ops on 6 edges",
    space="spaces.nb201:NB201Space",
    evaluator="blackboxes.nb201.evaluator:make_evaluator",
    datasets=("cifar10-valid", "cifar100", "ImageNet16-120"),
    default_budget=150,
    default_fidelity=200,
    fidelities=(12, 200),
    budget_source="150 queries: White et al. 2021 (BANANAS) NB201 setting; GraphPNAS paper §4.3",
    table=True,
    importer="blackboxes.nb201.table",
    embedded="blackboxes.nb201.table:import_embedded",
    sources=(
        Source(
            "nb201", "nats_tss", _drive("17_saCsj_krKjlCBLOJEpNtzPXArMCqxU"), "NATS-tss-v1_0-3ffb9-simple.tar",
            1_145_989_120, None, "580fd8f3425fed9f495640b0f12ccb7744f89dec7aff263bd75aed37ab0b8bb6",
            "nats-tss-archive",
            "D-X-Y/NATS-Bench README.md 'Preparation and Download' (2020.08.31 archive, Google Drive); "
            "byte size and SHA256 as pinned by tiannuo-yang/expgym scripts/download_data.py",
            False,
        ),
        Source(
            "nb201", "naslib_cifar10", _drive("1sh8pEhdrgZ97-VFBVL94rI36gedExVgJ"),
            "nb201_cifar10_full_training.pickle", None, None, None, "naslib-pickle",
            _NASLIB.format(id="1sh8pEhdrgZ97-VFBVL94rI36gedExVgJ"), False,
        ),
        Source(
            "nb201", "naslib_cifar100", _drive("1hV6-mCUKInIK1iqZ0jfBkcKaFmftlBtp"),
            "nb201_cifar100_full_training.pickle", None, None, None, "naslib-pickle",
            _NASLIB.format(id="1hV6-mCUKInIK1iqZ0jfBkcKaFmftlBtp"), False,
        ),
        Source(
            "nb201", "naslib_imagenet16", _drive("1FVCn54aQwD6X6NazaIZ_yjhj47mOGdIH"),
            "nb201_ImageNet16_full_training.pickle", None, None, None, "naslib-pickle",
            _NASLIB.format(id="1FVCn54aQwD6X6NazaIZ_yjhj47mOGdIH"), False,
        ),
    ),
    how_to_get=HOW_TO_GET,
    default_strategies=("random", "rea_nb201", "reinforce", "bohb_nb201", "graphpnas"),
    defaults_source="GraphPNAS Table 5 (REA, REINFORCE, random, BOHB at NATS-Bench's presets, and GraphPNAS)",
)
