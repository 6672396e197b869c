"""Read the official NB201 data files (NATS-Bench topology archive, NASLib pickles) into harness columns.

Both readers return one row per cell, sorted by the official NB201/NATS-tss ``index``, with the
``arch_str`` and the columns ``{dataset}/{val|test|train_s|eval_s}@{12|200}`` that the source
really has (percent accuracies, seconds); ``blackboxes.nb201.table`` merges and stores them.

Official index order (``official_arch_strings``): NB201 enumerated the 5^6 cells with
``CellStructure.gen_all`` (ops in ``nb201.OPS`` order, edges in arch-string order, last edge varying
fastest) and shuffled that list with ``random.seed(88); random.shuffle(archs)``
(D-X-Y/AutoDL-Projects ``exps/NAS-Bench-201/main.py::generate_meta_info``, which asserts cells 0, 9
and 123). We replay the shuffle on a private ``random.Random(88)`` (the global RNG is untouched).

Split sizes used to recognise an evaluation split from its accuracy grid (one training run on N
images gives accuracies in steps of 100/N %): CIFAR-10 x-valid 25,000 (half of the 50k train set,
``generate_meta_info``), ori-test 10,000; CIFAR-100 ori-test 10,000 = x-valid 5,000 + x-test 5,000;
ImageNet16-120 ori-test 6,000 = x-valid 3,000 + x-test 3,000 (NB201 paper's dataset section; the
halves are the ``x-valid``/``x-test`` loaders of AutoDL ``exps/NAS-Bench-201/main.py``). The shared
NASLib-derived values (../shared/data/nb201) sit exactly on the 10,000 / 5,000 / 3,000 grids.
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import math
import pickle
import random
import re
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from blackboxes.nb201.schema import unit_of
from harness.data.formats import require_regular
from harness.data.values import FIX, check_column
from harness.errors import DataCorrupt, HarnessError
from harness.safe_pickle import RefusedPickle, load_plain
from spaces import nb201

DATASETS = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")
NATS_HPS = ("12", "200")

NATS_KEYS: dict[str, dict[str, str]] = {
    "cifar10-valid": {"val": "valid-accuracy", "test": "test-accuracy",
                      "train_s": "train-all-time", "eval_s": "valid-per-time"},
    "cifar10": {"test": "test-accuracy", "train_s": "train-all-time"},
    "cifar100": {"val": "valid-accuracy", "test": "test-accuracy",
                 "train_s": "train-all-time", "eval_s": "valid-per-time"},
    "ImageNet16-120": {"val": "valid-accuracy", "test": "test-accuracy",
                       "train_s": "train-all-time", "eval_s": "valid-per-time"},
}
"""Harness metric -> ``NATStopology.get_more_info`` key, per dataset (nats_bench 1.8 api_topology.py).

Splits behind each key (``get_more_info``, lines 284-359; split names in api_utils.py
``ArchResults.get_metrics`` docstring):
- ``cifar10-valid``: ``valid-*`` = ``x-valid`` (l. 285), ``test-*`` = ``ori-test`` (l. 289), the CIFAR-10
  test set after training on the 25k train split; no ``valtest``.
- ``cifar10`` (trained on train+valid): ``test-*`` = ``ori-test`` (l. 309); ``x-valid`` does not exist, so
  no ``valid-*`` and no val column.
- ``cifar100`` / ``ImageNet16-120``: ``valid-*`` = ``x-valid`` (l. 319), ``test-*`` = ``x-test`` (l. 313);
  ``valtest-*`` = ``ori-test`` (l. 326) = x-valid + x-test together, not imported.
- ``train-all-time`` = summed per-epoch training seconds of the hp-epoch run; ``valid-per-time`` =
  ``x-valid`` all_time / epochs = one validation pass (l. 336). With ``is_random=False`` every value is
  the mean over the cell's seeds (``get_metrics``).
