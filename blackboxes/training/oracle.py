"""An Evaluator that trains each architecture from scratch: the GraphPNAS oracle (§3.1.2, §4.1).

Generic over spaces: it needs the space (for canonical ids) and ``model_factory(arch)``, which
returns a zero-argument, picklable callable building the ``torch.nn.Module`` (e.g. a
``functools.partial`` of a module-level builder). The fidelity is the number of epochs.

Same architecture, same reward, whichever strategy asks: the training seed derives only from
(canonical id, benchmark repeat), never from the run, and answers are kept in an
``EvalCache`` keyed by (space, canonical id, evaluator config hash, seed). An answer costs the
training seconds measured when it was trained, whether it is fresh or read from the cache (``extra``
cached=1): a search's cost, its time axis and a ``--time-budget`` must not depend on which strategy
happened to train an architecture first, nor a rerun's trajectory on a warm cache.
Repeats: ``bench_seed`` -1 (the runner's "mean over repeats") is repeat 0 when ``repeats`` is 1;
with more repeats it trains every repeat and averages them.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from blackboxes.training.cache import EvalCache, config_hash
from blackboxes.training.data import (
    Splits,
    full_data_splits,
    load_dataset,
    low_data_splits,
)
from blackboxes.training.loop import (
    EvaluationTimeout,
    TrainConfig,
    TrainResult,
    train_and_evaluate,
)
from harness.contracts import Arch, Evaluator, Result, SearchSpace
from harness.devices import (
    device_slots,
    resolve_device,
    run_jobs,
    torch_threads,
)

REGIMES = ("low", "full")


@dataclass(frozen=True)
class DataSpec:
    """Which data one training run sees: ``regime`` "low" (per-class ``fraction`` of the training
    pool, the rest validates; split drawn from ``split_seed``) or "full" (whole pool, test split)."""

    dataset: str
    data_dir: str | None
    regime: str = "low"
    fraction: float = 0.1
    split_seed: int = 0

    def describe(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("data_dir")
        return d

    def load(self) -> Splits:
        return _load_splits(self)


@functools.lru_cache(maxsize=4)
def _load_splits(spec: DataSpec) -> Splits:
    ds = load_dataset(spec.dataset, spec.data_dir)
    if spec.regime == "low":
        return low_data_splits(ds, spec.fraction, spec.split_seed)
    if spec.regime == "full":
        return full_data_splits(ds)
    raise ValueError(f"unknown data regime {spec.regime!r}; valid: {REGIMES}")


@dataclass(frozen=True)
class TrainJob:
    """One training run, picklable for a spawn worker."""

    factory: Callable[[], Any]
    data: DataSpec
    cfg: TrainConfig
    seed: int
    device: str
    timeout_s: float | None = None


def run_job(job: TrainJob) -> TrainResult:
    """Train one job; a timeout comes back as a result carrying the error (it is not cached)."""
    with torch_threads():
        try:
            return train_and_evaluate(job.factory, job.data.load(), job.cfg, job.seed, job.device, job.timeout_s)
        except EvaluationTimeout as exc:
            return TrainResult(math.nan, math.nan, (), float(job.timeout_s or 0.0), 0, 0, job.device, {"error": str(exc)})


def training_seed(arch_id: str, repeat: int) -> int:
    """A 63-bit seed from (canonical id, repeat) only: the same for every run and strategy."""
    return int(hashlib.sha256(f"{arch_id}|{repeat}".encode()).hexdigest()[:15], 16)


def default_cache_dir(data_dir) -> Path | None:
    """``<data dir>/cache``; None (no persistence) without a data dir."""
    return None if data_dir is None else Path(data_dir) / "cache"


class TrainedOracle(Evaluator):
    """Train-from-scratch evaluator; see the module docstring for seeds, cache and costs."""

    def __init__(
        self,
        space: SearchSpace,
        model_factory: Callable[[Arch], Callable[[], Any]],
        data: DataSpec,
        train: TrainConfig,
        fidelities: Sequence[int],
        default_fidelity: int,
        cache_dir: Path | str | None = None,
        device: str = "auto",
        workers: int = 1,
        repeats: int = 1,
        model_config: dict[str, Any] | None = None,
        timeout_s: float | None = None,
    ):
        self.space = space
        self.model_factory = model_factory
        self.data = data
        self.train = train
        self.fidelities = tuple(int(f) for f in fidelities)
        self.default_fidelity = int(default_fidelity)
        self.dataset = data.dataset
        self.cache = EvalCache(cache_dir)
        self.device = device
        self.workers = int(workers)
        self.repeats = int(repeats)
        self.model_config = dict(model_config or {})
        self.journal_fsync = True
        self._memo: dict[tuple, dict[str, Any]] = {}
        self.timeout_s = timeout_s
        """Per-evaluation limit on training seconds; a run past it is a failed query (not cached)."""

    def n_repeats(self, fidelity: int) -> int:
        return self.repeats

    def describe(self) -> dict[str, Any]:
        return {
            "evaluator": type(self).__name__,
            "space": self.space.describe(),
            "model": self.model_config,
            "data": self.data.describe(),
            "train": dataclasses.asdict(self.train),
            "repeats": self.repeats,
        }

    def _config(self, fidelity: int) -> tuple[TrainConfig, str]:
        cfg = dataclasses.replace(self.train, epochs=int(fidelity))
        ident = {"space": self.space.describe(), "model": self.model_config, "data": self.data.describe(), "train": cfg.digest()}
        return cfg, config_hash(ident)

    def evaluate(self, archs: Sequence[Arch], fidelity: int, bench_seeds: Sequence[int]) -> list[Result]:
        cfg, chash = self._config(fidelity)
        wanted: list[list[tuple]] = []  # per arch: its (arch_id, repeat, seed) runs
        for arch, b in zip(archs, bench_seeds):
            aid = self.space.canonical_id(arch)
            reps = range(self.repeats) if b < 0 else [int(b)]
            wanted.append([(aid, r, training_seed(aid, r)) for r in reps])
        records: dict[tuple, dict[str, Any]] = {}
        todo: dict[tuple, Arch] = {}
        for arch, runs in zip(archs, wanted):
            for aid, _, seed in runs:
                k = (aid, seed, chash)
                rec = self._memo.get(k) or self.cache.get(EvalCache.key(self.space.name, aid, chash, seed))
                if rec is not None:
                    records[k] = {**rec, "cached": 1}
                elif k not in todo:
                    todo[k] = arch
        if todo:
            device = resolve_device(self.device)
            slots = device_slots(device, self.workers)
            jobs = [
                TrainJob(self.model_factory(arch), self.data, cfg, seed, slots[n % len(slots)], self.timeout_s)
                for n, ((aid, seed, _), arch) in enumerate(todo.items())
            ]
            for (aid, seed, _), res in zip(todo, run_jobs(run_job, jobs, self.workers)):
                if "error" in res.extra:
                    records[(aid, seed, chash)] = {"error": res.extra["error"], "train_s": res.train_s, "cached": 0}
                    continue
                rec = {
                    "val_acc": res.val_acc, "test_acc": None if math.isnan(res.test_acc) else res.test_acc,
                    "train_s": res.train_s, "params": res.params, "flops": res.flops,
                    "val_curve": list(res.val_curve), "device": res.device,
                }
                self.cache.put(EvalCache.key(self.space.name, aid, chash, seed), rec)
                records[(aid, seed, chash)] = {**rec, "cached": 0}
        results = []
        for runs in wanted:
            recs = [records[(aid, seed, chash)] for aid, _, seed in runs]
            failed = [r for r in recs if "error" in r]
            if failed:
                results.append(Result(math.nan, status="failed", error=failed[0]["error"],
                                      cost_s=float(sum(r["train_s"] for r in recs))))
                continue
            for (aid, _, seed), rec in zip(runs, recs):
                self._memo[(aid, seed, chash)] = {k: v for k, v in rec.items() if k != "cached"}
            results.append(_result(recs, runs[0][1] if len(runs) == 1 else -1))
        return results

    def report_values(self, archs, dataset: str, fidelity: int, metric: str) -> list[float] | None:
        if dataset != self.dataset or fidelity not in self.fidelities:
            return None
        results = self.evaluate(archs, fidelity, [-1] * len(archs))
        return [r.val_acc if metric == "val" else r.test_acc for r in results]


def _result(recs: list[dict[str, Any]], bench_seed: int) -> Result:
    tests = [r["test_acc"] for r in recs if r.get("test_acc") is not None]
    fresh = [r for r in recs if not r["cached"]]
    return Result(
        val_acc=sum(r["val_acc"] for r in recs) / len(recs),
        test_acc=sum(tests) / len(tests) if tests else math.nan,
        cost_s=float(sum(r["train_s"] for r in recs)),
        bench_seed=bench_seed,
        extra=(
            ("params", float(recs[0]["params"])),
            ("flops", float(recs[0]["flops"])),
            ("cached", float(not fresh)),
            ("train_s", float(sum(r["train_s"] for r in recs))),
        ),
    )
