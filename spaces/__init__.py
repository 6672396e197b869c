"""Pure search spaces: which architectures exist, how to move between them and their labelled-DAG
view (the ``SearchSpace`` contract is in ``harness.contracts``). No data and no evaluators here:
those are the benchmarks' (``blackboxes/``)."""