"""

_NATS_NAME = re.compile(r"NATS-tss-(v\d+_\d+)-([0-9a-f]{5})(?:-simple|-full)?")
_NATS_MEMBER = re.compile(r"^(?:\./)?(?:([^/]+)/)?(meta|\d{6})\.pickle\.pbz2$")

# NASLib's op-index tuples (naslib/search_spaces/nasbench201/conversions.py): OP_NAMES_NB201 order,
# edges EDGE_LIST (1,2),(1,3),(1,4),(2,3),(2,4),(3,4) = arch-string positions 0, 1, 3, 2, 4, 5.
_NASLIB_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
_NASLIB_EDGE_POS = (0, 1, 3, 2, 4, 5)

SPLIT_SIZES: dict[str, dict[str, int]] = {
    "cifar10-valid": {"ori-test": 10_000, "x-valid": 25_000},
    "cifar10": {"ori-test": 10_000},
    "cifar100": {"x-valid": 5_000, "x-test": 5_000, "ori-test": 10_000},
    "ImageNet16-120": {"x-valid": 3_000, "x-test": 3_000, "ori-test": 6_000},
}
_SPLIT_METRIC: dict[str, dict[str, str]] = {
    "cifar10-valid": {"x-valid": "val", "ori-test": "test"},
    "cifar10": {"ori-test": "test"},
    "cifar100": {"x-valid": "val", "x-test": "test"},
    "ImageNet16-120": {"x-valid": "val", "x-test": "test"},
}
_MIN_GRID_CELLS = 30
"""Below this, a column could sit on a coarser split's grid by chance (p <= 0.5 per cell)."""
_GRID_TOL = 0.02
"""In images: NASLib stores float32-rounded accuracies, ~1e-3 images off the exact grid."""

_NASLIB_FILE = re.compile(r"nb201_(cifar10|cifar100|ImageNet16-120|ImageNet16)_full_training")
_HINT_DATASETS = {
    "cifar10": ("cifar10-valid", "cifar10"),
    "cifar10-valid": ("cifar10-valid",),
    "cifar100": ("cifar100",),
    "ImageNet16-120": ("ImageNet16-120",),
    "ImageNet16": ("ImageNet16-120",),
}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --------------------------------------------------------------------------- official index order

@functools.lru_cache(maxsize=1)
def official_arch_strings() -> tuple[str, ...]:
    """The 15,625 arch strings in official NB201/NATS-tss index order (see the module docstring)."""
    archs = [nb201.arch_str(a) for a in itertools.product(range(len(nb201.OPS)), repeat=nb201.N_EDGES)]
    random.Random(88).shuffle(archs)
    return tuple(archs)


@functools.lru_cache(maxsize=1)
def _index_of() -> dict[str, int]:
    return {s: i for i, s in enumerate(official_arch_strings())}


def arch_index(arch_str: str) -> int:
    """Official NB201 index of an arch string; ValueError when it is not an NB201 cell."""
    try:
        return _index_of()[arch_str]
    except KeyError:
        raise ValueError(f"not an NB201 arch string: {arch_str!r}") from None


def _check_official(archs: Sequence[str], label: str) -> None:
    if len(archs) > nb201.N_CELLS:
        raise DataCorrupt(f"{label}: {len(archs)} cells, NB201 has {nb201.N_CELLS}; not the topology (tss) benchmark")
    official = official_arch_strings()
    for i, a in enumerate(archs):
        if a != official[i]:
            raise DataCorrupt(
                f"{label}: cell {i} is {a!r}, official NB201 cell {i} is {official[i]!r}; "
                f"pass the NATS-Bench topology (tss) archive, not the size (sss) one"
            )


def _check_distinct(df: pd.DataFrame, label: str) -> None:
    """Guard against NASLib's mistake: a val and a test column holding one split."""
    for d in DATASETS:
        for f in (12, 200):
            v, t = f"{d}/val@{f}", f"{d}/test@{f}"
            if v in df and t in df and df[v].notna().any() and df[v].equals(df[t]):
                raise DataCorrupt(f"{label}: {v} and {t} are identical for every cell; the source maps both to one split")


