"""Every strategy the harness knows, by name; modules are imported only when chosen.

Add yours with one line here, or from another package through the ``nas_harness.strategies``
entry-point group (see README, "Add your own strategy"). Each shipped entry says what it is
for, what one run costs on a tabular space, and where its definition comes from; ``opt_in``
entries (replicas of a protocol that refits after every query, minutes per run) run only when
named. The default set of a space is its benchmark's ``default_strategies`` (the paper's
comparison on it, ``blackboxes/<name>/__init__.py``).
"""
from __future__ import annotations

from dataclasses import dataclass

from harness.registry import LazyRegistry


@dataclass(frozen=True)
class StrategyEntry:
    target: str
    """``"module:Class"``."""
    purpose: str
    cost: str
    """CPU time of one 150-query NB201 run through the CLI, ~4 s of it interpreter and import
    start-up, measured by ``benchmarks/bench_strategy_costs.py`` on a 2-core machine (opt-in
    replicas over 10 queries, scaled to 150)."""
    source: str
    opt_in: bool = False


STRATEGIES = LazyRegistry(
    "strategy",
    {
        "random": StrategyEntry("strategies.random_search:RandomSearch", "uniform samples of the space",
                                "4 s", "Li & Talwalkar 2019"),
        "er": StrategyEntry("strategies.graph_models:ErdosRenyiSearch", "random Erdős–Rényi graphs (RandWire "
                            "random search)", "4 s", "Xie et al. 2019; GraphPNAS Table 1"),
        "ws": StrategyEntry("strategies.graph_models:WattsStrogatzSearch", "random Watts–Strogatz graphs (RandWire "
                            "random search)", "5 s", "Xie et al. 2019; GraphPNAS Table 1"),
        "local_search": StrategyEntry("strategies.local_search:LocalSearch", "first-improvement local search",
                                      "4 s", "White et al. 2020 (naszilla)"),
        "rea": StrategyEntry("strategies.rea:RegularizedEvolution", "regularized evolution, population 30 / "
                             "tournament 10", "4 s", "Real et al. 2019; naszilla defaults"),
        "rea_nb201": StrategyEntry("strategies.rea:RegularizedEvolutionNB201", "regularized evolution at NATS-Bench's "
                                   "NB201 preset (10 / 3)", "5 s", "AutoDL-Projects NATS-algos; GraphPNAS Table 5"),
        "reinforce": StrategyEntry("strategies.reinforce:Reinforce", "REINFORCE on a per-edge op table",
                                   "13 s", "AutoDL-Projects NATS-algos; GraphPNAS Table 5"),
        "bohb": StrategyEntry("strategies.bohb:BOHB", "BOHB (TPE-KDE + successive halving)", "4 s",
                              "Falkner et al. 2018 (hpbandster defaults)"),
        "bohb_nb201": StrategyEntry("strategies.bohb:BOHBNB201", "BOHB at NATS-Bench's NB201 preset", "4 s",
                                    "AutoDL-Projects NATS-algos; GraphPNAS Table 5"),
        "bananas": StrategyEntry("strategies.bananas:Bananas", "BO with a path-encoding neural ensemble",
                                 "9 s", "White et al. 2021 (naszilla)"),
        "rnn": StrategyEntry("strategies.rnn:RNN", "the ENAS RNN controller trained by REINFORCE", "17 s",
                             "Zoph & Le 2017; Pham et al. 2018; GraphPNAS Tables 1, 3, 4"),
        "rnn_graphpnas": StrategyEntry("strategies.rnn:RNNGraphPNAS", "the GraphPNAS authors' LSTM baseline, "
                                       "refit on the top-K after every step", "~2 min",
                                       "DSL-Lab/GraphPNAS model/generators/lstm.py", opt_in=True),
        "graphpnas": StrategyEntry("strategies.graphpnas.loop:GraphPNAS", "GraphPNAS: GNN graph generator "
                                   "trained by REINFORCE (the paper)", "29 s", "GraphPNAS §3, App. B-E"),
        "graphpnas_code": StrategyEntry("strategies.graphpnas.loop:GraphPNASCode", "GraphPNAS as the authors' code "
                                        "runs it (re-initialised and refit after every query)", "~3 min",
                                        "DSL-Lab/GraphPNAS", opt_in=True),
    },
    entry_point_group="nas_harness.strategies",
)


def describe(name: str) -> StrategyEntry | None:
    """The shipped entry of ``name`` (None for a target registered as a bare string, e.g. a plugin)."""
    entry = STRATEGIES.entry(name)
    return None if isinstance(entry, str) else entry


def everyday() -> list[str]:
    """Every registered strategy that is not opt-in (``--strategies all``)."""
    return [n for n in STRATEGIES.names() if not (describe(n) and describe(n).opt_in)]
