"""REINFORCE and BOHB: the DAG-decision encoding, policy learning, the KDE model, successive
halving, resuming from a state_dict, and a comparison with random search on the real NB201 table."""
from __future__ import annotations

import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.config import RunConfig
from harness.contracts import Observation, RunContext
from harness.runner import execute
from harness.testing import check_resume, drive, unit
from spaces.nb101 import MAX_EDGES, NB101Space
from spaces.nb201 import NB201Space
from strategies.bohb import BOHB, BOHBNB201, CategoricalKDE, bracket_sizes, promote
from strategies.dag_decisions import DagDecisions
from strategies.registry import STRATEGIES
from strategies.reinforce import Reinforce

NB201_CTX = RunContext(fidelities=(12, 200), fidelity=200, budget=150, time_budget=None)


def _noisy(space):
    """A deterministic objective with structure: more 'high' op labels score more, plus noise."""
    def objective(arch, fidelity):
        X = space.to_dag(arch).X
        return 40.0 + 5.0 * float(np.mean(X)) + 10.0 * unit(f"{space.canonical_id(arch)}|{fidelity}")
    return objective


def _make(cls, space, seed=0, ctx=NB201_CTX, **kw):
    s = cls(**kw)
    s.setup(space, np.random.SeedSequence(seed), ctx)
    return s


def _log(steps):
    """(arch string, fidelity, info) per query of a ``drive(..., full=True)``."""
    return [(s.arch, s.observation.fidelity, dict(s.proposal.info)) for s in steps]


def _drive(strategy, space, objective, steps, n=1):
    return _log(drive(strategy, space, objective, steps, n, full=True))


def _check_resume(cls, space, objective, k, rest, n):
    """k steps, store the state, load it into a fresh instance with another seed, continue: the
    same queries as uninterrupted (``harness.testing.check_resume``); the uninterrupted log."""
    return _log(check_resume(cls, space, objective, k, rest, n, context=NB201_CTX, seed=0, label=cls.__name__))


# ---------------------------------------------------------------- the decision view

def test_nb201_decisions_are_the_6x5_table():
    d = DagDecisions.of(NB201Space())
    assert len(d) == 6 and d.n_choices.tolist() == [5] * 6 and d.edges == ()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=6, max_size=6))
def test_nb201_codes_are_the_arch(codes):
    space = NB201Space()
    d = DagDecisions.of(space)
    arch = d.to_arch(space, codes)
    assert arch == tuple(codes)
    assert d.encode(space.to_dag(arch)).tolist() == codes


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 2), min_size=5, max_size=5), st.lists(st.integers(0, 1), min_size=21, max_size=21))
def test_nb101_codes_round_trip_or_are_rejected(ops, edges):
    space = NB101Space()
    d = DagDecisions.of(space)
    codes = ops + edges
    arch = d.to_arch(space, codes)
    if arch is None:
        assert sum(edges) > MAX_EDGES or space.from_dag(d.decode(codes)) is None
    else:
        assert space.is_valid(arch) and d.encode(space.to_dag(arch)).tolist() == codes


# ---------------------------------------------------------------- REINFORCE

def test_reinforce_learns_a_rewarded_op():
    space = NB201Space()
    agent = _make(Reinforce, space)
    p0 = agent.probabilities()
    assert np.allclose(p0, 0.2, atol=1e-2)  # 1e-3 * randn logits: near uniform
    _drive(agent, space, lambda a, f: 90.0 if a[2] == 3 else 60.0, 150)
    p = agent.probabilities()
    assert p[2, 3] > 0.5 and p[2].argmax() == 3, p[2]


def test_reinforce_resamples_rejected_dags_and_counts_them():
    space = NB101Space()
    agent = _make(Reinforce, space)
    log = _drive(agent, space, _noisy(space), 20)
    assert agent.n_rejected > 0 and sum(info["rejected"] for _, _, info in log) == agent.n_rejected