# --------------------------------------------------------------------------- NATS-Bench topology API

@contextlib.contextmanager
def _progress(total: int, label: str, enabled: bool) -> Iterator[Callable[[], None]]:
    if not enabled:
        yield lambda: None
        return
    from rich.console import Console  # noqa: PLC0415 - only for interactive imports
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True)) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


def _more_info(api: Any, i: int, dataset: str, hp: str) -> dict | None:
    """``get_more_info`` averaged over seeds; None where the cell lacks this hp or dataset (KeyError)."""
    try:
        return api.get_more_info(i, dataset, hp=hp, is_random=False)
    except KeyError as exc:
        if exc.args and exc.args[0] in (hp, dataset):
            return None
        err: Exception = exc
    except (AssertionError, AttributeError, EOFError, IndexError, OSError, pickle.UnpicklingError,
            TypeError, ValueError) as exc:
        err = exc
    raise DataCorrupt(
        f"NATS cell {i} ({dataset}, hp={hp}) is unreadable ({_first_line(err)}); the archive is "
        f"incomplete or corrupt: extract or download it again"
    )


def _seed_count(api: Any, i: int, dataset: str, hp: str) -> int | None:
    """Seeds averaged into a cell's value, where the API exposes its ``arch2infos_dict`` cache."""
    try:
        return len(api.arch2infos_dict[i][hp].get_dataset_seeds(dataset))
    except (AttributeError, KeyError, TypeError):
        return None


def _release(api: Any, i: int) -> None:
    """A fast-mode API keeps every loaded cell (GBs for 15,625); drop it, it reloads on demand."""
    cache = getattr(api, "arch2infos_dict", None)
    if getattr(api, "fast_mode", False) and isinstance(cache, dict):
        cache.pop(i, None)


def _as_float(value: Any) -> float:
    return math.nan if value is None else float(value)


def read_nats_api(api: Any, *, show_progress: bool = False, label: str = "NATS API") -> pd.DataFrame:
    """Every cell x dataset x hp of a NATS-tss API object (``nats_bench.create(dir, 'tss', ...)``).

    Uses ``len(api)``, ``api.arch(i)`` and ``api.get_more_info(i, d, hp=hp, is_random=False)`` and
    maps the keys as ``NATS_KEYS`` documents. Columns the archive lacks for every cell are dropped;
    a value a cell lacks is NaN, an impossible one (``harness.data.values``) a ``DataCorrupt``
    naming ``label`` (the archive), the cell and the column.
    ``df.attrs['seeds']`` gives, per column, the fewest seeds averaged into a cell and
    ``df.attrs['notes']`` where the count varies (only when the API exposes ``arch2infos_dict``).
    """
    n = len(api)
    if n == 0:
        raise DataCorrupt(f"{label} holds no cells; pass the whole NATS-tss-v1_0-3ffb9-simple archive")
    archs = [api.arch(i) for i in range(n)]
    _check_official(archs, label)
    cols = {f"{d}/{m}@{hp}": np.full(n, math.nan) for hp in NATS_HPS for d, keys in NATS_KEYS.items() for m in keys}
    seeds: dict[tuple[str, str], list[int | None]] = {(d, hp): [] for hp in NATS_HPS for d in NATS_KEYS}
    with _progress(n * len(NATS_HPS) * len(NATS_KEYS), "NATS-tss cells x queries", show_progress) as advance:
        for i in range(n):
            for hp in NATS_HPS:
                for d, keys in NATS_KEYS.items():
                    info = _more_info(api, i, d, hp)
                    if info is not None:
                        for m, key in keys.items():
                            cols[f"{d}/{m}@{hp}"][i] = _as_float(info.get(key))
                        seeds[(d, hp)].append(_seed_count(api, i, d, hp))
                    advance()
            _release(api, i)
    df = pd.DataFrame({"index": np.arange(n, dtype=np.int32), "arch_str": archs})
    df = pd.concat([df, pd.DataFrame({c: v for c, v in cols.items() if not np.isnan(v).all()})], axis=1)
    check_values(df, label)
    _check_distinct(df, label)
    df.attrs["seeds"], df.attrs["notes"] = _seed_summary(df, seeds)
    return df


