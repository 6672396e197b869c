"""Fig. 3 (clustering coefficient vs average path length) and Fig. 6/7 (top architectures as DAGs)."""
from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from blackboxes.registry import get_benchmark
from harness.report.plotting import plt, save_figure


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


def graph_metrics(space, arch_text: str) -> tuple[float, float]:
    """(average clustering, average shortest path length) of the undirected DAG (largest component)."""
    g, _ = _graph(space, arch_text)
    u = g.to_undirected()
    comp = u.subgraph(max(nx.connected_components(u), key=len))
    path = nx.average_shortest_path_length(comp) if comp.number_of_nodes() > 1 else 0.0
    return float(nx.average_clustering(u)), float(path)


def fig3(rows: pd.DataFrame, space_name: str, title: str, out: Path, stem: str, tail: float = 0.5) -> list[Path]:
    """Points = ok samples from the last ``tail`` fraction of each run (GraphPNAS Fig. 3 uses the last
    search steps, once the explorer is off), coloured by validation accuracy; one panel per strategy."""
    space = get_benchmark(space_name).make_space(rows["dataset"].iloc[0])
    ok = rows[rows["status"] == "ok"]
    cut = ok.groupby(["strategy", "seed"])["query"].transform("max") * (1 - tail)
    ok = ok[ok["query"] >= cut]
    if ok.empty:
        return []
    metrics = {a: graph_metrics(space, a) for a in sorted(ok["arch"].unique())}
    ok = ok.assign(clustering=ok["arch"].map(lambda a: metrics[a][0]), path=ok["arch"].map(lambda a: metrics[a][1]))
    if ok["clustering"].nunique() == 1 and ok["path"].nunique() == 1:
        return []  # every architecture has the same topology (e.g. NB201): nothing to show
    strategies = sorted(ok["strategy"].unique())
    fig, axes = plt.subplots(1, len(strategies), figsize=(2.6 * len(strategies), 2.5), squeeze=False, sharex=True, sharey=True)
    vmin, vmax = np.nanpercentile(ok["val_acc"], [5, 100])
    for ax, s in zip(axes[0], strategies):
        d = ok[ok["strategy"] == s]
        sc = ax.scatter(d["path"], d["clustering"], c=d["val_acc"], cmap="viridis", vmin=vmin, vmax=vmax, s=8)
        ax.set_title(s, fontsize=8)
        ax.set_xlabel("average path length")
    axes[0][0].set_ylabel("clustering coefficient")
    fig.colorbar(sc, ax=axes[0].tolist(), label="validation accuracy (%)")
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
    """Each strategy's top-k distinct architectures by validation accuracy, drawn as labelled DAGs."""
    space = get_benchmark(space_name).make_space(rows["dataset"].iloc[0])
    ok = rows[rows["status"] == "ok"].sort_values(["val_acc", "seed", "query"], ascending=[False, True, True])
    written = []
    for strategy, g in ok.groupby("strategy", sort=True):
        top = g.drop_duplicates("arch_id").head(k)
        fig, axes = plt.subplots(1, len(top), figsize=(3.2 * len(top), 2.6), squeeze=False)
        for ax, (_, r) in zip(axes[0], top.iterrows()):
            graph, labels = _graph(space, r["arch"])  # every node: an isolated RandWire node is a real op
            nx.draw_networkx(graph, pos=_layered_positions(graph), ax=ax, labels={n: labels[n] for n in graph.nodes},
                             node_size=300, font_size=5, node_color="#dde8f5", arrowsize=6, width=0.6)
            ax.set_title(f"reward {_pct(r['val_acc'])} · val {_pct(r['report_val_acc'])} · test {_pct(r['report_test_acc'])}",
                         fontsize=7)
            ax.axis("off")
        fig.suptitle(f"{strategy}: top {len(top)} architectures", fontsize=8)
        written += save_figure(fig, out / f"{stem}_{strategy}")
    return written