def test_reinforce_resumes_identically_in_batches_with_failures():
    space = NB201Space()
    base = _noisy(space)

    def objective(arch, fidelity):  # some evaluations fail: reward 0, the run goes on
        return math.nan if arch[0] == 0 else base(arch, fidelity)

    log = _check_resume(Reinforce, space, objective, k=6, rest=6, n=3)
    assert log != _drive(_make(Reinforce, space, seed=1), space, objective, 12, 3)


# ---------------------------------------------------------------- BOHB

def test_bracket_sizes_are_hpbandsters():
    assert [bracket_sizes(4, s, 3) for s in (3, 2, 1, 0)] == [[27, 9, 3, 1], [9, 3, 1], [6, 2], [4]]
    assert [bracket_sizes(2, s, 3) for s in (1, 0)] == [[3, 1], [2]]
    assert bracket_sizes(1, 0, 3) == [1]
    assert promote([5.0, 1.0, math.inf, 1.0, 0.5], 2) == [1, 4]


def test_successive_halving_promotes_the_top_third_and_never_a_failure():
    space = NB201Space()
    ctx = RunContext(fidelities=(1, 3, 9, 27, 200), fidelity=27, budget=None, time_budget=1e9)
    bohb = _make(BOHB, space, ctx=ctx)  # rungs 1, 3, 9, 27: fidelities above the run's are unused

    def score(arch):
        return 100 * unit(str(arch))

    def tell(props, failed=None):
        bohb.tell([Observation(p.arch, "", math.nan if p.arch == failed else score(p.arch), 1.0, p.fidelity,
                               "failed" if p.arch == failed else "ok") for p in props])

    rung = [bohb.ask(1)[0] for _ in range(27)]
    assert {p.fidelity for p in rung} == {1} and len({p.arch for p in rung}) == 27
    failed = max((p.arch for p in rung), key=score)  # it would be promoted, had it not failed
    tell(rung, failed)
    survivors = [p.arch for p in rung if p.arch != failed]
    for fid, k in ((3, 9), (9, 3), (27, 1)):
        top = sorted(survivors, key=score, reverse=True)[:k]
        nxt = bohb.ask(k)
        assert [p.fidelity for p in nxt] == [fid] * k
        assert [p.arch for p in nxt] == [a for a in survivors if a in top]  # hpbandster keeps their order
        tell(nxt)
        survivors = [p.arch for p in nxt]
    assert {p.fidelity for p in bohb.ask(9)} == {3}  # next bracket, s = 2: 9 configurations on rung 3


def test_kde_prefers_the_good_configurations():
    rng = np.random.default_rng(0)
    k = np.array([5] * 6)
    target = np.array([3, 3, 1, 3, 2, 3])
    near = np.where(rng.random((20, 6)) < 0.8, target, rng.integers(0, 5, (20, 6)))
    far = rng.integers(0, 5, (60, 6))
    good, bad = CategoricalKDE(near, k, 1e-3), CategoricalKDE(far, k, 1e-3)
    assert np.all((good.bw >= 1e-3) & (good.bw <= 0.8))
    ratio = good.log_pdf(np.vstack([target, far])) - bad.log_pdf(np.vstack([target, far]))
    assert ratio[0] > np.quantile(ratio[1:], 0.95)


def test_bohb_model_proposes_better_than_random_on_a_synthetic_objective():
    space = NB201Space()
    target = (3, 3, 1, 3, 2, 3)

    def objective(arch, fidelity):
        return 95.0 - 10.0 * sum(a != t for a, t in zip(arch, target)) + unit(str(arch))

    ctx = RunContext(fidelities=(200,), fidelity=200, budget=80, time_budget=None)
    log = _drive(_make(BOHB, space, ctx=ctx), space, objective, 80)
    assert {f for _, f, _ in log} == {200}  # one fidelity: plain BO, one config per bracket
    dist = {m: [sum(a != t for a, t in zip(space.from_str(s), target)) for s, _, i in log if i["model_based"] == m]
            for m in (0, 1)}
    assert len(dist[1]) > 20 and np.mean(dist[1]) < np.mean(dist[0]) - 1.5, dist