def check_values(df: pd.DataFrame, label: str) -> None:
    """Every harness column of an official source against its unit; NaN is a value the cell lacks."""
    archs = df["arch_str"].tolist()
    for c in df.columns:
        unit = unit_of(str(c))
        if unit is not None:
            check_column(df[c].to_numpy(dtype=np.float64), unit, file=label, column=str(c),
                         where=lambda i: f"cell {archs[i]}")


def _seed_summary(df: pd.DataFrame, seeds: dict[tuple[str, str], list[int | None]]) -> tuple[dict, list[str]]:
    per_col: dict[str, int] = {}
    notes = []
    for (d, hp), counts in seeds.items():
        if not counts or any(c is None for c in counts):
            continue
        lo, hi = min(counts), max(counts)
        for c in df.columns:
            if c.startswith(f"{d}/") and c.endswith(f"@{hp}"):
                per_col[c] = lo
        if lo != hi:
            notes.append(f"NATS {d} hp={hp}: {lo}-{hi} seeds per cell (each value is the mean of those run)")
    return per_col, notes


def nats_archive_version(name: str) -> str | None:
    """``'v1_0-3ffb9'`` from an archive name such as ``NATS-tss-v1_0-3ffb9-simple(.tar)``; None if absent."""
    m = _NATS_NAME.search(name)
    return f"{m.group(1)}-{m.group(2)}" if m else None


NATS_PICKLE_OPT_IN = (
    "NATS-Bench archives are pickles, which can run code when read (nats_bench unpickles them with "
    "pickle.load); if you trust the file (downloaded from the official source yourself), rerun with --allow-pickle"
)


def read_nats_archive(path: str | Path, *, allow_pickle: bool = False) -> pd.DataFrame:
    """Read the NATS-Bench topology archive: the ``NATS-tss-v1_0-3ffb9-simple`` directory or its tar.

    A tar is extracted to a temporary directory first, taking only ``<dir>/meta.pickle.pbz2`` and
    ``<dir>/NNNNNN.pickle.pbz2`` members with tarfile's ``data`` filter (no links, no paths outside).
    nats_bench unpickles the files with full pickle, which can run code, so nothing is read unless
    the caller opts in with ``allow_pickle=True`` (``data import nb201 --allow-pickle``); without it
    a one-line ``HarnessError`` says so. ``df.attrs`` adds ``nats_archive`` (the name) and
    ``nats_version`` (e.g. ``v1_0-3ffb9``, None when the name does not carry it) to those of
    ``read_nats_api``.
    """
    path = Path(path)
    if not path.exists():
        raise HarnessError(f"{path} does not exist; pass the NATS-tss-v1_0-3ffb9-simple directory or its .tar")
    if not allow_pickle:
        raise HarnessError(f"{path}: {NATS_PICKLE_OPT_IN}")
    if path.is_dir():  # nats_bench opens these; a FIFO or device among them would block or never end
        for member in sorted(path.glob("*.pickle.pbz2")):
            require_regular(member)
    else:
        require_regular(path)
    try:
        import nats_bench  # noqa: PLC0415 - optional dependency
    except ImportError:
        raise HarnessError("reading the NATS archive needs nats_bench: pip install 'nas-harness[nats]'") from None
    if path.is_dir():
        return _read_nats_dir(nats_bench, path, path.name, str(path))
    if not tarfile.is_tarfile(path):
        raise DataCorrupt(f"{path} is neither a NATS-tss archive directory nor a tar of one; pass NATS-tss-v1_0-3ffb9-simple")
    with tempfile.TemporaryDirectory(prefix="nats-tss-") as tmp:
        root, name = _extract_nats_tar(path, Path(tmp))
        return _read_nats_dir(nats_bench, root, name, str(path))


