"""Shared fixtures: the real benchmark data in ../shared/data, and an isolated data dir."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# One torch thread per process: tiny torch ops on 2 oversubscribed cores run many times slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
try:
    import torch

    torch.set_num_threads(1)
except ImportError:
    pass

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (real NB101/NB201 files); skips with a reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real benchmark data not found at {SHARED_DATA} (CI always has it)")
    return SHARED_DATA


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """An empty harness data dir, also exported as HARNESS_DATA so nothing touches ~/.cache."""
    d = tmp_path / "data"
    monkeypatch.setenv("HARNESS_DATA", str(d))
    return d


NB201_SHARED_FILES = (
    "nas_landscapes_cifar10-valid_avg.csv",
    "nb201_val_acc_200ep_naslib.csv",
    "nb201_12ep_mini_nasbench201.csv",
)


@pytest.fixture(scope="session")
def nb201_data_dir(shared_data, tmp_path_factory) -> Path:
    """A data dir holding the NB201 table imported from the real shared tables (once per session)."""
    from blackboxes.nb201 import table as nb201_table

    d = tmp_path_factory.mktemp("nb201-data")
    nb201_table.import_files([shared_data / "nb201" / f for f in NB201_SHARED_FILES], d)
    return d


@pytest.fixture(autouse=True)
def _restore_strategy_registry():
    """Tests register throwaway strategies; each test starts from the shipped registry."""
    from strategies.registry import STRATEGIES

    saved = dict(STRATEGIES._entries)
    yield
    STRATEGIES._entries.clear()
    STRATEGIES._entries.update(saved)