def test_bohb_resumes_identically_in_batches_with_the_model_active():
    space = NB201Space()
    log = _check_resume(BOHBNB201, space, _noisy(space), k=12, rest=8, n=4)
    assert any(info["model_based"] == 1 for *_, info in log[48:])
    assert {f for _, f, _ in log} == {12, 200}
    assert _check_resume(BOHB, NB101Space(), _noisy(NB101Space()), k=5, rest=5, n=3)


def test_bohb_rejects_bad_parameters():
    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match="min_points_in_model"):
        _make(BOHB, NB201Space(), min_points_in_model=3)


# ---------------------------------------------------------------- the real NB201 table

SEEDS = range(20)


@pytest.fixture(scope="module")
def nb201_runs(nb201_data_dir, tmp_path_factory):
    """``run(strategy, **budget)``: SEEDS runs through the runner on cifar10-valid at fidelity 200
    (12 also available); returns each run's best 200-epoch validation accuracy, the fidelities
    queried and the keys logged in ``extra``."""
    from blackboxes.nb201.evaluator import NB201Benchmark

    evaluator = NB201Benchmark("cifar10-valid", nb201_data_dir)
    out = tmp_path_factory.mktemp("runs")
    cache = {}

    def run(strategy: str, **budget):
        key = (strategy, tuple(sorted(budget.items())))
        if key in cache:
            return cache[key]
        STRATEGIES.register("reinforce", "strategies.reinforce:Reinforce")
        STRATEGIES.register("bohb", "strategies.bohb:BOHB")
        best, fids, extra = [], set(), set()
        for seed in SEEDS:
            cfg = RunConfig(space="nb201", dataset="cifar10-valid", strategy=strategy, seed=seed, fidelity=200, **budget)
            rows = pq.read_table(execute(cfg, out, nb201_data_dir, evaluator=evaluator).paths.trajectory).to_pandas()
            if budget.get("time_budget"):
                assert rows["cost_cum_s"].iloc[-1] >= budget["time_budget"] > rows["cost_cum_s"].iloc[-2]
            else:
                assert rows["charged"].sum() == budget["budget"]
            at_200 = rows[(rows["fidelity"] == 200) & rows["status"].isin(["ok", "duplicate"])]
            best.append(at_200["val_acc"].max())
            fids.update(rows["fidelity"])
            extra.update(k for e in rows["extra"] if e for k in json.loads(e))
        cache[key] = (np.array(best), fids, extra)
        return cache[key]

    return run


def _not_worse(name, mine, random):
    se = math.sqrt(mine.var(ddof=1) / len(mine) + random.var(ddof=1) / len(random))
    print(f"\n{name}: mean best val@200 {mine.mean():.3f} vs random {random.mean():.3f} "
          f"(diff {mine.mean() - random.mean():+.3f}, se {se:.3f}, {len(mine)} seeds)")
    assert mine.mean() > random.mean() - 3 * se


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.parametrize("strategy", ["reinforce", "bohb"])
def test_150_queries_not_worse_than_random(nb201_runs, strategy):
    mine, fids, _ = nb201_runs(strategy, budget=150)
    assert fids == ({12, 200} if strategy == "bohb" else {200})
    _not_worse(f"{strategy} (150 queries)", mine, nb201_runs("random", budget=150)[0])


@pytest.mark.slow
@pytest.mark.shared_data
def test_bohb_under_a_time_budget_uses_both_fidelities(nb201_runs):
    mine, fids, extra = nb201_runs("bohb", budget=None, time_budget=20_000.0)
    assert fids == {12, 200} and {"bracket", "rung", "model_based"} <= extra
    _not_worse("bohb (20,000 s, fidelities 12/200)", mine, nb201_runs("random", budget=None, time_budget=20_000.0)[0])