def _extract_nats_tar(path: Path, dest: Path) -> tuple[Path, str]:
    try:
        with tarfile.open(path, "r:*") as tar:
            members = [m for m in tar.getmembers() if m.isfile() and _NATS_MEMBER.match(m.name)]
            tops = {_NATS_MEMBER.match(m.name).group(1) for m in members}
            if len(tops) != 1 or not any(m.name.endswith("meta.pickle.pbz2") for m in members):
                raise DataCorrupt(
                    f"{path} does not hold one NATS-tss archive (<dir>/meta.pickle.pbz2 and <dir>/000000.pickle.pbz2 ...); "
                    f"pass NATS-tss-v1_0-3ffb9-simple.tar"
                )
            tar.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataCorrupt(f"{path} is not a readable tar ({_first_line(exc)}); download it again") from None
    top = tops.pop()
    return (dest / top if top else dest), (top or path.name)


def _read_nats_dir(nats_bench: Any, root: Path, name: str, label: str) -> pd.DataFrame:
    if not (root / "meta.pickle.pbz2").is_file():
        raise DataCorrupt(f"{root} has no meta.pickle.pbz2: not a NATS-tss archive; pass the extracted NATS-tss-v1_0-3ffb9-simple directory")
    try:
        api = nats_bench.create(str(root), "tss", fast_mode=True, verbose=False)
    except (KeyError, TypeError, ValueError, OSError, EOFError, pickle.UnpicklingError) as exc:
        raise DataCorrupt(f"{root}/meta.pickle.pbz2 is unreadable ({_first_line(exc)}); extract or download the archive again") from None
    df = read_nats_api(api, show_progress=True, label=label)
    df.attrs["nats_archive"] = name
    df.attrs["nats_version"] = nats_archive_version(name)
    return df


# --------------------------------------------------------------------------- NASLib pickles

def _load_pickle(path: Path) -> Any:
    """NASLib's NB201 pickles hold dicts, lists and numbers only: ``harness.safe_pickle`` refuses
    every other class, so a hostile file cannot run code while loading."""
    if not path.exists():
        raise HarnessError(f"{path} does not exist; pass NASLib's nb201_<dataset>_full_training.pickle")
    require_regular(path)
    with open(path, "rb") as fh:
        if fh.read(3) == b"BZh":
            raise DataCorrupt(
                f"{path} is bzip2 (a NATS-Bench file?); import the whole NATS-tss-v1_0-3ffb9-simple directory or .tar"
            )
        fh.seek(0)
        try:
            return load_plain(fh, "a NASLib NB201 pickle")
        except RefusedPickle as exc:
            raise DataCorrupt(f"{path} was not loaded: {exc}, and loading it could run code; pass NASLib's "
                              f"nb201_<dataset>_full_training.pickle") from None
        except Exception as exc:  # noqa: BLE001 - any malformed byte stream is the same user error
            raise DataCorrupt(f"{path} is not a readable NASLib pickle ({_first_line(exc)}); download it again") from None


def _naslib_arch(key: Any, label: str) -> str:
    """A cell key: an arch string, or NASLib's op-index tuple (conversions.py)."""
    if isinstance(key, str):
        text = key
    elif isinstance(key, (tuple, list)) and len(key) == nb201.N_EDGES and all(
            isinstance(k, (int, np.integer)) and 0 <= k < len(_NASLIB_OPS) for k in key):
        ops = [""] * nb201.N_EDGES
        for pos, k in zip(_NASLIB_EDGE_POS, key):
            ops[pos] = _NASLIB_OPS[k]
        text = nb201.arch_str(tuple(nb201.OPS.index(o) for o in ops))
    else:
        raise DataCorrupt(f"{label}: cell key {key!r} is neither an NB201 arch string nor a NASLib op tuple")
    try:
        nb201.parse_arch_str(text)
    except ValueError as exc:
        raise DataCorrupt(f"{label}: {exc}") from None
    return text


