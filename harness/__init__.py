"""The NAS harness: GraphPNAS and NAS baselines on shared search spaces, budgets and seeds."""
__version__ = "0.1.0"
