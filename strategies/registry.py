"""Every strategy the harness knows, by name; modules are imported only when chosen.

Add yours with one line here, or from another package through the ``nas_harness.strategies``
entry-point group (see README, "Add your own strategy").
"""
from harness.registry import LazyRegistry

STRATEGIES = LazyRegistry(
    "strategy",
    {
        "random": "strategies.random_search:RandomSearch",
        "er": "strategies.graph_models:ErdosRenyiSearch",
        "ws": "strategies.graph_models:WattsStrogatzSearch",
        "local_search": "strategies.local_search:LocalSearch",
        "rea": "strategies.rea:RegularizedEvolution",
        "rea_nb201": "strategies.rea:RegularizedEvolutionNB201",
        "reinforce": "strategies.reinforce:Reinforce",
        "bohb": "strategies.bohb:BOHB",
        "bohb_nb201": "strategies.bohb:BOHBNB201",
        "bananas": "strategies.bananas:Bananas",
        "rnn": "strategies.rnn:RNN",
        "rnn_graphpnas": "strategies.rnn:RNNGraphPNAS",
        "graphpnas": "strategies.graphpnas.loop:GraphPNAS",
        "graphpnas_code": "strategies.graphpnas.loop:GraphPNASCode",
    },
    entry_point_group="nas_harness.strategies",
)