def _epochs(entry: dict) -> int | None:
    epochs = entry.get("epochs")
    if isinstance(epochs, (int, np.integer)) and epochs > 0:
        return int(epochs)
    train = entry.get("train_acc1es")
    return len(train) if isinstance(train, (list, tuple, np.ndarray)) and len(train) else None


def _curves(values: Any, n: int | None, label: str) -> tuple[dict[str, list[float]], int]:
    """Split an eval list (one or k concatenated n-epoch curves, keys ``'0'``..) or NB201's
    ``{'<split>@<epoch>': v}`` dict (keys = split names) into per-epoch curves."""
    if isinstance(values, dict):
        by_split: dict[str, dict[int, float]] = {}
        for key, v in values.items():
            split, _, epoch = str(key).rpartition("@")
            if not split or not epoch.isdigit():
                raise DataCorrupt(f"{label}: eval key {key!r} is not '<split>@<epoch>'")
            by_split.setdefault(split, {})[int(epoch)] = _as_float(v)
        n = n or 1 + max(max(c) for c in by_split.values())
        return {s: [c.get(e, math.nan) for e in range(n)] for s, c in by_split.items()}, n
    if not isinstance(values, (list, tuple, np.ndarray)) or len(values) == 0:
        raise DataCorrupt(f"{label}: eval values are {type(values).__name__}, expected a list or a dict")
    flat = [_as_float(v) for v in values]
    n = n or len(flat)
    if len(flat) % n:
        raise DataCorrupt(f"{label}: {len(flat)} eval values do not split into {n}-epoch curves")
    return {str(k): flat[k * n:(k + 1) * n] for k in range(len(flat) // n)}, n


def _grid_split(finals: np.ndarray, sizes: dict[str, int]) -> tuple[str, ...]:
    """The splits whose accuracy grid (steps of 100/N %) holds every value, coarsest grid first;
    () when the values are off every grid (e.g. seed means) or too few cells to tell."""
    x = finals[np.isfinite(finals)]
    if len(x) < _MIN_GRID_CELLS:
        return ()
    fits = sorted((n, s) for s, n in sizes.items() if np.all(np.abs(x * n / 100 - np.round(x * n / 100)) <= _GRID_TOL))
    return tuple(s for n, s in fits if n == fits[0][0]) if fits else ()


def _mean_time(curve: list[float] | None) -> float:
    """Mean per-epoch seconds of one evaluation pass (NATS ``valid-per-time``); NaN if never timed."""
    x = np.array(curve if curve else [], dtype=float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if len(x) and x.mean() > 0 else math.nan


def _nonempty(values: Any) -> bool:
    return isinstance(values, (dict, list, tuple, np.ndarray)) and len(values) > 0


def _check_times(values: list[float], label: str, key: str) -> None:
    """Seconds are never negative or infinite (a NaN or 0 is an epoch never timed)."""
    bad = next((v for v in values if math.isinf(v) or v < 0), None)
    if bad is not None:
        raise DataCorrupt(f"{label}, column {key}: negative or infinite time {bad}; {FIX}")


def _cell_values(entry: Any, label: str) -> tuple[int, dict[str, list[float]], dict[str, list[float]], float] | None:
    """(epochs, eval accuracy curves, eval time curves, total train seconds) of one cell and dataset."""
    if entry is None:
        return None
    if not isinstance(entry, dict) or "eval_acc1es" not in entry:
        raise DataCorrupt(f"{label}: expected a dict with eval_acc1es (NASLib's layout), got {type(entry).__name__}")
    acc, n = _curves(entry["eval_acc1es"], _epochs(entry), label)
    times = entry.get("eval_times")
    t_curves = _curves(times, n, label)[0] if _nonempty(times) else {}
    for curve in t_curves.values():
        _check_times(curve, label, "eval_times")
    train = entry.get("train_times")
    if isinstance(train, dict):
        train = [train[k] for k in sorted(train)]
    train_times = [_as_float(v) for v in train[:n]] if _nonempty(train) else []
    _check_times(train_times, label, "train_times")
    train_s = float(np.nansum(train_times)) if train_times else math.nan
    return n, acc, t_curves, (train_s if train_s > 0 else math.nan)


def _naslib_dataset(dataset: str, entries: list[Any], archs: list[str], label: str) -> tuple[dict[str, np.ndarray], list[str]]:
    """Columns of one dataset: each curve's split is its key (dict layout) or read off its grid."""
    label = f"{label} [{dataset}]"
    cells = [_cell_values(e, f"{label}: cell {a}") for e, a in zip(entries, archs)]
    present = [c for c in cells if c is not None]
    layouts = {(c[0], tuple(c[1])) for c in present}
    if len(layouts) != 1:
        raise DataCorrupt(f"{label}: cells disagree on epochs / eval curves ({sorted(layouts)[:2]}); corrupt file")
    (n, keys), = layouts
    if n not in (12, 200):
        raise DataCorrupt(f"{label}: {n}-epoch curves; NB201 has 12- and 200-epoch runs only")
    nan = math.nan
    finals = {k: np.array([c[1][k][n - 1] if c else nan for c in cells]) for k in keys}
    for k, v in finals.items():
        outside = (v < 0) | (v > 100)
        if outside.any():
            i = int(np.argmax(outside))
            raise DataCorrupt(f"{label}: cell {archs[i]}, eval_acc1es curve {k}: final accuracy {v[i]} outside "
                              f"0-100 %; not an NB201 file")
    notes: list[str] = []
    sizes = SPLIT_SIZES[dataset]
    by_grid = {k: k.isdigit() for k in keys}  # list layout: curves "0", "1", ...; dict layout: split names
    named = {k: _grid_split(v, sizes) if by_grid[k] else (k,) for k, v in finals.items()}
    metric_of: dict[str, str] = {}
    for k, splits in named.items():
        if len(splits) == 1 and splits[0] in _SPLIT_METRIC[dataset]:
            metric_of[k] = _SPLIT_METRIC[dataset][splits[0]]
            if by_grid[k]:
                notes.append(f"{dataset}: curve {k} is on the {sizes[splits[0]]}-image grid of {splits[0]}, "
                             f"one training run per cell; imported as {metric_of[k]}@{n}")
        elif len(splits) == 1:
            notes.append(f"{dataset}: curve {splits[0]} is not imported (no {dataset} column takes it; "
                         f"ori-test of cifar100/ImageNet16-120 is x-valid and x-test together)")
        elif len(keys) == 1:
            metric_of[k] = "test" if dataset == "cifar10" else "val"
            why = (f"its grid fits {' or '.join(splits)}" if splits
                   else "its values fit no single split's grid (seed means?) or there are too few cells")
            notes.append(f"{dataset}: cannot tell val from test for the only eval curve ({why}); imported as "
                         f"{metric_of[k]}@{n} only" + ("" if dataset == "cifar10" else ", no test column"))
        else:
            notes.append(f"{dataset}: cannot tell which split curve {k} is ({' or '.join(splits) or 'off every grid'}); "
                         f"not imported")
    if len(set(metric_of.values())) != len(metric_of):
        raise DataCorrupt(f"{label}: two eval curves look like the same split; not NASLib's NB201 layout")
    cols = {f"{dataset}/{m}@{n}": finals[k] for k, m in metric_of.items()}
    cols[f"{dataset}/train_s@{n}"] = np.array([c[3] if c else nan for c in cells])
    val_key = next((k for k, m in metric_of.items() if m == "val"), None)
    if val_key is not None:
        cols[f"{dataset}/eval_s@{n}"] = np.array([_mean_time(c[2].get(val_key)) if c else nan for c in cells])
    return {c: v for c, v in cols.items() if np.isfinite(v).any()}, notes


def _wanted_datasets(path: Path, dataset_hint: str | None) -> tuple[str, ...] | None:
    if dataset_hint is None:
        m = _NASLIB_FILE.search(path.name)
        return _HINT_DATASETS[m.group(1)] if m else None
    if dataset_hint not in _HINT_DATASETS:
        raise HarnessError(f"unknown NB201 dataset {dataset_hint!r}; valid: {', '.join(_HINT_DATASETS)}")
    return _HINT_DATASETS[dataset_hint]


def read_naslib_pickle(path: str | Path, dataset_hint: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Read NASLib's ``nb201_{cifar10,cifar100,ImageNet16}_full_training.pickle`` (``{arch_str: {dataset:
    {'eval_acc1es': [...], 'train_times': [...], 'eval_times': [...], ...}}}``, NASLib
    naslib/utils/get_dataset_api.py and naslib/search_spaces/nasbench201/graph.py ``query``).

    NASLib answers both VAL_ACCURACY and TEST_ACCURACY from ``eval_acc1es`` and reads cifar10 from the
    ``cifar10-valid`` entry. We decide each curve's split from the file: from its key where the file
    keeps NB201's ``'<split>@<epoch>'`` keys, else from the accuracy grid of its last epoch (one run on
    N images gives steps of 100/N %; see ``SPLIT_SIZES``). A lone curve we cannot place is imported
    as val only (cifar10: test, its only split); the returned notes say what was decided and why.
    Only the 200-epoch run is stored (epoch 11 of it is not NB201's 12-epoch schedule).
    ``dataset_hint`` (or the file name) limits the datasets read: 'cifar10' = cifar10-valid + cifar10.
    The file is loaded with ``harness.safe_pickle.load_plain``, which admits only dicts, lists,
    numbers and numpy arrays, so it cannot run code. Impossible values (``harness.data.values``;
    negative or infinite times) are a ``DataCorrupt`` naming the cell and the column.
    """
    path = Path(path)
    label = str(path)
    data = _load_pickle(path)
    if not isinstance(data, dict) or not data:
        raise DataCorrupt(f"{label}: expected NASLib's dict arch -> dataset -> metrics, got {type(data).__name__}")
    rows = []
    for key, entry in data.items():
        arch = _naslib_arch(key, label)
        if not isinstance(entry, dict):
            raise DataCorrupt(f"{label}: cell {arch} holds {type(entry).__name__}, expected a dict per dataset")
        rows.append((arch_index(arch), arch, entry))
    rows.sort(key=lambda r: r[0])
    twice = next((r[1] for r, q in zip(rows, rows[1:]) if r[0] == q[0]), None)
    if twice is not None:
        raise DataCorrupt(f"{label}: cell {twice} appears twice (as arch string and op tuple); corrupt file")
    present = [d for d in DATASETS if any(d in r[2] for r in rows)]
    wanted = _wanted_datasets(path, dataset_hint)
    datasets = [d for d in present if wanted is None or d in wanted]
    if not datasets:
        raise DataCorrupt(f"{label}: no NB201 dataset {'/'.join(wanted or DATASETS)} in the file (it has "
                          f"{', '.join(map(str, list(rows[0][2])[:6]))})")
    df = pd.DataFrame({"index": np.array([r[0] for r in rows], dtype=np.int32), "arch_str": [r[1] for r in rows]})
    notes = [
        "NASLib pickle: NASLib reads val and test from one eval_acc1es list (graph.py query); each curve's "
        "split was decided from the file instead (see the notes below)",
    ]
    for d in datasets:
        cols, d_notes = _naslib_dataset(d, [r[2].get(d) for r in rows], [r[1] for r in rows], label)
        df = pd.concat([df, pd.DataFrame(cols)], axis=1)
        notes += d_notes
    check_values(df, label)
    _check_distinct(df, label)
    return df, notes
