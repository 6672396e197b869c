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
    cost_s: float
    """CPU seconds of one 150-query NB201 run through the CLI, ~4 s of it interpreter and import
    start-up, measured by ``benchmarks/bench_strategy_costs.py`` on a 2-core machine (opt-in
    replicas over 10 queries, scaled to 150). Executors start the costliest runs first."""
    source: str
    opt_in: bool = False

    @property
    def cost(self) -> str:
        """``cost_s`` as ``list strategies`` shows it."""
        return f"{self.cost_s:.0f} s" if self.cost_s < 90 else f"~{self.cost_s / 60:.0f} min"


STRATEGIES = LazyRegistry(
    "strategy",
    {
        "random": StrategyEntry("strategies.random_search:RandomSearch", "uniform samples of the space",
                                4, "Li & Talwalkar 2019"),
        "er": StrategyEntry("strategies.graph_models:ErdosRenyiSearch", "random Erdős–Rényi graphs (RandWire "
                            "random search)", 4, "Xie et al. 2019; GraphPNAS Table 1"),
        "ws": StrategyEntry("strategies.graph_models:WattsStrogatzSearch", "random Watts–Strogatz graphs (RandWire "
                            "random search)", 5, "Xie et al. 2019; GraphPNAS Table 1"),
        "local_search": StrategyEntry("strategies.local_search:LocalSearch", "first-improvement local search",
                                      4, "White et al. 2020 (naszilla)"),
        "rea": StrategyEntry("strategies.rea:RegularizedEvolution", "regularized evolution, population 30 / "
                             "tournament 10", 4, "Real et al. 2019; naszilla defaults"),
        "rea_nb201": StrategyEntry("strategies.rea:RegularizedEvolutionNB201", "regularized evolution at NATS-Bench's "
                                   "NB201 preset (10 / 3)", 5, "AutoDL-Projects NATS-algos; GraphPNAS Table 5"),
        "reinforce": StrategyEntry("strategies.reinforce:Reinforce", "REINFORCE on a per-edge op table",
                                   6, "AutoDL-Projects NATS-algos; GraphPNAS Table 5"),
        "bohb": StrategyEntry("strategies.bohb:BOHB", "BOHB (TPE-KDE + successive halving)", 4,
                              "Falkner et al. 2018 (hpbandster defaults)"),
        "bohb_nb201": StrategyEntry("strategies.bohb:BOHBNB201", "BOHB at NATS-Bench's NB201 preset", 4,
                                    "AutoDL-Projects NATS-algos; GraphPNAS Table 5"),
        "bananas": StrategyEntry("strategies.bananas:Bananas", "BO with a path-encoding neural ensemble",
                                 9, "White et al. 2021 (naszilla)"),
        "rnn": StrategyEntry("strategies.rnn:RNN", "the ENAS RNN controller trained by REINFORCE", 10,
                             "Zoph & Le 2017; Pham et al. 2018; GraphPNAS Tables 1, 3, 4"),
        "rnn_graphpnas": StrategyEntry("strategies.rnn:RNNGraphPNAS", "the GraphPNAS authors' LSTM baseline, "
                                       "refit on the top-K after every step", 120,
                                       "DSL-Lab/GraphPNAS model/generators/lstm.py", opt_in=True),
        "graphpnas": StrategyEntry("strategies.graphpnas.loop:GraphPNAS", "GraphPNAS: GNN graph generator "
                                   "trained by REINFORCE (the paper)", 23, "GraphPNAS §3, App. B-E"),
        "graphpnas_code": StrategyEntry("strategies.graphpnas.loop:GraphPNASCode", "GraphPNAS as the authors' code "
                                        "runs it (re-initialised and refit after every query)", 180,
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
