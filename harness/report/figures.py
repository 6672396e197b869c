"""Fig. 3 (clustering coefficient vs average path length) and Fig. 6/7 (top architectures as DAGs)."""
from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from blackboxes.registry import get_benchmark
from harness.report.plotting import plt, save_figure, strategy_style


def _graph(space, arch_text: str) -> tuple[nx.DiGraph, list[str]]:
    dag = space.to_dag(space.from_str(arch_text))
    names = space.dag_constraints.op_names
    g = nx.DiGraph()
    g.add_nodes_from(range(dag.n_nodes))
    rows, cols = np.nonzero(np.asarray(dag.A))
    g.add_edges_from((int(j), int(i)) for i, j in zip(rows, cols))
    if len(names) == 1:  # one op (RandWire): node numbers say more than a repeated op name
        return g, [str(i) for i in range(dag.n_nodes)]
    return g, [names[x] for x in dag.X]


def graph_metrics(space, arch_text: str, _by_topology: dict | None = None) -> tuple[float, float]:
    """(average clustering, average shortest path length) of the undirected DAG (largest component).

    ``_by_topology``: a dict that caches the answer per adjacency matrix (ops do not enter it), so a
    space with one topology (NB201) computes it once, not once per cell."""
    if _by_topology is not None:
        A = np.asarray(space.to_dag(space.from_str(arch_text)).A, dtype=np.uint8)
        key = (A.shape, A.tobytes())
        if key not in _by_topology:
            _by_topology[key] = graph_metrics(space, arch_text)
        return _by_topology[key]
    g, _ = _graph(space, arch_text)
    u = g.to_undirected()
    comp = u.subgraph(max(nx.connected_components(u), key=len))
    path = nx.average_shortest_path_length(comp) if comp.number_of_nodes() > 1 else 0.0
    return float(nx.average_clustering(u)), float(path)


def fig3(rows: pd.DataFrame, space_name: str, title: str, out: Path, stem: str, tail: float = 0.5,
         columns: int = 4) -> list[Path]:
    """Points = ok samples from the last ``tail`` fraction of each run (GraphPNAS Fig. 3 uses the last
    search steps, once the explorer is off), coloured by validation accuracy; one panel per strategy, in a
    grid ``columns`` wide that fits a page, with shared axes and one colour bar."""
    space = get_benchmark(space_name).make_space(rows["dataset"].iloc[0])
    ok = rows[(rows["status"] == "ok") & np.isfinite(rows["val_acc"].to_numpy(float))]
    cut = ok.groupby(["strategy", "seed"])["query"].transform("max") * (1 - tail)
    ok = ok[ok["query"] >= cut]
    if ok.empty:
        return []
    by_topology: dict = {}
    metrics = {a: graph_metrics(space, a, by_topology) for a in sorted(ok["arch"].unique())}
    ok = ok.assign(clustering=ok["arch"].map(lambda a: metrics[a][0]), path=ok["arch"].map(lambda a: metrics[a][1]))
    if ok["clustering"].nunique() == 1 and ok["path"].nunique() == 1:
        return []  # every architecture has the same topology (e.g. NB201): nothing to show
    strategies = sorted(ok["strategy"].unique())
    ncols = min(columns, len(strategies))
    nrows = -(-len(strategies) // ncols)
    fig = plt.figure(layout="constrained", figsize=(1.75 * ncols + 0.9, 1.7 * nrows + 0.4))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    vmin, vmax = np.nanpercentile(ok["val_acc"], [5, 100])
    for ax, s in zip(axes.flat, strategies):
        d = ok[ok["strategy"] == s]
        sc = ax.scatter(d["path"], d["clustering"], c=d["val_acc"], cmap="viridis", vmin=vmin, vmax=vmax, s=6,
                        linewidths=0)
        ax.set_title(s, fontsize=7, color=strategy_style(s)["color"])
        ax.tick_params(labelsize=6)
    for ax in axes.flat[len(strategies):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("average path length", fontsize=7)
    for ax in axes[:, 0]:
        ax.set_ylabel("clustering coefficient", fontsize=7)
    fig.colorbar(sc, ax=axes, label="validation accuracy (%)", shrink=0.8, aspect=40)
    fig.suptitle(title, fontsize=8)
    return save_figure(fig, out / stem)


def _pct(v: float) -> str:
    return "n/a" if not np.isfinite(v) else f"{v:.2f}"


def _layered_positions(g: nx.DiGraph) -> dict[int, tuple[float, float]]:
    pos = {}
    for depth, layer in enumerate(nx.topological_generations(g)):
        layer = sorted(layer)
        for k, node in enumerate(layer):
            pos[node] = (depth, k - (len(layer) - 1) / 2 + 0.15 * (depth % 2))
    return pos


def draw_top_architectures(rows: pd.DataFrame, space_name: str, out: Path, stem: str, k: int = 3) -> list[Path]:
    """Each strategy's top-k distinct architectures by validation accuracy, drawn as labelled DAGs; the
    strategy's name above, each cell's rank and accuracies on two lines above it (constrained layout
    keeps the titles apart)."""
    space = get_benchmark(space_name).make_space(rows["dataset"].iloc[0])
    ok = rows[rows["status"] == "ok"].sort_values(["val_acc", "seed", "query"], ascending=[False, True, True])
    written = []
    for strategy, g in ok.groupby("strategy", sort=True):
        top = g.drop_duplicates("arch_id").head(k)
        fig = plt.figure(layout="constrained", figsize=(2.6 * len(top), 2.5))
        axes = fig.subplots(1, len(top), squeeze=False)
        for rank, (ax, (_, r)) in enumerate(zip(axes[0], top.iterrows()), start=1):
            graph, labels = _graph(space, r["arch"])  # every node: an isolated RandWire node is a real op
            pos = _layered_positions(graph)
            nx.draw_networkx_nodes(graph, pos, ax=ax, node_size=220, node_color="#dde8f5")
            nx.draw_networkx_edges(graph, pos, ax=ax, arrowsize=6, width=0.6, node_size=220)
            nx.draw_networkx_labels(graph, pos, ax=ax, labels={n: labels[n] for n in graph.nodes}, font_size=5,
                                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8})
            ax.set_title(f"#{rank}  reward {_pct(r['val_acc'])}\nval {_pct(r['report_val_acc'])} · "
                         f"test {_pct(r['report_test_acc'])}", fontsize=7)
            ax.axis("off")
        fig.suptitle(f"{strategy}: top {len(top)} architectures by reward", fontsize=8)
        written += save_figure(fig, out / f"{stem}_{strategy}")
    return written
