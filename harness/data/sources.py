"""Where each benchmark's data comes from: official files, import commands, fetch addresses.

``SOURCES`` lists the official files ``python -m harness data fetch`` knows, with the size and
checksums found published for them (each ``citation`` says where; a value nobody published is
None, and fetch then says it could not verify the file). Google-Drive-only files are listed with
``fetchable=False``: Drive answers scripts with confirmation pages and quotas, so fetch prints
the page to download from and the import command instead.

Not listed: syne-tune's NB201 blackbox (Hugging Face dataset ``synetune/blackbox-repository``,
folder ``nasbench201``: ``objectives_evaluations.npy``, float32 (task, arch, seed, epoch,
objective), sha256 fec481424ae347b365c97813c957958fa0bb52a7df1d071dc6927867db5e3272, ~788 MB,
plus ``hyperparameters.parquet`` and ``metadata.json``). Its conversion script
(syne-tune ``syne_tune/blackbox_repository/conversion_scripts/scripts/nasbench201_import.py``)
stores the ``ori-test`` accuracy of every dataset as ``valid_error``, i.e. cifar10's test set and
the x-valid + x-test union for cifar100 / ImageNet16-120, so it has no x-valid split and no
importer reads it.
"""
from __future__ import annotations

from dataclasses import dataclass

from harness.errors import HarnessError

BENCHMARKS = {
    "nb201": "NAS-Bench-201 / NATS-Bench topology (15,625 cells)",
    "nb101": "NAS-Bench-101 (423,624 cells)",
    "enas6": "ENAS macro, 6 layers: D-VAE's 20,015 architectures with supernet accuracy",
}


def how_to_get(benchmark: str) -> str:
    """The one-line instruction printed when a benchmark table is missing."""
    if benchmark == "nb201":
        return (
            "import it with `python -m harness data import nb201 <NATS-tss-v1_0-3ffb9-simple dir | "
            "nb201_*_full_training.pickle | table.csv ...>` or `python -m harness data fetch nb201`"
        )
    if benchmark == "nb101":
        return (
            "import it with `python -m harness data import nb101 <nasbench_only108.tfrecord | "
            "nasbench_only108.pkl>` or `python -m harness data fetch nb101`"
        )
    if benchmark == "enas6":
        return ("import it with `python -m harness data import enas6 final_structures6.txt` (D-VAE, "
                "github muhanzhang/D-VAE data/final_structures6.txt)")
    return f"unknown benchmark {benchmark!r}; known: {', '.join(BENCHMARKS)}"


@dataclass(frozen=True)
class Source:
    """One official file: where to get it, what it must hash to, and who says so.

    ``url`` is the direct download address when ``fetchable``, else the page a person downloads
    from. ``size`` is in bytes; ``size``/``md5``/``sha256`` are None when not published.
    ``kind`` names the format the benchmark's importer reads.
    """

    benchmark: str
    name: str
    url: str
    filename: str
    size: int | None
    md5: str | None
    sha256: str | None
    kind: str
    citation: str
    fetchable: bool


_NASBENCH_README = "google-research/nasbench README.md, 'Download the dataset' (URL, SHA256, approximate size)"
_NASLIB = ("automl/NASLib README.md 'Queryable Benchmarks' table and scripts/bash_scripts/download_data.sh "
           "(gdown {id}); no size or checksum published")


def _drive(file_id: str) -> str:
    return f"https://drive.google.com/file/d/{file_id}/view"


SOURCES: dict[str, list[Source]] = {
    "nb101": [
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
    ],
    "nb201": [
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
    ],
}
"""Official files per benchmark; the first is what ``data fetch <benchmark>`` gets."""


def _sources(benchmark: str) -> list[Source]:
    if benchmark not in SOURCES:
        raise HarnessError(f"unknown benchmark {benchmark!r}; known: {', '.join(SOURCES)}")
    return SOURCES[benchmark]


def default_source(benchmark: str) -> Source:
    """The file ``python -m harness data fetch <benchmark>`` gets when given no --url."""
    return _sources(benchmark)[0]


def find_source(benchmark: str, key: str) -> Source | None:
    """The registered source of ``benchmark`` whose name or file name is ``key``, if any."""
    return next((s for s in _sources(benchmark) if key in (s.name, s.filename)), None)
